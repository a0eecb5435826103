import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import type { AuditQuery, AuditRecord, Outcome } from "../../shared/audit/types.js";
import { RemediationError } from "../../shared/errors.js";
import type { Policy } from "../../shared/policy/schema.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import {
  findDueRestorations,
  restoreSignal,
} from "../../shared/remediations/throttle-api-subscription/due-restores.js";
import {
  type Params as ThrottleParams,
  remediation as throttleApiSubscription,
  paramsSchema as throttleParamsSchema,
} from "../../shared/remediations/throttle-api-subscription/kind.js";
import {
  parseIsoDuration,
  resolveApimSubscription,
  STATE_COMMENT_PREFIX,
  type ThrottleData,
} from "../../shared/remediations/throttle-api-subscription/plan.js";
import type { AuditHistory, ChangePlan, RemediationContext } from "../../shared/remediations/types.js";
import { parseResourceId } from "../../shared/resource-id.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, ManualClock, startHarness } from "../helpers/harness.js";
import { kindContext, runKind } from "./kind-run.js";
import { alertSignals, useKindSimulator } from "./kind-sim.js";

const SUB = "00000000-0000-0000-0000-0000000000aa";
const RG = "rg-ai";
const SVC = "apim-openai";
const SVC_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ApiManagement/service/${SVC}`;
const OTHER_SVC_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ApiManagement/service/apim-other`;
const subId = (sid: string, svc = SVC_ID) => `${svc}/subscriptions/${sid}`;
const NOW = new Date("2030-03-01T10:00:00.000Z");
const HOUR = 3600_000;
const KIND = "throttle-api-subscription";

const POLICY: Policy = {
  name: "throttle-openai-abuse",
  resourceTypes: ["Microsoft.ApiManagement/service"],
  triggers: [{ alert: "apim-token-*" }, { manual: "throttle-restore" }],
  kind: KIND,
  params: { dimension: "ApimSubscriptionId", cooldown: "PT1H" },
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

function apimSubscription(sid: string, state = "active", svcId = SVC_ID) {
  return {
    id: subId(sid, svcId),
    name: sid,
    type: "Microsoft.ApiManagement/service/subscriptions",
    properties: {
      displayName: sid,
      scope: `${svcId}/apis`,
      state,
      primaryKey: `pk-${sid}-0123456789`,
      secondaryKey: `sk-${sid}-0123456789`,
      allowTracing: false,
    },
  };
}

function seed(): Seed {
  return {
    resources: [
      {
        id: SVC_ID,
        name: SVC,
        type: "Microsoft.ApiManagement/service",
        location: "westeurope",
        tags: { team: "ai-platform" },
        sku: { name: "Developer", capacity: 1 },
        properties: { publisherEmail: "ops@example.com", publisherName: "ops" },
      },
      apimSubscription("master"),
      apimSubscription("team-a-key"),
      apimSubscription("team-b-key"),
      {
        id: OTHER_SVC_ID,
        name: "apim-other",
        type: "Microsoft.ApiManagement/service",
        location: "westeurope",
        tags: { "driftguard:exclude": "true" },
        sku: { name: "Developer", capacity: 1 },
        properties: {},
      },
      apimSubscription("team-a-key", "active", OTHER_SVC_ID),
    ],
  };
}

const alerts = alertSignals({
  rule: "apim-token-abuse",
  subscriptionId: SUB,
  resourceType: "Microsoft.ApiManagement/service",
  now: NOW,
  firedAt: "2030-03-01T09:58:00.000Z",
});
const alertSignal = (condition: "Fired" | "Resolved", dimensions: Record<string, string>, target = SVC_ID) =>
  alerts(condition, target, dimensions);

/** In-memory audit history with the store's query semantics: filters, newest first, paging. */
class FakeHistory implements AuditHistory {
  records: AuditRecord[] = [];
  queries: AuditQuery[] = [];
  private seq = 0;

  add(r: Partial<AuditRecord> & { outcome: Outcome; time: string }): AuditRecord {
    this.seq++;
    const rec: AuditRecord = {
      id: `rec-${this.seq}`,
      seq: this.seq,
      prevHash: "0",
      hash: `h${this.seq}`,
      subscriptionId: SUB,
      resourceId: SVC_ID,
      resourceType: "Microsoft.ApiManagement/service",
      signal: { source: "monitor", type: "alert.Fired", id: `a-${this.seq}`, correlationId: `c-${this.seq}` },
      policy: POLICY.name,
      kind: KIND,
      mode: "enforce",
      changes: [],
      actor: "driftguard",
      durationMs: 1,
      ...r,
    };
    this.records.push(rec);
    return rec;
  }

  async query(q: AuditQuery) {
    this.queries.push(q);
    const items = this.records
      .filter(
        (r) =>
          (!q.kind || r.kind === q.kind) &&
          (!q.outcome || r.outcome === q.outcome) &&
          (!q.resourceId || r.resourceId.toLowerCase() === q.resourceId.toLowerCase()) &&
          (!q.from || r.time >= q.from) &&
          (!q.to || r.time < q.to),
      )
      .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : b.seq - a.seq));
    const start = q.continuationToken ? Number(q.continuationToken) : 0;
    const limit = q.limit ?? 50;
    const page = items.slice(start, start + limit);
    return { items: page, continuationToken: start + limit < items.length ? String(start + limit) : null };
  }
}

