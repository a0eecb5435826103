/**
 * The audit viewer in a real browser (Debian Chromium via playwright-core) against the whole local
 * stack: records are produced by posting real-shaped Event Grid deliveries to the functions host,
 * then the page served at `/api/audit-viewer` is driven the way a person would use it.
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArmResource, Seed } from "../../dev/azure-sim/index.js";
import { DEFAULT_SEED_FILE, type LocalStack, startLocalStack } from "../../dev/stack.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { LOCAL_STACK_PSEUDONYM_KEY } from "../../shared/config.js";
import { pseudonymize } from "../../shared/redact.js";
import { parseResourceId } from "../../shared/resource-id.js";

const HOSTILE = "<img src=x onerror=alert(1)>";
const DAY = 86_400_000;
/** The approver as the approval page records them: a keyed hash of their object ID. */
const APPROVER_OID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
/** As the trail names the approver: the local stack's pseudonym of their object ID. */
const APPROVER = pseudonymize(APPROVER_OID, LOCAL_STACK_PSEUDONYM_KEY);
const SUB = "00000000-0000-0000-0000-000000000001";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-ml-prod/providers`;
const IDS = {
  workspace: `${RG}/Microsoft.MachineLearningServices/workspaces/mlw-prod`,
  storage: `${RG}/Microsoft.Storage/storageAccounts/stmlprod001`,
  scratch: `${RG}/Microsoft.Storage/storageAccounts/stmlscratch001`,
  vault: `${RG}/Microsoft.KeyVault/vaults/kv-ml-prod`,
  openai: `${RG}/Microsoft.CognitiveServices/accounts/oai-ml-prod`,
  nsg: `${RG}/Microsoft.Network/networkSecurityGroups/nsg-gpu-nodes`,
  sshRule: `${RG}/Microsoft.Network/networkSecurityGroups/nsg-gpu-nodes/securityRules/allow-ssh-internet`,
};

const POLICIES = `version: 1
policies:
  - name: vault-needs-approval
    resourceTypes: [Microsoft.KeyVault/vaults]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: approval
  - name: openai-dry-run
    resourceTypes: [Microsoft.CognitiveServices/accounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: dry-run
  - name: ai-services-private
    resourceTypes: [Microsoft.MachineLearningServices/workspaces, Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: enforce
  - name: no-internet-inbound
    resourceTypes: [Microsoft.Network/networkSecurityGroups, Microsoft.Network/networkSecurityGroups/securityRules]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: close-internet-inbound-rule
    mode: enforce
`;

/** A small seed: the bundled sample's resources we need, with a hostile NSG rule description. */
async function smallSeed(): Promise<Seed> {
  const sample = JSON.parse(await readFile(DEFAULT_SEED_FILE, "utf8")) as { resources: ArmResource[] };
  const wanted = new Set(
    [IDS.workspace, IDS.storage, IDS.scratch, IDS.vault, IDS.openai, IDS.nsg].map((i) => i.toLowerCase()),
  );
  const resources = structuredClone(sample.resources.filter((r) => wanted.has(r.id.toLowerCase())));
  expect(resources).toHaveLength(wanted.size);
  const nsg = resources.find((r) => r.id.toLowerCase() === IDS.nsg.toLowerCase())!;
  const rules = (nsg.properties as { securityRules: { name: string; properties: Record<string, unknown> }[] })
    .securityRules;
  const ssh = rules.find((r) => r.name === "allow-ssh-internet")!;
  ssh.properties.description = `debug ${HOSTILE} "quoted" & more`;
  return { resources };
}

/** A real-shaped Event Grid `ResourceWriteSuccess` delivery (Event Grid schema, one event). */
function writeEvent(resourceId: string, when: Date): unknown[] {
  const { type, subscriptionId } = parseResourceId(resourceId);
  const provider = type.split("/")[0]!;
  return [
    {
      subject: resourceId,
      eventType: "Microsoft.Resources.ResourceWriteSuccess",
      eventTime: when.toISOString(),
      id: randomUUID(),
      data: {
        authorization: {
          scope: resourceId,
          action: `${type}/write`,
          evidence: { role: "Contributor", principalType: "User" },
        },
        claims: {
          aud: "https://management.core.windows.net/",
          iss: "https://sts.windows.net/11111111-2222-3333-4444-555555555555/",
          "http://schemas.microsoft.com/identity/claims/objectidentifier":
            "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d",
          appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
          "http://schemas.microsoft.com/identity/claims/tenantid": "11111111-2222-3333-4444-555555555555",
          ver: "1.0",
        },
        correlationId: randomUUID(),
        resourceProvider: provider,
        resourceUri: resourceId,
        operationName: `${type}/write`,
        status: "Succeeded",
        subscriptionId,
        tenantId: "11111111-2222-3333-4444-555555555555",
        httpRequest: {
          clientRequestId: randomUUID(),
          method: "PUT",
          url: `https://management.azure.com${resourceId}?api-version=2024-04-01`,
        },
      },
      dataVersion: "2",
      metadataVersion: "1",
      topic: `/subscriptions/${subscriptionId}`,
    },
  ];
}

