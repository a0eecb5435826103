/**
 * `disable-local-auth` against the HTTPS Azure simulator with the real SDK clients: each type ends
 * with keys off after exactly one write (Cosmos DB's PATCH polled to its end), compliant resources
 * are not written, Cognitive Services writes carry If-Match (a concurrent change → 412), Storage and
 * Cosmos DB (no ETag) are read again right before the write, transient failures recover through the
 * SDK's retry and permanent ones fail naming the step; through the pipeline: approval (the shipped
 * mode, whose summary says which clients break), enforce, opt-out, dry-run and the action limit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Policy } from "../../shared/policy/schema.js";
import {
  isLocalAuthDisabled,
  localAuthChanges,
} from "../../shared/remediations/disable-local-auth/compliance.js";
import { remediation as dla, KIND } from "../../shared/remediations/disable-local-auth/kind.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { expectChange, kindContext, planOnly, remediationFailure, runKind } from "./kind-run.js";
import { useKindSimulator } from "./kind-sim.js";
import { armSignal, cognitive, cosmos, ids, requestsTo, storage, T, writesTo } from "./resource-fixtures.js";

const SUB = "00000000-0000-0000-0000-0000000000e1";
const id = ids(SUB, "rg-keys");

const POLICY: Policy = {
  name: "no-local-auth",
  resourceTypes: [T.cog, T.st, T.cosmos],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: {},
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

const SEED = [
  cognitive(id.cog("oai-keys"), { disableLocalAuth: false }),
  storage(id.st("stkeys"), { allowSharedKeyAccess: true }),
  cosmos(id.cosmos("cosmos-keys"), { disableLocalAuth: false }),
  cognitive(id.cog("oai-nokeys"), { disableLocalAuth: true }),
  storage(id.st("stnokeys"), { allowSharedKeyAccess: false }),
  cosmos(id.cosmos("cosmos-nokeys"), { disableLocalAuth: true }),
  storage(id.st("stdefault")),
  cosmos(id.cosmos("cosmos-default")),
  cognitive(id.cog("oai-raced"), { disableLocalAuth: false }),
  storage(id.st("straced"), { allowSharedKeyAccess: true }),
  cosmos(id.cosmos("cosmos-raced"), { disableLocalAuth: false }),
  cognitive(id.cog("oai-throttled"), { disableLocalAuth: false }),
  cosmos(id.cosmos("cosmos-flaky"), { disableLocalAuth: false }),
  storage(id.st("stflaky"), { allowSharedKeyAccess: true }),
  cognitive(id.cog("oai-forbidden"), { disableLocalAuth: false }),
  storage(id.st("stbadrequest"), { allowSharedKeyAccess: true }),
  cosmos(id.cosmos("cosmos-failed"), { disableLocalAuth: false }),
];

const env = useKindSimulator(() => ({ resources: SEED }));

const ctxFor = (resourceId: string, type: string) =>
  kindContext(dla, armSignal(resourceId, type, SUB), { policy: POLICY, clients: env.clients });

const planFor = (resourceId: string, type: string) => planOnly(dla, ctxFor(resourceId, type));

const props = (resourceId: string) => env.sim.getResource(resourceId)!.properties!;

describe("keys on → off with exactly one write", () => {
  it.each([
    {
      type: T.cog,
      rid: id.cog("oai-keys"),
      change: { path: "properties.disableLocalAuth", from: false, to: true },
      body: { properties: { disableLocalAuth: true } },
      apiVersion: "2025-09-01",
    },
    {
      type: T.st,
      rid: id.st("stkeys"),
      change: { path: "properties.allowSharedKeyAccess", from: true, to: false },
      body: { properties: { allowSharedKeyAccess: false } },
      apiVersion: "2025-08-01",
    },
    {
      type: T.cosmos,
      rid: id.cosmos("cosmos-keys"),
      change: { path: "properties.disableLocalAuth", from: false, to: true },
      body: { properties: { disableLocalAuth: true } },
      apiVersion: "2025-10-15",
    },
  ])("$type", async (c) => {
    const ctx = ctxFor(c.rid, c.type);
    const run = await runKind(dla, ctx);
    expectChange(run.plan);
    expect(run.changes).toEqual([c.change]);
    expect(run.verified).toEqual({ ok: true });
    const writes = writesTo(env.sim, c.rid);
    expect(writes.map((w) => w.method)).toEqual(["PATCH"]);
    expect(writes[0]!.body).toEqual(c.body);
    expect(writes[0]!.apiVersion).toBe(c.apiVersion);
    const [name, value] = Object.entries(c.body.properties)[0]!;
    expect(props(c.rid)[name]).toBe(value);
    // Nothing else of the resource changed.
    expect(env.sim.getResource(c.rid)!.tags).toEqual(SEED.find((r) => r.id === c.rid)!.tags);
    // Running again finds nothing to do.
    expect((await planFor(c.rid, c.type)).plan).toEqual({
      action: "noop",
      reason: "key (local) authentication already disabled",
    });
  });

  it("the Cosmos DB PATCH is a long-running operation polled to its end before verify", async () => {
    const rid = id.cosmos("cosmos-default");
    env.sim.clearRequests();
    const run = await runKind(dla, ctxFor(rid, T.cosmos));
    expect(run.changes).toEqual([{ path: "properties.disableLocalAuth", from: null, to: true }]);
    expect(run.verified).toEqual({ ok: true });
    const polls = env.sim.requests({ method: "GET", pathIncludes: "/operationStatuses/" });
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.at(-1)!.status).toBe(200);
    expect(props(rid).disableLocalAuth).toBe(true);
  });

  it("an absent allowSharedKeyAccess (ARM's default: allowed) is planned from null", async () => {
    const { plan } = await planFor(id.st("stdefault"), T.st);
    expectChange(plan);
    expect(plan.changes).toEqual([{ path: "properties.allowSharedKeyAccess", from: null, to: false }]);
  });
});

describe("compliant: noop, zero writes", () => {
  it.each([
    { type: T.cog, rid: id.cog("oai-nokeys") },
    { type: T.st, rid: id.st("stnokeys") },
    { type: T.cosmos, rid: id.cosmos("cosmos-nokeys") },
  ])("$type", async (c) => {
    const before = env.sim.writes().length;
    const { plan, current } = await planFor(c.rid, c.type);
    expect(plan).toEqual({ action: "noop", reason: "key (local) authentication already disabled" });
    expect(isLocalAuthDisabled(current.state.resourceType, current.state.properties)).toBe(true);
    expect(env.sim.writes().length).toBe(before);
  });

  it("the compliance functions decide from ARM properties alone", () => {
    expect(localAuthChanges(T.cog, { disableLocalAuth: true })).toEqual([]);
    expect(localAuthChanges(T.cog, {})).toEqual([
      { path: "properties.disableLocalAuth", from: null, to: true },
    ]);
    expect(localAuthChanges(T.st, { allowSharedKeyAccess: false })).toEqual([]);
    expect(localAuthChanges(T.st, undefined)).toHaveLength(1);
    expect(localAuthChanges(T.cosmos, { disableLocalAuth: "true" })).toEqual([
      { path: "properties.disableLocalAuth", from: null, to: true },
    ]);
  });
});

describe("concurrent changes", () => {
  it("Cognitive Services: the write carries If-Match; a change after the read → 412, retryable, then a redelivery succeeds", async () => {
    const rid = id.cog("oai-raced");
    const { ctx, plan, current } = await planFor(rid, T.cog);
    expectChange(plan);
    expect(current.state.etag).toBeTruthy();
    env.sim.putResource({
      ...env.sim.getResource(rid)!,
      tags: { model: "gpt-4o", changedBy: "someone-else" },
    });
    const err = await remediationFailure(dla.apply(plan, ctx));
    expect(err).toMatchObject({
      code: "PreconditionFailed",
      step: "apply",
      statusCode: 412,
      retryable: true,
    });
    expect(requestsTo(env.sim, rid, "PATCH")[0]!.headers["if-match"]).toBe(current.state.etag);
    expect(props(rid).disableLocalAuth).toBe(false);
    const again = await runKind(dla, ctxFor(rid, T.cog));
    expect(again.verified).toEqual({ ok: true });
    expect(env.sim.getResource(rid)!.tags).toEqual({ model: "gpt-4o", changedBy: "someone-else" });
  });

  it.each([
    { type: T.st, rid: id.st("straced"), field: "allowSharedKeyAccess", other: false },
    { type: T.cosmos, rid: id.cosmos("cosmos-raced"), field: "disableLocalAuth", other: true },
  ])(
    "$type has no ETag: the resource is read again right before the write, and a change since the plan stops it",
    async (c) => {
      const { ctx, plan } = await planFor(c.rid, c.type);
      expectChange(plan);
      // Someone fixes (or otherwise changes) the field after our plan.
      env.sim.putResource({
        ...env.sim.getResource(c.rid)!,
        properties: { ...props(c.rid), [c.field]: c.other },
      });
      env.sim.clearRequests();
      const err = await remediationFailure(dla.apply(plan, ctx));
      expect(err).toMatchObject({
        code: "ResourceChanged",
        step: "apply",
        retryable: true,
        resourceId: c.rid,
      });
      expect(requestsTo(env.sim, c.rid).map((r) => r.method)).toEqual(["GET"]);
      expect(writesTo(env.sim, c.rid)).toEqual([]);
      // Unchanged since the plan: the re-read comes first, then the write, with no If-Match.
      env.sim.putResource({
        ...env.sim.getResource(c.rid)!,
        properties: { ...props(c.rid), [c.field]: !c.other },
      });
      const fresh = await planFor(c.rid, c.type);
      expectChange(fresh.plan);
      env.sim.clearRequests();
      await dla.apply(fresh.plan, fresh.ctx);
      const seen = requestsTo(env.sim, c.rid).filter(
        (r) => r.method !== "GET" || !r.path.includes("operation"),
      );
      expect(seen.map((r) => r.method).slice(0, 2)).toEqual(["GET", "PATCH"]);
      expect(seen[1]!.headers["if-match"]).toBeUndefined();
      expect(props(c.rid)[c.field]).toBe(c.other);
    },
  );
});

describe("failures", () => {
  it("a 429 with Retry-After on the PATCH recovers through the SDK's retry", async () => {
    const rid = id.cog("oai-throttled");
    const { ctx, plan } = await planFor(rid, T.cog);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: rid, status: 429, retryAfter: 1, count: 1 });
    await dla.apply(plan, ctx);
    expect(requestsTo(env.sim, rid, "PATCH").map((r) => r.status)).toEqual([429, 200]);
    expect(props(rid).disableLocalAuth).toBe(true);
  });

  it.each([
    { type: T.cosmos, rid: id.cosmos("cosmos-flaky"), status: 503, field: "disableLocalAuth", want: true },
    { type: T.st, rid: id.st("stflaky"), status: 500, field: "allowSharedKeyAccess", want: false },
  ])("a $status once on the $type PATCH recovers", async (c) => {
    const { ctx, plan } = await planFor(c.rid, c.type);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: c.rid, status: c.status, count: 1 });
    await dla.apply(plan, ctx);
    expect(requestsTo(env.sim, c.rid, "PATCH").map((r) => r.status)).toEqual([c.status, 200]);
    expect(writesTo(env.sim, c.rid)).toHaveLength(1);
    expect(props(c.rid)[c.field]).toBe(c.want);
  });

  it.each([
    { type: T.cog, rid: id.cog("oai-forbidden"), status: 403, code: "AuthorizationFailed" },
    { type: T.st, rid: id.st("stbadrequest"), status: 400, code: "BadRequest" },
  ])("a permanent $status → RemediationError at step apply, not retried, resource unchanged", async (c) => {
    const { ctx, plan } = await planFor(c.rid, c.type);
    expectChange(plan);
    const before = env.sim.getResource(c.rid);
    env.sim.addFault({ method: "PATCH", path: c.rid, status: c.status, count: -1 });
    try {
      const err = await remediationFailure(dla.apply(plan, ctx));
      expect(err).toMatchObject({
        step: "apply",
        resourceId: c.rid,
        statusCode: c.status,
        retryable: false,
        code: c.code,
      });
      expect(requestsTo(env.sim, c.rid, "PATCH")).toHaveLength(1);
      expect(env.sim.getResource(c.rid)).toEqual(before);
    } finally {
      env.sim.clearFaults();
    }
  });

  it("a Cosmos DB operation ending Failed → OperationFailed at step apply, retryable, keys still on", async () => {
    const rid = id.cosmos("cosmos-failed");
    const { ctx, plan } = await planFor(rid, T.cosmos);
    expectChange(plan);
    env.sim.addFault({
      method: "GET",
      path: "/operationStatuses/",
      status: 200,
      body: { status: "Failed" },
      count: -1,
    });
    try {
      const err = await remediationFailure(dla.apply(plan, ctx));
      expect(err).toMatchObject({ code: "OperationFailed", step: "apply", resourceId: rid, retryable: true });
      expect(props(rid).disableLocalAuth).toBe(false);
    } finally {
      env.sim.clearFaults();
    }
  });

  it("a missing resource fails at step read with 404", async () => {
    const rid = id.cosmos("does-not-exist");
    const err = await remediationFailure(dla.read(ctxFor(rid, T.cosmos)));
    expect(err).toMatchObject({ step: "read", resourceId: rid, statusCode: 404, retryable: false });
  });
});

describe("through the pipeline", () => {
  const policyYaml = (mode: string, extra = "") => `
version: 1
policies:
  - name: no-local-auth
    resourceTypes: [${T.cog}, ${T.st}, ${T.cosmos}]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-local-auth
    mode: ${mode}
${extra}`;
  const P = ids(SUB, "rg-pipe");
  const seed = {
    resources: [
      cosmos(P.cosmos("cosmos-approve"), { disableLocalAuth: false }),
      cognitive(P.cog("oai-enforce"), { disableLocalAuth: false }),
      storage(P.st("stoptout"), { allowSharedKeyAccess: true }, { "driftguard:exclude": "true" }),
      storage(P.st("stdry"), { allowSharedKeyAccess: true }),
      cognitive(P.cog("oai-limit-1"), { disableLocalAuth: false }),
      cognitive(P.cog("oai-limit-2"), { disableLocalAuth: false }),
      cosmos(P.cosmos("cosmos-denied"), { disableLocalAuth: false }),
      storage(P.st("stdown"), { allowSharedKeyAccess: true }),
    ],
  };
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ seed, policies: policyYaml("approval") });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("approval (the shipped mode): pending with a summary naming the clients that break; approved → one write", async () => {
    const rid = P.cosmos("cosmos-approve");
    const [pending] = await h.handle(armSignal(rid, T.cosmos, SUB));
    expect(pending).toMatchObject({
      outcome: "pending-approval",
      changes: [{ path: "properties.disableLocalAuth", from: false, to: true }],
    });
    expect(writesTo(h.sim, rid)).toEqual([]);
    const approval = h.notifier.requests.at(-1)!;
    expect(approval.reason).toBe("policy-mode");
    expect(approval.summary).toMatch(
      /Disable key authentication on Microsoft\.DocumentDB\/databaseAccounts 'cosmos-approve'/,
    );
    expect(approval.summary).toMatch(/primary\/secondary key.*refused/);
    const result = await h.approvalLifecycle.decide(approval.id, "approved", {
      principal: { objectId: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa" },
      via: "approval-page",
    });
    expect(result.decisions.map((d) => d.outcome)).toEqual(["approved", "remediated"]);
    expect(writesTo(h.sim, rid).map((w) => w.method)).toEqual(["PATCH"]);
    expect(h.sim.getResource(rid)!.properties!.disableLocalAuth).toBe(true);
    const records = (await h.records()).filter((r) => r.resourceId === rid);
    expect(records.map((r) => r.outcome)).toEqual(["pending-approval", "approved", "remediated"]);
    expect(records.at(-1)!.changes).toEqual([{ path: "properties.disableLocalAuth", from: false, to: true }]);
  });

  it("enforce: one remediated record with only the kind's field, then compliant on the echo", async () => {
    const enforce = await startHarness({ seed: {}, policies: policyYaml("enforce"), sim: h.sim });
    try {
      const rid = P.cog("oai-enforce");
      const [d] = await enforce.handle(armSignal(rid, T.cog, SUB));
      expect(d).toMatchObject({ outcome: "remediated", kind: KIND });
      expect(d!.record!.changes).toEqual([{ path: "properties.disableLocalAuth", from: false, to: true }]);
      expect(writesTo(h.sim, rid)).toHaveLength(1);
      const [echo] = await enforce.handle(armSignal(rid, T.cog, SUB));
      expect(echo).toMatchObject({ outcome: "compliant" });
      expect(writesTo(h.sim, rid)).toHaveLength(1);
    } finally {
      await enforce.close();
    }
  });

  it("the opt-out tag: excluded, no write", async () => {
    const rid = P.st("stoptout");
    const [d] = await h.handle(armSignal(rid, T.st, SUB));
    expect(d).toMatchObject({ outcome: "excluded" });
    expect(d!.record!.changes).toEqual([]);
    expect(writesTo(h.sim, rid)).toEqual([]);
    expect(h.sim.getResource(rid)!.properties!.allowSharedKeyAccess).toBe(true);
  });

  it("dry-run: the exact change recorded, nothing written", async () => {
    const dry = await startHarness({
      seed: {},
      policies: policyYaml("enforce"),
      mode: "dry-run",
      sim: h.sim,
    });
    try {
      const rid = P.st("stdry");
      const [d] = await dry.handle(armSignal(rid, T.st, SUB));
      expect(d).toMatchObject({
        outcome: "dry-run",
        changes: [{ path: "properties.allowSharedKeyAccess", from: true, to: false }],
      });
      expect(writesTo(h.sim, rid)).toEqual([]);
    } finally {
      await dry.close();
    }
  });

  it("past the action limit the change waits for a person", async () => {
    const limited = await startHarness({
      seed: {},
      policies: policyYaml("enforce", "    maxActionsPerHour: 1\n"),
      sim: h.sim,
    });
    try {
      const [first] = await limited.handle(armSignal(P.cog("oai-limit-1"), T.cog, SUB));
      const [second] = await limited.handle(armSignal(P.cog("oai-limit-2"), T.cog, SUB));
      expect([first!.outcome, second!.outcome]).toEqual(["remediated", "pending-approval"]);
      expect(["rate-limit", "action-limit"]).toContain(limited.notifier.requests[0]!.reason);
      expect(writesTo(h.sim, P.cog("oai-limit-2"))).toEqual([]);
    } finally {
      await limited.close();
    }
  });

  it("a permanent 403 → failed record naming step apply; a persistent 503 → failed and retried later", async () => {
    const enforce = await startHarness({ seed: {}, policies: policyYaml("enforce"), sim: h.sim });
    try {
      const denied = P.cosmos("cosmos-denied");
      h.sim.addFault({ method: "PATCH", path: denied, status: 403, count: -1 });
      const [d] = await enforce.handle(armSignal(denied, T.cosmos, SUB));
      expect(d).toMatchObject({ outcome: "failed", retry: false });
      expect(d!.record).toMatchObject({
        error: { code: "AuthorizationFailed", step: "apply" },
        changes: [{ path: "properties.disableLocalAuth", from: false, to: true }],
      });
      const down = P.st("stdown");
      h.sim.addFault({ method: "PATCH", path: down, status: 503, count: -1 });
      const [t] = await enforce.handle(armSignal(down, T.st, SUB));
      expect(t).toMatchObject({ outcome: "failed", retry: true });
      expect(t!.record).toMatchObject({ error: { step: "apply" } });
      expect(h.sim.getResource(down)!.properties!.allowSharedKeyAccess).toBe(true);
    } finally {
      h.sim.clearFaults();
      await enforce.close();
    }
  });
});
