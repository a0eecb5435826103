/**
 * The approval page in a real browser (Debian Chromium via playwright-core) over the local stack
 * and the Teams stand-in: the link comes from the card the Workflows webhook received, the signed-in
 * approver (the header App Service Authentication sets) opens it and presses Approve, and the
 * simulated resource changes. The bot's card is rendered by Microsoft's Adaptive Cards renderer in
 * the same browser. Screenshots go to test-artifacts/.
 */
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cardHtml } from "../../dev/teams-sim/render.js";
import { botApprovalCard, botCardStateOf } from "../../shared/approvals/card.js";
import { adaptiveCardProblems } from "../helpers/adaptive-card-schema.js";
import {
  APPROVER_OID,
  type ApprovalsStack,
  startApprovalsStack,
  storageId,
} from "../integration/approvals-setup.js";

const RESOURCE = storageId("stbrowser01");
let t: ApprovalsStack;
let browser: Browser;

function principal(oid: string): string {
  return Buffer.from(
    JSON.stringify({
      auth_typ: "aad",
      claims: [{ typ: "http://schemas.microsoft.com/identity/claims/objectidentifier", val: oid }],
    }),
  ).toString("base64");
}

beforeAll(async () => {
  t = await startApprovalsStack("page", ["stbrowser01"]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
  await mkdir("test-artifacts", { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe("approval page in a browser", () => {
  it("the signed-in approver approves from the Teams card's link and the resource changes", async () => {
    const approval = await t.requestApproval(RESOURCE);
    const post = t.teams.workflowPosts().find((p) => JSON.stringify(p.card).includes(approval.id))!;
    expect(adaptiveCardProblems(post.card)).toEqual([]);
    const link = (post.card.actions as { url: string }[])[0]!.url;

    // Locally the header stands in for App Service Authentication's signed-in user.
    const context = await browser.newContext({
      viewport: { width: 900, height: 800 },
      extraHTTPHeaders: { "x-ms-client-principal": principal(APPROVER_OID) },
    });
    const page = await context.newPage();
    await page.goto(link);
    await expect(page.locator("h1").textContent()).resolves.toBe("driftguard approval");
    await expect(page.getByText("properties.publicNetworkAccess").count()).resolves.toBeGreaterThan(0);
    expect(t.writes(RESOURCE)).toHaveLength(0);

    await page.getByRole("button", { name: "Approve" }).click();
    await page.waitForSelector("h1:text('Request approved')");
    const body = (await page.locator("body").textContent()) ?? "";
    expect(body).toContain("Change remediated");
    expect(body).toMatch(/Approved .* by approver p-[0-9a-f]+ on this page/);
    await page.screenshot({ path: path.join("test-artifacts", "approval-page.png"), fullPage: true });

    expect(t.writes(RESOURCE)).toHaveLength(1);
    expect(t.stack.sim.getResource(RESOURCE)!.properties!.publicNetworkAccess).toBe("Disabled");
    expect((await t.records(RESOURCE)).map((r) => r.outcome)).toEqual([
      "remediated",
      "approved",
      "pending-approval",
    ]);

    // Back on the link later: already decided, no buttons, the outcome shown.
    await page.goto(link);
    await expect(page.getByRole("button", { name: "Approve" }).count()).resolves.toBe(0);
    expect(await page.locator("body").textContent()).toContain("This request is already approved");
    await context.close();
  });

  it("the bot's pending card validates and renders with the Adaptive Cards renderer", async () => {
    const approval = (await t.approval((await t.records(RESOURCE))[2]!.approvalId!))!;
    const asPending = { ...approval, state: "pending" as const };
    const card = botApprovalCard(asPending, botCardStateOf(asPending), { refreshUserIds: ["29:1approver"] });
    expect(adaptiveCardProblems(card)).toEqual([]);
    const bundle = createRequire(import.meta.url).resolve("adaptivecards/dist/adaptivecards.min.js");
    const { readFile } = await import("node:fs/promises");
    const page = await browser.newPage({ viewport: { width: 620, height: 600 } });
    await page.setContent(cardHtml(card, { inlineScript: await readFile(bundle, "utf8") }));
    await page.waitForSelector("body[data-rendered=true]");
    const rendered = (await page.locator("#card").textContent()) ?? "";
    expect(rendered).toContain("driftguard: approval needed");
    expect(rendered).toContain("properties.publicNetworkAccess: Enabled → Disabled");
    await expect(page.getByRole("button", { name: "Approve" }).count()).resolves.toBe(1);
    await page.locator("#card").screenshot({ path: path.join("test-artifacts", "approval-card.png") });
    await page.close();
  });
});
