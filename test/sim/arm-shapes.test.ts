/**
 * The simulator against real ARM shapes (ML workspaces, online endpoints, AML computes, Storage,
 * Key Vault, Cognitive Services): each fixture in test/fixtures/arm-shapes/ is seeded, read back raw
 * over HTTPS and through the pinned SDK client the way driftguard reads it, and written the way
 * driftguard writes it. A field the simulator drops or renames, or an SDK model field driftguard
 * reads that comes back empty, fails the test.
 */
import { describe, expect, it } from "vitest";
import { provisioningStateOf, tagsOf } from "../../shared/remediations/arm-helpers.js";
import {
  at,
  expectedBody,
  loadShapeFixture,
  responseRecorder,
  shapeProblems,
  withoutFields,
} from "./arm-shapes.js";
import { useShapeSimulator } from "./shape-sim.js";

const RG = "rg-arm-shapes";
const SUB = "00000000-0000-0000-0000-000000000001";
const fixtures = {
  workspace: loadShapeFixture("ml-workspace"),
  endpoint: loadShapeFixture("ml-online-endpoint"),
  compute: loadShapeFixture("aml-compute"),
  storage: loadShapeFixture("storage-account"),
  vault: loadShapeFixture("key-vault"),
  cognitive: loadShapeFixture("cognitive-account"),
};

const { env, raw } = useShapeSimulator(() => Object.values(fixtures).map((f) => f.responses.get!.body));
const lro = { updateIntervalInMs: 0 };

/** Raw HTTPS call at the api-version the pinned SDK uses. */

describe("shape comparison", () => {
  it("reports a dropped, a renamed and a retyped field, and accepts a superset", () => {
    const example = { id: "x", properties: { publicNetworkAccess: "Enabled", rules: [{ port: 22 }] } };
    expect(shapeProblems(example, { ...example, extra: 1 })).toEqual([]);
    expect(
      shapeProblems(example, {
        id: "x",
        properties: { PublicNetworkAccess: "Enabled", rules: [{ port: "22" }] },
      }),
    ).toEqual([
      "properties.publicNetworkAccess: missing",
      "properties.rules[].port: expected number, got string",
    ]);
    expect(withoutFields(example, ["properties.rules[].port"])).toEqual({
      id: "x",
      properties: { publicNetworkAccess: "Enabled", rules: [{}] },
    });
  });
});

describe("ML workspace (Workspaces_Get / Workspaces_Update)", () => {
  const f = fixtures.workspace;
  const body = expectedBody(f, "get");

  it("GET over HTTPS keeps every field of the example", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
  });

  it("the SDK model carries what disable-public-network-access reads", async () => {
    const ws = await env.clients.machineLearning(SUB).workspaces.get(RG, body.name);
    expect(ws.publicNetworkAccess).toBe(body.properties.publicNetworkAccess);
    expect(provisioningStateOf(ws)).toBe("Succeeded");
    expect(tagsOf(ws)).toEqual(body.tags);
    const listed = [];
    for await (const w of env.clients.machineLearning(SUB).workspaces.listByResourceGroup(RG)) listed.push(w);
    expect(listed.map((w) => [w.id, w.name, w.tags])).toEqual([[body.id, body.name, body.tags]]);
  });

  it("PATCH publicNetworkAccess answers the Workspace shape and keeps every field", async () => {
    const rec = responseRecorder();
    await env.clients.machineLearning(SUB).workspaces.beginUpdateAndWait(
      RG,
      body.name,
      { publicNetworkAccess: "Disabled" },
      {
        ...lro,
        onResponse: rec.onResponse,
      },
    );
    const first = rec.first("PATCH");
    expect(f.responses.update!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "update"), first?.body)).toEqual([]);
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
    expect(after.body.properties.publicNetworkAccess).toBe("Disabled");
  });
});

