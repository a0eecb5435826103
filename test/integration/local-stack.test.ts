/**
 * Foundation, end to end over the running local stack: real HTTP into the local functions host,
 * real SDK clients against the HTTPS simulator, audit records in the embedded Cosmos DB.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { armWriteEvent, startTestStack, TEST_SUB, type TestStack } from "../helpers/stack.js";

const RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-ai`;
const P = `${RG}/providers`;
const WS = `${P}/Microsoft.MachineLearningServices/workspaces/mlw-it`;
const EP = `${WS}/onlineEndpoints/ep-it`;
const ST = `${P}/Microsoft.Storage/storageAccounts/stit001`;
const KV = `${P}/Microsoft.KeyVault/vaults/kv-it`;
const OAI = `${P}/Microsoft.CognitiveServices/accounts/oai-it`;
const ST_DUP = `${P}/Microsoft.Storage/storageAccounts/stdup001`;
const ST_EXCLUDED = `${P}/Microsoft.Storage/storageAccounts/stoptout001`;
const APPROVAL_RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-approval`;
const ST_APPROVAL = `${APPROVAL_RG}/providers/Microsoft.Storage/storageAccounts/stapproval001`;
const DRYRUN_RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-dryrun`;
const ST_DRYRUN = `${DRYRUN_RG}/providers/Microsoft.Storage/storageAccounts/stdryrun001`;

function storage(id: string, tags: Record<string, string> = {}) {
  return {
    id,
    name: id.split("/").pop()!,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags,
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true, minimumTlsVersion: "TLS1_2" },
  };
}

const seed: Seed = {
  resources: [
    {
      id: WS,
      name: "mlw-it",
      type: "Microsoft.MachineLearningServices/workspaces",
      location: "westeurope",
      tags: { env: "test" },
      identity: { type: "SystemAssigned" },
      sku: { name: "Basic", tier: "Basic" },
      properties: { friendlyName: "mlw-it", publicNetworkAccess: "Enabled", hbiWorkspace: false },
    },
    {
      id: EP,
      name: "ep-it",
      type: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
      location: "westeurope",
      tags: {},
      identity: { type: "SystemAssigned" },
      properties: {
        authMode: "Key",
        publicNetworkAccess: "Enabled",
        description: "chat endpoint",
        traffic: { blue: 100 },
      },
    },
    storage(ST),
    storage(ST_DUP),
    storage(ST_EXCLUDED, { "driftguard:exclude": "true" }),
    storage(ST_APPROVAL),
    storage(ST_DRYRUN),
    {
      id: KV,
      name: "kv-it",
      type: "Microsoft.KeyVault/vaults",
      location: "westeurope",
      tags: {},
      properties: {
        tenantId: "11111111-2222-3333-4444-555555555555",
        sku: { family: "A", name: "standard" },
        enableRbacAuthorization: true,
        publicNetworkAccess: "Enabled",
      },
    },
    {
      id: OAI,
      name: "oai-it",
      type: "Microsoft.CognitiveServices/accounts",
      kind: "OpenAI",
      location: "swedencentral",
      sku: { name: "S0" },
      tags: {},
      properties: { customSubDomainName: "oai-it", publicNetworkAccess: "Enabled" },
    },
  ],
};

const policyYaml = `
version: 1
policies:
  - name: approval-rg-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: approval
    scope: [${APPROVAL_RG}]
  - name: dryrun-rg-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: dry-run
    scope: [${DRYRUN_RG}]
  - name: ai-services-private
    resourceTypes:
      - Microsoft.MachineLearningServices/workspaces
      - Microsoft.MachineLearningServices/workspaces/onlineEndpoints
      - Microsoft.Storage/storageAccounts
      - Microsoft.KeyVault/vaults
      - Microsoft.CognitiveServices/accounts
    triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }]
    kind: disable-public-network-access
    mode: enforce
`;

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ seed, policyYaml });
});

afterAll(async () => {
  await stack?.close();
});

async function armGet(
  id: string,
): Promise<{ status: number; body: { properties?: Record<string, unknown> } }> {
  // Read back exactly as a person would: plain HTTPS GET against the simulator, any bearer token.
  const https = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${stack.azureUrl}${id}?api-version=2024-04-01`,
      { ca: stack.tls.cert, headers: { authorization: "Bearer anything" } },
      (res) => {
        let data = "";
        res.on("data", (c) => {
          data += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data || "{}") }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("Event Grid webhook", () => {
  const url = () =>
    `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${stack.functionKey}`;

  it("answers the Event Grid schema validation handshake", async () => {
    const res = await fetch(url(), {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "SubscriptionValidation" },
      body: JSON.stringify([
        {
          id: "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
          topic: `/subscriptions/${TEST_SUB}`,
          subject: "",
          data: {
            validationCode: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
            validationUrl: "https://rp-eastus2.eventgrid.azure.net/x",
          },
          eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
          eventTime: "2026-11-21T10:00:00Z",
          metadataVersion: "1",
          dataVersion: "2",
        },
      ]),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ validationResponse: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" });
  });

  it("answers the CloudEvents abuse-protection handshake", async () => {
    const res = await fetch(url(), {
      method: "OPTIONS",
      headers: { "WebHook-Request-Origin": "eventgrid.azure.net" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("webhook-allowed-origin")).toBe("eventgrid.azure.net");
  });

  it("refuses deliveries without the system key", async () => {
    const res = await fetch(url().replace(/code=[^&]+/, "code=wrong"), { method: "POST", body: "[]" });
    expect(res.status).toBe(401);
    const noKey = await fetch(url().replace(/&code=[^&]+/, ""), { method: "POST", body: "[]" });
    expect(noKey.status).toBe(401);
  });
});

describe("disable-public-network-access over the local stack", () => {
  it.each([
    ["ML workspace", WS],
    ["ML online endpoint", EP],
    ["Storage account", ST],
    ["Key Vault", KV],
    ["Azure OpenAI account", OAI],
  ])("%s ends Disabled with one remediated record", async (_label, id) => {
    const before = stack.sim.writes({ pathIncludes: id.split("/").pop()! }).length;
    const res = await stack.deliver([armWriteEvent(id)]);
    expect(res.status).toBe(200);
    const read = await armGet(id);
    expect(read.status).toBe(200);
    expect(String(read.body.properties?.publicNetworkAccess)).toMatch(/^disabled$/i);
    if (id === ST) expect(read.body.properties?.allowBlobPublicAccess).toBe(false);
    if (id === EP) expect(read.body.properties?.description).toBe("chat endpoint"); // the PUT kept the rest
    const records = await stack.audit({ resourceId: id });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      resourceId: id,
      kind: "disable-public-network-access",
      policy: "ai-services-private",
      outcome: "remediated",
      mode: "enforce",
      signal: { source: "eventgrid", type: "Microsoft.Resources.ResourceWriteSuccess" },
    });
    expect(records[0]!.changes).toContainEqual({
      path: "properties.publicNetworkAccess",
      from: "Enabled",
      to: "Disabled",
    });
    expect(stack.sim.writes({ pathIncludes: id.split("/").pop()! }).length).toBeGreaterThan(before);
  });

  it("records compliant and writes nothing when the resource is already private", async () => {
    const writes = stack.sim.writes({ pathIncludes: "mlw-it" }).length;
    const res = await stack.deliver([armWriteEvent(WS)]);
    expect(res.status).toBe(200);
    const records = await stack.audit({ resourceId: WS });
    expect(records[0]).toMatchObject({ outcome: "compliant" });
    expect(stack.sim.writes({ pathIncludes: "mlw-it" }).length).toBe(writes);
  });

  it("five concurrent deliveries of one event yield one record and one write", async () => {
    const event = armWriteEvent(ST_DUP);
    const responses = await Promise.all(Array.from({ length: 5 }, () => stack.deliver([event])));
    for (const r of responses) expect(r.status).toBe(200);
    const records = await stack.audit({ resourceId: ST_DUP });
    expect(records).toHaveLength(1);
    expect(records[0]!.outcome).toBe("remediated");
    expect(stack.sim.writes({ pathIncludes: "stdup001" })).toHaveLength(1);
    // A later redelivery of the same event is still a duplicate.
    expect((await stack.deliver([event])).status).toBe(200);
    expect(await stack.audit({ resourceId: ST_DUP })).toHaveLength(1);
  });

  it("the opt-out tag yields excluded and no write", async () => {
    expect((await stack.deliver([armWriteEvent(ST_EXCLUDED)])).status).toBe(200);
    const records = await stack.audit({ resourceId: ST_EXCLUDED });
    expect(records.map((r) => r.outcome)).toEqual(["excluded"]);
    expect(stack.sim.writes({ pathIncludes: "stoptout001" })).toHaveLength(0);
    expect((await armGet(ST_EXCLUDED)).body.properties?.publicNetworkAccess).toBe("Enabled");
  });

  it("approval mode yields pending-approval with the planned changes and no write", async () => {
    expect((await stack.deliver([armWriteEvent(ST_APPROVAL)])).status).toBe(200);
    const records = await stack.audit({ resourceId: ST_APPROVAL });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      outcome: "pending-approval",
      mode: "approval",
      policy: "approval-rg-private",
    });
    expect(records[0]!.changes).toContainEqual({
      path: "properties.publicNetworkAccess",
      from: "Enabled",
      to: "Disabled",
    });
    expect(stack.sim.writes({ pathIncludes: "stapproval001" })).toHaveLength(0);
  });

  it("dry-run yields dry-run with the exact changes and no write (checked in the request log)", async () => {
    expect((await stack.deliver([armWriteEvent(ST_DRYRUN)])).status).toBe(200);
    const records = await stack.audit({ resourceId: ST_DRYRUN });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ outcome: "dry-run", mode: "dry-run" });
    expect(records[0]!.changes).toEqual([
      { path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" },
      { path: "properties.allowBlobPublicAccess", from: true, to: false },
    ]);
    const log = stack.sim.requests({ pathIncludes: "stdryrun001" });
    expect(log.length).toBeGreaterThan(0); // it did read the current state
    expect(log.filter((r) => r.method !== "GET")).toHaveLength(0);
  });
});

describe("bad input", () => {
  it("rejects a batch with one malformed event whole, naming the field, and applies nothing", async () => {
    const good = armWriteEvent(`${P}/Microsoft.Storage/storageAccounts/stnever001`);
    const bad = armWriteEvent(OAI);
    (bad.data as Record<string, unknown>).resourceUri =
      `/subscriptions/${TEST_SUB}/resourceGroups/../providers/x`;
    const writes = stack.sim.writes().length;
    const res = await stack.deliver([good, bad]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; path: string } };
    expect(body.error.path).toBe("[1].data.resourceUri");
    expect(body.error.message).toMatch(/\.\./);
    expect(stack.sim.writes().length).toBe(writes);
  });

  it("rejects non-JSON and oversized bodies", async () => {
    const notJson = await stack.deliver("{not json");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe("InvalidJson");
    const big = await stack.deliver(`[${" ".repeat(1_100_000)}]`);
    expect(big.status).toBe(413);
  });

  it("alerts: a payload of the wrong schema is a 400 naming schemaId; no key is a 401", async () => {
    const res = await stack.alert({ schemaId: "something-else", data: {} });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { path: string } }).error.path).toBe("schemaId");
    const noKey = await fetch(`${stack.functionsUrl}/api/alerts`, { method: "POST", body: "{}" });
    expect(noKey.status).toBe(401);
  });

  it("audit: invalid parameters are a 400 naming the parameter", async () => {
    for (const [param, value] of [
      ["limit", "5000"],
      ["outcome", "nuked"],
      ["resourceId", "' OR 1=1 --"],
    ]) {
      const res = await fetch(`${stack.functionsUrl}/api/audit?${param}=${encodeURIComponent(value!)}`, {
        headers: { "x-functions-key": stack.functionKey },
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { path: string } }).error.path).toBe(param);
    }
  });
});

describe("health", () => {
  it("is anonymous and reveals nothing but readiness", async () => {
    const res = await fetch(`${stack.functionsUrl}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("the audit trail holds no personal claims", () => {
  it("stores the caller only as a pseudonymous ID", async () => {
    const all = JSON.stringify(await stack.audit());
    expect(all).not.toContain("Fox Mulder");
    expect(all).not.toContain("fox.mulder@contoso.example");
    expect(all).not.toContain("198.51.100.77");
    expect(all).not.toContain("6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d");
  });
});
