/**
 * The simulator's routes for the kinds that turn keys off, require secure transport and keep
 * diagnostic settings: diagnostic settings as extension resources under any resource (PUT, GET,
 * list, DELETE; validated; no ETag; a reused data sink refused; gone with their resource), the child
 * resources ARM always has (`blobServices/default`, `config/web`), seeds naming them, Cosmos DB
 * account PATCH as a long-running operation, and the api-versions the pinned clients send.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureSimulator, startAzureSimulator, validateSeed } from "../../dev/azure-sim/index.js";
import { extensionOfId, parentIdOf, typeOfId } from "../../dev/azure-sim/store.js";
import { simulatorClients } from "../helpers/harness.js";
import { call, rgId, SUB, tls } from "./helpers.js";

const VAULT = `${rgId}/providers/Microsoft.KeyVault/vaults/kv-ext`;
const ACCOUNT = `${rgId}/providers/Microsoft.Storage/storageAccounts/stext`;
const SITE = `${rgId}/providers/Microsoft.Web/sites/app-ext`;
const COSMOS = `${rgId}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-ext`;
const LAW = `${rgId}/providers/Microsoft.OperationalInsights/workspaces/law`;
const API = "2021-05-01-preview";
const settings = (scope: string) => `${scope}/providers/Microsoft.Insights/diagnosticSettings`;

let sim: AzureSimulator;
let ca: string;

const arm = (method: string, path: string, body?: unknown, apiVersion = API) =>
  call(`${sim.url}${path}?api-version=${apiVersion}`, ca, method, body, { authorization: "Bearer t" });

beforeAll(async () => {
  ca = (await tls()).cert;
  sim = await startAzureSimulator({
    port: 0,
    tls: await tls(),
    // name and type come from the IDs, as in a seed file
    seed: validateSeed({
      resources: [
        { id: VAULT, location: "westeurope", properties: {} },
        { id: ACCOUNT, location: "westeurope", kind: "StorageV2", properties: {} },
        { id: SITE, location: "westeurope", properties: { httpsOnly: false } },
        { id: COSMOS, location: "westeurope", properties: { disableLocalAuth: false } },
        {
          id: `${settings(VAULT)}/seeded`,
          properties: { workspaceId: LAW, logs: [{ categoryGroup: "allLogs", enabled: true }] },
        },
      ],
    }),
  });
});

afterAll(async () => {
  await sim?.close();
});

describe("extension resource IDs in the store", () => {
  it("have their own type and live on their scope", () => {
    const id = `${settings(VAULT)}/x`;
    expect(typeOfId(id)).toBe("Microsoft.Insights/diagnosticSettings");
    expect(parentIdOf(id)).toBe(VAULT);
    expect(extensionOfId(id)).toEqual({ scope: VAULT, type: "Microsoft.Insights/diagnosticSettings" });
    expect(extensionOfId(`${ACCOUNT}/blobServices/default`)).toBeUndefined();
    expect(
      validateSeed({ resources: [{ id, type: "Microsoft.Insights/diagnosticSettings" }] }).resources![0],
    ).toMatchObject({ name: "x", type: "Microsoft.Insights/diagnosticSettings" });
  });
});

describe("diagnostic settings under any resource", () => {
  it("PUT creates (200, no ETag, no provisioning state), GET reads, the list holds it beside the seeded one, DELETE removes", async () => {
    const body = { properties: { workspaceId: LAW, logs: [{ categoryGroup: "audit", enabled: true }] } };
    const put = await arm("PUT", `${settings(COSMOS)}/driftguard`, body);
    expect(put.status).toBe(200);
    expect(put.headers.etag).toBeUndefined();
    // As ARM shows it: each log entry with the (retired) retention policy off.
    const shown = {
      ...body.properties,
      logs: [{ categoryGroup: "audit", enabled: true, retentionPolicy: { enabled: false, days: 0 } }],
    };
    expect(put.body).toEqual({
      id: `${settings(COSMOS)}/driftguard`,
      name: "driftguard",
      type: "Microsoft.Insights/diagnosticSettings",
      properties: shown,
    });
    expect((await arm("GET", `${settings(COSMOS)}/DRIFTGUARD`)).body.properties).toEqual(shown);
    const list = await arm("GET", settings(VAULT));
    expect(list.body.value.map((s: { name: string }) => s.name)).toEqual(["seeded"]);
    expect((await arm("DELETE", `${settings(COSMOS)}/driftguard`)).status).toBe(200);
    expect((await arm("DELETE", `${settings(COSMOS)}/driftguard`)).status).toBe(204);
    const gone = await arm("GET", `${settings(COSMOS)}/driftguard`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("ResourceNotFound");
  });

  it("on a storage account's blob service, which exists without being seeded", async () => {
    const blob = `${ACCOUNT}/blobServices/default`;
    const put = await arm("PUT", `${settings(blob)}/driftguard`, {
      properties: { workspaceId: LAW, logs: [{ categoryGroup: "audit", enabled: true }] },
    });
    expect(put.status).toBe(200);
    expect((await arm("GET", blob, undefined, "2025-08-01")).body).toMatchObject({
      name: "default",
      type: "Microsoft.Storage/storageAccounts/blobServices",
    });
  });

  it("refuses what ARM refuses: no destination, a non-workspace ID, a bad group, a category and a group in one entry, a missing resource", async () => {
    const at = `${settings(SITE)}/bad`;
    for (const [body, message] of [
      [{ properties: { logs: [] } }, /At least one destination/],
      [{ properties: { workspaceId: VAULT } }, /not a Log Analytics workspace/],
      [
        { properties: { workspaceId: LAW, logs: [{ categoryGroup: "metrics", enabled: true }] } },
        /not supported/,
      ],
      [
        {
          properties: { workspaceId: LAW, logs: [{ category: "A", categoryGroup: "audit", enabled: true }] },
        },
        /exactly one/,
      ],
      [{ properties: { workspaceId: LAW, logs: [{ categoryGroup: "audit" }] } }, /enabled is required/],
    ] as const) {
      const r = await arm("PUT", at, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
    }
    const missing = await arm("PUT", `${settings(`${rgId}/providers/Microsoft.KeyVault/vaults/nope`)}/x`, {
      properties: { workspaceId: LAW },
    });
    expect(missing.status).toBe(404);
    expect((await arm("PATCH", at, { properties: {} })).status).toBe(405);
  });

  it("a second setting sending the same logs to the same workspace is refused (409), another workspace is fine", async () => {
    const dup = await arm("PUT", `${settings(VAULT)}/driftguard`, {
      properties: { workspaceId: LAW.toUpperCase(), logs: [{ categoryGroup: "allLogs", enabled: true }] },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toMatch(/already used in diagnostic setting 'seeded'/);
    const other = await arm("PUT", `${settings(VAULT)}/driftguard`, {
      properties: { workspaceId: `${LAW}-2`, logs: [{ categoryGroup: "allLogs", enabled: true }] },
    });
    expect(other.status).toBe(200);
  });

  it("go with the resource they are on", async () => {
    const id = `${rgId}/providers/Microsoft.KeyVault/vaults/kv-doomed`;
    sim.putResource({ id, name: "kv-doomed", type: "Microsoft.KeyVault/vaults", properties: {} });
    await arm("PUT", `${settings(id)}/x`, { properties: { workspaceId: LAW } });
    expect(sim.getResource(`${settings(id)}/x`)).toBeDefined();
    await arm("DELETE", id, undefined, "2023-07-01");
    expect(sim.getResource(`${settings(id)}/x`)).toBeUndefined();
  });
});

describe("web config and Cosmos DB through the pinned clients", () => {
  it("a site's config/web exists with ARM's defaults and takes PATCH and PUT", async () => {
    const clients = simulatorClients(sim, await tls());
    const web = clients.appService(SUB).webApps;
    const config = await web.getConfiguration("rg-ml-prod", "app-ext");
    expect(config.minTlsVersion).toBe("1.2");
    await web.updateConfiguration("rg-ml-prod", "app-ext", { minTlsVersion: "1.3" });
    expect(sim.getResource(`${SITE}/config/web`)!.properties).toMatchObject({
      minTlsVersion: "1.3",
      ftpsState: "FtpsOnly",
    });
    await web.createOrUpdateConfiguration("rg-ml-prod", "app-ext", {
      minTlsVersion: "1.2",
      http20Enabled: false,
    });
    expect(sim.getResource(`${SITE}/config/web`)!.properties).toMatchObject({
      minTlsVersion: "1.2",
      http20Enabled: false,
    });
    await web.update("rg-ml-prod", "app-ext", { httpsOnly: true });
    expect((await web.get("rg-ml-prod", "app-ext")).httpsOnly).toBe(true);
    const sdk = sim
      .requests({ pathIncludes: "app-ext" })
      .filter((r) => r.headers["user-agent"]?.startsWith("azsdk-js"));
    const apiVersions = new Set(sdk.map((r) => r.apiVersion));
    expect([...apiVersions]).toEqual(["2025-05-01"]);
  });

  it("a Cosmos DB account PATCH answers Azure-AsyncOperation and applies when the operation succeeds", async () => {
    const patch = await arm("PATCH", COSMOS, { properties: { disableLocalAuth: true } }, "2025-10-15");
    expect(patch.status).toBe(200);
    expect(patch.body.properties.provisioningState).toBe("Updating");
    const status = String(patch.headers["azure-asyncoperation"]);
    expect(status).toMatch(/\/providers\/Microsoft\.DocumentDB\/locations\/westeurope\/operationStatuses\//);
    expect(sim.getResource(COSMOS)!.properties!.disableLocalAuth).toBe(false);
    const poll = (u: string) => call(u, ca, "GET", undefined, { authorization: "Bearer t" });
    expect((await poll(status)).body.status).toBe("InProgress");
    expect((await poll(status)).body.status).toBe("Succeeded");
    expect(sim.getResource(COSMOS)!.properties!.disableLocalAuth).toBe(true);
    // Through the pinned client, polled to the end.
    const clients = simulatorClients(sim, await tls());
    await clients
      .cosmosDb(SUB)
      .databaseAccounts.beginUpdateAndWait(
        "rg-ml-prod",
        "cosmos-ext",
        { minimalTlsVersion: "Tls12" },
        clients.lro,
      );
    expect(sim.getResource(COSMOS)!.properties).toMatchObject({
      disableLocalAuth: true,
      minimalTlsVersion: "Tls12",
    });
  });
});
