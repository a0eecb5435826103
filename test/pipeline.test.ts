/**
 * Pipeline behaviours beyond the happy path: self-echo, kill switch, blast-radius limit, crash
 * mid-way (lease expiry → retry, not a dropped duplicate), record write failure, breaker.
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { Seed } from "../dev/azure-sim/index.js";
import type { AuditRecordInput } from "../shared/audit/types.js";
import { DEFAULT_LEASE_MS, FUNCTION_TIMEOUT_MS } from "../shared/pipeline.js";
import type { Signal } from "../shared/signals/types.js";
import { type Harness, ManualClock, startHarness } from "./helpers/harness.js";

const SUB = "00000000-0000-0000-0000-0000000000ee";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-p/providers/Microsoft.Storage/storageAccounts`;
const names = Array.from({ length: 6 }, (_, i) => `stpipe00${i}`);
const seed: Seed = {
  resources: names.map((n) => ({
    id: `${RG}/${n}`,
    name: n,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    tags: {},
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
  })),
};

const policy = (extra = "") => `
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: "Microsoft.Resources.ResourceWrite*" }]
    kind: disable-public-network-access
${extra}`;

const SELF = "5f5f5f5f-1111-4222-8333-944444444444";

function signal(name: string, opts: { id?: string; caller?: string } = {}): Signal {
  const id = opts.id ?? crypto.randomUUID();
  const resourceId = `${RG}/${name}`;
  return {
    source: "eventgrid",
    type: "Microsoft.Resources.ResourceWriteSuccess",
    id,
    dedupeKey: `eg:${id}`,
    time: new Date().toISOString(),
    subscriptionId: SUB,
    trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
    targets: [{ resourceId, resourceType: "Microsoft.Storage/storageAccounts", subscriptionId: SUB }],
    ...(opts.caller ? { caller: { objectId: opts.caller } } : {}),
  };
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("the resource lease", () => {
  it("is strictly longer than the Functions host's functionTimeout (host.json), which FUNCTION_TIMEOUT_MS mirrors", () => {
    const host = JSON.parse(readFileSync(new URL("../host.json", import.meta.url), "utf8")) as {
      functionTimeout: string;
    };
    const [hh, mm, ss] = host.functionTimeout.split(":").map(Number);
    const timeoutMs = ((hh! * 60 + mm!) * 60 + ss!) * 1000;
    expect(timeoutMs).toBe(FUNCTION_TIMEOUT_MS);
    // A stopped invocation may still have a write in flight: no second writer before it is over.
    expect(DEFAULT_LEASE_MS).toBeGreaterThan(timeoutMs);
  });
});

describe("pipeline", () => {
  it("ignores our own echoes (caller is one of DRIFTGUARD_SELF_PRINCIPAL_IDS): no record, no read", async () => {
    h = await startHarness({ seed, policies: policy(), selfPrincipalIds: [SELF] });
    const [d] = await h.handle(signal(names[0]!, { caller: SELF.toUpperCase() }));
    expect(d).toMatchObject({ outcome: "ignored", retry: false });
    expect(await h.records()).toHaveLength(0);
    expect(h.sim.requests({ pathIncludes: names[0]! })).toHaveLength(0);
  });

  it("signals no policy matches are ignored without a record", async () => {
    h = await startHarness({ seed, policies: policy() });
    const s = signal(names[0]!);
    s.trigger = { eventGrid: "Microsoft.Resources.ResourceDeleteSuccess" };
    expect((await h.handle(s))[0]!.outcome).toBe("ignored");
    expect(await h.records()).toHaveLength(0);
  });

  it("the global kill switch wins over the policy: off ignores, dry-run only records", async () => {
    h = await startHarness({ seed, policies: policy(), mode: "off" });
    expect((await h.handle(signal(names[0]!)))[0]!.outcome).toBe("ignored");
    await h.close();
    h = await startHarness({ seed, policies: policy(), mode: "dry-run" });
    const [d] = await h.handle(signal(names[0]!));
    expect(d).toMatchObject({ outcome: "dry-run", mode: "dry-run" });
    expect(h.sim.writes({ pathIncludes: names[0]! })).toHaveLength(0);
  });

  it("past maxActionsPerHour the action waits for approval (blast-radius limit)", async () => {
    h = await startHarness({ seed, policies: policy("    maxActionsPerHour: 2\n") });
    const outcomes = [];
    for (const n of names.slice(0, 4)) outcomes.push((await h.handle(signal(n)))[0]!.outcome);
    expect(outcomes).toEqual(["remediated", "remediated", "pending-approval", "pending-approval"]);
    expect(h.notifier.requests.map((a) => a.reason)).toEqual(["action-limit", "action-limit"]);
    expect(h.notifier.requests[0]!.reasonDetail).toBe(
      "action limit of 2 actions/hour reached for policy storage-private; waiting for approval",
    );
    expect(h.sim.writes({ pathIncludes: names[2]! })).toHaveLength(0);
  });

  it("a crash mid-way turns the redelivery into a retry once the lease expires, never a dropped duplicate", async () => {
    const clock = new ManualClock(new Date());
    h = await startHarness({ seed, policies: policy(), clock, busyWaitMs: 0 });
    const s = signal(names[1]!);
    // Simulate a worker that entered the resource's gate for this cause and died before anything.
    const cause = `${s.dedupeKey}|${s.targets[0]!.resourceId.toLowerCase()}|disable-public-network-access`;
    const entry = await h.pipeline.deps.gate.enter(s.targets[0]!.resourceId, cause, {
      leaseMs: 5 * 60_000,
      now: clock.now(),
    });
    expect(entry.status).toBe("entered");
    const [busy] = await h.handle(s);
    expect(busy).toMatchObject({ outcome: "busy", retry: true }); // answered non-2xx: Event Grid redelivers
    clock.advance(6 * 60_000);
    const [retried] = await h.handle(s);
    expect(retried).toMatchObject({ outcome: "remediated", retry: false });
    expect((await h.records()).map((r) => r.outcome)).toEqual(["remediated"]);
  });

  it("a failed record write releases the lease and surfaces the error, so the redelivery retries", async () => {
    h = await startHarness({ seed, policies: policy() });
    const audit = h.audit;
    const append = audit.append.bind(audit);
    let fail = true;
    audit.append = async (r: AuditRecordInput) => {
      if (fail) throw new Error("Cosmos unavailable");
      return append(r);
    };
    const s = signal(names[2]!);
    await expect(h.handle(s)).rejects.toThrow(/Cosmos unavailable/);
    fail = false;
    const [d] = await h.handle(s);
    // The change was applied by the first attempt, whose record was lost: the redelivery finds the
    // intent, sees the planned state and records the action as `remediated` — never `compliant`.
    expect(d).toMatchObject({ outcome: "remediated", retry: false });
    expect(d!.reason).toMatch(/completed after an interruption/);
    const recs = await h.records();
    expect(recs.map((r) => r.outcome)).toEqual(["remediated"]);
    expect(recs[0]!.changes).toContainEqual({
      path: "properties.publicNetworkAccess",
      from: "Enabled",
      to: "Disabled",
    });
    expect(h.sim.writes({ pathIncludes: names[2]! })).toHaveLength(1);
    // A further redelivery is a duplicate.
    expect((await h.handle(s))[0]!.outcome).toBe("duplicate");
  });

  it("a transient failure records `failed` once per cause; its redeliveries retry without another record", async () => {
    h = await startHarness({ seed, policies: policy() });
    h.sim.addFault({ method: "PATCH", path: names[3]!, status: 503, count: -1 });
    const s = signal(names[3]!);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push((await h.handle(s))[0]!.outcome);
    expect(outcomes).toEqual(["failed", "failed", "failed", "failed"]);
    expect((await h.records()).map((r) => r.outcome)).toEqual(["failed"]);
    h.sim.clearFaults();
    const [ok] = await h.handle(s);
    expect(ok).toMatchObject({ outcome: "remediated", retry: false });
    expect((await h.records()).map((r) => r.outcome)).toEqual(["failed", "remediated"]);
  });

  it("a retryable Azure failure records failed with the step and asks for redelivery; a permanent one does not", async () => {
    h = await startHarness({ seed, policies: policy() });
    h.sim.addFault({ method: "PATCH", path: names[3]!, status: 503, count: -1 });
    const [transient] = await h.handle(signal(names[3]!));
    expect(transient).toMatchObject({ outcome: "failed", retry: true });
    expect(transient!.record!.error).toMatchObject({ step: "apply" });
    h.sim.clearFaults();
    h.sim.addFault({ method: "PATCH", path: names[4]!, status: 403, count: -1 });
    const [permanent] = await h.handle(signal(names[4]!));
    expect(permanent).toMatchObject({ outcome: "failed", retry: false });
    expect(permanent!.record!.error).toMatchObject({ step: "apply" });
  });

  it("after repeated failures of one kind the breaker opens and decisions are deferred (will retry)", async () => {
    h = await startHarness({ seed, policies: policy() });
    h.sim.addFault({ method: "GET", path: "stpipe005", status: 500, count: -1 });
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) outcomes.push((await h.handle(signal(names[5]!)))[0]!.outcome);
    expect(outcomes.slice(0, 5)).toEqual(["failed", "failed", "failed", "failed", "failed"]);
    expect(outcomes.slice(5)).toEqual(["deferred", "deferred"]);
    const deferred = (await h.records()).filter((r) => r.outcome === "deferred");
    expect(deferred[0]!.reason).toMatch(/circuit breaker/);
  });

  it("permanent failures (403) do not open the breaker", async () => {
    h = await startHarness({ seed, policies: policy() });
    h.sim.addFault({ method: "GET", path: "stpipe005", status: 403, count: -1 });
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) outcomes.push((await h.handle(signal(names[5]!)))[0]!.outcome);
    expect(new Set(outcomes)).toEqual(new Set(["failed"]));
  });

  it("keeps one linear hash chain per resource", async () => {
    h = await startHarness({ seed, policies: policy() });
    await Promise.all(Array.from({ length: 5 }, () => h!.handle(signal(names[0]!))));
    const report = await h.audit.verify();
    expect(report.breaks).toEqual([]);
    const recs = await h.records();
    expect(recs.map((r) => r.seq).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it("an interrupted action whose stored params no longer fit its kind is recorded failed, not carried out", async () => {
    h = await startHarness({ seed, policies: policy() });
    const earlier = signal(names[1]!, { id: "earlier-write" });
    const target = earlier.targets[0]!;
    // An earlier holder persisted its intent (with params the kind refuses) and vanished.
    const entry = await h.pipeline.deps.gate.enter(target.resourceId, `eg:earlier-write|x`, {
      leaseMs: 60_000,
      now: new Date(),
    });
    if (entry.status !== "entered") throw new Error(`gate: ${entry.status}`);
    await entry.session.recordIntent({
      id: "intent-earlier",
      cause: "eg:earlier-write|x",
      plannedAt: new Date().toISOString(),
      seqBefore: 0,
      policy: "storage-private",
      kind: "disable-public-network-access",
      params: { force: true },
      mode: "enforce",
      signal: earlier,
      recordSignal: { source: "eventgrid", type: earlier.type, id: earlier.id, correlationId: null },
      target,
      changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
      changesHash: "bound",
      summary: "Disable public network access",
      reverts: false,
      actor: "driftguard",
    });
    await entry.session.leave({ causes: {}, keepIntent: true });

    const [d] = await h.handle(signal(names[1]!));
    expect(d).toMatchObject({ outcome: "remediated", retry: false });
    const recs = await h.records();
    expect(recs.map((r) => [r.outcome, r.error?.code ?? null])).toEqual([
      ["failed", "InvalidParams"],
      ["remediated", null],
    ]);
    expect(recs[0]).toMatchObject({
      signal: { id: "earlier-write" },
      changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
      error: { step: "verify", message: expect.stringMatching(/params are not valid for kind/) },
    });
    // Only the current signal's run wrote: one PATCH.
    expect(h.sim.writes().filter((w) => w.path.toLowerCase().endsWith(names[1]!))).toHaveLength(1);
  });
});
