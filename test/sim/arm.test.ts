/** The simulator's ARM surface, driven by the real SDK clients pinned in package.json. */
import { ApiManagementClient } from "@azure/arm-apimanagement";
import { CognitiveServicesManagementClient } from "@azure/arm-cognitiveservices";
import { ContainerServiceClient } from "@azure/arm-containerservice";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { AzureMachineLearningWorkspaces } from "@azure/arm-machinelearning";
import { NetworkManagementClient } from "@azure/arm-network";
import { StorageManagementClient } from "@azure/arm-storage";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type AzureSimulator,
  loadSeedFile,
  type Seed,
  startAzureSimulator,
} from "../../dev/azure-sim/index.js";
import { call, classicOptions, credential, modularOptions, RG, rgId, SUB, tls } from "./helpers.js";

const P = `${rgId}/providers`;
const NSG = `${P}/Microsoft.Network/networkSecurityGroups/nsg-gpu-nodes`;
const AKS = `${P}/Microsoft.ContainerService/managedClusters/aks-inference`;
const WS = `${P}/Microsoft.MachineLearningServices/workspaces/mlw-prod`;
const ST = `${P}/Microsoft.Storage/storageAccounts/stmlprod001`;
const OAI = `${P}/Microsoft.CognitiveServices/accounts/oai-ml-prod`;
const KV = `${P}/Microsoft.KeyVault/vaults/kv-ml-prod`;
const APIM = `${P}/Microsoft.ApiManagement/service/apim-openai`;
const poll = { updateIntervalInMs: 0 };

let seed: Seed;
let ca: string;
let sim: AzureSimulator;
let tlsPair: { cert: string; key: string };

beforeAll(async () => {
  const t = await tls();
  tlsPair = { cert: t.cert, key: t.key };
  ca = t.cert;
  seed = await loadSeedFile("dev/sample-seed.json");
});

// A fresh, seeded simulator per test keeps tests independent.
beforeEach(async () => {
  await sim?.close();
  sim = await startAzureSimulator({ tls: tlsPair, seed });
});
afterAll(async () => {
  await sim?.close();
});

const network = () => new NetworkManagementClient(credential, SUB, classicOptions(sim.url, ca));
const ml = () => new AzureMachineLearningWorkspaces(credential, SUB, classicOptions(sim.url, ca));
const aks = () => new ContainerServiceClient(credential, SUB, modularOptions(sim.url, ca));
const storage = () => new StorageManagementClient(credential, SUB, modularOptions(sim.url, ca));
const cognitive = () => new CognitiveServicesManagementClient(credential, SUB, classicOptions(sim.url, ca));
const keyvault = () => new KeyVaultManagementClient(credential, SUB, modularOptions(sim.url, ca));
const apim = () => new ApiManagementClient(credential, SUB, classicOptions(sim.url, ca));
const bearer = { authorization: "Bearer anything" };

