/**
 * `require-secure-transport` against the HTTPS Azure simulator with the real SDK clients: HTTPS
 * only and the TLS floor on Storage, Cosmos DB (a long-running PATCH) and web/function apps (the
 * site and its `config/web`), one write per resource that needs one; a higher TLS setting is never
 * lowered; none of the types has an ETag, so each write follows a fresh read and a change since the
 * plan stops it; transient failures recover, permanent ones fail naming the step; through the
 * pipeline: enforce (the shipped mode), approval, opt-out, dry-run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Policy } from "../../shared/policy/schema.js";
import {
  cosmosTransportChanges,
  siteTransportChanges,
  storageTransportChanges,
} from "../../shared/remediations/require-secure-transport/compliance.js";
import { KIND, remediation as rst } from "../../shared/remediations/require-secure-transport/kind.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { expectChange, kindContext, planOnly, remediationFailure, runKind } from "./kind-run.js";
import { useKindSimulator } from "./kind-sim.js";
import {
  armSignal,
  cosmos,
  ids,
  requestsTo,
  site,
  storage,
  T,
  webConfig,
  writesTo,
} from "./resource-fixtures.js";

const SUB = "00000000-0000-0000-0000-0000000000e2";
const id = ids(SUB, "rg-tls");

const POLICY: Policy = {
  name: "secure-transport",
  resourceTypes: [T.st, T.cosmos, T.site],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: { minimumTlsVersion: "1.2" },
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

const SEED = [
  storage(id.st("stold"), { supportsHttpsTrafficOnly: false, minimumTlsVersion: "TLS1_0" }),
  storage(id.st("sthttponly"), { supportsHttpsTrafficOnly: false, minimumTlsVersion: "TLS1_3" }),
  storage(id.st("stgood"), { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_2" }),
  storage(id.st("sttls13"), { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_3" }),
  storage(id.st("stto13"), { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_2" }),
  cosmos(id.cosmos("cosmos-old"), { minimalTlsVersion: "Tls" }),
  cosmos(id.cosmos("cosmos-good"), { minimalTlsVersion: "Tls12" }),
  site(id.site("func-old"), { httpsOnly: false }),
  webConfig(id.site("func-old"), "1.0"),
  site(id.site("func-tlsonly"), { httpsOnly: true }),
  webConfig(id.site("func-tlsonly"), "1.1"),
  site(id.site("func-good"), { httpsOnly: true }),
  webConfig(id.site("func-good"), "1.3"),
  site(id.site("func-default"), { httpsOnly: true }), // its config/web is ARM's default (1.2)
  site(id.site("func-raced"), { httpsOnly: true }),
  webConfig(id.site("func-raced"), "1.0"),
  storage(id.st("straced"), { supportsHttpsTrafficOnly: false, minimumTlsVersion: "TLS1_2" }),
  site(id.site("func-throttled"), { httpsOnly: false }),
  webConfig(id.site("func-throttled"), "1.2"),
  cosmos(id.cosmos("cosmos-flaky"), { minimalTlsVersion: "Tls11" }),
  storage(id.st("stforbidden"), { supportsHttpsTrafficOnly: false, minimumTlsVersion: "TLS1_2" }),
  site(id.site("func-badconfig"), { httpsOnly: true }),
  webConfig(id.site("func-badconfig"), "1.0"),
];

const env = useKindSimulator(() => ({ resources: SEED }));

const ctxFor = (resourceId: string, type: string, params: unknown = POLICY.params) =>
  kindContext(rst, armSignal(resourceId, type, SUB), { policy: POLICY, params, clients: env.clients });

const planFor = (resourceId: string, type: string, params?: unknown) =>
  planOnly(rst, ctxFor(resourceId, type, params));

const props = (resourceId: string) => env.sim.getResource(resourceId)!.properties!;

describe("drifted → one write per resource, then verified", () => {
  it("Storage: HTTPS only and TLS1_0 → TLS1_2 in one PATCH", async () => {
    const rid = id.st("stold");
    const run = await runKind(rst, ctxFor(rid, T.st));
    expect(run.changes).toEqual([
      { path: "properties.supportsHttpsTrafficOnly", from: false, to: true },
      { path: "properties.minimumTlsVersion", from: "TLS1_0", to: "TLS1_2" },
    ]);
    expect(run.verified).toEqual({ ok: true });
    const writes = writesTo(env.sim, rid);
    expect(writes.map((w) => [w.method, w.apiVersion])).toEqual([["PATCH", "2025-08-01"]]);
    expect(writes[0]!.body).toEqual({
      properties: { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_2" },
    });
    expect(props(rid)).toMatchObject({ supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_2" });
  });

  it("Storage: only HTTPS changes; the TLS1_3 floor it has is sent back as it is (the SDK needs both)", async () => {
    const rid = id.st("sthttponly");
    const run = await runKind(rst, ctxFor(rid, T.st));
    expect(run.changes).toEqual([{ path: "properties.supportsHttpsTrafficOnly", from: false, to: true }]);
    expect(writesTo(env.sim, rid)[0]!.body).toEqual({
      properties: { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_3" },
    });
    expect(props(rid)).toMatchObject({ supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_3" });
  });

  it("Cosmos DB: Tls → Tls12, a long-running PATCH polled to its end", async () => {
    const rid = id.cosmos("cosmos-old");
    env.sim.clearRequests();
    const run = await runKind(rst, ctxFor(rid, T.cosmos));
    expect(run.changes).toEqual([{ path: "properties.minimalTlsVersion", from: "Tls", to: "Tls12" }]);
    expect(run.verified).toEqual({ ok: true });
    expect(writesTo(env.sim, rid).map((w) => w.body)).toEqual([
      { properties: { minimalTlsVersion: "Tls12" } },
    ]);
    expect(env.sim.requests({ pathIncludes: "/operationStatuses/" }).length).toBeGreaterThanOrEqual(2);
    expect(props(rid).minimalTlsVersion).toBe("Tls12");
  });

  it("web/function app: httpsOnly on the site and minTlsVersion on config/web, one write each", async () => {
    const rid = id.site("func-old");
    const run = await runKind(rst, ctxFor(rid, T.site));
    expect(run.changes).toEqual([
      { path: "properties.httpsOnly", from: false, to: true },
      { path: "properties.siteConfig.minTlsVersion", from: "1.0", to: "1.2" },
    ]);
    expect(run.verified).toEqual({ ok: true });
    expect(writesTo(env.sim, rid).map((w) => [w.method, w.body, w.apiVersion])).toEqual([
      ["PATCH", { properties: { httpsOnly: true } }, "2025-05-01"],
    ]);
    expect(writesTo(env.sim, `${rid}/config/web`).map((w) => [w.method, w.body])).toEqual([
      ["PATCH", { properties: { minTlsVersion: "1.2" } }],
    ]);
    expect(props(rid).httpsOnly).toBe(true);
    expect(props(`${rid}/config/web`)).toMatchObject({ minTlsVersion: "1.2", ftpsState: "FtpsOnly" });
  });

  it("a site that only needs its TLS floor gets only the config/web write", async () => {
    const rid = id.site("func-tlsonly");
    const run = await runKind(rst, ctxFor(rid, T.site));
    expect(run.changes).toEqual([{ path: "properties.siteConfig.minTlsVersion", from: "1.1", to: "1.2" }]);
    expect(writesTo(env.sim, rid)).toEqual([]);
    expect(writesTo(env.sim, `${rid}/config/web`)).toHaveLength(1);
  });
});

describe("compliant or higher: noop, zero writes, never lowered", () => {
  it.each([
    { type: T.st, rid: id.st("stgood"), params: { minimumTlsVersion: "1.2" } },
    { type: T.st, rid: id.st("sttls13"), params: { minimumTlsVersion: "1.2" } },
    { type: T.cosmos, rid: id.cosmos("cosmos-good"), params: { minimumTlsVersion: "1.2" } },
    // Cosmos DB has no 1.3: Tls12 meets a 1.3 floor.
    { type: T.cosmos, rid: id.cosmos("cosmos-good"), params: { minimumTlsVersion: "1.3" } },
    { type: T.site, rid: id.site("func-good"), params: { minimumTlsVersion: "1.2" } },
    { type: T.site, rid: id.site("func-good"), params: { minimumTlsVersion: "1.3" } },
    { type: T.site, rid: id.site("func-default"), params: { minimumTlsVersion: "1.2" } },
  ])("$type $rid under a $params.minimumTlsVersion floor", async (c) => {
    const before = env.sim.writes().length;
    const { plan } = await planFor(c.rid, c.type, c.params);
    expect(plan).toEqual({
      action: "noop",
      reason: `HTTPS only and TLS ${c.params.minimumTlsVersion} or newer already required`,
    });
    expect(env.sim.writes().length).toBe(before);
  });

  it("a 1.3 floor raises TLS1_2 to TLS1_3", async () => {
    const rid = id.st("stto13");
    const run = await runKind(rst, ctxFor(rid, T.st, { minimumTlsVersion: "1.3" }));
    expect(run.changes).toEqual([{ path: "properties.minimumTlsVersion", from: "TLS1_2", to: "TLS1_3" }]);
    expect(props(rid).minimumTlsVersion).toBe("TLS1_3");
  });

  it("the compliance functions never lower, and leave versions they do not know alone", () => {
    expect(
      storageTransportChanges({ supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_3" }, "1.2"),
    ).toEqual([]);
    expect(
      storageTransportChanges({ supportsHttpsTrafficOnly: true, minimumTlsVersion: "tls1_1" }, "1.2"),
    ).toEqual([{ path: "properties.minimumTlsVersion", from: "tls1_1", to: "TLS1_2" }]);
    expect(
      storageTransportChanges({ supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_4" }, "1.3"),
    ).toEqual([]);
    expect(storageTransportChanges({}, "1.2")).toEqual([
      { path: "properties.supportsHttpsTrafficOnly", from: null, to: true },
      { path: "properties.minimumTlsVersion", from: null, to: "TLS1_2" },
    ]);
    expect(cosmosTransportChanges({ minimalTlsVersion: "Tls11" }, "1.3")).toEqual([
      { path: "properties.minimalTlsVersion", from: "Tls11", to: "Tls12" },
    ]);
    expect(siteTransportChanges({ httpsOnly: true }, { minTlsVersion: "1.3" }, "1.2")).toEqual([]);
    expect(
      siteTransportChanges({ httpsOnly: true, siteConfig: { minTlsVersion: "1.2" } }, undefined, "1.3"),
    ).toEqual([{ path: "properties.siteConfig.minTlsVersion", from: "1.2", to: "1.3" }]);
  });

  it("params: only 1.2 or 1.3, default 1.2", () => {
    expect(rst.paramsSchema.parse({})).toEqual({ minimumTlsVersion: "1.2" });
    expect(rst.paramsSchema.safeParse({ minimumTlsVersion: "1.1" }).success).toBe(false);
    expect(rst.paramsSchema.safeParse({ minimumTlsVersion: 1.2 }).success).toBe(false);
  });
});

describe("no ETag: a fresh read right before each write", () => {
  it("site: config/web changed since the plan → ResourceChanged, retryable, nothing written; unchanged → read, then PATCH", async () => {
    const rid = id.site("func-raced");
    const { ctx, plan } = await planFor(rid, T.site);
    expectChange(plan);
    env.sim.putResource(webConfig(rid, "1.1"));
    env.sim.clearRequests();
    const err = await remediationFailure(rst.apply(plan, ctx));
    expect(err).toMatchObject({ code: "ResourceChanged", step: "apply", retryable: true, resourceId: rid });
    expect(env.sim.writes()).toEqual([]);
    expect(props(`${rid}/config/web`).minTlsVersion).toBe("1.1");

    const fresh = await planFor(rid, T.site);
    expectChange(fresh.plan);
    env.sim.clearRequests();
    await rst.apply(fresh.plan, fresh.ctx);
    expect(requestsTo(env.sim, `${rid}/config/web`).map((r) => r.method)).toEqual(["GET", "PATCH"]);
    expect(requestsTo(env.sim, `${rid}/config/web`, "PATCH")[0]!.headers["if-match"]).toBeUndefined();
    expect(props(`${rid}/config/web`).minTlsVersion).toBe("1.2");
  });

  it("storage: a concurrent change of supportsHttpsTrafficOnly stops the write", async () => {
    const rid = id.st("straced");
    const { ctx, plan } = await planFor(rid, T.st);
    expectChange(plan);
    env.sim.putResource({
      ...env.sim.getResource(rid)!,
      properties: { ...props(rid), supportsHttpsTrafficOnly: true },
    });
    const err = await remediationFailure(rst.apply(plan, ctx));
    expect(err).toMatchObject({ code: "ResourceChanged", retryable: true });
    expect(writesTo(env.sim, rid)).toEqual([]);
  });
});

describe("failures", () => {
  it("a 429 with Retry-After on the site PATCH recovers through the SDK's retry", async () => {
    const rid = id.site("func-throttled");
    const { ctx, plan } = await planFor(rid, T.site);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: `^${rid}$`, status: 429, retryAfter: 1, count: 1 });
    await rst.apply(plan, ctx);
    expect(requestsTo(env.sim, rid, "PATCH").map((r) => r.status)).toEqual([429, 200]);
    expect(props(rid).httpsOnly).toBe(true);
  });

  it("a 503 once on the Cosmos DB PATCH recovers", async () => {
    const rid = id.cosmos("cosmos-flaky");
    const { ctx, plan } = await planFor(rid, T.cosmos);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: rid, status: 503, count: 1 });
    await rst.apply(plan, ctx);
    expect(requestsTo(env.sim, rid, "PATCH").map((r) => r.status)).toEqual([503, 200]);
    expect(props(rid).minimalTlsVersion).toBe("Tls12");
  });

  it.each([
    {
      type: T.st,
      rid: id.st("stforbidden"),
      path: id.st("stforbidden"),
      status: 403,
      code: "AuthorizationFailed",
    },
    {
      type: T.site,
      rid: id.site("func-badconfig"),
      path: `${id.site("func-badconfig")}/config/web`,
      status: 400,
      code: "BadRequest",
    },
  ])("a permanent $status → RemediationError at step apply, not retried", async (c) => {
    const { ctx, plan } = await planFor(c.rid, c.type);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: c.path, status: c.status, count: -1 });
    try {
      const err = await remediationFailure(rst.apply(plan, ctx));
      expect(err).toMatchObject({
        step: "apply",
        resourceId: c.rid,
        statusCode: c.status,
        code: c.code,
        retryable: false,
      });
      expect(requestsTo(env.sim, c.path, "PATCH")).toHaveLength(1);
    } finally {
      env.sim.clearFaults();
    }
  });

  it("a read failure names step read; a 5xx there is retryable", async () => {
    const rid = id.site("func-good");
    env.sim.addFault({ method: "GET", path: `${rid}/config/web`, status: 502, count: -1 });
    try {
      const err = await remediationFailure(rst.read(ctxFor(rid, T.site)));
      expect(err).toMatchObject({ step: "read", resourceId: rid, statusCode: 502, retryable: true });
    } finally {
      env.sim.clearFaults();
    }
  });
});

describe("through the pipeline", () => {
  const policyYaml = (mode: string, tls = "1.2") => `
version: 1
policies:
  - name: secure-transport
    resourceTypes: [${T.st}, ${T.cosmos}, ${T.site}]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: require-secure-transport
    params: { minimumTlsVersion: "${tls}" }
    mode: ${mode}
`;
  const P = ids(SUB, "rg-tls-pipe");
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      seed: {
        resources: [
          site(P.site("app-enforce"), { httpsOnly: false }),
          webConfig(P.site("app-enforce"), "1.0"),
          storage(P.st("stoptout"), { supportsHttpsTrafficOnly: false }, { "driftguard:exclude": "true" }),
          cosmos(P.cosmos("cosmos-dry"), { minimalTlsVersion: "Tls11" }),
          storage(P.st("stapprove"), { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_1" }),
          storage(P.st("st13"), { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_3" }),
        ],
      },
      policies: policyYaml("enforce"),
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("enforce (the shipped mode): one remediated record with the kind's fields only; compliant on the echo", async () => {
    const rid = P.site("app-enforce");
    const [d] = await h.handle(armSignal(rid, T.site, SUB));
    expect(d).toMatchObject({ outcome: "remediated", kind: KIND });
    expect(d!.record!.changes).toEqual([
      { path: "properties.httpsOnly", from: false, to: true },
      { path: "properties.siteConfig.minTlsVersion", from: "1.0", to: "1.2" },
    ]);
    const [echo] = await h.handle(armSignal(rid, T.site, SUB));
    expect(echo).toMatchObject({ outcome: "compliant" });
    expect(writesTo(h.sim, rid)).toHaveLength(1);
    expect(writesTo(h.sim, `${rid}/config/web`)).toHaveLength(1);
  });

  it("a TLS1_3 account under the 1.2 policy: compliant, nothing written", async () => {
    const rid = P.st("st13");
    const [d] = await h.handle(armSignal(rid, T.st, SUB));
    expect(d).toMatchObject({ outcome: "compliant" });
    expect(writesTo(h.sim, rid)).toEqual([]);
    expect(h.sim.getResource(rid)!.properties!.minimumTlsVersion).toBe("TLS1_3");
  });

  it("the opt-out tag: excluded, no write", async () => {
    const rid = P.st("stoptout");
    const [d] = await h.handle(armSignal(rid, T.st, SUB));
    expect(d).toMatchObject({ outcome: "excluded" });
    expect(writesTo(h.sim, rid)).toEqual([]);
  });

  it("dry-run and approval record the change and write nothing", async () => {
    const dry = await startHarness({
      seed: {},
      policies: policyYaml("enforce"),
      mode: "dry-run",
      sim: h.sim,
    });
    const approval = await startHarness({ seed: {}, policies: policyYaml("approval"), sim: h.sim });
    try {
      const [d] = await dry.handle(armSignal(P.cosmos("cosmos-dry"), T.cosmos, SUB));
      expect(d).toMatchObject({
        outcome: "dry-run",
        changes: [{ path: "properties.minimalTlsVersion", from: "Tls11", to: "Tls12" }],
      });
      const [a] = await approval.handle(armSignal(P.st("stapprove"), T.st, SUB));
      expect(a).toMatchObject({
        outcome: "pending-approval",
        changes: [{ path: "properties.minimumTlsVersion", from: "TLS1_1", to: "TLS1_2" }],
      });
      expect(approval.notifier.requests[0]!.summary).toMatch(/older TLS version are refused/);
      expect(writesTo(h.sim, P.cosmos("cosmos-dry"))).toEqual([]);
      expect(writesTo(h.sim, P.st("stapprove"))).toEqual([]);
    } finally {
      await dry.close();
      await approval.close();
    }
  });
});