describe("ML online endpoint (OnlineEndpoints_Get / OnlineEndpoints_CreateOrUpdate)", () => {
  const f = fixtures.endpoint;
  const body = expectedBody(f, "get");
  const ws = body.id.split("/")[8];

  it("GET over HTTPS keeps every field of the example", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
  });

  it("the SDK model carries what disable-public-network-access reads", async () => {
    const ep = await env.clients.machineLearning(SUB).onlineEndpoints.get(RG, ws, body.name);
    expect(ep.properties.publicNetworkAccess).toBe(body.properties.publicNetworkAccess);
    expect(provisioningStateOf(ep)).toBe("Succeeded");
    expect(tagsOf(ep)).toEqual(body.tags);
  });

  it("GET + PUT of the whole endpoint answers its shape and loses no server-owned field", async () => {
    const client = env.clients.machineLearning(SUB).onlineEndpoints;
    const endpoint = await client.get(RG, ws, body.name);
    const rec = responseRecorder();
    await client.beginCreateOrUpdateAndWait(
      RG,
      ws,
      body.name,
      { ...endpoint, properties: { ...endpoint.properties, publicNetworkAccess: "Disabled" } },
      { ...lro, onResponse: rec.onResponse },
    );
    const first = rec.first("PUT");
    expect(f.responses.createOrUpdate!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "createOrUpdate"), first?.body)).toEqual([]);
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
    expect(after.body.properties.publicNetworkAccess).toBe("Disabled");
    expect(after.body.properties.scoringUri).toBe(body.properties.scoringUri);
  });
});

describe("AML compute (Compute_Get / Compute_Update)", () => {
  const f = fixtures.compute;
  const body = expectedBody(f, "get");
  const ws = body.id.split("/")[8];
  const scale = body.properties.properties.scaleSettings;

  it("GET over HTTPS keeps every field of the example", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
  });

  it("the SDK model (get and list) carries what scale-gpu-pool reads, nested twice", async () => {
    const ml = env.clients.machineLearning(SUB);
    const direct = await ml.computeOperations.get(RG, ws, body.name);
    const listed = [];
    for await (const c of ml.computeOperations.list(RG, ws)) listed.push(c);
    expect(listed.map((c) => c.id)).toEqual([body.id]);
    for (const compute of [direct, listed[0]!]) {
      expect(at(compute, "properties.computeType")).toBe("AmlCompute");
      expect(at(compute, "properties.properties.vmSize")).toBe(body.properties.properties.vmSize);
      expect(at(compute, "properties.properties.scaleSettings")).toEqual(scale);
      expect(tagsOf(compute)).toEqual(body.tags);
    }
  });

  it("PATCH scaleSettings answers the example's shape and keeps every field", async () => {
    const rec = responseRecorder();
    await env.clients
      .machineLearning(SUB)
      .computeOperations.beginUpdateAndWait(
        RG,
        ws,
        body.name,
        { properties: { scaleSettings: { ...scale, maxNodeCount: 2 } } },
        { ...lro, onResponse: rec.onResponse },
      );
    const first = rec.first("PATCH");
    expect(f.responses.update!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "update"), first?.body)).toEqual([]);
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
    expect(after.body.properties.properties.scaleSettings).toEqual({ ...scale, maxNodeCount: 2 });
  });
});

describe("Storage account (GetProperties / Update / ListKeys / RegenerateKey)", () => {
  const f = fixtures.storage;
  const body = expectedBody(f, "get");
  const storage = () => env.clients.storage(SUB).storageAccounts;

  it("GET over HTTPS keeps every field of the example", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
  });

  it("the SDK model carries what disable-public-network-access reads", async () => {
    const acct = await storage().getProperties(RG, body.name);
    expect(acct.publicNetworkAccess).toBe(body.properties.publicNetworkAccess);
    expect(acct.allowBlobPublicAccess).toBe(body.properties.allowBlobPublicAccess);
    expect(provisioningStateOf(acct)).toBe("Succeeded");
    expect(tagsOf(acct)).toEqual(body.tags);
  });

  it("PATCH publicNetworkAccess + allowBlobPublicAccess answers the example's shape", async () => {
    const rec = responseRecorder();
    const result = await storage().update(
      RG,
      body.name,
      { publicNetworkAccess: "Disabled", allowBlobPublicAccess: false },
      { onResponse: rec.onResponse },
    );
    const first = rec.first("PATCH");
    expect(f.responses.update!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "update"), first?.body)).toEqual([]);
    expect([result.publicNetworkAccess, result.allowBlobPublicAccess]).toEqual(["Disabled", false]);
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
  });

  it("listKeys and regenerateKey answer the examples' shape; the SDK finds the key by name", async () => {
    const listed = await raw("POST", `${body.id}/listKeys`, f.sdk.apiVersion);
    expect(f.responses.listKeys!.status).toContain(listed.status);
    expect(shapeProblems(expectedBody(f, "listKeys"), listed.body)).toEqual([]);
    const regenerated = await raw("POST", `${body.id}/regenerateKey`, f.sdk.apiVersion, { keyName: "key2" });
    expect(f.responses.regenerateKey!.status).toContain(regenerated.status);
    expect(shapeProblems(expectedBody(f, "regenerateKey"), regenerated.body)).toEqual([]);
    const viaSdk = await storage().regenerateKey(RG, body.name, { keyName: "key1" });
    const key1 = viaSdk.keys?.find((k) => k.keyName?.toLowerCase() === "key1")?.value;
    expect(key1).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const relisted = await storage().listKeys(RG, body.name);
    expect(relisted.keys?.find((k) => k.keyName === "key1")?.value).toBe(key1);
  });
});

