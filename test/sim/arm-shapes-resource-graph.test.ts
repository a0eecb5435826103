/**
 * The simulator's Resource Graph (`POST /providers/Microsoft.ResourceGraph/resources`) against the
 * answers of the REST API spec's examples: `totalRecords`/`count` numbers, `resultTruncated` a string,
 * `facets`, `$skipToken`, `data` as an object array with the type lower-cased; a `limit` query has no
 * token; a token carries the page size and `$skip`/`$top` beside it override it; what the `resources`
 * table holds. Then driftguard's own client (shared/azure/resource-graph.ts) pages through it.
 */
import { describe, expect, it } from "vitest";
import { buildQuery } from "../../shared/sweep/select.js";
import { expectedBody, loadShapeFixture, shapeProblems } from "./arm-shapes.js";
import { call } from "./helpers.js";
import { renamed, useShapeSimulator } from "./shape-sim.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const OTHER_SUB = "00000000-0000-0000-0000-000000000002";
const f = loadShapeFixture("resource-graph");
const cognitive = expectedBody(loadShapeFixture("cognitive-account"), "get");
const vault = expectedBody(loadShapeFixture("key-vault"), "get");
const account = expectedBody(loadShapeFixture("storage-account"), "get");
const workspace = expectedBody(loadShapeFixture("ml-workspace"), "get");
const endpoint = expectedBody(loadShapeFixture("ml-online-endpoint"), "get");
const cosmos = expectedBody(loadShapeFixture("cosmos-account"), "get");
const setting = expectedBody(loadShapeFixture("diagnostic-setting"), "get");
const site = expectedBody(loadShapeFixture("web-site"), "getSite");
const siteConfig = expectedBody(loadShapeFixture("web-site"), "getConfig");

const { env } = useShapeSimulator(() => [
  cognitive,
  vault,
  account,
  workspace,
  endpoint,
  cosmos,
  setting,
  site,
  siteConfig,
  renamed(account, SUB, OTHER_SUB),
]);
let caller = 0;

/** One query as its own caller (Resource Graph's quota is per caller). */
function query(body: unknown) {
  return call(
    `${env.sim.url}/providers/Microsoft.ResourceGraph/resources?api-version=${f.sdk.apiVersion}`,
    env.tls.cert,
    "POST",
    body,
    { authorization: `Bearer rg-shapes-${++caller}` },
  );
}

const PAGED =
  "Resources | where type !in~ ('microsoft.documentdb/databaseaccounts', 'microsoft.web/sites') | project id, name, type, location";

describe("Resource Graph answers (the Resources operation at 2022-10-01)", () => {
  it("a basic query with limit answers the example's shape: numbers, a string resultTruncated, no $skipToken", async () => {
    const res = await query({
      subscriptions: [SUB],
      query: "Resources | project id, name, type, location, tags | order by id asc | limit 3",
    });
    expect(f.responses.basicQuery!.status).toContain(res.status);
    expect(shapeProblems(expectedBody(f, "basicQuery"), res.body)).toEqual([]);
    expect(res.body).toMatchObject({ totalRecords: 3, count: 3, resultTruncated: "false", facets: [] });
    expect(res.body.$skipToken).toBeUndefined();
    for (const row of res.body.data) expect(row.type).toBe(row.type.toLowerCase());
    expect(Object.keys(res.body.data[0]).sort()).toEqual(["id", "location", "name", "tags", "type"]);
  });

  it("a first page with $top/$skip and the next page with only the $skipToken keep the examples' shape and page size", async () => {
    const first = await query({ subscriptions: [SUB], query: PAGED, options: { $top: 2, $skip: 0 } });
    expect(shapeProblems(expectedBody(f, "firstPage"), first.body)).toEqual([]);
    expect(first.body).toMatchObject({ totalRecords: 5, count: 2, resultTruncated: "false" });
    expect(typeof first.body.$skipToken).toBe("string");
    // The token carries the page size: the next page is 2 rows again, not $top's default.
    const next = await query({
      subscriptions: [SUB],
      query: PAGED,
      options: { $skipToken: first.body.$skipToken },
    });
    expect(shapeProblems(expectedBody(f, "nextPage"), next.body)).toEqual([]);
    expect(next.body).toMatchObject({ totalRecords: 5, count: 2, resultTruncated: "false" });
    const last = await query({
      subscriptions: [SUB],
      query: PAGED,
      options: { $skipToken: next.body.$skipToken },
    });
    expect(last.body).toMatchObject({ totalRecords: 5, count: 1, resultTruncated: "false" });
    expect(last.body.$skipToken).toBeUndefined();
    const ids = [...first.body.data, ...next.body.data, ...last.body.data].map((r: { id: string }) => r.id);
    expect(new Set(ids).size).toBe(5);
  });

  it("$skip and $top beside a $skipToken override the token's offset and page size", async () => {
    const first = await query({ subscriptions: [SUB], query: PAGED, options: { $top: 1 } });
    const all = await query({ subscriptions: [SUB], query: PAGED });
    const skipped = await query({
      subscriptions: [SUB],
      query: PAGED,
      options: { $skipToken: first.body.$skipToken, $skip: 3, $top: 5 },
    });
    expect(skipped.body.data).toEqual(all.body.data.slice(3));
    expect(skipped.body).toMatchObject({ count: 2, totalRecords: 5 });
  });

  it("holds resources, not extension resources or a site's config: no diagnostic settings, no config/web", async () => {
    const settings = await query({
      query: "resources | where type =~ 'microsoft.insights/diagnosticsettings' | project id",
    });
    expect(settings.body).toMatchObject({ totalRecords: 0, count: 0, data: [] });
    const everything = await query({ query: "resources | project id" });
    const ids = everything.body.data.map((r: { id: string }) => r.id);
    expect(ids).not.toContain(setting.id);
    expect(ids).not.toContain(siteConfig.id);
    expect(ids).toEqual(expect.arrayContaining([vault.id, site.id]));
  });
});

describe("driftguard's Resource Graph client against it", () => {
  it("pages the sweep's query to the end, scoped to the subscriptions asked for, with ARM's properties", async () => {
    const graph = env.clients.resourceGraph();
    const q = buildQuery(["microsoft.storage/storageaccounts", "microsoft.keyvault/vaults"]);
    const rows: Record<string, unknown>[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await graph.queryPage({ query: q, subscriptions: [SUB], top: 1, skipToken: token });
      expect(page).toMatchObject({ totalRecords: 2, resultTruncated: false });
      rows.push(...page.rows);
      token = page.skipToken;
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(rows.map((r) => r.id)).toEqual([account.id, vault.id].sort());
    const st = rows.find((r) => r.id === account.id)!;
    expect(st).toMatchObject({
      type: "microsoft.storage/storageaccounts",
      subscriptionId: SUB,
      resourceGroup: "rg-arm-shapes",
      tags: account.tags,
      properties: { publicNetworkAccess: account.properties.publicNetworkAccess },
    });
  });
});