const env = useKindSimulator(seed);
let history: FakeHistory;

function ctxFor(
  signal: Signal,
  opts: { now?: Date; params?: Record<string, unknown>; policy?: Policy } = {},
): RemediationContext<ThrottleParams> {
  return kindContext(throttleApiSubscription, signal, {
    policy: opts.policy ?? POLICY,
    params: opts.params,
    clients: env.clients,
    history,
    now: opts.now ?? NOW,
  });
}

function stateOf(sid: string, svc = SVC_ID) {
  const r = env.sim.getResource(subId(sid, svc));
  return r?.properties as { state: string; stateComment?: string } | undefined;
}

/** Writes to APIM subscriptions that reached the simulator's handler and succeeded, since the test began. */
function subWrites(sid?: string) {
  return env
    .writes()
    .filter(
      (w) =>
        w.status < 300 &&
        w.path.toLowerCase().includes(sid ? `/subscriptions/${sid}` : "microsoft.apimanagement"),
    );
}

beforeEach(() => {
  history = new FakeHistory();
  env.sim.clearFaults();
  env.mark();
  // Fresh state for the three seeded subscriptions.
  for (const r of seed().resources!) {
    if (r.type === "Microsoft.ApiManagement/service/subscriptions") env.sim.putResource(structuredClone(r));
  }
});

describe("params", () => {
  it("defaults dimension and cooldown and accepts ISO 8601 durations", () => {
    const defaults = { action: "suspend", throttledProduct: "driftguard-throttled", callsPerMinute: 10 };
    expect(throttleParamsSchema.parse({})).toEqual({
      dimension: "ApimSubscriptionId",
      cooldown: "PT1H",
      ...defaults,
    });
    expect(throttleParamsSchema.parse({ cooldown: "PT15M" }).cooldown).toBe("PT15M");
    expect(throttleParamsSchema.parse({ cooldown: "P1D", dimension: "SubscriptionName" })).toEqual({
      cooldown: "P1D",
      dimension: "SubscriptionName",
      ...defaults,
    });
    expect(parseIsoDuration("PT15M")).toBe(15 * 60_000);
    expect(parseIsoDuration("PT1H")).toBe(HOUR);
    expect(parseIsoDuration("P1D")).toBe(24 * HOUR);
    expect(parseIsoDuration("P1DT2H30M")).toBe(26.5 * HOUR);
    expect(parseIsoDuration("P2W")).toBe(14 * 24 * HOUR);
    expect(parseIsoDuration("PT90.5S")).toBe(90_500);
  });

  it("rejects bad durations, unknown fields and an empty dimension, naming the field", () => {
    for (const bad of ["1h", "PT", "P", "PT1H2", "-PT1H", "P1Y", "P1M", "PT0S", "PT30S", "P31D", ""]) {
      const r = throttleParamsSchema.safeParse({ cooldown: bad });
      expect(r.success, bad).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(["cooldown"]);
    }
    expect(() => parseIsoDuration("P1M")).toThrow(/months/);
    expect(throttleParamsSchema.safeParse({ cooldwn: "PT1H" }).success).toBe(false);
    const r = throttleParamsSchema.safeParse({ dimension: "  " });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["dimension"]);
  });

  it("is registered under its stable kind name and supports only APIM services", () => {
    expect(builtinRegistry().get(KIND)).toBe(throttleApiSubscription);
    expect(throttleApiSubscription.supports("Microsoft.ApiManagement/service")).toBe(true);
    expect(throttleApiSubscription.supports("microsoft.apimanagement/SERVICE")).toBe(true);
    expect(throttleApiSubscription.supports("Microsoft.ApiManagement/service/subscriptions")).toBe(false);
    expect(throttleApiSubscription.supports("Microsoft.Storage/storageAccounts")).toBe(false);
  });
});

