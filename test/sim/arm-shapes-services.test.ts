/**
 * The simulator against real ARM shapes for the services this round's kinds write: Cosmos DB
 * accounts (asynchronous PATCH), App Service sites and their `…/config/web`, and API Management
 * APIs, products, product policies and product APIs (plus a subscription's `scope` PATCH). Same
 * method as arm-shapes.test.ts: seed each fixture, read it back raw and through the pinned SDK
 * client as driftguard reads it, write it as driftguard writes it (the kinds themselves included).
 */
import { describe, expect, it } from "vitest";
import { provisioningStateOf, tagsOf } from "../../shared/remediations/arm-helpers.js";
import { remediation as disableLocalAuth } from "../../shared/remediations/disable-local-auth/kind.js";
import { remediation as requireApiSubscription } from "../../shared/remediations/require-api-subscription/kind.js";
import { remediation as requireSecureTransport } from "../../shared/remediations/require-secure-transport/kind.js";
import { kindContext, runKind } from "../remediations/kind-run.js";
import { armSignal } from "../remediations/resource-fixtures.js";
import {
  expectedBody,
  loadShapeFixture,
  responseRecorder,
  seedResource,
  shapeProblems,
  withoutFields,
} from "./arm-shapes.js";
import { renamed, shapePolicy, useShapeSimulator } from "./shape-sim.js";

const RG = "rg-arm-shapes";
const SUB = "00000000-0000-0000-0000-000000000001";
const cosmosFixture = loadShapeFixture("cosmos-account");
const siteFixture = loadShapeFixture("web-site");
const apimFixture = loadShapeFixture("apim");
const apisFixture = loadShapeFixture("apim-apis-products");

const { env, raw } = useShapeSimulator(() => {
  const cosmos = expectedBody(cosmosFixture, "get");
  const site = expectedBody(siteFixture, "getSite");
  const config = expectedBody(siteFixture, "getConfig");
  return [
    cosmos,
    // A second account and site, for the kinds' own runs (the first ones are written by hand below).
    renamed(cosmos, "cosmos-shapes", "cosmos-kind"),
    site,
    config,
    renamed(site, "app-shapes", "app-kind"),
    renamed(config, "app-shapes", "app-kind"),
    expectedBody(apimFixture, "getService"),
    expectedBody(apimFixture, "getSubscription"),
    ...["getApi", "getProduct", "getProductPolicy"].map((name) => expectedBody(apisFixture, name)),
  ];
});
const lro = { updateIntervalInMs: 0 };

describe("Cosmos DB account (DatabaseAccounts_Get / DatabaseAccounts_Update, long-running)", () => {
  const f = cosmosFixture;
  const body = expectedBody(f, "get");
  const cosmos = () => env.clients.cosmosDb(SUB).databaseAccounts;

  it("GET over HTTPS keeps every field of the example (and no body etag, as the example)", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
    expect(res.body.etag).toBeUndefined();
  });

  it("the SDK model carries what disable-local-auth and require-secure-transport read", async () => {
    const acct = await cosmos().get(RG, body.name);
    expect([acct.disableLocalAuth, acct.minimalTlsVersion]).toEqual([
      body.properties.disableLocalAuth,
      body.properties.minimalTlsVersion,
    ]);
    expect(provisioningStateOf(acct)).toBe("Succeeded");
    expect(tagsOf(acct)).toEqual(body.tags);
  });

  it("PATCH answers 200 with the account and Azure-AsyncOperation; the change lands when polled", async () => {
    const rec = responseRecorder();
    const result = await cosmos().beginUpdateAndWait(
      RG,
      body.name,
      { disableLocalAuth: true, minimalTlsVersion: "Tls12" },
      { ...lro, onResponse: rec.onResponse },
    );
    const first = rec.first("PATCH");
    expect(f.responses.update!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "update"), first?.body)).toEqual([]);
    const patch = env.sim.requests({ method: "PATCH", pathIncludes: "/databaseAccounts/cosmos-shapes" });
    expect(patch).toHaveLength(1);
    expect([result.disableLocalAuth, result.minimalTlsVersion]).toEqual([true, "Tls12"]);
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
    expect(after.body.identity.principalId).toBe(body.identity.principalId);
    // The long-running answer as the wire shows it: 200, the account, and where to poll.
    const wire = await raw("PATCH", body.id, f.sdk.apiVersion, { tags: body.tags });
    expect(wire.status).toBe(200);
    expect(shapeProblems(expectedBody(f, "update"), wire.body)).toEqual([]);
    expect(wire.headers["azure-asyncoperation"]).toMatch(/^https:\/\/.+\?api-version=/);
  });

  it("disable-local-auth and require-secure-transport each end compliant from the example's state", async () => {
    const id = body.id.replace("cosmos-shapes", "cosmos-kind");
    const type = f.resourceType;
    const signal = () => armSignal(id, type, SUB);
    const keys = await runKind(
      disableLocalAuth,
      kindContext(disableLocalAuth, signal(), {
        policy: shapePolicy("disable-local-auth", [type]),
        clients: env.clients,
      }),
    );
    const tls = await runKind(
      requireSecureTransport,
      kindContext(requireSecureTransport, signal(), {
        policy: shapePolicy("require-secure-transport", [type]),
        clients: env.clients,
      }),
    );
    for (const run of [keys, tls]) {
      expect(run.plan.action).toBe("change");
      expect(run.verified).toEqual({ ok: true });
    }
    const after = await raw("GET", id, f.sdk.apiVersion);
    expect([after.body.properties.disableLocalAuth, after.body.properties.minimalTlsVersion]).toEqual([
      true,
      "Tls12",
    ]);
    expect(shapeProblems(renamed(body, "cosmos-shapes", "cosmos-kind"), after.body)).toEqual([]);
  });
});

