/**
 * The simulator's Resource Graph (`POST /providers/Microsoft.ResourceGraph/resources`): the KQL subset,
 * paging with $top/$skipToken, `subscriptions` in the body, `resultTruncated`, the quota headers and
 * the 429, and a 400 for anything it cannot run — over plain HTTPS, as Resource Graph answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureSimulator, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { armResource } from "../helpers/seed.js";
import { call, tls } from "./helpers.js";

const S1 = "00000000-0000-0000-0000-0000000000a1";
const S2 = "00000000-0000-0000-0000-0000000000b2";
let sim: AzureSimulator;
let ca: string;
let caller = 0;

const storage = (sub: string, n: number, pna: string) =>
  armResource(
    `/subscriptions/${sub}/resourceGroups/RG-Data/providers/Microsoft.Storage/storageAccounts/st${String(n).padStart(3, "0")}`,
    {
      tags: n % 2 ? { env: "prod" } : {},
      properties: { publicNetworkAccess: pna },
    },
  );

beforeAll(async () => {
  const t = await tls();
  ca = t.cert;
  sim = await startAzureSimulator({
    port: 0,
    tls: t,
    seed: {
      resources: [
        ...Array.from({ length: 25 }, (_, i) => storage(S1, i, i < 5 ? "Enabled" : "Disabled")),
        ...Array.from({ length: 5 }, (_, i) => storage(S2, 100 + i, "Enabled")),
        armResource(
          `/subscriptions/${S2}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg1`,
          {
            properties: {
              securityRules: [{ name: "r1", properties: { access: "Allow", direction: "Inbound" } }],
            },
          },
        ),
      ],
    },
  });
});
afterAll(() => sim?.close());

/** Each test asks as its own caller (its own quota), unless it says otherwise. */
function query(body: unknown, who = `caller-${++caller}`) {
  return call(
    `${sim.url}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`,
    ca,
    "POST",
    body,
    {
      authorization: `Bearer ${who}`,
    },
  );
}

