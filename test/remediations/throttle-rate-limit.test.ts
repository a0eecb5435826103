/**
 * `throttle-api-subscription` with `action: rate-limit`: the abusive subscription moves into the
 * throttling product (created with its rate-limit policy and the APIs the subscription reached),
 * keeps working there, and returns to its exact original scope on resolve or after the cooldown.
 * Real arm-apimanagement client against the simulator; round trips through the pipeline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AzureSimulator, Seed } from "../../dev/azure-sim/index.js";
import type { Policy } from "../../shared/policy/schema.js";
import {
  findDueRestorations,
  restoreSignal,
} from "../../shared/remediations/throttle-api-subscription/due-restores.js";
import { remediation as throttle } from "../../shared/remediations/throttle-api-subscription/kind.js";
import type { ScopeChangeData } from "../../shared/remediations/throttle-api-subscription/plan.js";
import { throttlePolicyXml } from "../../shared/remediations/throttle-api-subscription/rate-limit.js";
import type { ChangePlan } from "../../shared/remediations/types.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, ManualClock, startHarness } from "../helpers/harness.js";
import { armResource } from "../helpers/seed.js";
import { kindContext, runKind } from "./kind-run.js";
import { alertSignals, useKindSimulator } from "./kind-sim.js";

const SUB = "00000000-0000-0000-0000-0000000000ab";
const RG = "rg-ai";
const SVC = "apim-openai";
const SVC_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ApiManagement/service/${SVC}`;
const KIND = "throttle-api-subscription";
const NOW = new Date("2030-03-02T10:00:00.000Z");
const HOUR = 3600_000;
const THROTTLED = `${SVC_ID}/products/driftguard-throttled`;
const subId = (sid: string) => `${SVC_ID}/subscriptions/${sid}`;

const POLICY: Policy = {
  name: "slow-down-token-hogs",
  resourceTypes: ["Microsoft.ApiManagement/service"],
  triggers: [{ alert: "apim-tokens-*" }, { manual: "throttle-restore" }],
  kind: KIND,
  params: { action: "rate-limit", tokensPerMinute: 5000 },
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

function subscription(sid: string, scope: string, state = "active") {
  return armResource(subId(sid), {
    properties: {
      displayName: sid,
      scope,
      state,
      primaryKey: `pk-${sid}-0123456789`,
      secondaryKey: `sk-${sid}-0123456789`,
      allowTracing: false,
    },
  });
}

const api = (name: string) =>
  armResource(`${SVC_ID}/apis/${name}`, {
    properties: {
      displayName: name,
      path: name,
      protocols: ["https"],
      subscriptionRequired: true,
      isCurrent: true,
    },
  });

function seed(): Seed {
  return {
    resources: [
      armResource(SVC_ID, {
        tags: { team: "ai-platform" },
        sku: { name: "Developer", capacity: 1 },
        properties: { publisherEmail: "ops@example.com", publisherName: "ops" },
      }),
      api("chat"),
      api("embeddings"),
      api("images"),
      armResource(`${SVC_ID}/products/starter`, {
        properties: { displayName: "Starter", subscriptionRequired: true, state: "published" },
      }),
      armResource(`${SVC_ID}/products/starter/apis/chat`, {
        properties: { displayName: "chat", path: "chat" },
      }),
      armResource(`${SVC_ID}/products/starter/apis/embeddings`, {
        properties: { displayName: "embeddings", path: "embeddings" },
      }),
      subscription("team-a-key", `${SVC_ID}/products/starter`),
      subscription("team-b-key", `${SVC_ID}/apis`),
      subscription("team-c-key", `${SVC_ID}/apis/chat`),
      subscription("team-d-key", `${SVC_ID}/apis/chat`, "suspended"),
      subscription("team-e-key", `${SVC_ID}/groups/developers`),
      subscription("master", `${SVC_ID}/apis`),
    ],
  };
}

const alerts = alertSignals({
  rule: "apim-tokens-burn",
  subscriptionId: SUB,
  resourceType: "Microsoft.ApiManagement/service",
  now: NOW,
  firedAt: "2030-03-02T09:58:00.000Z",
});
const alertSignal = (condition: "Fired" | "Resolved", sid: string) =>
  alerts(condition, SVC_ID, { ApimSubscriptionId: sid });

describe("rate-limit against the simulator", () => {
  const env = useKindSimulator(seed, { resetEachTest: true });
  const { since, writes } = env;
  const ctxFor = (signal: Signal, params: Record<string, unknown> = {}) =>
    kindContext(throttle, signal, {
      policy: POLICY,
      params: { ...POLICY.params, ...params },
      clients: env.clients,
      now: NOW,
    });
  const scopeOf = (sid: string) => (env.sim.getResource(subId(sid))!.properties as { scope: string }).scope;
  const productApis = () => apisOfThrottledProduct(env.sim);

  it("creates the product, its policy and the APIs the subscription reached, then moves the subscription (If-Match)", async () => {
    deleteThrottledProduct(env.sim);
    const { plan, changes, verified } = await runKind(throttle, ctxFor(alertSignal("Fired", "team-a-key")));
    const data = (plan as ChangePlan<ScopeChangeData>).data;
    expect(changes).toEqual([
      {
        path: "products[driftguard-throttled]",
        from: null,
        to: expect.objectContaining({ subscriptionRequired: true, state: "published" }),
      },
      {
        path: "products[driftguard-throttled].policies[policy]",
        from: null,
        to: throttlePolicyXml({ callsPerMinute: 10, tokensPerMinute: 5000 }),
      },
      { path: "products[driftguard-throttled].apis[chat]", from: null, to: true },
      { path: "products[driftguard-throttled].apis[embeddings]", from: null, to: true },
      { path: "properties.scope", from: `${SVC_ID}/products/starter`, to: THROTTLED },
    ]);
    expect((plan as ChangePlan).followUp).toEqual({
      restoreAt: new Date(NOW.getTime() + HOUR).toISOString(),
      apimSubscriptionId: subId("team-a-key"),
      cooldown: "PT1H",
      action: "rate-limit",
      originalScope: `${SVC_ID}/products/starter`,
      throttledScope: THROTTLED,
    });
    expect(verified).toEqual({ ok: true });

    // Product, policy and APIs first; the subscription last, with If-Match on its ETag.
    const w = writes();
    expect(w.map((x) => `${x.method} ${x.path.replace(SVC_ID, "")}`)).toEqual([
      "PUT /products/driftguard-throttled",
      "PUT /products/driftguard-throttled/policies/policy",
      "PUT /products/driftguard-throttled/apis/chat",
      "PUT /products/driftguard-throttled/apis/embeddings",
      "PATCH /subscriptions/team-a-key",
    ]);
    expect(w.at(-1)!.headers["if-match"]).toBe(data.etag);
    expect(w.at(-1)!.body).toEqual({ properties: { scope: THROTTLED, stateComment: data.stateComment } });
    expect(w[1]!.body).toMatchObject({ properties: { format: "rawxml" } });

    // The subscription works in the throttled product: active, scoped to it, and the product holds
    // the rate limit and every API the subscription could call before.
    const sub = env.sim.getResource(subId("team-a-key"))!.properties as Record<string, string>;
    expect(sub).toMatchObject({ state: "active", scope: THROTTLED });
    expect(sub.stateComment).toMatch(
      /^driftguard: rate-limited \(10 calls\/min, 5000 tokens\/min\) by policy slow-down-token-hogs/,
    );
    expect(env.sim.getResource(THROTTLED)?.properties).toMatchObject({
      subscriptionRequired: true,
      state: "published",
    });
    const policy = env.sim.getResource(`${THROTTLED}/policies/policy`)!.properties as { value: string };
    expect(policy.value).toContain('<rate-limit calls="10" renewal-period="60" />');
    expect(policy.value).toContain(
      '<azure-openai-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5000" estimate-prompt-tokens="false" />',
    );
    expect(productApis()).toEqual(["chat", "embeddings"]);
    // Keys never travel.
    expect(JSON.stringify(plan)).not.toMatch(/pk-|sk-/);
  });

  it("a second subscription (all APIs) reuses the product: only the missing API is added", async () => {
    deleteThrottledProduct(env.sim);
    await runKind(throttle, ctxFor(alertSignal("Fired", "team-a-key")));
    env.mark();
    const { changes, verified } = await runKind(throttle, ctxFor(alertSignal("Fired", "team-b-key")));
    expect(changes).toEqual([
      { path: "products[driftguard-throttled].apis[images]", from: null, to: true },
      { path: "properties.scope", from: `${SVC_ID}/apis`, to: THROTTLED },
    ]);
    expect(verified).toEqual({ ok: true });
    expect(productApis()).toEqual(["chat", "embeddings", "images"]);
  });

  it("an existing policy of the product is left as it is", async () => {
    deleteThrottledProduct(env.sim);
    env.sim.putResource(
      armResource(THROTTLED, {
        properties: { displayName: "tuned", subscriptionRequired: true, state: "published" },
      }),
    );
    const tuned =
      '<policies><inbound><base /><rate-limit calls="3" renewal-period="60" /></inbound></policies>';
    env.sim.putResource(
      armResource(`${THROTTLED}/policies/policy`, { properties: { format: "rawxml", value: tuned } }),
    );
    const { changes } = await runKind(throttle, ctxFor(alertSignal("Fired", "team-c-key")));
    expect(changes!.map((c) => c.path)).toEqual([
      "products[driftguard-throttled].apis[chat]",
      "properties.scope",
    ]);
    expect((env.sim.getResource(`${THROTTLED}/policies/policy`)!.properties as { value: string }).value).toBe(
      tuned,
    );
    expect(env.sim.getResource(THROTTLED)!.properties).toMatchObject({ displayName: "tuned" });
  });

  it("already throttled, not active, master, or a scope APIM does not know → no write", async () => {
    await runKind(throttle, ctxFor(alertSignal("Fired", "team-c-key")));
    env.mark();
    const again = await runKind(throttle, ctxFor(alertSignal("Fired", "team-c-key")));
    expect(again.plan).toMatchObject({
      action: "noop",
      reason: expect.stringMatching(/already in the throttling product/),
    });
    const suspended = await runKind(throttle, ctxFor(alertSignal("Fired", "team-d-key")));
    expect(suspended.plan).toMatchObject({ action: "noop", reason: expect.stringMatching(/not active/) });
    const master = await runKind(throttle, ctxFor(alertSignal("Fired", "master")));
    expect(master.plan).toEqual({
      action: "noop",
      reason: "built-in master subscription is never throttled",
    });
    const ctx = ctxFor(alertSignal("Fired", "team-e-key"));
    const current = await throttle.read(ctx);
    expect(() => throttle.plan(current, ctx)).toThrow(/not all APIs, one API or a product/);
    expect(writes()).toEqual([]);
  });

  it("412 on the subscription PATCH: re-read, still in its original scope → PATCH again with the new ETag", async () => {
    const ctx = ctxFor(alertSignal("Fired", "team-c-key"));
    const plan = (await throttle.plan(await throttle.read(ctx), ctx)) as ChangePlan<ScopeChangeData>;
    const apim = env.clients.apiManagement(SUB).subscription;
    await apim.update(RG, SVC, "team-c-key", (await apim.get(RG, SVC, "team-c-key")).eTag!, {
      displayName: "Team C",
    });
    env.mark();
    await throttle.apply(plan, ctx);
    const patches = since().filter((r) => r.method === "PATCH");
    expect(patches.map((p) => p.status)).toEqual([412, 200]);
    expect(patches[0]!.headers["if-match"]).toBe(plan.data.etag);
    expect(await throttle.verify(plan, ctx)).toEqual({ ok: true });
    expect(env.sim.getResource(subId("team-c-key"))!.properties).toMatchObject({
      scope: THROTTLED,
      displayName: "Team C",
    });
  });

  it("412 where the owner moved the subscription meanwhile → ConcurrentChange, it stays where the owner put it", async () => {
    const ctx = ctxFor(alertSignal("Fired", "team-c-key"));
    const plan = (await throttle.plan(await throttle.read(ctx), ctx)) as ChangePlan<ScopeChangeData>;
    const apim = env.clients.apiManagement(SUB).subscription;
    await apim.update(RG, SVC, "team-c-key", (await apim.get(RG, SVC, "team-c-key")).eTag!, {
      scope: "/products/starter",
    });
    await expect(throttle.apply(plan, ctx)).rejects.toMatchObject({
      code: "ConcurrentChange",
      step: "apply",
      retryable: true,
    });
    expect(scopeOf("team-c-key")).toBe(`${SVC_ID}/products/starter`);
  });

  it("transient 429/500 on the product PUT are retried; a permanent 403 on the policy fails at apply and the subscription stays put", async () => {
    deleteThrottledProduct(env.sim);
    env.sim.addFault({ method: "PUT", path: "/products/driftguard-throttled", status: 429, retryAfter: 0 });
    env.sim.addFault({ method: "PUT", path: "/products/driftguard-throttled", status: 500 });
    const { verified } = await runKind(throttle, ctxFor(alertSignal("Fired", "team-c-key")));
    expect(verified).toEqual({ ok: true });
    const productPuts = since().filter(
      (r) => r.method === "PUT" && r.path.endsWith("/products/driftguard-throttled"),
    );
    expect(productPuts.map((p) => p.status)).toEqual([429, 500, 201]);

    deleteThrottledProduct(env.sim);
    env.sim.addFault({ method: "PUT", path: "/policies/policy", status: 403, count: -1 });
    const err = await runKind(throttle, ctxFor(alertSignal("Fired", "team-b-key"))).catch((e: unknown) => e);
    expect(err).toMatchObject({ step: "apply", retryable: false, statusCode: 403 });
    expect(scopeOf("team-b-key")).toBe(`${SVC_ID}/apis`);
  });
});

/** The APIs the throttling product holds (of those the seed knows). */
function apisOfThrottledProduct(sim: AzureSimulator): string[] {
  return ["chat", "embeddings", "images"].filter((api) => sim.getResource(`${THROTTLED}/apis/${api}`));
}

