/**
 * The simulator against real ARM shapes for the types with child resources driftguard reads and
 * writes one by one: NSGs and their security rules, AKS clusters and agent pools, API Management
 * services and subscriptions. Same method as arm-shapes.test.ts: seed each fixture, read it back raw
 * and through the pinned SDK client as driftguard does, write it as driftguard does.
 */
import type { AgentPool } from "@azure/arm-containerservice";
import { describe, expect, it } from "vitest";
import { tagsOf } from "../../shared/remediations/arm-helpers.js";
import { type NsgRule, ruleDefinition } from "../../shared/remediations/close-internet-inbound-rule/rules.js";
import { expectedBody, loadShapeFixture, responseRecorder, shapeProblems } from "./arm-shapes.js";
import { useShapeSimulator } from "./shape-sim.js";

const RG = "rg-arm-shapes";
const SUB = "00000000-0000-0000-0000-000000000001";
const nsgFixture = loadShapeFixture("nsg");
const aksFixture = loadShapeFixture("aks");
const apimFixture = loadShapeFixture("apim");

const { env, raw } = useShapeSimulator(() => [
  expectedBody(nsgFixture, "get"),
  expectedBody(aksFixture, "getCluster"),
  expectedBody(apimFixture, "getService"),
  expectedBody(apimFixture, "getSubscription"),
]);
const lro = { updateIntervalInMs: 0 };

/** A rule from the fixture as driftguard's ruleDefinition() should see it through the SDK. */
function definitionOf(rule: { name: string; id: string; properties: Record<string, unknown> }) {
  const { provisioningState: _p, ...props } = rule.properties;
  return { name: rule.name, id: rule.id, ...props };
}