describe("resolving the APIM subscription from the dimension value", () => {
  const svc = parseResourceId(SVC_ID);
  it("accepts a name or a full resource ID under the alerted service", () => {
    expect(resolveApimSubscription(svc, "team-a-key")).toMatchObject({
      sid: "team-a-key",
      id: subId("team-a-key"),
    });
    expect(
      resolveApimSubscription(
        svc,
        subId("team-a-key").replace("Microsoft.ApiManagement/service", "microsoft.apimanagement/SERVICE"),
      ),
    ).toMatchObject({
      sid: "team-a-key",
      serviceName: SVC,
      resourceGroup: RG,
    });
  });
  it("rejects a subscription under another service, other resource types and junk", () => {
    expect(() => resolveApimSubscription(svc, subId("team-a-key", OTHER_SVC_ID))).toThrow(
      /not under the alerted service/,
    );
    expect(() => resolveApimSubscription(svc, `${SVC_ID}/apis/chat`)).toThrow(/not an APIM subscription/);
    expect(() => resolveApimSubscription(svc, "../master")).toThrow(/not a valid/);
    expect(() => resolveApimSubscription(svc, "/subscriptions/x/../..")).toThrow(
      /not an APIM subscription name or resource ID/,
    );
  });
});

describe("Fired: suspend the named subscription", () => {
  it("suspends team-a-key with If-Match on the current ETag and a stateComment; others untouched", async () => {
    const ctx = ctxFor(alertSignal("Fired", { apimsubscriptionid: "team-a-key", ApiName: "chat" }));
    const before = env.sim.requests().length;
    const { current, plan, verified } = await runKind(throttleApiSubscription, ctx);
    expect(current.tags).toEqual({ team: "ai-platform" });
    expect(plan.action).toBe("change");
    const change = plan as ChangePlan<ThrottleData>;
    expect(change.changes).toEqual([{ path: "properties.state", from: "active", to: "suspended" }]);
    expect(change.reverts).toBeFalsy();
    const restoreAt = new Date(NOW.getTime() + HOUR).toISOString();
    expect(change.followUp).toEqual({ restoreAt, apimSubscriptionId: subId("team-a-key"), cooldown: "PT1H" });
    expect(verified).toEqual({ ok: true });

    // The PATCH carried If-Match = the ETag the GET returned.
    const reqs = env.sim.requests().slice(before);
    const get = reqs.find(
      (r) => r.method === "GET" && r.path.toLowerCase().endsWith("/subscriptions/team-a-key"),
    );
    const patches = reqs.filter((r) => r.method === "PATCH");
    expect(patches).toHaveLength(1);
    expect(patches[0]!.path.toLowerCase()).toContain("/service/apim-openai/subscriptions/team-a-key");
    expect(get).toBeDefined();
    expect(patches[0]!.headers["if-match"]).toBe(change.data.etag);
    expect(patches[0]!.headers["if-match"]).toBeTruthy();
    expect(patches[0]!.body).toEqual({
      properties: { state: "suspended", stateComment: change.data.stateComment },
    });

    const st = stateOf("team-a-key")!;
    expect(st.state).toBe("suspended");
    expect(st.stateComment).toMatch(
      /^driftguard: suspended by policy throttle-openai-abuse after alert apim-token-abuse at 2030-03-01T09:58:00.000Z; restore due /,
    );
    expect(st.stateComment).toContain(`restore due ${restoreAt}`);
    expect(stateOf("team-b-key")!.state).toBe("active");
    expect(stateOf("master")!.state).toBe("active");
    expect(stateOf("team-a-key", OTHER_SVC_ID)!.state).toBe("active");
    // No key material in the plan.
    expect(JSON.stringify(plan)).not.toMatch(/pk-|sk-/);
    expect(JSON.stringify(current)).not.toMatch(/pk-|sk-/);
  });

  it("uses the cooldown param for the due time", async () => {
    const ctx = ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-b-key" }), {
      params: { cooldown: "PT15M" },
    });
    const { plan } = await runKind(throttleApiSubscription, ctx);
    expect((plan as ChangePlan).followUp?.restoreAt).toBe(
      new Date(NOW.getTime() + 15 * 60_000).toISOString(),
    );
  });

  it("accepts the full subscription resource ID as dimension value", async () => {
    const { plan } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: subId("team-b-key") })),
    );
    expect(plan.action).toBe("change");
    expect(stateOf("team-b-key")!.state).toBe("suspended");
    expect(stateOf("team-a-key")!.state).toBe("active");
  });

  it("never suspends the built-in master subscription", async () => {
    const { plan } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "master" })),
    );
    expect(plan).toEqual({ action: "noop", reason: "built-in master subscription is never suspended" });
    const { plan: plan2 } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: subId("master") })),
    );
    expect(plan2.action).toBe("noop");
    expect(stateOf("master")!.state).toBe("active");
    expect(subWrites()).toHaveLength(0);
  });

  it("already suspended → noop, no write", async () => {
    await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" })),
    );
    const writes = subWrites().length;
    const { plan } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" })),
    );
    expect(plan.action).toBe("noop");
    expect((plan as { reason: string }).reason).toMatch(/already suspended/);
    expect(subWrites()).toHaveLength(writes);
  });

  it("missing dimension → RemediationError at step plan, non-retryable, naming the dimension", async () => {
    const ctx = ctxFor(alertSignal("Fired", { ApiName: "chat" }));
    const current = await throttleApiSubscription.read(ctx);
    let err: unknown;
    try {
      await throttleApiSubscription.plan(current, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RemediationError);
    const e = err as RemediationError;
    expect(e.step).toBe("plan");
    expect(e.retryable).toBe(false);
    expect(e.code).toBe("MissingDimension");
    expect(e.message).toContain("ApimSubscriptionId");
    expect(e.message).toContain("ApiName");
    expect(subWrites()).toHaveLength(0);
  });

  it("a subscription under another service → RemediationError at step plan; nothing written", async () => {
    const ctx = ctxFor(alertSignal("Fired", { ApimSubscriptionId: subId("team-a-key", OTHER_SVC_ID) }));
    const current = await throttleApiSubscription.read(ctx);
    await expect(
      Promise.resolve().then(() => throttleApiSubscription.plan(current, ctx)),
    ).rejects.toMatchObject({
      step: "plan",
      code: "InvalidApimSubscription",
      retryable: false,
    });
    expect(subWrites()).toHaveLength(0);
  });

  it("an unknown subscription name → RemediationError at step read (404, non-retryable)", async () => {
    await expect(
      throttleApiSubscription.read(ctxFor(alertSignal("Fired", { ApimSubscriptionId: "nope" }))),
    ).rejects.toMatchObject({
      step: "read",
      code: "SubscriptionNotFound",
      retryable: false,
    });
  });

  it("stale ETag: another writer changes it between read and write → 412, re-read and re-plan once, then suspended", async () => {
    const ctx = ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" }));
    const current = await throttleApiSubscription.read(ctx);
    const plan = (await throttleApiSubscription.plan(current, ctx)) as ChangePlan<ThrottleData>;
    // Another writer renames the subscription: its ETag changes.
    const apim = env.clients.apiManagement(SUB).subscription;
    const got = await apim.get(RG, SVC, "team-a-key");
    await apim.update(RG, SVC, "team-a-key", got.eTag!, { displayName: "Team A (renamed)" });
    const fresh = (await apim.get(RG, SVC, "team-a-key")).eTag;
    expect(fresh).not.toBe(plan.data.etag);

    const before = env.sim.requests().length;
    await throttleApiSubscription.apply(plan, ctx);
    const patches = env.sim
      .requests()
      .slice(before)
      .filter((r) => r.method === "PATCH");
    expect(patches.map((p) => p.status)).toEqual([412, 200]);
    expect(patches[0]!.headers["if-match"]).toBe(plan.data.etag);
    expect(patches[1]!.headers["if-match"]).toBe(fresh);
    expect(await throttleApiSubscription.verify(plan, ctx)).toEqual({ ok: true });
    const st = env.sim.getResource(subId("team-a-key"))!.properties as Record<string, unknown>;
    expect(st.state).toBe("suspended");
    expect(st.displayName).toBe("Team A (renamed)");
  });

  it("stale ETag where the other writer suspended it themselves → ConcurrentChange at step apply, no second write", async () => {
    const ctx = ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" }));
    const current = await throttleApiSubscription.read(ctx);
    const plan = (await throttleApiSubscription.plan(current, ctx)) as ChangePlan<ThrottleData>;
    const apim = env.clients.apiManagement(SUB).subscription;
    const got = await apim.get(RG, SVC, "team-a-key");
    await apim.update(RG, SVC, "team-a-key", got.eTag!, {
      state: "suspended",
      stateComment: "suspended by the API owner",
    });
    const writes = subWrites().length;
    await expect(throttleApiSubscription.apply(plan, ctx)).rejects.toMatchObject({
      step: "apply",
      code: "ConcurrentChange",
    });
    expect(subWrites()).toHaveLength(writes);
    expect(stateOf("team-a-key")!.stateComment).toBe("suspended by the API owner");
  });

  it("recovers from 429 with Retry-After and from a 500", async () => {
    env.sim.addFault({
      method: "PATCH",
      path: "/subscriptions/team-a-key",
      status: 429,
      retryAfter: 0,
      count: 1,
    });
    env.sim.addFault({ method: "PATCH", path: "/subscriptions/team-a-key", status: 500, count: 1 });
    const before = env.sim.requests().length;
    const { verified } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" })),
    );
    expect(verified).toEqual({ ok: true });
    const patches = env.sim
      .requests()
      .slice(before)
      .filter((r) => r.method === "PATCH");
    expect(patches.map((p) => p.status)).toEqual([429, 500, 200]);
    expect(stateOf("team-a-key")!.state).toBe("suspended");
  });

  it("a 500 on the GET is retried too", async () => {
    env.sim.addFault({ method: "GET", path: "/subscriptions/team-b-key", status: 500, count: 1 });
    const { verified } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-b-key" })),
    );
    expect(verified).toEqual({ ok: true });
  });

  it("a permanent 400 → RemediationError at step apply, not retryable", async () => {
    env.sim.addFault({
      method: "PATCH",
      path: "/subscriptions/team-a-key",
      status: 400,
      count: -1,
      body: { error: { code: "ValidationError", message: "stateComment is invalid" } },
    });
    const ctx = ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" }));
    const current = await throttleApiSubscription.read(ctx);
    const plan = (await throttleApiSubscription.plan(current, ctx)) as ChangePlan<ThrottleData>;
    let err: unknown;
    try {
      await throttleApiSubscription.apply(plan, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({ step: "apply", retryable: false, statusCode: 400 });
    expect(stateOf("team-a-key")!.state).toBe("active");
  });

  it("signals that are not alerts or timers → noop", async () => {
    const s: Signal = {
      ...alertSignal("Fired", { ApimSubscriptionId: "team-a-key" }),
      source: "eventgrid",
      type: "Microsoft.Resources.ResourceWriteSuccess",
      trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
      alert: undefined,
    };
    const { plan } = await runKind(throttleApiSubscription, ctxFor(s));
    expect(plan.action).toBe("noop");
    expect(subWrites()).toHaveLength(0);
  });
});