describe("App Service site and config/web (WebApps_Get, _Update, _GetConfiguration, _UpdateConfiguration)", () => {
  const f = siteFixture;
  const site = expectedBody(f, "getSite");
  const config = expectedBody(f, "getConfig");
  const web = () => env.clients.appService(SUB).webApps;

  it("GET of the site and of its config/web over HTTPS keep every field of the examples", async () => {
    const res = await raw("GET", site.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(site, res.body)).toEqual([]);
    const cfg = await raw("GET", config.id, f.sdk.apiVersion);
    expect(cfg.status).toBe(200);
    expect(shapeProblems(config, cfg.body)).toEqual([]);
  });

  it("the SDK models carry what require-secure-transport reads", async () => {
    const s = await web().get(RG, site.name);
    expect([s.httpsOnly, tagsOf(s)]).toEqual([site.properties.httpsOnly, site.tags]);
    const c = await web().getConfiguration(RG, site.name);
    expect([c.id, c.name, c.minTlsVersion]).toEqual([config.id, "web", config.properties.minTlsVersion]);
  });

  it("PATCH httpsOnly and PATCH config/web minTlsVersion answer the examples' shapes and keep every field", async () => {
    const rec = responseRecorder();
    const updated = await web().update(RG, site.name, { httpsOnly: true }, { onResponse: rec.onResponse });
    expect(f.responses.updateSite!.status).toContain(rec.first("PATCH")?.status);
    expect(shapeProblems(expectedBody(f, "updateSite"), rec.first("PATCH")?.body)).toEqual([]);
    expect(updated.httpsOnly).toBe(true);
    const recConfig = responseRecorder();
    const cfg = await web().updateConfiguration(
      RG,
      site.name,
      { minTlsVersion: "1.2" },
      { onResponse: recConfig.onResponse },
    );
    expect(f.responses.updateConfig!.status).toContain(recConfig.first("PATCH")?.status);
    expect(shapeProblems(expectedBody(f, "updateConfig"), recConfig.first("PATCH")?.body)).toEqual([]);
    expect(cfg.minTlsVersion).toBe("1.2");
    const after = await raw("GET", config.id, f.sdk.apiVersion);
    expect(shapeProblems(config, after.body)).toEqual([]);
    expect(after.body.properties).toMatchObject({ minTlsVersion: "1.2", ftpsState: "AllAllowed" });
  });

  it("a site whose config/web nobody wrote has one in the example's shape, with the site's kind", async () => {
    const other = renamed(site, "app-shapes", "app-fresh");
    env.sim.putResource(seedResource(other));
    const res = await raw("GET", `${other.id}/config/web`, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    // ARM's defaults for what driftguard reads and the documented fields; not every field the example lists.
    const defaults = withoutFields(renamed(config, "app-shapes", "app-fresh"), [
      "properties.alwaysOn",
      "properties.virtualApplications",
    ]);
    expect(shapeProblems(defaults, res.body)).toEqual([]);
    expect([res.body.name, res.body.kind, res.body.properties.minTlsVersion]).toEqual(["web", "app", "1.2"]);
  });

  it("require-secure-transport ends compliant from the example's state (two PATCHes)", async () => {
    const id = site.id.replace("app-shapes", "app-kind");
    const ctx = kindContext(requireSecureTransport, armSignal(id, f.resourceType, SUB), {
      policy: shapePolicy("require-secure-transport", [f.resourceType]),
      clients: env.clients,
    });
    const run = await runKind(requireSecureTransport, ctx);
    expect(run.plan.action).toBe("change");
    expect(run.verified).toEqual({ ok: true });
    const writes = env.sim.writes().filter((w) => w.path.toLowerCase().includes("/sites/app-kind"));
    expect(writes.map((w) => `${w.method} ${w.path.split("/").slice(-2).join("/")}`)).toEqual([
      "PATCH sites/app-kind",
      "PATCH config/web",
    ]);
  });
});

describe("API Management APIs, products, product policies and product APIs", () => {
  const f = apisFixture;
  const api = expectedBody(f, "getApi");
  const svc = expectedBody(apimFixture, "getService").name as string;
  const apim = () => env.clients.apiManagement(SUB);

  it("GET of an API, a product and its policy over HTTPS keep every field of the examples, with an ETag", async () => {
    for (const name of ["getApi", "getProduct", "getProductPolicy"]) {
      const want = expectedBody(f, name);
      const res = await raw("GET", want.id, f.sdk.apiVersion);
      expect(res.status, name).toBe(200);
      expect(shapeProblems(want, res.body), name).toEqual([]);
      expect(res.headers.etag, name).toMatch(/^W\/"/);
    }
    const list = await raw("GET", `${api.id.replace(/\/chat$/, "")}`, f.sdk.apiVersion);
    expect(shapeProblems(expectedBody(f, "listApis"), list.body)).toEqual([]);
  });

  it("the SDK models carry what require-api-subscription and throttle-api-subscription read", async () => {
    const got = await apim().api.get(RG, svc, api.name);
    expect([got.subscriptionRequired, got.displayName]).toEqual([false, api.properties.displayName]);
    expect(got.eTag).toMatch(/^W\/"/);
    const names: string[] = [];
    for await (const a of apim().api.listByService(RG, svc)) names.push(a.name!);
    expect(names).toEqual([api.name]);
    const product = expectedBody(f, "getProduct");
    expect((await apim().product.get(RG, svc, product.name)).state).toBe("published");
    const policy = await apim().productPolicy.get(RG, svc, product.name, "policy");
    expect(policy.value).toBe(expectedBody(f, "getProductPolicy").properties.value);
  });

  it("the throttling product's writes (product, rawxml policy, API link) answer the examples' status and shape", async () => {
    const product = expectedBody(f, "createProduct");
    const rec = responseRecorder();
    await apim().product.createOrUpdate(
      RG,
      svc,
      product.name,
      {
        displayName: product.properties.displayName,
        subscriptionRequired: true,
        approvalRequired: false,
        state: "published",
      },
      { onResponse: rec.onResponse },
    );
    expect(rec.first("PUT")?.status).toBe(201);
    expect(f.responses.createProduct!.status).toContain(rec.first("PUT")?.status);
    expect(shapeProblems(product, rec.first("PUT")?.body)).toEqual([]);

    const policy = expectedBody(f, "createProductPolicy");
    const recPolicy = responseRecorder();
    await apim().productPolicy.createOrUpdate(
      RG,
      svc,
      product.name,
      "policy",
      { format: "rawxml", value: policy.properties.value },
      { onResponse: recPolicy.onResponse },
    );
    expect(recPolicy.first("PUT")?.status).toBe(201);
    expect(shapeProblems(policy, recPolicy.first("PUT")?.body)).toEqual([]);

    const answer = expectedBody(f, "createProductApi");
    for (const status of [201, 200]) {
      const recLink = responseRecorder();
      await apim().productApi.createOrUpdate(RG, svc, product.name, api.name, {
        onResponse: recLink.onResponse,
      });
      const first = recLink.first("PUT");
      expect(first?.status).toBe(status);
      expect(shapeProblems(answer, first?.body)).toEqual([]);
      // The API's own contract: its ID under the service, not the link's path.
      expect(first?.body).toMatchObject({ id: api.id, type: "Microsoft.ApiManagement/service/apis" });
    }
    const listed = await raw("GET", `${product.id}/apis`, f.sdk.apiVersion);
    const links = renamed(
      expectedBody(f, "listProductApis"),
      "/products/openai/",
      `/products/${product.name}/`,
    );
    expect(shapeProblems(links, listed.body)).toEqual([]);
    expect(listed.body.value.map((a: { id: string }) => a.id)).toEqual([`${product.id}/apis/${api.name}`]);
  });

  it("a subscription's scope PATCH (relative product scope, If-Match) answers the example's shape with the full ID", async () => {
    const sub = expectedBody(apimFixture, "getSubscription");
    const product = expectedBody(f, "createProduct");
    const { eTag } = await apim().subscription.get(RG, svc, sub.name);
    const rec = responseRecorder();
    await apim().subscription.update(
      RG,
      svc,
      sub.name,
      eTag!,
      { scope: `/products/${product.name}`, stateComment: "rate-limited by driftguard" },
      { onResponse: rec.onResponse },
    );
    const first = rec.first("PATCH");
    expect(apimFixture.responses.updateSubscription!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(apimFixture, "updateSubscription"), first?.body)).toEqual([]);
    expect(first?.body).toMatchObject({ properties: { scope: product.id } });
  });

  it("require-api-subscription ends compliant from the example's API (PATCH with If-Match, example shape after)", async () => {
    const type = "Microsoft.ApiManagement/service/apis";
    const ctx = kindContext(requireApiSubscription, armSignal(api.id, type, SUB), {
      policy: shapePolicy("require-api-subscription", [type]),
      clients: env.clients,
    });
    const run = await runKind(requireApiSubscription, ctx);
    expect(run.plan.action).toBe("change");
    expect(run.verified).toEqual({ ok: true });
    const patch = env.sim.requests({ method: "PATCH", pathIncludes: "/apis/chat" });
    expect(patch.map((r) => [r.status, typeof r.headers["if-match"]])).toEqual([[200, "string"]]);
    const after = await raw("GET", api.id, f.sdk.apiVersion);
    expect(shapeProblems(expectedBody(f, "updateApi"), after.body)).toEqual([]);
    expect(after.body.properties.subscriptionRequired).toBe(true);
  });
});
