/**
 * `require-api-subscription` against the simulator with the real arm-apimanagement client: an open
 * API gets `subscriptionRequired: true` with If-Match, `allowApis` stay open, 412 on a concurrent
 * change, transient and permanent failures, and the pipeline's outcomes (approval as shipped).
 */
import { describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import type { Policy } from "../../shared/policy/schema.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import {
  type ApiData,
  isCompliantApi,
  paramsSchema,
  remediation as requireApiSubscription,
} from "../../shared/remediations/require-api-subscription/kind.js";
import type { ChangePlan } from "../../shared/remediations/types.js";
import { armResource } from "../helpers/seed.js";
import { expectChange, kindContext, planOnly, runKind } from "./kind-run.js";
import { useFreshHarness, useKindSimulator, writeSignals } from "./kind-sim.js";

const SUB = "00000000-0000-0000-0000-0000000000d2";
const RG = "rg-apim";
const SVC = "apim-inference";
const KIND = "require-api-subscription";
const NOW = new Date("2030-05-02T08:00:00.000Z");
const serviceId = (svc = SVC) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ApiManagement/service/${svc}`;
const apiId = (name: string, svc = SVC) => `${serviceId(svc)}/apis/${name}`;

const POLICY: Policy = {
  name: "inference-apis-need-keys",
  resourceTypes: ["Microsoft.ApiManagement/service/apis"],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: {},
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

function api(name: string, subscriptionRequired: boolean | undefined, svc = SVC) {
  return armResource(apiId(name, svc), {
    properties: {
      displayName: `${name} API`,
      path: name,
      protocols: ["https"],
      serviceUrl: `https://oai.example/${name}`,
      apiRevision: "1",
      isCurrent: true,
      ...(subscriptionRequired === undefined ? {} : { subscriptionRequired }),
      subscriptionKeyParameterNames: { header: "api-key", query: "subscription-key" },
    },
  });
}

function seed(): Seed {
  const service = (svc: string, tags: Record<string, string>) =>
    armResource(serviceId(svc), {
      tags,
      sku: { name: "Developer", capacity: 1 },
      properties: { publisherEmail: "ops@example.com", publisherName: "ops" },
    });
  return {
    resources: [
      service(SVC, { team: "ai-platform" }),
      api("chat", false),
      api("embeddings", true),
      api("health", false),
      api("legacy", undefined),
      service("apim-lab", { "driftguard:exclude": "true" }),
      api("chat", false, "apim-lab"),
    ],
  };
}

const writeSignal = writeSignals({
  prefix: "api",
  subscriptionId: SUB,
  now: NOW,
  typeOf: () => "Microsoft.ApiManagement/service/apis",
});

const env = useKindSimulator(seed, { resetEachTest: true });
const { since, writes } = env;

const ctxFor = (resourceId: string, params: Record<string, unknown> = {}) =>
  kindContext(requireApiSubscription, writeSignal(resourceId), {
    policy: POLICY,
    params,
    clients: env.clients,
    now: NOW,
  });
const required = (name: string, svc = SVC) =>
  (env.sim.getResource(apiId(name, svc))!.properties as { subscriptionRequired?: boolean })
    .subscriptionRequired;

describe("require-api-subscription: rules and params", () => {
  it("an API is compliant when it requires a key (absent = APIM's default) or is allowed open", () => {
    expect(isCompliantApi("chat", { subscriptionRequired: false }, [])).toBe(false);
    expect(isCompliantApi("chat", { subscriptionRequired: true }, [])).toBe(true);
    expect(isCompliantApi("chat", {}, [])).toBe(true);
    expect(isCompliantApi("Health", { subscriptionRequired: false }, ["health"])).toBe(true);
  });

  it("validates allowApis (default []), refuses unknown params and bad names", () => {
    expect(paramsSchema.parse({})).toEqual({ allowApis: [] });
    expect(paramsSchema.parse({ allowApis: [" health "] })).toEqual({ allowApis: ["health"] });
    const bad = paramsSchema.safeParse({ allowApis: ["ok", "a/b"] });
    expect(bad.error?.issues[0]?.path).toEqual(["allowApis", 1]);
    expect(paramsSchema.safeParse({ allowApis: "health" }).success).toBe(false);
    expect(paramsSchema.safeParse({ apis: [] }).success).toBe(false);
  });

  it("is registered and supports APIM APIs only", () => {
    expect(builtinRegistry().get(KIND)).toBe(requireApiSubscription);
    expect(requireApiSubscription.supports("microsoft.apimanagement/service/APIS")).toBe(true);
    expect(requireApiSubscription.supports("Microsoft.ApiManagement/service")).toBe(false);
    expect(requireApiSubscription.supports("Microsoft.ApiManagement/service/subscriptions")).toBe(false);
  });
});