describe("Resolved: restore what we suspended", () => {
  it("restores to active with reverts: true", async () => {
    await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" })),
    );
    expect(stateOf("team-a-key")!.state).toBe("suspended");
    const before = env.sim.requests().length;
    const { plan, verified } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Resolved", { ApimSubscriptionId: "team-a-key" })),
    );
    expect(plan.action).toBe("change");
    const change = plan as ChangePlan<ThrottleData>;
    expect(change.reverts).toBe(true);
    expect(change.changes).toEqual([{ path: "properties.state", from: "suspended", to: "active" }]);
    expect(change.followUp).toEqual({ apimSubscriptionId: subId("team-a-key") });
    expect(verified).toEqual({ ok: true });
    const patch = env.sim
      .requests()
      .slice(before)
      .find((r) => r.method === "PATCH")!;
    expect(patch.headers["if-match"]).toBe(change.data.etag);
    const st = stateOf("team-a-key")!;
    expect(st.state).toBe("active");
    expect(st.stateComment?.startsWith(STATE_COMMENT_PREFIX)).toBe(true);
  });

  it("leaves a subscription a person suspended alone", async () => {
    const apim = env.clients.apiManagement(SUB).subscription;
    const got = await apim.get(RG, SVC, "team-b-key");
    await apim.update(RG, SVC, "team-b-key", got.eTag!, {
      state: "suspended",
      stateComment: "fraud investigation",
    });
    const writes = subWrites().length;
    const { plan } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Resolved", { ApimSubscriptionId: "team-b-key" })),
    );
    expect(plan.action).toBe("noop");
    expect((plan as { reason: string }).reason).toMatch(/someone else/);
    expect(subWrites()).toHaveLength(writes);
    expect(stateOf("team-b-key")!.state).toBe("suspended");
  });

  it("nothing to restore when active", async () => {
    const { plan } = await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Resolved", { ApimSubscriptionId: "team-a-key" })),
    );
    expect(plan.action).toBe("noop");
    expect(subWrites()).toHaveLength(0);
  });
});

