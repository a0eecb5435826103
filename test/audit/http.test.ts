/**
 * The audit trail end to end over the local stack: real ARM events (with personal claims) through the
 * Event Grid webhook, records in the embedded Cosmos DB, read back through GET /api/audit and raw
 * from Cosmos with the real SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { createCosmosClient } from "../../shared/cosmos/client.js";
import { armWriteEvent, startTestStack, TEST_SUB, type TestStack } from "../helpers/stack.js";

const RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-audit`;
const NSG = `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-audit`;
const RULE = `${NSG}/securityRules/allow-ssh-any`;
const ST = `${RG}/providers/Microsoft.Storage/storageAccounts/staudit001`;
const PERSONAL = [
  "Fox Mulder",
  "fox.mulder@contoso.example",
  "198.51.100.77",
  "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d",
];

const seed: Seed = {
  resources: [
    {
      id: NSG,
      name: "nsg-audit",
      type: "Microsoft.Network/networkSecurityGroups",
      location: "westeurope",
      tags: {},
      properties: {
        securityRules: [
          {
            id: RULE,
            name: "allow-ssh-any",
            type: "Microsoft.Network/networkSecurityGroups/securityRules",
            properties: {
              access: "Allow",
              direction: "Inbound",
              priority: 100,
              protocol: "Tcp",
              sourceAddressPrefix: "0.0.0.0/0",
              sourcePortRange: "*",
              destinationAddressPrefix: "10.20.0.0/16",
              destinationPortRange: "22",
            },
          },
        ],
      },
    },
    {
      id: ST,
      name: "staudit001",
      type: "Microsoft.Storage/storageAccounts",
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      tags: {},
      properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
    },
  ],
};

const policyYaml = `
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
  - name: no-internet-inbound
    resourceTypes: [Microsoft.Network/networkSecurityGroups/securityRules]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: close-internet-inbound-rule
`;

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ seed, policyYaml });
  for (const id of [RULE, ST]) {
    const res = await stack.deliver([armWriteEvent(id)]);
    expect(res.status).toBeLessThan(300);
  }
  // A second, compliant pass on the storage account: a second record in its chain.
  expect((await stack.deliver([armWriteEvent(ST)])).status).toBeLessThan(300);
});

afterAll(async () => {
  await stack?.close();
});

const get = (qs: string, headers: Record<string, string> = {}) =>
  fetch(`${stack.functionsUrl}/api/audit?${qs}`, {
    headers: { "x-functions-key": stack.functionKey, ...headers },
  });

describe("GET /api/audit over the local stack", () => {
  it("returns the records newest first, filtered, and verifiable", async () => {
    const all = await stack.audit();
    expect(all.map((r) => [r.resourceId, r.outcome])).toEqual([
      [ST, "compliant"],
      [ST, "remediated"],
      [RULE, "remediated"],
    ]);
    const rule = (
      await stack.audit({ resourceId: RULE, kind: "close-internet-inbound-rule", outcome: "remediated" })
    )[0]!;
    expect(rule.policy).toBe("no-internet-inbound");
    expect(JSON.stringify(rule.changes)).toContain("0.0.0.0/0");
    expect(rule.signal.caller?.id).toMatch(/^p-[0-9a-f]{24}$/);
    expect(await stack.audit({ subscriptionId: TEST_SUB, policy: "storage-private" })).toHaveLength(2);
    expect(await stack.runtime.stores.audit.verify()).toEqual({ chains: 2, records: 3, breaks: [] });
  });

  it("pages with limit and continuation tokens, visiting every record once", async () => {
    const seen: AuditRecord[] = [];
    let token: string | null = null;
    do {
      const res: Response = await get(
        `limit=1${token ? `&continuationToken=${encodeURIComponent(token)}` : ""}`,
      );
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: AuditRecord[]; continuationToken: string | null };
      expect(page.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.items);
      token = page.continuationToken;
    } while (token);
    expect(seen.map((r) => r.id)).toEqual((await stack.audit()).map((r) => r.id));
  });

  it("answers CSV", async () => {
    const res = await get(`format=csv&resourceId=${encodeURIComponent(ST)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (await res.text()).split("\r\n");
    expect(lines[0]).toMatch(/^id,time,subscriptionId,resourceId,resourceType,signal\.source/);
    expect(lines.filter((l) => l.includes(ST))).toHaveLength(2);
  });

  it.each([
    ["resourceId=' OR 1=1 --", "resourceId"],
    [`resourceId=${encodeURIComponent(`${ST}' OR 1=1 --`)}`, "resourceId"],
    ["subscriptionId=1 OR 1=1", "subscriptionId"],
    ["outcome=remediated%27%20OR%20%271%27=%271", "outcome"],
    ["limit=5000", "limit"],
    ["continuationToken=forged", "continuationToken"],
    ["select=*", "select"],
  ])("400 for %s, naming %s, never reaching SQL", async (qs, path) => {
    const res = await get(qs);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; path: string } };
    expect(body.error.path).toBe(path);
  });

  it("stores no personal claim from the events: raw Cosmos documents hold none of them", async () => {
    const client = createCosmosClient({
      endpoint: stack.cosmosUrl,
      key: stack.cosmosKey,
      ca: stack.tls.cert,
    });
    try {
      const { resources: dbs } = await client.databases.readAll().fetchAll();
      let raw = "";
      for (const db of dbs) {
        for (const c of ["audit", "approvals", "counters"]) {
          const { resources } = await client
            .database(db.id)
            .container(c)
            .items.query("SELECT * FROM c")
            .fetchAll();
          raw += JSON.stringify(resources);
        }
      }
      expect(raw).toContain("allow-ssh-any");
      for (const s of PERSONAL) expect(raw).not.toContain(s);
    } finally {
      client.dispose();
    }
  });
});