describe("require-api-subscription against the simulator", () => {
  it("an open API: one PATCH of subscriptionRequired with If-Match = the GET's ETag; verified", async () => {
    const { current, plan, changes, verified } = await runKind(requireApiSubscription, ctxFor(apiId("chat")));
    expect(current.tags).toEqual({ team: "ai-platform" });
    expect(changes).toEqual([{ path: "properties.subscriptionRequired", from: false, to: true }]);
    expect((plan as ChangePlan).summary).toMatch(/Require a subscription key on API 'chat' \(chat API\)/);
    expect(verified).toEqual({ ok: true });
    const patches = writes();
    expect(patches.map((w) => `${w.method} ${w.path}`)).toEqual([`PATCH ${apiId("chat")}`]);
    expect(patches[0]!.body).toEqual({ properties: { subscriptionRequired: true } });
    const get = since().find((r) => r.method === "GET" && r.path === apiId("chat"));
    expect(patches[0]!.headers["if-match"]).toBe((plan as ChangePlan<ApiData>).data.etag);
    expect(patches[0]!.headers["if-match"]).toBeTruthy();
    expect(get?.apiVersion).toBeTruthy();
    expect(required("chat")).toBe(true);
    // Nothing else of the API changed.
    expect(env.sim.getResource(apiId("chat"))?.properties).toMatchObject({
      path: "chat",
      serviceUrl: "https://oai.example/chat",
    });
  });

  it("compliant APIs (required, or absent = required) → noop, no write", async () => {
    for (const name of ["embeddings", "legacy"]) {
      const { plan } = await runKind(requireApiSubscription, ctxFor(apiId(name)));
      expect(plan).toEqual({ action: "noop", reason: `API '${name}' already requires a subscription key` });
    }
    expect(writes()).toEqual([]);
  });

  it("allowApis leaves an open API alone; a deleted API is a noop", async () => {
    const { plan } = await runKind(
      requireApiSubscription,
      ctxFor(apiId("health"), { allowApis: ["HEALTH"] }),
    );
    expect(plan).toMatchObject({ action: "noop", reason: expect.stringMatching(/allowApis/) });
    const gone = await runKind(requireApiSubscription, ctxFor(apiId("removed")));
    expect(gone.plan).toEqual({ action: "noop", reason: "API 'removed' no longer exists" });
    expect(writes()).toEqual([]);
    expect(required("health")).toBe(false);
  });

  it("412: another writer changed the API (ETag only) → re-read, PATCH again with the new ETag", async () => {
    const { ctx, plan } = await planOnly(requireApiSubscription, ctxFor(apiId("chat")));
    expectChange(plan);
    const apim = env.clients.apiManagement(SUB).api;
    const got = await apim.get(RG, SVC, "chat");
    await apim.update(RG, SVC, "chat", got.eTag!, { description: "edited by the API team" });
    env.mark();
    await requireApiSubscription.apply(plan, ctx);
    const patches = since().filter((r) => r.method === "PATCH");
    expect(patches.map((p) => p.status)).toEqual([412, 200]);
    expect(patches[0]!.headers["if-match"]).toBe(plan.data.etag);
    expect(patches[1]!.headers["if-match"]).not.toBe(plan.data.etag);
    expect(await requireApiSubscription.verify(plan, ctx)).toEqual({ ok: true });
    expect(env.sim.getResource(apiId("chat"))?.properties).toMatchObject({
      subscriptionRequired: true,
      description: "edited by the API team",
    });
  });

  it("412 where the other writer closed it themselves → ConcurrentChange, no second PATCH", async () => {
    const { ctx, plan } = await planOnly(requireApiSubscription, ctxFor(apiId("chat")));
    expectChange(plan);
    const apim = env.clients.apiManagement(SUB).api;
    await apim.update(RG, SVC, "chat", (await apim.get(RG, SVC, "chat")).eTag!, {
      subscriptionRequired: true,
    });
    env.mark();
    await expect(requireApiSubscription.apply(plan, ctx)).rejects.toMatchObject({
      code: "ConcurrentChange",
      step: "apply",
      retryable: true,
    });
    expect(
      since()
        .filter((r) => r.method === "PATCH")
        .map((p) => p.status),
    ).toEqual([412]);
  });

  it("transient 429 (Retry-After) and 500 are retried by the client; permanent 403/400 fail at apply", async () => {
    env.sim.addFault({ method: "PATCH", path: "/apis/chat", status: 429, retryAfter: 0 });
    env.sim.addFault({ method: "PATCH", path: "/apis/chat", status: 500 });
    const { verified } = await runKind(requireApiSubscription, ctxFor(apiId("chat")));
    expect(verified).toEqual({ ok: true });
    expect(
      since()
        .filter((r) => r.method === "PATCH")
        .map((p) => p.status),
    ).toEqual([429, 500, 200]);

    for (const status of [403, 400]) {
      env.sim.putResource(api("chat", false));
      env.sim.clearFaults();
      env.sim.addFault({ method: "PATCH", path: "/apis/chat", status, count: -1 });
      const err = await runKind(requireApiSubscription, ctxFor(apiId("chat"))).catch((e: unknown) => e);
      expect(err).toMatchObject({ step: "apply", retryable: false, statusCode: status });
      expect(required("chat")).toBe(false);
    }
  });

  it("a transient failure reading the API fails at step read, retryable", async () => {
    env.sim.addFault({ method: "GET", path: "/apis/chat", status: 503, count: -1 });
    await expect(requireApiSubscription.read(ctxFor(apiId("chat")))).rejects.toMatchObject({
      step: "read",
      retryable: true,
    });
  });
});

