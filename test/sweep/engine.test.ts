/**
 * The sweep engine with the real pipeline and SDK clients against the simulator (in-memory
 * stores): Resource Graph throttling, resuming a run cut short, a sweep racing an event for the
 * same resource, and which policy a resource is swept for.
 */
import { afterEach, describe, expect, it } from "vitest";
import { armWriteEvent } from "../../dev/arm-event-builder.js";
import { InMemorySweepStore } from "../../shared/fakes/sweep-store.js";
import { parseEventGridDelivery } from "../../shared/signals/eventgrid.js";
import { sweepWithLease } from "../../shared/sweep/leased.js";
import { runSweep } from "../../shared/sweep/run.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { DRIFTED, IDS, SWEEP_POLICIES, sweepEstate } from "./estate.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const GRAPH = "/providers/Microsoft.ResourceGraph/resources";

/** The harness as a runtime for `sweepWithLease` (in-memory sweep store). */
function runtimeOf(harness: Harness, store = new InMemorySweepStore(), maxChanges = 50) {
  return {
    pipeline: harness.pipeline,
    clients: harness.clients,
    stores: { sweeps: store },
    config: { sweep: { maxChanges, subscriptions: [], mode: "policy", schedule: "0 0 3 * * *" } },
    clock: harness.clock,
    log: harness.pipeline.deps.log,
  } as unknown as Parameters<typeof sweepWithLease>[0];
}