describe("NSG and security rules (inline children)", () => {
  it("serves seeded inline rules at their own IDs with ARM shapes", async () => {
    const nsg = await network().networkSecurityGroups.get(RG, "nsg-gpu-nodes");
    expect(nsg.securityRules?.map((r) => r.name)).toEqual([
      "allow-ssh-internet",
      "allow-rdp-any",
      "allow-https-corp",
      "deny-all-inbound",
    ]);
    expect(nsg.etag).toMatch(/^W\/"/);
    expect(nsg.defaultSecurityRules?.length).toBe(3);
    const rule = await network().securityRules.get(RG, "nsg-gpu-nodes", "allow-rdp-any");
    expect(rule.id).toBe(`${NSG}/securityRules/allow-rdp-any`);
    expect(rule.sourceAddressPrefixes).toEqual(["0.0.0.0/0"]);
    expect(rule.provisioningState).toBe("Succeeded");
    expect(rule.etag).toMatch(/^W\/"/);
  });

  it("DELETE of a rule (async LRO) removes it from the parent", async () => {
    await network().securityRules.beginDeleteAndWait(RG, "nsg-gpu-nodes", "allow-ssh-internet", poll);
    const nsg = sim.getResource(NSG)!;
    const names = (nsg.properties!.securityRules as { name: string }[]).map((r) => r.name);
    expect(names).not.toContain("allow-ssh-internet");
    expect(names).toHaveLength(3);
    await expect(
      network().securityRules.get(RG, "nsg-gpu-nodes", "allow-ssh-internet"),
    ).rejects.toMatchObject({
      statusCode: 404,
      code: "NotFound",
    });
    const del = sim.writes({ pathIncludes: "allow-ssh-internet" });
    expect(del.map((w) => [w.method, w.status])).toEqual([["DELETE", 202]]);
  });

  it("PUT of a rule updates the parent's array, and a parent PUT updates the children", async () => {
    const before = sim.getResource(NSG)!.etag;
    const rule = await network().securityRules.beginCreateOrUpdateAndWait(
      RG,
      "nsg-gpu-nodes",
      "allow-ssh-internet",
      {
        protocol: "Tcp",
        sourcePortRange: "*",
        destinationPortRange: "22",
        sourceAddressPrefix: "10.1.0.0/16",
        destinationAddressPrefix: "*",
        access: "Allow",
        priority: 100,
        direction: "Inbound",
      },
      poll,
    );
    expect(rule.sourceAddressPrefix).toBe("10.1.0.0/16");
    const parent = sim.getResource(NSG)!;
    expect(parent.etag).not.toBe(before);
    const inline = (
      parent.properties!.securityRules as { name: string; properties: Record<string, unknown> }[]
    ).find((r) => r.name === "allow-ssh-internet");
    expect(inline?.properties.sourceAddressPrefix).toBe("10.1.0.0/16");

    // new rule → appended
    await network().securityRules.beginCreateOrUpdateAndWait(
      RG,
      "nsg-gpu-nodes",
      "allow-node-exporter",
      {
        protocol: "Tcp",
        access: "Allow",
        direction: "Inbound",
        priority: 300,
        sourceAddressPrefix: "10.0.0.0/8",
      },
      poll,
    );
    expect((sim.getResource(NSG)!.properties!.securityRules as unknown[]).length).toBe(5);

    // parent PUT with only one rule → the others disappear as children too
    const nsg = await network().networkSecurityGroups.get(RG, "nsg-gpu-nodes");
    nsg.securityRules = nsg.securityRules?.filter((r) => r.name === "deny-all-inbound");
    await network().networkSecurityGroups.beginCreateOrUpdateAndWait(RG, "nsg-gpu-nodes", nsg, poll);
    expect(sim.getResource(`${NSG}/securityRules/allow-rdp-any`)).toBeUndefined();
    expect(sim.getResource(`${NSG}/securityRules/deny-all-inbound`)?.properties?.access).toBe("Deny");
    const listed = [];
    for await (const r of network().securityRules.list(RG, "nsg-gpu-nodes")) listed.push(r.name);
    expect(listed).toEqual(["deny-all-inbound"]);
  });

  it("answers 412 on a stale If-Match and 404 for a rule under a missing NSG", async () => {
    const url = `${sim.url}${NSG}/securityRules/allow-rdp-any?api-version=2024-05-01`;
    const r = await call(url, ca, "GET", undefined, bearer);
    const etag = r.body.etag as string;
    expect(r.headers.etag).toBe(etag);
    const body = { properties: { ...r.body.properties, sourceAddressPrefixes: ["10.0.0.0/8"] } };
    const ok = await call(url, ca, "PUT", body, { ...bearer, "if-match": etag });
    expect(ok.status).toBe(200);
    expect(ok.headers["azure-asyncoperation"]).toMatch(/operationStatuses/);
    // the first change is still in flight: finish it, then reuse the old ETag
    const status = ok.headers["azure-asyncoperation"] as string;
    expect((await call(status, ca, "GET", undefined, bearer)).body.status).toBe("InProgress");
    expect((await call(status, ca, "GET", undefined, bearer)).body.status).toBe("Succeeded");
    const stale = await call(url, ca, "PUT", body, { ...bearer, "if-match": etag });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe("PreconditionFailed");
    const missing = await call(
      `${sim.url}${P}/Microsoft.Network/networkSecurityGroups/nope/securityRules/x?api-version=1`,
      ca,
      "GET",
      undefined,
      bearer,
    );
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("ParentResourceNotFound");
  });
});

describe("AKS managed cluster and agent pools", () => {
  it("serves agent pools from agentPoolProfiles and writes them back", async () => {
    const pool = await aks().agentPools.get(RG, "aks-inference", "gpua100");
    expect(pool).toMatchObject({
      name: "gpua100",
      type: "Microsoft.ContainerService/managedClusters/agentPools",
      vmSize: "Standard_NC24ads_A100_v4",
      enableAutoScaling: true,
      minCount: 0,
      maxCount: 10,
      count: 6,
      provisioningState: "Succeeded",
    });
    expect(pool.eTag).toMatch(/^W\/"/);
    const updated = await aks().agentPools.createOrUpdate(
      RG,
      "aks-inference",
      "gpua100",
      { ...pool, maxCount: 4, count: 4 },
      poll,
    );
    expect(updated.maxCount).toBe(4);
    const cluster = await aks().managedClusters.get(RG, "aks-inference");
    const profile = cluster.agentPoolProfiles?.find((p) => p.name === "gpua100");
    expect(profile).toMatchObject({ maxCount: 4, count: 4, vmSize: "Standard_NC24ads_A100_v4" });
    expect(cluster.agentPoolProfiles?.map((p) => p.name)).toEqual(["system", "gpua100", "cpu"]);

    const names: string[] = [];
    for await (const p of aks().agentPools.list(RG, "aks-inference")) names.push(p.name ?? "");
    expect(names).toEqual(["system", "gpua100", "cpu"]);
    const puts = sim.writes({ pathIncludes: "agentPools/gpua100" });
    expect(puts).toHaveLength(1);
    expect(puts[0]?.body).toMatchObject({ properties: { maxCount: 4 } });
  });

  it("a cluster-side change shows up on the agent pool, and a pool DELETE shrinks the cluster", async () => {
    const c = sim.getResource(AKS)!;
    const profiles = c.properties!.agentPoolProfiles as Record<string, unknown>[];
    profiles[2] = { ...profiles[2], count: 7 };
    sim.putResource(c);
    expect((await aks().agentPools.get(RG, "aks-inference", "cpu")).count).toBe(7);
    await aks().agentPools.delete(RG, "aks-inference", "cpu", poll);
    const after = sim.getResource(AKS)!.properties!.agentPoolProfiles as { name: string }[];
    expect(after.map((p) => p.name)).toEqual(["system", "gpua100"]);
    await expect(aks().agentPools.get(RG, "aks-inference", "cpu")).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe("Machine Learning", () => {
  it("PATCHes a workspace (async LRO) and the change lands when the operation succeeds", async () => {
    const ws = await ml().workspaces.beginUpdateAndWait(
      RG,
      "mlw-prod",
      { publicNetworkAccess: "Disabled" },
      poll,
    );
    expect(ws.publicNetworkAccess).toBe("Disabled");
    expect(ws.provisioningState).toBe("Succeeded");
    expect(sim.getResource(WS)?.properties?.publicNetworkAccess).toBe("Disabled");
    // poll sequence: PATCH, status InProgress, status Succeeded, final GET
    const seq = sim.requests().map((r) => `${r.method} ${r.status} ${r.path.split("/").at(-2)}`);
    expect(seq).toEqual([
      "PATCH 200 workspaces",
      "GET 200 operationStatuses",
      "GET 200 operationStatuses",
      "GET 200 workspaces",
    ]);
  });

  it("shows the old value while the operation is in progress (raw HTTP)", async () => {
    const url = `${sim.url}${WS}?api-version=2024-04-01`;
    const r = await call(url, ca, "PATCH", { properties: { publicNetworkAccess: "Disabled" } }, bearer);
    expect(r.status).toBe(200);
    expect(r.body.properties.provisioningState).toBe("Updating");
    const op = r.headers["azure-asyncoperation"] as string;
    expect(
      op.startsWith(
        `${sim.url}/subscriptions/${SUB}/providers/Microsoft.MachineLearningServices/locations/eastus/operationStatuses/`,
      ),
    ).toBe(true);
    expect((await call(url, ca, "GET", undefined, bearer)).body.properties.publicNetworkAccess).toBe(
      "Enabled",
    );
    expect((await call(op, ca, "GET", undefined, bearer)).body.status).toBe("InProgress");
    expect((await call(op, ca, "GET", undefined, bearer)).body.status).toBe("Succeeded");
    expect((await call(url, ca, "GET", undefined, bearer)).body.properties.publicNetworkAccess).toBe(
      "Disabled",
    );
  });

  it("GET then PUT of an online endpoint", async () => {
    const ep = await ml().onlineEndpoints.get(RG, "mlw-prod", "ep-chat-prod");
    expect(ep.properties.publicNetworkAccess).toBe("Enabled");
    ep.properties.publicNetworkAccess = "Disabled";
    const put = await ml().onlineEndpoints.beginCreateOrUpdateAndWait(
      RG,
      "mlw-prod",
      "ep-chat-prod",
      ep,
      poll,
    );
    expect(put.properties.publicNetworkAccess).toBe("Disabled");
    expect(put.properties.authMode).toBe("Key");
    expect(sim.writes()[0]?.status).toBe(200);
  });

  it("PATCHes an AML compute's scale settings (nested twice) and lists computes", async () => {
    const res = await ml().computeOperations.beginUpdateAndWait(
      RG,
      "mlw-prod",
      "gpu-cluster",
      { properties: { scaleSettings: { maxNodeCount: 2, minNodeCount: 0 } } },
      poll,
    );
    const props = res.properties as {
      computeType: string;
      properties?: { scaleSettings?: Record<string, unknown> };
    };
    expect(props.computeType).toBe("AmlCompute");
    expect(props.properties?.scaleSettings).toMatchObject({
      maxNodeCount: 2,
      minNodeCount: 0,
      nodeIdleTimeBeforeScaleDown: "PT120S",
    });
    expect(sim.writes()[0]?.body).toEqual({
      properties: { properties: { scaleSettings: { maxNodeCount: 2, minNodeCount: 0 } } },
    });
    const names: string[] = [];
    for await (const c of ml().computeOperations.list(RG, "mlw-prod")) names.push(c.name ?? "");
    expect(names).toEqual(["gpu-cluster"]);
  });

  it("a Failed operation status makes the SDK throw and leaves the resource unchanged", async () => {
    sim.addFault({ method: "GET", path: "/operationStatuses/", status: 200, body: { status: "Failed" } });
    await expect(
      ml().workspaces.beginUpdateAndWait(RG, "mlw-prod", { publicNetworkAccess: "Disabled" }, poll),
    ).rejects.toThrow();
    expect(sim.getResource(WS)?.properties?.publicNetworkAccess).toBe("Enabled");
  });

  it("DELETE (async) answers 202 with Location and Azure-AsyncOperation", async () => {
    await ml().computeOperations.beginDeleteAndWait(RG, "mlw-prod", "gpu-cluster", "Delete", poll);
    expect(sim.getResource(`${WS}/computes/gpu-cluster`)).toBeUndefined();
    const del = sim.requests({ method: "DELETE" })[0]!;
    expect(del.status).toBe(202);
    expect(del.query.underlyingResourceAction).toBe("Delete");
    // deleting again: ARM answers 204
    const again = await call(
      `${sim.url}${WS}/computes/gpu-cluster?api-version=1`,
      ca,
      "DELETE",
      undefined,
      bearer,
    );
    expect(again.status).toBe(204);
  });
});

describe("synchronous LRO mode", () => {
  it("answers 200 with the final body and no async headers", async () => {
    const s = await startAzureSimulator({ tls: tlsPair, seed, lro: "sync" });
    try {
      const c = new AzureMachineLearningWorkspaces(credential, SUB, classicOptions(s.url, ca));
      const ws = await c.workspaces.beginUpdateAndWait(
        RG,
        "mlw-prod",
        { publicNetworkAccess: "Disabled" },
        poll,
      );
      expect(ws.publicNetworkAccess).toBe("Disabled");
      expect(s.requests().map((r) => r.method)).toEqual(["PATCH"]);
      const raw = await call(
        `${s.url}${NSG}/securityRules/allow-rdp-any?api-version=1`,
        ca,
        "DELETE",
        undefined,
        bearer,
      );
      expect(raw.status).toBe(200);
      expect(raw.headers["azure-asyncoperation"]).toBeUndefined();
    } finally {
      await s.close();
    }
  });
});

describe("Storage", () => {
  it("regenerates one key only, from the seeded keys", async () => {
    const seeded = sim.getStorageKeys(ST);
    const listed = await storage().storageAccounts.listKeys(RG, "stmlprod001");
    expect(listed.keys?.map((k) => [k.keyName, k.value, k.permissions])).toEqual(
      seeded.map((k) => [k.keyName, k.value, "FULL"]),
    );
    const regen = await storage().storageAccounts.regenerateKey(RG, "stmlprod001", { keyName: "key1" });
    const k1 = regen.keys?.find((k) => k.keyName === "key1");
    const k2 = regen.keys?.find((k) => k.keyName === "key2");
    expect(k1?.value).not.toBe(seeded[0]?.value);
    expect(Buffer.from(k1?.value ?? "", "base64")).toHaveLength(64);
    expect(k2?.value).toBe(seeded[1]?.value);
    expect(sim.getStorageKeys(ST)[0]?.value).toBe(k1?.value);
    expect(JSON.stringify(sim.requests())).not.toContain(k1?.value);
  });

  it("create is a Location-polled LRO; update and delete are synchronous", async () => {
    const created = await storage().storageAccounts.create(
      RG,
      "stnewaccount01",
      {
        location: "eastus",
        kind: "StorageV2",
        sku: { name: "Standard_LRS" },
        publicNetworkAccess: "Disabled",
      },
      poll,
    );
    expect(created.publicNetworkAccess).toBe("Disabled");
    expect(created.provisioningState).toBe("Succeeded");
    expect(sim.requests({ method: "PUT" })[0]?.status).toBe(202);
    expect(sim.getStorageKeys(`${P}/Microsoft.Storage/storageAccounts/stnewaccount01`)).toHaveLength(2);
    await storage().storageAccounts.delete(RG, "stnewaccount01");
    expect(sim.requests({ method: "DELETE" })[0]?.status).toBe(200);
    await expect(storage().storageAccounts.getProperties(RG, "stnewaccount01")).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("lists accounts by resource group", async () => {
    const names: string[] = [];
    for await (const a of storage().storageAccounts.listByResourceGroup(RG)) names.push(a.name ?? "");
    expect(names.sort()).toEqual(["stmlprod001", "stmlscratch001"]);
  });
});

describe("Cognitive Services", () => {
  it("beginUpdate disables public access (LRO) and keys regenerate one at a time", async () => {
    const acct = await cognitive().accounts.beginUpdateAndWait(
      RG,
      "oai-ml-prod",
      { properties: { publicNetworkAccess: "Disabled" } },
      poll,
    );
    expect(acct.properties?.publicNetworkAccess).toBe("Disabled");
    expect(acct.kind).toBe("OpenAI");
    expect(acct.etag).toMatch(/^W\/"/);
    const before = await cognitive().accounts.listKeys(RG, "oai-ml-prod");
    const after = await cognitive().accounts.regenerateKey(RG, "oai-ml-prod", "Key2");
    expect(after.key1).toBe(before.key1);
    expect(after.key2).not.toBe(before.key2);
    expect(after.key2).toMatch(/^[0-9a-f]{32}$/);
    expect(sim.getStorageKeys(OAI).find((k) => k.keyName === "Key2")?.value).toBe(after.key2);
  });
});

describe("Key Vault management", () => {
  it("update (PATCH) is synchronous and vault GET works", async () => {
    const v = await keyvault().vaults.update(RG, "kv-ml-prod", {
      properties: {
        publicNetworkAccess: "Disabled",
        networkAcls: { defaultAction: "Deny", bypass: "AzureServices" },
      },
    });
    expect(v.properties.publicNetworkAccess).toBe("Disabled");
    expect(v.properties.networkAcls?.defaultAction).toBe("Deny");
    expect(v.properties.enableRbacAuthorization).toBe(true);
    expect(sim.requests().map((r) => r.method)).toEqual(["PATCH"]);
    expect((await keyvault().vaults.get(RG, "kv-ml-prod")).properties.vaultUri).toBe(
      "https://kv-ml-prod.vault.azure.net/",
    );
    expect(sim.getResource(KV)?.properties?.publicNetworkAccess).toBe("Disabled");
  });
});

describe("API Management subscriptions", () => {
  it("GET returns the ETag header; PATCH needs If-Match and rejects a stale one", async () => {
    const got = await apim().subscription.get(RG, "apim-openai", "team-a-key");
    expect(got.state).toBe("active");
    expect(got.eTag).toBeTruthy();
    const url = `${sim.url}${APIM}/subscriptions/team-a-key?api-version=2022-08-01`;
    const noIfMatch = await call(url, ca, "PATCH", { properties: { state: "suspended" } }, bearer);
    expect(noIfMatch.status).toBe(400);
    const updated = await apim().subscription.update(RG, "apim-openai", "team-a-key", got.eTag!, {
      state: "suspended",
      stateComment: "throttled by driftguard",
    });
    expect(updated.state).toBe("suspended");
    expect(updated.stateComment).toBe("throttled by driftguard");
    expect(updated.eTag).not.toBe(got.eTag);
    await expect(
      apim().subscription.update(RG, "apim-openai", "team-a-key", got.eTag!, { state: "active" }),
    ).rejects.toMatchObject({ statusCode: 412, code: "PreconditionFailed" });
    // not an LRO: one PATCH that reached the handler
    expect(sim.writes().map((w) => [w.method, w.status])).toEqual([
      ["PATCH", 400],
      ["PATCH", 200],
      ["PATCH", 412],
    ]);
    const names: string[] = [];
    for await (const s of apim().subscription.list(RG, "apim-openai")) names.push(s.name ?? "");
    expect(names).toEqual(["master", "team-a-key", "team-b-key"]);
  });
});

describe("generic ARM behaviour", () => {
  it("404 ResourceNotFound with ARM's message", async () => {
    await expect(storage().storageAccounts.getProperties(RG, "nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "ResourceNotFound",
    });
    const r = await call(
      `${sim.url}${P}/Microsoft.Storage/storageAccounts/nope?api-version=1`,
      ca,
      "GET",
      undefined,
      bearer,
    );
    expect(r.body).toEqual({
      error: {
        code: "ResourceNotFound",
        message: expect.stringContaining(
          "The Resource 'Microsoft.Storage/storageAccounts/nope' under resource group 'rg-ml-prod' was not found.",
        ),
      },
    });
  });

  it("requires a bearer token, an api-version and a JSON body", async () => {
    const url = `${sim.url}${ST}`;
    const noAuth = await call(`${url}?api-version=1`, ca, "GET");
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.error.code).toBe("AuthenticationFailed");
    const noApi = await call(url, ca, "GET", undefined, bearer);
    expect(noApi.status).toBe(400);
    expect(noApi.body.error.code).toBe("MissingApiVersionParameter");
    const notJson = await call(`${url}?api-version=1`, ca, "PATCH", "{not json", bearer);
    expect(notJson.status).toBe(400);
    const logged = sim.requests();
    expect(logged.map((r) => r.status)).toEqual([401, 400, 400]);
    expect(sim.writes()).toEqual([]);
  });

  it("lists resources with $filter and records the api-version", async () => {
    const r = await call(
      `${sim.url}/subscriptions/${SUB}/resources?$filter=${encodeURIComponent("resourceType eq 'Microsoft.Storage/storageAccounts'")}&api-version=2021-04-01`,
      ca,
      "GET",
      undefined,
      bearer,
    );
    expect(r.status).toBe(200);
    expect(r.body.value.map((x: { name: string }) => x.name).sort()).toEqual([
      "stmlprod001",
      "stmlscratch001",
    ]);
    const tagged = await call(
      `${sim.url}${rgId}/resources?$filter=${encodeURIComponent("tagName eq 'driftguard:exclude' and tagValue eq 'true'")}&api-version=2021-04-01`,
      ca,
      "GET",
      undefined,
      bearer,
    );
    expect(tagged.body.value.map((x: { name: string }) => x.name)).toEqual(["stmlscratch001"]);
    expect(sim.requests()[0]?.apiVersion).toBe("2021-04-01");
  });

  it("ETags change on every write and If-Match: * matches an existing resource", async () => {
    const url = `${sim.url}${ST}?api-version=1`;
    const a = await call(url, ca, "GET", undefined, bearer);
    const b = await call(url, ca, "PATCH", { tags: { x: "1" } }, { ...bearer, "if-match": "*" });
    expect(b.status).toBe(200);
    expect(b.headers.etag).not.toBe(a.headers.etag);
    const stale = await call(
      url,
      ca,
      "PATCH",
      { tags: { x: "2" } },
      { ...bearer, "if-match": a.headers.etag as string },
    );
    expect(stale.status).toBe(412);
    const none = await call(
      `${sim.url}${P}/Microsoft.Storage/storageAccounts/absent?api-version=1`,
      ca,
      "PATCH",
      { tags: {} },
      { ...bearer, "if-match": "*" },
    );
    expect(none.status).toBe(404);
  });
});

describe("NSG default rules", () => {
  it("are readable at their own IDs and cannot be written", async () => {
    const url = `${sim.url}${NSG}/defaultSecurityRules/DenyAllInBound?api-version=1`;
    const r = await call(url, ca, "GET", undefined, bearer);
    expect(r.status).toBe(200);
    expect(r.body.properties.access).toBe("Deny");
    expect((await call(url, ca, "DELETE", undefined, bearer)).status).toBe(405);
    // a parent PATCH cannot replace them either
    await call(
      `${sim.url}${NSG}?api-version=1`,
      ca,
      "PATCH",
      { properties: { defaultSecurityRules: [] } },
      bearer,
    );
    expect((sim.getResource(NSG)!.properties!.defaultSecurityRules as unknown[]).length).toBe(3);
  });
});