/** Removes the throttling product (and what is under it) so a test starts without it. */
function deleteThrottledProduct(sim: AzureSimulator): void {
  sim.deleteResource(THROTTLED);
  expect(sim.getResource(THROTTLED)).toBeUndefined();
}

describe("rate-limit round trips through the pipeline", () => {
  let h: Harness;
  let clock: ManualClock;
  beforeAll(async () => {
    clock = new ManualClock(NOW);
    h = await startHarness({ seed: seed(), policies: { version: 1, policies: [POLICY] }, clock });
  });
  afterAll(async () => {
    await h?.close();
  });
  const scope = (sid: string) => (h.sim.getResource(subId(sid))!.properties as { scope: string }).scope;

  it("Fired → throttled; Resolved → back in its exact original scope (reverted); the product stays", async () => {
    clock.set(NOW);
    const original = scope("team-a-key");
    const [d] = await h.handle(alertSignal("Fired", "team-a-key"));
    expect(d?.outcome).toBe("remediated");
    expect(d?.record?.followUp).toMatchObject({
      action: "rate-limit",
      originalScope: original,
      throttledScope: THROTTLED,
    });
    expect(scope("team-a-key")).toBe(THROTTLED);
    clock.set(new Date(NOW.getTime() + 10 * 60_000));
    const [r] = await h.handle(alertSignal("Resolved", "team-a-key"));
    expect(r?.outcome).toBe("reverted");
    expect(r?.record?.changes).toEqual([{ path: "properties.scope", from: THROTTLED, to: original }]);
    expect(scope("team-a-key")).toBe(original);
    expect((h.sim.getResource(subId("team-a-key"))!.properties as { state: string }).state).toBe("active");
    expect(h.sim.getResource(THROTTLED)).toBeDefined();
    // Nothing left to restore.
    expect(await findDueRestorations(h.audit, new Date(NOW.getTime() + 2 * HOUR))).toEqual([]);
  });

  it("after the cooldown the timer moves it back to its exact original scope", async () => {
    clock.set(NOW);
    const original = scope("team-c-key");
    const [d] = await h.handle(alertSignal("Fired", "team-c-key"));
    expect(d?.outcome).toBe("remediated");
    const later = new Date(NOW.getTime() + HOUR + 60_000);
    clock.set(later);
    const due = await findDueRestorations(h.audit, later);
    expect(due.map((x) => x.apimSubscriptionId)).toEqual([subId("team-c-key")]);
    const [r] = await h.handle(restoreSignal(due[0]!, later), { policyName: due[0]!.policy });
    expect(r?.outcome).toBe("reverted");
    expect(r?.record?.followUp).toMatchObject({ action: "rate-limit", restores: d?.record?.id });
    expect(scope("team-c-key")).toBe(original);
  });

  it("moved elsewhere by a person while throttled: the restore leaves it there (compliant)", async () => {
    clock.set(NOW);
    const [d] = await h.handle(alertSignal("Fired", "team-b-key"));
    expect(d?.outcome).toBe("remediated");
    const apim = h.clients.apiManagement(SUB).subscription;
    await apim.update(RG, SVC, "team-b-key", (await apim.get(RG, SVC, "team-b-key")).eTag!, {
      scope: "/apis/images",
    });
    const [r] = await h.handle(alertSignal("Resolved", "team-b-key"));
    expect(r?.outcome).toBe("compliant");
    expect(r?.reason).toMatch(/moved by someone else/);
    expect(scope("team-b-key")).toBe(`${SVC_ID}/apis/images`);
  });

  it("dry-run and approval plan the move and write nothing", async () => {
    const approval = { ...POLICY, name: "rl-approval", mode: "approval" as const };
    const hh = await startHarness({ seed: seed(), policies: { version: 1, policies: [approval] }, now: NOW });
    const [a] = await hh.handle(alertSignal("Fired", "team-a-key"));
    expect(a?.outcome).toBe("pending-approval");
    expect(hh.sim.writes()).toEqual([]);
    await hh.close();
    const dry = await startHarness({
      seed: seed(),
      policies: { version: 1, policies: [POLICY] },
      now: NOW,
      mode: "dry-run",
    });
    const [d] = await dry.handle(alertSignal("Fired", "team-a-key"));
    expect(d?.outcome).toBe("dry-run");
    expect(d?.changes?.at(-1)).toEqual({
      path: "properties.scope",
      from: `${SVC_ID}/products/starter`,
      to: THROTTLED,
    });
    expect(dry.sim.writes()).toEqual([]);
    await dry.close();
  });
});