describe("NSG and security rules (NetworkSecurityGroups_Get / SecurityRules_Get / SecurityRules_Delete)", () => {
  const f = nsgFixture;
  const nsg = expectedBody(f, "get");
  const rule = expectedBody(f, "getRule");

  it("GET of the NSG and of one rule over HTTPS keep every field of the examples", async () => {
    const res = await raw("GET", nsg.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(nsg, res.body)).toEqual([]);
    const one = await raw("GET", rule.id, f.sdk.apiVersion);
    expect(one.status).toBe(200);
    expect(shapeProblems(rule, one.body)).toEqual([]);
  });

  it("the SDK models carry every rule field close-internet-inbound-rule reads, and the etags", async () => {
    const network = env.clients.network(SUB);
    const group = await network.networkSecurityGroups.get(RG, nsg.name);
    expect((group.securityRules ?? []).map((r) => ruleDefinition(r as NsgRule))).toEqual(
      nsg.properties.securityRules.map(definitionOf),
    );
    for (const r of group.securityRules ?? []) expect(r.etag).toMatch(/^W\/"/);
    expect(tagsOf(group)).toEqual(nsg.tags);
    const one = await network.securityRules.get(RG, nsg.name, rule.name);
    expect(ruleDefinition(one as NsgRule)).toEqual(definitionOf(rule));
    expect(one.etag).toMatch(/^W\/"/);
  });

  it("DELETE of a rule answers an example status and leaves the NSG in its shape", async () => {
    const other = nsg.properties.securityRules[1];
    const rec = responseRecorder();
    await env.clients
      .network(SUB)
      .securityRules.beginDeleteAndWait(RG, nsg.name, other.name, { ...lro, onResponse: rec.onResponse });
    expect(f.responses.deleteRule!.status).toContain(rec.first("DELETE")?.status);
    const after = await raw("GET", nsg.id, f.sdk.apiVersion);
    expect(after.body.properties.securityRules.map((r: { name: string }) => r.name)).toEqual([rule.name]);
    expect(shapeProblems(nsg, after.body)).toEqual([]);
  });
});

describe("AKS cluster and agent pools (ManagedClusters_Get / AgentPools_List, _Get, _CreateOrUpdate)", () => {
  const f = aksFixture;
  const cluster = expectedBody(f, "getCluster");
  const pool = expectedBody(f, "getPool");
  const aks = () => env.clients.containerService(SUB);

  it("GET of the cluster, the pool list and one pool over HTTPS keep every field of the examples", async () => {
    const res = await raw("GET", cluster.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(cluster, res.body)).toEqual([]);
    const list = await raw("GET", `${cluster.id}/agentPools`, f.sdk.apiVersion);
    expect(list.status).toBe(200);
    expect(shapeProblems(expectedBody(f, "listPools"), list.body)).toEqual([]);
    const one = await raw("GET", pool.id, f.sdk.apiVersion);
    expect(one.status).toBe(200);
    expect(shapeProblems(pool, one.body)).toEqual([]);
  });

  it("the SDK models carry what scale-gpu-pool reads (get and list)", async () => {
    const c = await aks().managedClusters.get(RG, cluster.name);
    expect([c.id, c.name, tagsOf(c)]).toEqual([cluster.id, cluster.name, cluster.tags]);
    const listed: AgentPool[] = [];
    for await (const p of aks().agentPools.list(RG, cluster.name)) listed.push(p);
    const read = (p: AgentPool) => ({
      name: p.name,
      vmSize: p.vmSize,
      mode: p.mode,
      enableAutoScaling: p.enableAutoScaling,
      count: p.count,
      minCount: p.minCount,
      maxCount: p.maxCount,
    });
    const want = (p: { name: string; properties: Record<string, unknown> }) => {
      const { vmSize, mode, enableAutoScaling, count, minCount, maxCount } = p.properties;
      return { name: p.name, vmSize, mode, enableAutoScaling, count, minCount, maxCount };
    };
    expect(listed.map(read)).toEqual(expectedBody(f, "listPools").value.map(want));
    const one = await aks().agentPools.get(RG, cluster.name, pool.name);
    expect(read(one)).toEqual(want(pool));
    expect(one.eTag).toMatch(/^W\/"/);
  });

  it("GET + PUT of a pool with If-Match answers the example's shape and loses no read-only field", async () => {
    const current = await aks().agentPools.get(RG, cluster.name, pool.name);
    const rec = responseRecorder();
    const poller = aks().agentPools.createOrUpdate(
      RG,
      cluster.name,
      pool.name,
      { ...current, maxCount: 3 },
      { ...lro, ifMatch: current.eTag, onResponse: rec.onResponse },
    );
    const result = await poller.pollUntilDone();
    expect(result.maxCount).toBe(3);
    const first = rec.first("PUT");
    expect(f.responses.createOrUpdatePool!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "createOrUpdatePool"), first?.body)).toEqual([]);
    const after = await raw("GET", pool.id, f.sdk.apiVersion);
    expect(shapeProblems(pool, after.body)).toEqual([]);
    expect(after.body.properties.maxCount).toBe(3);
    const parent = await raw("GET", cluster.id, f.sdk.apiVersion);
    expect(shapeProblems(cluster, parent.body)).toEqual([]);
  });
});

describe("API Management service and subscriptions (ApiManagementService_Get / Subscription_Get, _Update)", () => {
  const f = apimFixture;
  const service = expectedBody(f, "getService");
  const subscription = expectedBody(f, "getSubscription");
  const sid = subscription.name;
  const apim = () => env.clients.apiManagement(SUB);

  it("GET of the service and of a subscription over HTTPS keep every field of the examples", async () => {
    const res = await raw("GET", service.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(service, res.body)).toEqual([]);
    const sub = await raw("GET", subscription.id, f.sdk.apiVersion);
    expect(sub.status).toBe(200);
    expect(shapeProblems(subscription, sub.body)).toEqual([]);
    expect(sub.headers.etag).toMatch(/^W\/"/);
  });

  it("the SDK models carry what throttle-api-subscription reads", async () => {
    const svc = await apim().apiManagementService.get(RG, service.name);
    expect(tagsOf(svc)).toEqual(service.tags);
    const sub = await apim().subscription.get(RG, service.name, sid);
    expect([sub.state, sub.stateComment, sub.displayName]).toEqual([
      subscription.properties.state,
      subscription.properties.stateComment,
      subscription.properties.displayName,
    ]);
    expect(sub.eTag).toMatch(/^W\/"/);
  });

  it("PATCH with If-Match answers the example's shape and keeps every field", async () => {
    const { eTag } = await apim().subscription.get(RG, service.name, sid);
    const rec = responseRecorder();
    await apim().subscription.update(
      RG,
      service.name,
      sid,
      eTag!,
      { state: "suspended", stateComment: "suspended by driftguard" },
      { onResponse: rec.onResponse },
    );
    const first = rec.first("PATCH");
    expect(f.responses.updateSubscription!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "updateSubscription"), first?.body)).toEqual([]);
    const after = await raw("GET", subscription.id, f.sdk.apiVersion);
    expect(shapeProblems(subscription, after.body)).toEqual([]);
    expect(after.body.properties.state).toBe("suspended");
  });
});
