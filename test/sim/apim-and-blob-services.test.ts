/**
 * The simulator's storage blob service (`…/blobServices/default`, which every account has) and its
 * API Management routes (APIs, products, product policies, API↔product links, subscription
 * scopes), through the real SDK clients and plain HTTPS.
 */
import { ApiManagementClient } from "@azure/arm-apimanagement";
import { StorageManagementClient } from "@azure/arm-storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureSimulator, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { armResource } from "../helpers/seed.js";
import { call, classicOptions, credential, modularOptions, tls } from "./helpers.js";

const SUB = "00000000-0000-0000-0000-0000000000e1";
const RG = "rg-sim";
const ACCOUNT = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/stsim`;
const SVC = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ApiManagement/service/apim-sim`;

let sim: AzureSimulator;
let ca: string;
let storage: StorageManagementClient;
let apim: ApiManagementClient;
const bearer = { authorization: "Bearer x" };

beforeAll(async () => {
  const t = await tls();
  ca = t.cert;
  sim = await startAzureSimulator({
    port: 0,
    tls: t,
    seed: {
      resources: [
        armResource(ACCOUNT, { kind: "StorageV2", sku: { name: "Standard_GRS", tier: "Standard" } }),
        armResource(SVC, { sku: { name: "Developer", capacity: 1 }, properties: {} }),
        armResource(`${SVC}/apis/chat`, {
          properties: { displayName: "Chat", path: "chat", subscriptionRequired: false },
        }),
        armResource(`${SVC}/products/starter`, {
          properties: { displayName: "Starter", state: "published" },
        }),
        armResource(`${SVC}/subscriptions/key-1`, { properties: { scope: `${SVC}/apis`, state: "active" } }),
        armResource(`${SVC}/subscriptions/key-2`, {
          properties: { scope: "/products/starter", state: "active" },
        }),
      ],
    },
  });
  storage = new StorageManagementClient(credential, SUB, modularOptions(sim.url, ca));
  apim = new ApiManagementClient(credential, SUB, classicOptions(sim.url, ca));
});
afterAll(async () => {
  await sim?.close();
});

describe("storage blob service", () => {
  it("every account has one: a new account's properties until it is set; PUT replaces, GET reads back", async () => {
    const before = await storage.blobServices.getServiceProperties(RG, "stsim");
    expect(before).toMatchObject({
      name: "default",
      type: "Microsoft.Storage/storageAccounts/blobServices",
      deleteRetentionPolicy: { enabled: false, allowPermanentDelete: false },
      cors: { corsRules: [] },
    });
    expect(before.isVersioningEnabled).toBeUndefined();
    await storage.blobServices.setServiceProperties(RG, "stsim", {
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 30 },
      containerDeleteRetentionPolicy: { enabled: true, days: 30 },
    });
    const after = await storage.blobServices.getServiceProperties(RG, "stsim");
    expect(after).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 30 },
      containerDeleteRetentionPolicy: { enabled: true, days: 30 },
    });
    const list: string[] = [];
    for await (const s of storage.blobServices.list(RG, "stsim")) list.push(s.name ?? "");
    expect(list).toEqual(["default"]);
    // The api-version the SDK sends is recorded; an account that does not exist has none.
    expect(sim.requests({ pathIncludes: "/blobServices/default" })[0]?.apiVersion).toBeTruthy();
    const missing = await call(
      `${sim.url}${ACCOUNT}x/blobServices/default?api-version=1`,
      ca,
      "GET",
      undefined,
      bearer,
    );
    expect(missing.status).toBe(404);
  });
});

describe("API Management", () => {
  it("API PATCH needs If-Match (400 without, 412 stale) and changes only what it names", async () => {
    const url = `${sim.url}${SVC}/apis/chat?api-version=2024-05-01`;
    const without = await call(url, ca, "PATCH", { properties: { subscriptionRequired: true } }, bearer);
    expect(without.status).toBe(400);
    const stale = await call(
      url,
      ca,
      "PATCH",
      { properties: { subscriptionRequired: true } },
      { ...bearer, "if-match": '"old"' },
    );
    expect(stale.status).toBe(412);
    const got = await apim.api.get(RG, "apim-sim", "chat");
    expect(got.eTag).toBeTruthy();
    await apim.api.update(RG, "apim-sim", "chat", got.eTag!, { subscriptionRequired: true });
    expect(await apim.api.get(RG, "apim-sim", "chat")).toMatchObject({
      subscriptionRequired: true,
      path: "chat",
    });
  });

  it("products, their policy and API links", async () => {
    await apim.product.createOrUpdate(RG, "apim-sim", "slow", {
      displayName: "slow",
      subscriptionRequired: true,
      state: "published",
    });
    const linked = await apim.productApi.createOrUpdate(RG, "apim-sim", "slow", "chat");
    expect(linked).toMatchObject({ name: "chat", path: "chat" });
    const apis: string[] = [];
    for await (const a of apim.productApi.listByProduct(RG, "apim-sim", "slow")) apis.push(a.name ?? "");
    expect(apis).toEqual(["chat"]);
    await expect(apim.productApi.createOrUpdate(RG, "apim-sim", "slow", "nope")).rejects.toMatchObject({
      statusCode: 404,
    });
    await expect(apim.productApi.createOrUpdate(RG, "apim-sim", "nope", "chat")).rejects.toMatchObject({
      statusCode: 404,
    });

    const value =
      '<policies><inbound><base /><rate-limit calls="5" renewal-period="60" /></inbound></policies>';
    await apim.productPolicy.createOrUpdate(RG, "apim-sim", "slow", "policy", { format: "rawxml", value });
    expect(await apim.productPolicy.get(RG, "apim-sim", "slow", "policy")).toMatchObject({
      format: "rawxml",
      value,
    });
    const bad = await call(
      `${sim.url}${SVC}/products/slow/policies/policy?api-version=2024-05-01`,
      ca,
      "PUT",
      { properties: { format: "rawxml", value: "<inbound/>" } },
      bearer,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].target).toBe("value");
  });

  it("a subscription's scope: relative or full, stored full; one naming nothing is refused", async () => {
    // Seeded relative, shown as APIM shows it: the full ID.
    expect((await apim.subscription.get(RG, "apim-sim", "key-2")).scope).toBe(`${SVC}/products/starter`);
    const sub = await apim.subscription.get(RG, "apim-sim", "key-1");
    await apim.subscription.update(RG, "apim-sim", "key-1", sub.eTag!, { scope: "/products/starter" });
    expect((await apim.subscription.get(RG, "apim-sim", "key-1")).scope).toBe(`${SVC}/products/starter`);
    const again = await apim.subscription.get(RG, "apim-sim", "key-1");
    await apim.subscription.update(RG, "apim-sim", "key-1", again.eTag!, { scope: `${SVC}/apis` });
    expect((await apim.subscription.get(RG, "apim-sim", "key-1")).scope).toBe(`${SVC}/apis`);
    const last = await apim.subscription.get(RG, "apim-sim", "key-1");
    await expect(
      apim.subscription.update(RG, "apim-sim", "key-1", last.eTag!, { scope: "/products/missing" }),
    ).rejects.toMatchObject({ statusCode: 400 });
    expect((await apim.subscription.get(RG, "apim-sim", "key-1")).scope).toBe(`${SVC}/apis`);
  });
});