describe("simulated Resource Graph", () => {
  it("answers the sweep's query page by page with $skipToken, ordered by id", async () => {
    const q =
      "resources | where type in~ ('microsoft.storage/storageaccounts') | project id, type, properties, tags | order by id asc";
    const who = "pager";
    const first = await query({ query: q, options: { $top: 12, resultFormat: "objectArray" } }, who);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ totalRecords: 30, count: 12, resultTruncated: "false" });
    expect(Object.keys(first.body.data[0]).sort()).toEqual(["id", "properties", "tags", "type"]);
    expect(first.body.data[0].type).toBe("microsoft.storage/storageaccounts");
    const ids: string[] = first.body.data.map((r: { id: string }) => r.id);
    let token = first.body.$skipToken;
    while (token) {
      const next = await query({ query: q, options: { $top: 12, $skipToken: token } }, who);
      expect(next.status).toBe(200);
      ids.push(...next.body.data.map((r: { id: string }) => r.id));
      token = next.body.$skipToken;
    }
    expect(ids).toHaveLength(30);
    expect([...ids].sort()).toEqual(ids);
    expect(first.headers["x-ms-user-quota-remaining"]).toBe("14");
    expect(first.headers["x-ms-user-quota-resets-after"]).toMatch(/^00:00:0[0-5]$/);
  });

  it("filters by the body's subscriptions and by where clauses on properties and tags", async () => {
    const inS2 = await query({ subscriptions: [S2], query: "resources | project id, subscriptionId" });
    expect(inS2.body.totalRecords).toBe(6);
    expect(inS2.body.data.every((r: { subscriptionId: string }) => r.subscriptionId === S2)).toBe(true);
    const open = await query({
      query:
        "resources | where type =~ 'Microsoft.Storage/storageAccounts' and properties.publicNetworkAccess !~ 'disabled' and tags['env'] == 'prod' | project id",
    });
    expect(open.body.totalRecords).toBe(4); // the open, prod-tagged ones: st001, st003 (S1), st101, st103 (S2)
    const nsg = await query({
      query: "resources | where type == 'microsoft.network/networksecuritygroups' | project properties",
    });
    expect(nsg.body.data[0].properties.securityRules[0]).toMatchObject({
      name: "r1",
      properties: { access: "Allow" },
    });
  });

  it("gives no $skipToken when the query limits its rows (resultTruncated instead)", async () => {
    const r = await query({ query: "resources | take 20", options: { $top: 5 } });
    expect(r.body).toMatchObject({ count: 5, totalRecords: 20, resultTruncated: "true" });
    expect(r.body.$skipToken).toBeUndefined();
  });

  it("answers 400 as Resource Graph does for what it cannot run", async () => {
    for (const q of [
      "resources | summarize count() by type",
      "resourcecontainers | project id",
      "resources | where properties.x > 3",
      "resources | project nosuchcolumn",
      "resources | where type in~ ('a'",
    ]) {
      const r = await query({ query: q });
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe("BadRequest");
      expect(r.body.error.details[0].code).toBe("InvalidQuery");
    }
    expect((await query({ query: "resources", options: { $top: 1001 } })).status).toBe(400);
    expect((await query({ query: "resources", options: { $skipToken: "bogus" } })).status).toBe(400);
    expect((await query({ nothing: true })).status).toBe(400);
  });

  it("throttles a caller after 15 queries in 5 s: 429 with Retry-After and the quota headers", async () => {
    const who = "busy-caller";
    for (let i = 0; i < 15; i++)
      expect((await query({ query: "resources | project id" }, who)).status).toBe(200);
    const r = await query({ query: "resources | project id" }, who);
    expect(r.status).toBe(429);
    expect(Number(r.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(r.headers["x-ms-user-quota-remaining"]).toBe("0");
    // Another caller is not affected.
    expect((await query({ query: "resources | project id" })).status).toBe(200);
  });

  it("is a read: queries are not in the simulator's writes", async () => {
    sim.clearRequests();
    await query({ query: "resources | project id" });
    expect(sim.requests({ pathIncludes: "Microsoft.ResourceGraph" })).toHaveLength(1);
    expect(sim.writes()).toEqual([]);
  });
});

describe("simulated Resource Graph's resources table", () => {
  it("holds top-level resources with their kind, not what Azure keeps elsewhere (settings, config/web, blob services, APIM APIs)", async () => {
    const rg = `/subscriptions/${S1}/resourceGroups/rg-tables/providers`;
    const account = `${rg}/Microsoft.Storage/storageAccounts/sttables`;
    const site = `${rg}/Microsoft.Web/sites/func-tables`;
    const apim = `${rg}/Microsoft.ApiManagement/service/apim-tables`;
    const t = await tls();
    const own = await startAzureSimulator({
      port: 0,
      tls: t,
      seed: {
        resources: [
          armResource(account, { kind: "StorageV2", properties: {} }),
          armResource(`${account}/blobServices/default`, { properties: { isVersioningEnabled: true } }),
          {
            id: `${account}/blobServices/default/providers/Microsoft.Insights/diagnosticSettings/ds`,
            name: "ds",
            type: "Microsoft.Insights/diagnosticSettings",
            properties: { workspaceId: "x", logs: [] },
          },
          armResource(site, { kind: "functionapp", properties: { httpsOnly: true } }),
          armResource(`${site}/config/web`, { properties: { minTlsVersion: "1.2" } }),
          armResource(apim, { properties: {} }),
          armResource(`${apim}/apis/chat`, { properties: { subscriptionRequired: false } }),
        ],
      },
    });
    try {
      const r = await call(
        `${own.url}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`,
        t.cert,
        "POST",
        { query: "resources | project id, type, kind | order by id asc" },
        { authorization: "Bearer tables" },
      );
      expect(r.status).toBe(200);
      expect(r.body.data).toEqual([
        { id: apim, type: "microsoft.apimanagement/service", kind: "" },
        { id: account, type: "microsoft.storage/storageaccounts", kind: "StorageV2" },
        { id: site, type: "microsoft.web/sites", kind: "functionapp" },
      ]);
    } finally {
      await own.close();
    }
  });
});