describe("Key Vault vault (Vaults_Get / Vaults_Update)", () => {
  const f = fixtures.vault;
  const body = expectedBody(f, "get");

  it("GET over HTTPS keeps every field of the example", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
  });

  it("the SDK model carries what disable-public-network-access reads", async () => {
    const vault = await env.clients.keyVaultManagement(SUB).vaults.get(RG, body.name);
    expect(vault.properties?.publicNetworkAccess).toBe(body.properties.publicNetworkAccess);
    expect(provisioningStateOf(vault)).toBe("Succeeded");
    expect(tagsOf(vault)).toEqual(body.tags);
  });

  it("PATCH properties.publicNetworkAccess answers the example's shape", async () => {
    const rec = responseRecorder();
    const result = await env.clients.keyVaultManagement(SUB).vaults.update(
      RG,
      body.name,
      { properties: { publicNetworkAccess: "Disabled" } },
      {
        onResponse: rec.onResponse,
      },
    );
    const first = rec.first("PATCH");
    expect(f.responses.update!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "update"), first?.body)).toEqual([]);
    expect(result.properties?.publicNetworkAccess).toBe("Disabled");
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
  });
});

describe("Cognitive Services account (Accounts_Get / Update / ListKeys / RegenerateKey)", () => {
  const f = fixtures.cognitive;
  const body = expectedBody(f, "get");
  const accounts = () => env.clients.cognitiveServices(SUB).accounts;

  it("GET over HTTPS keeps every field of the example", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
  });

  it("the SDK model carries what disable-public-network-access reads", async () => {
    const acct = await accounts().get(RG, body.name);
    expect(acct.properties?.publicNetworkAccess).toBe(body.properties.publicNetworkAccess);
    expect(provisioningStateOf(acct)).toBe("Succeeded");
    expect(acct.etag).toMatch(/^W\/"/);
    expect(tagsOf(acct)).toEqual(body.tags);
  });

  it("PATCH properties.publicNetworkAccess answers the example's shape", async () => {
    const rec = responseRecorder();
    await accounts().beginUpdateAndWait(
      RG,
      body.name,
      { properties: { publicNetworkAccess: "Disabled" } },
      {
        ...lro,
        onResponse: rec.onResponse,
      },
    );
    const first = rec.first("PATCH");
    expect(f.responses.update!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "update"), first?.body)).toEqual([]);
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
    expect(after.body.properties.publicNetworkAccess).toBe("Disabled");
  });

  it("listKeys and regenerateKey answer the examples' shape; the SDK reads key1/key2", async () => {
    const listed = await raw("POST", `${body.id}/listKeys`, f.sdk.apiVersion);
    expect(f.responses.listKeys!.status).toContain(listed.status);
    expect(shapeProblems(expectedBody(f, "listKeys"), listed.body)).toEqual([]);
    const regenerated = await raw("POST", `${body.id}/regenerateKey`, f.sdk.apiVersion, { keyName: "Key2" });
    expect(f.responses.regenerateKey!.status).toContain(regenerated.status);
    expect(shapeProblems(expectedBody(f, "regenerateKey"), regenerated.body)).toEqual([]);
    const viaSdk = await accounts().regenerateKey(RG, body.name, "Key1");
    expect(viaSdk.key1).toMatch(/^[0-9a-f]{32}$/);
    expect((await accounts().listKeys(RG, body.name)).key1).toBe(viaSdk.key1);
  });
});
