/**
 * The audit viewer's Posture view in a real browser (Debian Chromium via playwright-core) against the
 * local stack: three sweeps of an estate with drift in three subscriptions (a dry-run, a sweep that
 * may change three resources, another dry-run), then the page shows, per policy, the non-compliant
 * count per sweep as a chart with a text table beside it, and the latest sweep's non-compliant list
 * whose links open each resource's trail.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../dev/stack.js";
import { sweepWithLease } from "../../shared/sweep/leased.js";
import { IDS, SWEEP_POLICIES, sweepEstate } from "../sweep/estate.js";

let stack: LocalStack;
let browser: Browser;
let page: Page;
let dir: string;
const pageErrors: string[] = [];
const eventually = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 10_000, interval: 50 });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "driftguard-posture-"));
  const policyFile = path.join(dir, "policies.yaml");
  await writeFile(policyFile, SWEEP_POLICIES);
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: sweepEstate(),
    policyFile,
    lroPollIntervalMs: 0,
    retry: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
  });
  for (const opts of [{ dryRun: true }, { maxChanges: 3 }, { dryRun: true }]) {
    const r = await sweepWithLease(stack.runtime, { trigger: "cli", ...opts });
    expect(r.status).toBe("ran");
  }
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
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the Posture view", () => {
  it("charts each policy's non-compliant count per sweep, with the same numbers in a table beside it", async () => {
    await page.goto(`${stack.functionsUrl}/api/audit-viewer?code=${encodeURIComponent(stack.functionKey)}`);
    await page.locator("#posture-status").filter({ hasText: "3 sweeps" }).waitFor();
    const table = await page
      .locator("#posture-table")
      .evaluate((t) =>
        [...t.querySelectorAll("tr")].map((tr) =>
          [...tr.querySelectorAll("th,td")].map((c) => c.textContent),
        ),
      );
    expect(table[0]!.slice(1)).toEqual([
      "ai-services-private",
      "no-internet-inbound",
      "rotate-expiring-secrets",
    ]);
    expect(table.slice(1).map((r) => r.slice(1))).toEqual([
      ["4", "1", "1"],
      ["4", "1", "1"],
      ["1", "1", "1"],
    ]);
    expect(table[1]![0]).toContain("(dry-run)");
    // The chart: one line per policy, a point per sweep carrying the same count, described in text.
    const points = await page
      .locator('#posture-chart g.series[data-policy="ai-services-private"] circle')
      .evaluateAll((cs) => cs.map((c) => c.getAttribute("data-count")));
    expect(points).toEqual(["4", "4", "1"]);
    expect(await page.locator("#posture-chart svg[role=img] desc").textContent()).toContain(
      "ai-services-private: 4, 4, 1",
    );
    const box = await page.locator("#posture-chart").boundingBox();
    const tableBox = await page.locator("#posture-table").boundingBox();
    expect(tableBox!.x).toBeGreaterThan(box!.x + box!.width - 1); // beside it, not below
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it("lists the latest sweep's non-compliant resources, each linking to its trail", async () => {
    const links = page.locator("#posture-latest a");
    await eventually(() => links.count()).toBe(3);
    const titles = await links.evaluateAll((as) => as.map((a) => a.getAttribute("title")));
    expect(titles.sort()).toEqual([IDS.invalidExemption, IDS.nearSecret, IDS.openRule].sort());
    await page.locator(`#posture-latest a[title="${IDS.openRule}"]`).click();
    await eventually(() => page.locator("#f-resourceId").inputValue()).toBe(IDS.openRule);
    const rowTitles = page.locator("#records tbody tr td[title]");
    await eventually(async () => {
      const ts = await rowTitles.evaluateAll((tds) => tds.map((td) => td.getAttribute("title")));
      return ts.length > 0 && ts.every((t) => t === IDS.openRule);
    }).toBe(true);
    // Its trail: the dry-run records of the two dry-run sweeps.
    await eventually(() => page.locator("#records tbody tr").count()).toBe(2);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
