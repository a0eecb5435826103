/**
 * Renders the bot's approval card (pending, as Teams shows it to an approver) to a PNG with
 * Microsoft's Adaptive Cards renderer in Chromium: the picture in the README.
 * `npx tsx dev/teams-sim/render-card-png.ts [out.png]` (default docs/approval-card.png).
 */
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";
import { botApprovalCard, botCardStateOf } from "../../shared/approvals/card.js";
import type { Approval } from "../../shared/ports/approval-store.js";
import { adaptiveCardsBundle, cardHtml } from "./render.js";

const out = process.argv[2] ?? "docs/approval-card.png";
const sub = "00000000-0000-0000-0000-000000000001";
const approval = {
  id: "6f1c2f8e-3a1b-4c5d-8e9f-0a1b2c3d4e5f",
  state: "pending",
  createdAt: "2030-01-01T10:00:00.000Z",
  expiresAt: "2030-01-02T10:00:00.000Z",
  policy: "vault-needs-approval",
  kind: "disable-public-network-access",
  target: {
    resourceId: `/subscriptions/${sub}/resourceGroups/rg-ml-prod/providers/Microsoft.KeyVault/vaults/kv-ml-prod`,
    resourceType: "Microsoft.KeyVault/vaults",
    subscriptionId: sub,
  },
  summary:
    "Disable public network access on Microsoft.KeyVault/vaults 'kv-ml-prod' (publicNetworkAccess → Disabled)",
  reason: "policy-mode",
  changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
} as unknown as Approval;

const card = botApprovalCard(approval, botCardStateOf(approval), { refreshUserIds: ["29:1approver"] });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 640, height: 700 }, deviceScaleFactor: 2 });
  await page.setContent(cardHtml(card, { inlineScript: await readFile(adaptiveCardsBundle(), "utf8") }));
  await page.waitForSelector("body[data-rendered=true]");
  await page.locator("#card").screenshot({ path: out });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
}