describe("cooldown expiry (timer)", () => {
  it("finds a due suspension once, and not one that is not due", async () => {
    const due = history.add({
      outcome: "remediated",
      time: "2030-03-01T08:00:00.000Z",
      followUp: { restoreAt: "2030-03-01T09:00:00.000Z", apimSubscriptionId: subId("team-a-key") },
    });
    history.add({
      outcome: "remediated",
      time: "2030-03-01T09:30:00.000Z",
      followUp: { restoreAt: "2030-03-01T10:30:00.000Z", apimSubscriptionId: subId("team-b-key") },
    });
    const found = await findDueRestorations(history, NOW);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      recordId: due.id,
      resourceId: SVC_ID,
      apimSubscriptionId: subId("team-a-key"),
      restoreAt: "2030-03-01T09:00:00.000Z",
      policy: POLICY.name,
    });
    const signal = restoreSignal(found[0]!, NOW);
    expect(signal).toMatchObject({
      source: "timer",
      id: due.id,
      dedupeKey: `timer:restore:${due.id}`,
      trigger: { manual: "throttle-restore" },
      time: NOW.toISOString(),
      targets: [{ resourceId: SVC_ID, resourceType: "Microsoft.ApiManagement/service", subscriptionId: SUB }],
    });
    // Same record → same dedupe key, so the pipeline handles it once.
    expect(
      restoreSignal((await findDueRestorations(history, NOW))[0]!, new Date(NOW.getTime() + 60_000))
        .dedupeKey,
    ).toBe(signal.dedupeKey);
    // Nothing is due an hour earlier.
    expect(await findDueRestorations(history, new Date("2030-03-01T08:59:59.000Z"))).toEqual([]);
  });

  it("a later reverted record, a later suspension or a settled timer run closes it; failed runs do not", async () => {
    const a = history.add({
      outcome: "remediated",
      time: "2030-03-01T07:00:00.000Z",
      followUp: { restoreAt: "2030-03-01T08:00:00.000Z", apimSubscriptionId: subId("team-a-key") },
    });
    history.add({
      outcome: "reverted",
      time: "2030-03-01T07:30:00.000Z",
      followUp: { apimSubscriptionId: subId("team-a-key") },
    });
    // b: suspended, then suspended again later (the later one is due only at 11:00)
    history.add({
      outcome: "remediated",
      time: "2030-03-01T07:00:00.000Z",
      followUp: { restoreAt: "2030-03-01T08:00:00.000Z", apimSubscriptionId: subId("team-b-key") },
    });
    history.add({
      outcome: "remediated",
      time: "2030-03-01T09:00:00.000Z",
      followUp: { restoreAt: "2030-03-01T11:00:00.000Z", apimSubscriptionId: subId("team-b-key") },
    });
    // c: a timer run that failed (retry) and d: a timer run that found a person had changed it (compliant)
    const c = history.add({
      outcome: "remediated",
      time: "2030-03-01T07:00:00.000Z",
      followUp: { restoreAt: "2030-03-01T08:00:00.000Z", apimSubscriptionId: subId("team-c-key") },
    });
    history.add({
      outcome: "failed",
      time: "2030-03-01T08:01:00.000Z",
      signal: { source: "timer", type: "timer.throttle-restore", id: c.id, correlationId: null },
    });
    const d = history.add({
      outcome: "remediated",
      time: "2030-03-01T07:00:00.000Z",
      followUp: { restoreAt: "2030-03-01T08:00:00.000Z", apimSubscriptionId: subId("team-d-key") },
    });
    history.add({
      outcome: "compliant",
      time: "2030-03-01T08:01:00.000Z",
      signal: { source: "timer", type: "timer.throttle-restore", id: d.id, correlationId: null },
    });
    // Other kinds are ignored.
    history.add({
      kind: "scale-gpu-pool",
      outcome: "remediated",
      time: "2030-03-01T07:00:00.000Z",
      followUp: { restoreAt: "2030-03-01T08:00:00.000Z", apimSubscriptionId: subId("team-e-key") },
    });
    const found = await findDueRestorations(history, NOW, { pageSize: 2 });
    expect(found.map((f) => f.recordId)).toEqual([c.id]);
    expect(found.map((f) => f.recordId)).not.toContain(a.id);
    // Paged through everything.
    expect(history.queries.length).toBeGreaterThan(3);
  });

  it("the timer signal restores what the due record suspended", async () => {
    await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" })),
    );
    const rec = history.add({
      outcome: "remediated",
      time: NOW.toISOString(),
      followUp: {
        restoreAt: new Date(NOW.getTime() + HOUR).toISOString(),
        apimSubscriptionId: subId("team-a-key"),
      },
    });
    const later = new Date(NOW.getTime() + HOUR + 60_000);
    const [due] = await findDueRestorations(history, later);
    expect(due?.recordId).toBe(rec.id);
    const { plan, verified } = await runKind(
      throttleApiSubscription,
      ctxFor(restoreSignal(due!, later), { now: later }),
    );
    expect(plan.action).toBe("change");
    expect((plan as ChangePlan).reverts).toBe(true);
    expect((plan as ChangePlan).followUp).toEqual({
      apimSubscriptionId: subId("team-a-key"),
      restores: rec.id,
    });
    expect(verified).toEqual({ ok: true });
    expect(stateOf("team-a-key")!.state).toBe("active");
  });

  it("a timer signal before the due time, or for an unknown record, changes nothing", async () => {
    await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" })),
    );
    const rec = history.add({
      outcome: "remediated",
      time: NOW.toISOString(),
      followUp: {
        restoreAt: new Date(NOW.getTime() + HOUR).toISOString(),
        apimSubscriptionId: subId("team-a-key"),
      },
    });
    const early = restoreSignal(
      {
        recordId: rec.id,
        resourceId: SVC_ID,
        resourceType: "Microsoft.ApiManagement/service",
        subscriptionId: SUB,
        apimSubscriptionId: subId("team-a-key"),
        restoreAt: new Date(NOW.getTime() + HOUR).toISOString(),
        policy: POLICY.name,
        suspendedAt: NOW.toISOString(),
        correlationId: null,
      },
      NOW,
    );
    const { plan } = await runKind(throttleApiSubscription, ctxFor(early));
    expect(plan.action).toBe("noop");
    expect((plan as { reason: string }).reason).toMatch(/not due/);

    const unknown = { ...early, id: "rec-unknown", dedupeKey: "timer:restore:rec-unknown" };
    const ctx = ctxFor(unknown, { now: new Date(NOW.getTime() + 2 * HOUR) });
    const current = await throttleApiSubscription.read(ctx);
    await expect(
      Promise.resolve().then(() => throttleApiSubscription.plan(current, ctx)),
    ).rejects.toMatchObject({
      step: "plan",
      code: "UnknownThrottleRecord",
    });
    expect(stateOf("team-a-key")!.state).toBe("suspended");
  });

  it("a due timer does not cut short a later suspension", async () => {
    // Suspended by us with a due time in the future (a later alert), while an older record is due.
    await runKind(
      throttleApiSubscription,
      ctxFor(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" }), { params: { cooldown: "PT3H" } }),
    );
    const old = history.add({
      outcome: "remediated",
      time: new Date(NOW.getTime() - 2 * HOUR).toISOString(),
      followUp: {
        restoreAt: new Date(NOW.getTime() - HOUR).toISOString(),
        apimSubscriptionId: subId("team-a-key"),
      },
    });
    const [due] = await findDueRestorations(history, NOW);
    expect(due?.recordId).toBe(old.id);
    const { plan } = await runKind(throttleApiSubscription, ctxFor(restoreSignal(due!, NOW)));
    expect(plan.action).toBe("noop");
    expect((plan as { reason: string }).reason).toMatch(/suspended again/);
    expect(stateOf("team-a-key")!.state).toBe("suspended");
  });
});

