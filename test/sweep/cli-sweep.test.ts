/**
 * `npx driftguard sweep` as an operator runs it against a running local stack, over an estate with
 * drift in three subscriptions that was there before driftguard: what the dry-run lists, what the
 * sweep writes (simulator request log) and records (audit API), the change limit, a second run.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoggedRequest } from "../../dev/azure-sim/index.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import { DRIFTED, IDS, SUB_A, SUB_B, SUB_C, SWEEP_POLICIES, sweepEstate } from "./estate.js";

let stack: TestStack;
let dir: string;
let stackFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "driftguard-sweep-cli-"));
  stack = await startTestStack({ seed: sweepEstate(), policyYaml: SWEEP_POLICIES });
  const policyFile = stack.runtime.config.policyFile;
  stackFile = path.join(dir, "stack.json");
  // What `npm start` writes for the CLI; this test process stands for the stack's process.
  await writeFile(
    stackFile,
    JSON.stringify({
      functions: stack.functionsUrl,
      cosmos: stack.cosmosUrl,
      cosmosKey: stack.cosmosKey,
      azure: stack.azureUrl,
      vaults: stack.vaults,
      caCertFile: stack.caCertFile,
      subscriptions: [SUB_A, SUB_B, SUB_C],
      policyFile,
      pid: process.pid,
    }),
  );
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/driftguard.mjs", ...args], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        COSMOS_ENDPOINT: "",
        DRIFTGUARD_POLICY_FILE: "",
        DRIFTGUARD_STACK_FILE: stackFile,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface Line {
  type: string;
  resourceId?: string;
  outcome?: string;
  policies?: Record<string, number | string>[];
}

function lines(stdout: string): Line[] {
  return stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

const GRAPH = "/providers/microsoft.resourcegraph/resources";
/** ARM and vault requests other than Resource Graph queries. */
const nonGraph = (reqs: LoggedRequest[]) => reqs.filter((r) => r.path.toLowerCase() !== GRAPH);
const writePaths = (reqs: LoggedRequest[]) =>
  reqs.map((r) => `${r.method} ${r.path.toLowerCase().replace(/\/+$/, "")}`);

describe("driftguard sweep over an estate with drift in three subscriptions", () => {
  it("--dry-run --json lists exactly the drifted resources, records dry-run, and writes nothing", async () => {
    stack.sim.clearRequests();
    const r = await cli(["sweep", "--dry-run", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    const candidates = out.filter((l) => l.type === "candidate");
    expect(candidates.map((c) => c.resourceId).sort()).toEqual(DRIFTED);
    expect(candidates.every((c) => c.outcome === "dry-run")).toBe(true);
    expect(out.at(-1)?.type).toBe("summary");
    // The stack's policy file (an empty DRIFTGUARD_POLICY_FILE is unset), not the shipped one.
    expect(out.at(-1)?.policies?.map((p) => p.policy)).toEqual([
      "ai-services-private",
      "no-internet-inbound",
      "rotate-expiring-secrets",
    ]);
    // Nothing compliant, excluded or exempt-until-future is listed; they are counted.
    for (const id of [IDS.compliantStorage, IDS.excludedStorage, IDS.exemptStorage, IDS.cognitive])
      expect(candidates.map((c) => c.resourceId)).not.toContain(id);
    const storage = out.at(-1)?.policies?.find((p) => p.policy === "ai-services-private");
    expect(storage).toMatchObject({ excluded: 2, nonCompliant: 4, remediated: 0 });
    expect(stack.sim.writes()).toEqual([]);
    // Compliant resources were never read: no ARM GET of them (the snapshot decided).
    for (const id of [IDS.compliantStorage, IDS.cognitive, IDS.compliantStorageC, IDS.excludedStorage])
      expect(stack.sim.requests({ pathIncludes: id })).toEqual([]);
    const records = await stack.audit({ source: "sweep" });
    expect(records.map((x) => x.resourceId).sort()).toEqual(DRIFTED);
    expect(records.every((x) => x.outcome === "dry-run" && x.signal.source === "sweep")).toBe(true);
  }, 120_000);

  it("--max-changes 3 changes three and reports the rest over-limit (no record, no approval)", async () => {
    stack.sim.clearRequests();
    const before = (await stack.audit({ source: "sweep" })).length;
    const r = await cli(["sweep", "--max-changes", "3", "--json"]);
    expect(r.code).toBe(0);
    const candidates = lines(r.stdout).filter((l) => l.type === "candidate");
    expect(candidates.filter((c) => c.outcome === "remediated")).toHaveLength(3);
    expect(candidates.filter((c) => c.outcome === "over-limit")).toHaveLength(3);
    expect(stack.sim.writes()).toHaveLength(3);
    expect((await stack.audit({ source: "sweep" })).length).toBe(before + 3);
    expect(await stack.runtime.stores.approvals.countPending()).toBe(0);
  }, 120_000);

  it("fixes the rest with one ARM write and one remediated sweep record each, the expired exemption included", async () => {
    stack.sim.clearRequests();
    const r = await cli(["sweep", "--json"]);
    expect(r.code).toBe(0);
    const candidates = lines(r.stdout).filter((l) => l.type === "candidate");
    expect(candidates).toHaveLength(3);
    expect(candidates.every((c) => c.outcome === "remediated")).toBe(true);
    expect(stack.sim.writes()).toHaveLength(3);

    const remediated = await stack.audit({ source: "sweep", outcome: "remediated" });
    expect(remediated.map((x) => x.resourceId).sort()).toEqual(DRIFTED);
    expect(remediated.every((x) => x.signal.source === "sweep" && x.signal.type === "driftguard.sweep")).toBe(
      true,
    );
    expect(remediated.map((x) => x.resourceId)).toContain(IDS.expiredExemption);
    expect(stack.sim.getResource(IDS.expiredExemption)?.properties?.publicNetworkAccess).toBe("Disabled");
    expect(stack.sim.getResource(IDS.exemptStorage)?.properties?.publicNetworkAccess).toBe("Enabled");
    expect(stack.sim.getResource(IDS.excludedStorage)?.properties?.publicNetworkAccess).toBe("Enabled");
    // Excluded and exempt resources get no record at all.
    for (const id of [IDS.excludedStorage, IDS.exemptStorage])
      expect(await stack.audit({ resourceId: id })).toEqual([]);
  }, 120_000);

  it("a second sweep finds nothing, writes nothing, and reads no compliant resource from ARM", async () => {
    stack.sim.clearRequests();
    const before = (await stack.audit()).length;
    const r = await cli(["sweep", "--json"]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.filter((l) => l.type === "candidate")).toEqual([]);
    expect(out.at(-1)?.policies?.every((p) => p.nonCompliant === 0)).toBe(true);
    expect(stack.sim.writes()).toEqual([]);
    expect((await stack.audit()).length).toBe(before);
    // Zero ARM requests for compliant resources: only Resource Graph and the vault's secret listing.
    const arm = nonGraph(stack.sim.requests({ origin: "arm" }));
    expect(writePaths(arm)).toEqual([]);
    const vault = stack.sim.requests().filter((x) => x.origin !== "arm");
    expect(vault.every((x) => x.method === "GET" && x.path.replace(/\/+$/, "") === "/secrets")).toBe(true);
  }, 120_000);

  it("bad arguments exit 2 and name the problem", async () => {
    const r = await cli(["sweep", "--policy", "no-such-policy"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no-such-policy");
    const s = await cli(["sweep", "--subscription", "not-a-guid"]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("--subscription");
  }, 120_000);
});