describe("a sweep", () => {
  it("waits out Resource Graph's 429 and completes", async () => {
    h = await startHarness({ seed: sweepEstate(), policies: SWEEP_POLICIES });
    // Spend the caller's quota (15 queries in 5 s) with the same identity driftguard uses.
    const graph = h.clients.resourceGraph();
    for (let i = 0; i < 15; i++) await graph.queryPage({ query: "resources | project id" });
    const started = Date.now();
    const report = await runSweep(
      { pipeline: h.pipeline, graph: h.clients.resourceGraph(), maxChanges: 50, subscriptions: [] },
      { trigger: "cli", dryRun: true },
    );
    expect(report.graph.throttled).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(report.policies.flatMap((p) => p.nonCompliantResourceIds).sort()).toEqual(DRIFTED);
    const answered = h.sim.requests({ pathIncludes: GRAPH }).filter((r) => r.status === 429);
    expect(answered.length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("asks Resource Graph once per page, batching the subscriptions, and reads no compliant resource", async () => {
    h = await startHarness({ seed: sweepEstate(), policies: SWEEP_POLICIES });
    h.sim.clearRequests();
    const report = await runSweep(
      { pipeline: h.pipeline, graph: h.clients.resourceGraph(), maxChanges: 50, subscriptions: [] },
      { trigger: "cli", dryRun: true, pageSize: 4 },
    );
    const rows = report.graph.rows;
    expect(rows).toBe(11);
    const queries = h.sim.requests({ pathIncludes: GRAPH });
    expect(queries).toHaveLength(Math.ceil(rows / 4));
    expect(report.graph.queries).toBe(queries.length);
    expect(queries.every((q) => (q.body as { options: { $top: number } }).options.$top === 4)).toBe(true);
    const compliant = [IDS.compliantStorage, IDS.cognitive, IDS.compliantStorageC];
    for (const id of compliant) expect(h.sim.requests({ pathIncludes: id })).toEqual([]);
  }, 60_000);

  it("cut short after a page, is resumed by the next timer run with the same run ID and no decision twice", async () => {
    h = await startHarness({ seed: sweepEstate(), policies: SWEEP_POLICIES });
    const store = new InMemorySweepStore();
    const runtime = runtimeOf(h, store);
    // Page 2 of the first run keeps failing.
    h.sim.addFault({ path: GRAPH, status: 500, skip: 1, count: -1 });
    await expect(sweepWithLease(runtime, { trigger: "timer", dryRun: true, pageSize: 4 })).rejects.toThrow();
    const first = await h.records();
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(DRIFTED.length);
    h.sim.clearFaults();
    const result = await sweepWithLease(runtime, { trigger: "timer", dryRun: true, pageSize: 4 });
    expect(result.status).toBe("ran");
    if (result.status !== "ran") return;
    expect(result.report.resumed).toBe(true);
    expect(result.report.runId).toBe(first[0]!.signal.id);
    const all = await h.records();
    expect(all.map((r) => r.resourceId).sort()).toEqual(DRIFTED);
    expect(new Set(all.map((r) => r.signal.id)).size).toBe(1);
    // The posture holds the whole run: both processes' pages.
    const { items } = await store.queryRuns({});
    expect(items).toHaveLength(1);
    expect(items[0]!.policies.flatMap((p) => p.nonCompliantResourceIds ?? []).sort()).toEqual(DRIFTED);
    expect(items[0]!.policies.reduce((n, p) => n + p.scanned, 0)).toBe(14);
    // The next tick starts a new run.
    const next = await sweepWithLease(runtime, { trigger: "timer", dryRun: true, pageSize: 4 });
    expect(next.status === "ran" && next.report.resumed).toBe(false);
  }, 60_000);

  it("holds the lease: a second sweep at the same time does not run", async () => {
    h = await startHarness({ seed: sweepEstate(), policies: SWEEP_POLICIES });
    const runtime = runtimeOf(h);
    const [a, b] = await Promise.all([
      sweepWithLease(runtime, { trigger: "timer", dryRun: true }),
      sweepWithLease(runtime, { trigger: "timer", dryRun: true }),
    ]);
    expect([a.status, b.status].sort()).toEqual(["busy", "ran"]);
  }, 60_000);

  it("and an event about the same resource at the same time make one write", async () => {
    h = await startHarness({ seed: sweepEstate(), policies: SWEEP_POLICIES });
    const delivery = parseEventGridDelivery([armWriteEvent(IDS.driftedStorage)], {
      "content-type": "application/json",
    });
    if (delivery.kind !== "signals") throw new Error("expected signals");
    const [report] = await Promise.all([
      runSweep(
        { pipeline: h.pipeline, graph: h.clients.resourceGraph(), maxChanges: 50, subscriptions: [] },
        { trigger: "cli", policyNames: ["ai-services-private"] },
      ),
      h.pipeline.handleAll(delivery.signals),
    ]);
    expect(h.sim.writes({ pathIncludes: IDS.driftedStorage })).toHaveLength(1);
    const records = (await h.records()).filter((r) => r.resourceId === IDS.driftedStorage);
    expect(records.filter((r) => r.outcome === "remediated")).toHaveLength(1);
    expect(records.map((r) => r.outcome).sort()).toEqual(["compliant", "remediated"]);
    expect(report.policies[0]!.failed).toBe(0);
  }, 60_000);
});

describe("which policy sweeps a resource", () => {
  const policies = (extra: string) => `version: 1
policies:
  - name: storage-rg-data-a
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    scope: ["/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-data"]
${extra}
  - name: storage-everywhere
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
`;

  it("is the first policy of its kind matching type and scope; sweep: false leaves its resources alone", async () => {
    h = await startHarness({ seed: sweepEstate(), policies: policies("    sweep: false") });
    const report = await runSweep(
      { pipeline: h.pipeline, graph: h.clients.resourceGraph(), maxChanges: 50, subscriptions: [] },
      { trigger: "cli", dryRun: true },
    );
    const ids = report.policies.flatMap((p) => p.nonCompliantResourceIds);
    // Subscription A's rg-data belongs to the first policy, which does not sweep.
    expect(ids).not.toContain(IDS.driftedStorage);
    expect(ids.sort()).toEqual([IDS.expiredExemption, IDS.invalidExemption].sort());
    expect(report.policies.map((p) => p.policy)).toEqual(["storage-everywhere"]);
  }, 60_000);

  it("--policy narrows the run to named policies", async () => {
    h = await startHarness({ seed: sweepEstate(), policies: policies("") });
    const report = await runSweep(
      { pipeline: h.pipeline, graph: h.clients.resourceGraph(), maxChanges: 50, subscriptions: [] },
      { trigger: "cli", dryRun: true, policyNames: ["storage-rg-data-a"] },
    );
    expect(report.policies.map((p) => p.policy)).toEqual(["storage-rg-data-a"]);
    expect(report.policies[0]!.nonCompliantResourceIds).toEqual([IDS.driftedStorage]);
    // The scoped policy's subscription is the only one queried.
    const bodies = h.sim.requests({ pathIncludes: GRAPH }).map((r) => r.body as { subscriptions?: string[] });
    expect(bodies.every((b) => b.subscriptions?.join() === "00000000-0000-0000-0000-0000000000a1")).toBe(
      true,
    );
  }, 60_000);
});