describe("through the pipeline (harness)", () => {
  let h: Harness;
  let clock: ManualClock;
  const policies = {
    version: 1 as const,
    policies: [{ ...POLICY, params: { cooldown: "PT1H" } }],
  };

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    h = await startHarness({ seed: seed(), policies, clock });
  });
  afterAll(async () => {
    await h?.close();
  });

  const hState = (sid: string, svc = SVC_ID) =>
    (h.sim.getResource(subId(sid, svc))!.properties as { state: string }).state;

  it("Fired → remediated with followUp.restoreAt; the due timer signal → reverted and active; then nothing is due", async () => {
    clock.set(NOW);
    const [d] = await h.handle(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" }));
    expect(d?.outcome).toBe("remediated");
    const restoreAt = new Date(NOW.getTime() + HOUR).toISOString();
    expect(d?.record?.followUp).toMatchObject({ restoreAt, apimSubscriptionId: subId("team-a-key") });
    expect(d?.record?.changes).toEqual([{ path: "properties.state", from: "active", to: "suspended" }]);
    expect(d?.record?.kind).toBe(KIND);
    expect(JSON.stringify(d?.record)).not.toMatch(/pk-|sk-/);
    expect(hState("team-a-key")).toBe("suspended");
    expect(hState("team-b-key")).toBe("active");
    expect(hState("master")).toBe("active");

    // Not due yet.
    expect(await findDueRestorations(h.audit, new Date(NOW.getTime() + 30 * 60_000))).toEqual([]);

    const later = new Date(NOW.getTime() + HOUR + 60_000);
    clock.set(later);
    const due = await findDueRestorations(h.audit, later);
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({ recordId: d?.record?.id, policy: POLICY.name, restoreAt });
    const signal = restoreSignal(due[0]!, later);
    const [r] = await h.handle(signal, { policyName: due[0]!.policy });
    expect(r?.outcome).toBe("reverted");
    expect(r?.record?.signal).toMatchObject({ source: "timer", id: d?.record?.id });
    expect(r?.record?.changes).toEqual([{ path: "properties.state", from: "suspended", to: "active" }]);
    expect(hState("team-a-key")).toBe("active");

    // A second run finds nothing due; the same signal delivered again is a duplicate (no record).
    expect(await findDueRestorations(h.audit, later)).toEqual([]);
    expect(await findDueRestorations(h.audit, new Date(later.getTime() + 10 * HOUR))).toEqual([]);
    const count = (await h.records()).length;
    const [again] = await h.handle(signal, { policyName: due[0]!.policy });
    expect(again?.outcome).toBe("duplicate");
    expect(await h.records()).toHaveLength(count);
  });

  it("Resolved restores first; the timer then has nothing to do", async () => {
    clock.set(NOW);
    const [fired] = await h.handle(alertSignal("Fired", { ApimSubscriptionId: "team-b-key" }));
    expect(fired?.outcome).toBe("remediated");
    clock.set(new Date(NOW.getTime() + 20 * 60_000));
    const [resolved] = await h.handle(alertSignal("Resolved", { ApimSubscriptionId: "team-b-key" }));
    expect(resolved?.outcome).toBe("reverted");
    expect(resolved?.record?.followUp).toEqual({ apimSubscriptionId: subId("team-b-key") });
    expect(hState("team-b-key")).toBe("active");
    const due = await findDueRestorations(h.audit, new Date(NOW.getTime() + 2 * HOUR));
    expect(due.map((x) => x.apimSubscriptionId)).not.toContain(subId("team-b-key"));
  });

  it("a person's change before the cooldown ends: the timer run is compliant and settles the restoration", async () => {
    clock.set(new Date(NOW.getTime() + 30 * 60_000));
    const [fired] = await h.handle(alertSignal("Fired", { ApimSubscriptionId: "team-b-key" }));
    expect(fired?.outcome).toBe("remediated");
    const apim = h.clients.apiManagement(SUB).subscription;
    const got = await apim.get(RG, SVC, "team-b-key");
    await apim.update(RG, SVC, "team-b-key", got.eTag!, {
      state: "suspended",
      stateComment: "kept suspended by the API owner",
    });
    const later = new Date(NOW.getTime() + 2 * HOUR);
    clock.set(later);
    const due = await findDueRestorations(h.audit, later);
    expect(due).toHaveLength(1);
    // Without a pinned policy, the timer signal matches the policy's `manual: throttle-restore` trigger.
    const [r] = await h.handle(restoreSignal(due[0]!, later));
    expect(r?.policy).toBe(POLICY.name);
    expect(r?.outcome).toBe("compliant");
    expect(r?.reason).toMatch(/someone else/);
    expect(hState("team-b-key")).toBe("suspended");
    expect(await findDueRestorations(h.audit, later)).toEqual([]);
  });

  it("master → compliant; missing dimension → failed at step plan; opted-out service → excluded", async () => {
    clock.set(NOW);
    const [m] = await h.handle(alertSignal("Fired", { ApimSubscriptionId: "master" }));
    expect(m?.outcome).toBe("compliant");
    expect(m?.reason).toBe("built-in master subscription is never suspended");
    expect(hState("master")).toBe("active");

    const [f] = await h.handle(alertSignal("Fired", { Region: "westeurope" }));
    expect(f?.outcome).toBe("failed");
    expect(f?.retry).toBe(false);
    expect(f?.record?.error).toMatchObject({ step: "plan", code: "MissingDimension" });

    const [x] = await h.handle(alertSignal("Fired", { ApimSubscriptionId: "team-a-key" }, OTHER_SVC_ID));
    expect(x?.outcome).toBe("excluded");
    expect(hState("team-a-key", OTHER_SVC_ID)).toBe("active");
  });
});