let stack: LocalStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let dir: string;
let offsetMs = 0;
const dialogs: string[] = [];
const pageErrors: string[] = [];
let all: AuditRecord[] = [];

async function post(resourceId: string): Promise<number> {
  const url = `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${encodeURIComponent(stack.functionKey)}`;
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
    body: JSON.stringify(writeEvent(resourceId, new Date(Date.now() + offsetMs))),
  });
  await res.arrayBuffer();
  return res.status;
}

async function apiRecords(query = ""): Promise<AuditRecord[]> {
  const res = await fetch(`${stack.functionsUrl}/api/audit?limit=1000${query}`, {
    headers: { "x-functions-key": stack.functionKey },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: AuditRecord[] }).items;
}

async function openViewer(): Promise<void> {
  await page.goto(`${stack.functionsUrl}/api/audit-viewer?code=${encodeURIComponent(stack.functionKey)}`);
  await page
    .locator("#status")
    .filter({ hasText: /record/ })
    .waitFor();
}

/** Polls until the assertion holds (the page renders asynchronously; generous under a busy \`npm test\`). */
const eventually = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 10_000, interval: 50 });

const rows = () => page.locator("#records tbody tr");

async function apply(): Promise<void> {
  await page.getByRole("button", { name: "Apply" }).click();
  await page.locator("#records[aria-busy=false]").waitFor();
  await page
    .locator("#status")
    .filter({ hasText: /record|failed/ })
    .waitFor();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "driftguard-viewer-"));
  const policyFile = path.join(dir, "policies.yaml");
  await writeFile(policyFile, POLICIES);
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: await smallSeed(),
    policyFile,
    lroPollIntervalMs: 0,
    retry: { maxRetries: 0, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
    clock: { now: () => new Date(Date.now() + offsetMs) },
  });

  // Two days ago: remediated workspace, opted-out storage, Internet-open SSH rule closed.
  offsetMs = -2 * DAY;
  expect(await post(IDS.workspace)).toBe(200);
  expect(await post(IDS.scratch)).toBe(200);
  expect(await post(IDS.sshRule)).toBe(200);
  // Yesterday: dry-run (OpenAI), approval requested (vault), a write refused with a hostile message.
  offsetMs = -1 * DAY;
  expect(await post(IDS.openai)).toBe(200);
  expect(await post(IDS.vault)).toBe(200);
  stack.sim.addFault({
    method: "PATCH",
    path: "storageAccounts/stmlprod001",
    status: 400,
    count: -1,
    body: { error: { code: "InvalidRequest", message: `rejected ${HOSTILE}` } },
  });
  await post(IDS.storage); // non-retryable failure: a `failed` record either way
  stack.sim.clearFaults();
  // An approver approves the vault change an hour later: approved → remediated.
  offsetMs = -1 * DAY + 3_600_000;
  const pending = (await stack.runtime.stores.audit.query({ outcome: "pending-approval", limit: 10 })).items;
  expect(pending).toHaveLength(1);
  const decided = await stack.runtime.approvalLifecycle.decide(pending[0]!.approvalId!, "approved", {
    principal: { objectId: APPROVER_OID },
    via: "cli",
  });
  expect(decided.error).toBeUndefined();
  // Today: the workspace written again is already compliant.
  offsetMs = 0;
  expect(await post(IDS.workspace)).toBe(200);

  all = await apiRecords();
  expect(new Set(all.map((r) => r.outcome))).toEqual(
    new Set(["remediated", "excluded", "dry-run", "pending-approval", "failed", "approved", "compliant"]),
  );

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("pageerror", (e) => pageErrors.push(e.message));
}, 60_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("audit viewer in a browser", () => {
  it("lists the records newest first with outcome badges, short names and the full ID in a title", async () => {
    await openViewer();
    // The key was taken from ?code= and removed from the address bar.
    expect(page.url()).not.toContain("code=");
    expect(page.url()).not.toContain(encodeURIComponent(stack.functionKey));
    // …and appears in no rendered attribute or link (only in memory / this tab's sessionStorage).
    expect(await page.content()).not.toContain(stack.functionKey);
    await eventually(() => rows().count()).toBe(all.length);

    const outcomes = await rows().evaluateAll((trs) =>
      trs.map((tr) => tr.querySelector(".badge")?.textContent),
    );
    expect(outcomes).toEqual(all.map((r) => r.outcome));
    const names = await page.locator("#records tbody td[title] span").allTextContents();
    expect(names).toEqual(
      expect.arrayContaining([
        "mlw-prod",
        "stmlscratch001",
        "nsg-gpu-nodes/allow-ssh-internet",
        "kv-ml-prod",
        "oai-ml-prod",
      ]),
    );
    const times = await page
      .locator("#records tbody time")
      .evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")!));
    expect([...times].sort().reverse()).toEqual(times);
    const wsRow = rows().filter({ hasText: "mlw-prod" }).filter({ hasText: "remediated" });
    await eventually(() => wsRow.locator("td[title]").getAttribute("title")).toBe(IDS.workspace);
    await eventually(() => wsRow.locator("td.num").textContent()).toBe("1");
    expect(await rows().filter({ hasText: "stmlscratch001" }).locator(".badge").textContent()).toBe(
      "excluded",
    );
    expect(await rows().filter({ hasText: "oai-ml-prod" }).locator(".badge").textContent()).toBe("dry-run");
    expect(await rows().filter({ hasText: "stmlprod001" }).locator(".badge").textContent()).toBe("failed");
  });

  it("narrows the rows when filtering by outcome and kind, and says when nothing matches", async () => {
    await openViewer();
    await page.locator("#f-outcome").selectOption("remediated");
    await apply();
    const remediated = all.filter((r) => r.outcome === "remediated");
    expect(remediated.length).toBe(3);
    await eventually(() => rows().count()).toBe(remediated.length);
    expect(new Set(await rows().locator(".badge").allTextContents())).toEqual(new Set(["remediated"]));
    // The filters are reflected in the address bar (shareable), never the key.
    expect(page.url()).toContain("outcome=remediated");
    expect(page.url()).not.toContain("code=");

    await page.locator("#f-kind").selectOption("close-internet-inbound-rule");
    await apply();
    await eventually(() => rows().count()).toBe(1);
    expect(await rows().first().textContent()).toContain("nsg-gpu-nodes/allow-ssh-internet");

    await page.locator("#f-outcome").selectOption("");
    await page.locator("#f-kind").selectOption("rotate-secret");
    await apply();
    await eventually(() => rows().count()).toBe(0);
    expect(await page.locator("#empty").isVisible()).toBe(true);

    await page.locator("#f-kind").selectOption("");
    await page.getByLabel("Policy").fill("ai-services-private");
    await apply();
    const byPolicy = all.filter((r) => r.policy === "ai-services-private");
    await eventually(() => rows().count()).toBe(byPolicy.length);
  });

  it("opens a record's detail with the diff, signal, hashes, and the approval history (keyboard too)", async () => {
    await openViewer();
    await rows()
      .filter({ hasText: "mlw-prod" })
      .filter({ hasText: "remediated" })
      .locator("td")
      .nth(3)
      .click();
    const dlg = page.getByRole("dialog");
    await dlg.waitFor();
    const change = dlg.locator("ol.diff li").filter({ hasText: "publicNetworkAccess" });
    expect(await change.locator(".diff-path").textContent()).toBe("properties.publicNetworkAccess");
    expect(await change.locator("del").textContent()).toBe("Enabled");
    expect(await change.locator("ins").textContent()).toBe("Disabled");
    const rec = all.find((r) => r.resourceId === IDS.workspace && r.outcome === "remediated")!;
    const text = (await dlg.textContent()) ?? "";
    for (const expected of [
      rec.hash,
      rec.prevHash,
      rec.signal.id,
      rec.id,
      "eventgrid",
      "Microsoft.Resources.ResourceWriteSuccess",
    ]) {
      expect(text).toContain(expected);
    }
    await page.keyboard.press("Escape");
    await eventually(() => dlg.isVisible()).toBe(false);

    // Keyboard: focus the vault's pending-approval row and press Enter.
    const pendingRow = rows().filter({ hasText: "kv-ml-prod" }).filter({ hasText: "pending-approval" });
    await pendingRow.getByRole("button").focus();
    await page.keyboard.press("Enter");
    await dlg.waitFor();
    const history = dlg.locator("ol.history li");
    // The history is fetched when the dialog opens; wait until it has loaded (or failed).
    await dlg
      .locator("#approval-history ol, #approval-history .field-error")
      .first()
      .waitFor({ timeout: 10_000 });
    expect(await dlg.locator("#approval-history .field-error").count()).toBe(0);
    await eventually(() => history.count()).toBe(3);
    expect(await history.evaluateAll((lis) => lis.map((li) => li.getAttribute("data-outcome")))).toEqual([
      "pending-approval",
      "approved",
      "remediated",
    ]);
    expect(await history.nth(1).textContent()).toContain(APPROVER);
    await mkdir("test-artifacts", { recursive: true });
    await page.screenshot({ path: path.join("test-artifacts", "audit-viewer-detail.png") });
    await dlg.getByRole("button", { name: "Close" }).click();
    await eventually(() => dlg.isVisible()).toBe(false);
    // Focus returns to the row that opened it.
    expect(await page.evaluate(() => document.activeElement?.closest("tr")?.textContent ?? "")).toContain(
      "kv-ml-prod",
    );
  });

  it("is labelled for assistive technology and reachable by keyboard", async () => {
    await openViewer();
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select")]
        .filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute("aria-label"))
        .map((el) => el.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    expect(await page.locator("#records caption").textContent()).toContain("Audit records");
    const scopes = await page
      .locator("#records thead th")
      .evaluateAll((ths) => ths.map((th) => th.getAttribute("scope")));
    expect(scopes).toEqual(Array(7).fill("col"));
    expect(await page.getByRole("status").count()).toBe(1);
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    // Tab from the last filter button reaches the first row's detail button.
    await page.getByRole("button", { name: "Download CSV" }).focus();
    let reached = "";
    for (let i = 0; i < 5 && !reached.startsWith("Details of"); i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? "");
    }
    expect(reached).toContain(`Details of the ${all[0]!.outcome} record`);
  });

  it("renders hostile strings from records as text (no element, no script)", async () => {
    await openViewer();
    await rows().filter({ hasText: "stmlprod001" }).filter({ hasText: "failed" }).getByRole("button").click();
    const dlg = page.getByRole("dialog");
    await dlg.waitFor();
    expect(await dlg.textContent()).toContain(HOSTILE);
    expect(await dlg.locator("dd").filter({ hasText: "apply" }).count()).toBeGreaterThan(0);
    await page.keyboard.press("Escape");

    await rows().filter({ hasText: "allow-ssh-internet" }).getByRole("button").click();
    await dlg.waitFor();
    const removed = dlg.locator("ol.diff li del pre");
    expect(await removed.textContent()).toContain(HOSTILE);
    expect(await dlg.locator("ol.diff li ins").textContent()).toContain("null");
    await page.keyboard.press("Escape");

    expect(await page.locator("img").count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("charts actions per day, stacked, with a legend and a text alternative", async () => {
    await openViewer();
    const days = new Set(all.map((r) => r.time.slice(0, 10)));
    expect(days.size).toBeGreaterThanOrEqual(2);
    const svg = page.locator("#chart svg");
    expect(await svg.getAttribute("role")).toBe("img");
    await eventually(() => svg.locator("g.day").count()).toBe(days.size);
    const segments = new Set(all.map((r) => `${r.time.slice(0, 10)}|${r.outcome}`));
    expect(await svg.locator("rect.bar").count()).toBe(segments.size);
    const counts = await svg
      .locator("rect.bar")
      .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute("data-count"))));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(all.length);
    expect(await svg.locator("desc").textContent()).toContain(
      `${all.length} loaded actions over ${days.size} days`,
    );
    expect(await page.locator("#legend li").allTextContents()).toEqual(
      expect.arrayContaining(["remediated", "failed", "excluded"]),
    );
    // The data table alternative has one row per day and totals that add up.
    await page.getByText("Chart data as a table").click();
    const tableRows = page.locator("#chart-table tbody tr");
    expect(await tableRows.count()).toBe(days.size);
    const totals = await tableRows.evaluateAll((trs) =>
      trs.map((tr) => Number(tr.lastElementChild?.textContent)),
    );
    expect(totals.reduce((a, b) => a + b, 0)).toBe(all.length);

    await page.getByRole("radio", { name: "Kind" }).check();
    await eventually(() => page.locator("#legend li").allTextContents()).toEqual([
      "disable-public-network-access",
      "close-internet-inbound-rule",
    ]);
  });

  it("pages with Load more and downloads the same filters as CSV", async () => {
    await openViewer();
    await page.getByLabel("Limit per page").fill("3");
    await apply();
    await eventually(() => rows().count()).toBe(3);
    const more = page.getByRole("button", { name: "Load more" });
    while (await more.isVisible()) {
      const before = await rows().count();
      await more.click();
      await eventually(() => rows().count()).toBeGreaterThan(before);
    }
    const ids = await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-id")));
    expect(ids).toEqual(all.map((r) => r.id));

    const downloadCsv = async (): Promise<string[]> => {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download CSV" }).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(/^driftguard-audit-.*\.csv$/);
      const lines = (await readFile((await download.path())!, "utf8")).trim().split(/\r?\n/);
      expect(lines[0]).toMatch(/^id,time,/);
      return lines;
    };
    // Three pages of 3 are followed (x-continuation-token) into one file with one header line.
    const everything = await downloadCsv();
    expect(everything.slice(1).map((l) => l.split(",")[0])).toEqual(all.map((r) => r.id));

    await page.locator("#f-outcome").selectOption("remediated");
    await apply();
    const remediated = await downloadCsv();
    expect(remediated).toHaveLength(1 + all.filter((r) => r.outcome === "remediated").length);
    for (const line of remediated.slice(1)) expect(line).toContain(",remediated,");
  });

  it("shows the API's errors next to the filters, naming the field", async () => {
    await openViewer();
    await page.getByLabel("Resource ID").fill("not-a-resource-id");
    await apply();
    const summary = page.getByRole("alert");
    await summary.waitFor();
    expect(await summary.textContent()).toContain("Resource ID:");
    expect(await summary.textContent()).toContain("resourceId is not an ARM resource ID");
    expect(await summary.textContent()).toContain("HTTP 400");
    expect(await page.getByLabel("Resource ID").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#f-resourceId-error").textContent()).toContain("not an ARM resource ID");

    await page.getByLabel("Resource ID").fill("");
    await page.getByLabel("From (UTC, inclusive)").fill("2030-01-02T00:00");
    await page.getByLabel("To (UTC, exclusive)").fill("2030-01-01T00:00");
    await apply();
    await summary.waitFor();
    expect(await summary.textContent()).toContain("To:");
    expect(await summary.textContent()).toContain("to must be later than from");
    expect(await page.getByLabel("To (UTC, exclusive)").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Resource ID").getAttribute("aria-invalid")).toBeNull();

    await page.getByLabel("From (UTC, inclusive)").fill("");
    await page.getByLabel("To (UTC, exclusive)").fill("");
    await page.getByLabel("Limit per page").fill("5000");
    await apply();
    expect(await summary.textContent()).toContain("Limit per page:");

    // A wrong key: 401, naming the key field.
    await page.getByLabel("Limit per page").fill("50");
    await page.getByLabel("Function key").fill("not-the-key");
    await apply();
    expect(await summary.textContent()).toContain("HTTP 401");
    expect(await summary.textContent()).toContain("Function key:");
    expect(await page.getByLabel("Function key").getAttribute("aria-invalid")).toBe("true");

    // With the right key again, the table comes back and the error goes away.
    await page.getByLabel("Function key").fill(stack.functionKey);
    await apply();
    await eventually(() => rows().count()).toBe(all.length);
    expect(await summary.isVisible()).toBe(false);

    await mkdir("test-artifacts", { recursive: true });
    await page.screenshot({ path: path.join("test-artifacts", "audit-viewer.png"), fullPage: true });
    expect(dialogs).toEqual([]);
  });
});