describe("require-api-subscription through the pipeline", () => {
  const fresh = useFreshHarness(seed, POLICY, NOW);

  it("approval (as shipped): pending-approval naming the change; nothing written", async () => {
    const hh = await fresh({ mode: "approval" });
    const [d] = await hh.handle(writeSignal(apiId("chat")));
    expect(d?.outcome).toBe("pending-approval");
    expect(d?.record?.changes).toEqual([{ path: "properties.subscriptionRequired", from: false, to: true }]);
    expect(hh.notifier.requests[0]?.summary).toMatch(/callers without a key get 401/);
    expect(hh.sim.writes()).toEqual([]);
  });

  it("enforce: remediated with only the kind's field in `changes`; the echo event is compliant", async () => {
    const hh = await fresh();
    const [d] = await hh.handle(writeSignal(apiId("chat")));
    expect(d?.outcome).toBe("remediated");
    expect(d?.record?.changes).toEqual([{ path: "properties.subscriptionRequired", from: false, to: true }]);
    const [again] = await hh.handle(writeSignal(apiId("chat")));
    expect(again?.outcome).toBe("compliant");
    expect(hh.sim.writes()).toHaveLength(1);
  });

  it("dry-run records the plan without writing; the service's opt-out tag excludes its APIs", async () => {
    const dry = await fresh({}, "dry-run");
    const [d] = await dry.handle(writeSignal(apiId("chat")));
    expect(d?.outcome).toBe("dry-run");
    expect(dry.sim.writes()).toEqual([]);
    const hh = await fresh();
    const [x] = await hh.handle(writeSignal(apiId("chat", "apim-lab")));
    expect(x?.outcome).toBe("excluded");
    expect(hh.sim.writes()).toEqual([]);
  });

  it("past the action limit the next change waits for a person", async () => {
    const hh = await fresh({ maxActionsPerHour: 1 });
    const [a] = await hh.handle(writeSignal(apiId("chat")));
    const [b] = await hh.handle(writeSignal(apiId("health")));
    expect([a?.outcome, b?.outcome]).toEqual(["remediated", "pending-approval"]);
    expect(hh.sim.writes()).toHaveLength(1);
  });

  it("a permanent failure → `failed` record with error.step apply, no retry", async () => {
    const hh = await fresh();
    hh.sim.addFault({ method: "PATCH", path: "/apis/chat", status: 403, count: -1 });
    const [d] = await hh.handle(writeSignal(apiId("chat")));
    expect(d).toMatchObject({ outcome: "failed", retry: false });
    expect(d?.record?.error).toMatchObject({ step: "apply" });
  });
});