describe("policy files", () => {
  it("the loader applies the kind's defaults and names a bad cooldown by its path", async () => {
    const { validatePolicyObject } = await import("../../shared/policy/load.js");
    const registry = builtinRegistry();
    const ok = validatePolicyObject({ version: 1, policies: [{ ...POLICY, params: {} }] }, registry);
    expect(ok.issues).toEqual([]);
    expect(ok.file?.policies[0]?.params).toEqual({
      dimension: "ApimSubscriptionId",
      cooldown: "PT1H",
      action: "suspend",
      throttledProduct: "driftguard-throttled",
      callsPerMinute: 10,
    });
    const bad = validatePolicyObject(
      { version: 1, policies: [{ ...POLICY, params: { cooldown: "1 hour" } }] },
      registry,
    );
    expect(bad.file).toBeUndefined();
    expect(bad.issues.map((i) => i.path)).toContain("policies[0].params.cooldown");
  });

  it("ISO 8601 durations round-trip for any mix of fixed units", async () => {
    const fc = await import("fast-check");
    fc.assert(
      fc.property(
        fc.record({
          w: fc.nat(4),
          d: fc.nat(30),
          h: fc.nat(48),
          m: fc.nat(120),
          s: fc.nat(3600),
        }),
        ({ w, d, h, m, s }) => {
          const time = `${h ? `${h}H` : ""}${m ? `${m}M` : ""}${s ? `${s}S` : ""}`;
          const text = `P${w ? `${w}W` : ""}${d ? `${d}D` : ""}${time ? `T${time}` : ""}`;
          const expected = ((((w * 7 + d) * 24 + h) * 60 + m) * 60 + s) * 1000;
          if (text === "P") {
            expect(() => parseIsoDuration(text)).toThrow();
          } else {
            expect(parseIsoDuration(text)).toBe(expected);
          }
        },
      ),
    );
  });
});
