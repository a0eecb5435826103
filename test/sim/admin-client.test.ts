/** The `/_sim` admin API through its typed client, as tests drive a simulator in another process. */
import { StorageManagementClient } from "@azure/arm-storage";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SimAdminClient, SimAdminError } from "../../dev/azure-sim/admin-client.js";
import { type AzureSimulator, loadSeedFile, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { call, credential, modularOptions, RG, rgId, SUB, tls } from "./helpers.js";

let sim: AzureSimulator;
let admin: SimAdminClient;
let ca: string;
const ST = `${rgId}/providers/Microsoft.Storage/storageAccounts/stmlprod001`;

beforeAll(async () => {
  const t = await tls();
  ca = t.cert;
  sim = await startAzureSimulator({ tls: t, seed: await loadSeedFile("dev/sample-seed.json") });
  admin = new SimAdminClient(sim.url, ca);
});
beforeEach(() => {
  sim.clearFaults();
  sim.clearRequests();
});
afterAll(async () => {
  admin?.close();
  await sim?.close();
});

const storage = () => new StorageManagementClient(credential, SUB, modularOptions(sim.url, ca));

describe("SimAdminClient", () => {
  it("reads resources and the handled writes, as the in-process simulator reports them", async () => {
    expect((await admin.health()).url).toBe(sim.url);
    expect((await admin.getResource(ST.toUpperCase()))?.properties?.publicNetworkAccess).toBe("Enabled");
    expect(
      await admin.getResource(`${rgId}/providers/Microsoft.Storage/storageAccounts/nope`),
    ).toBeUndefined();

    await admin.addFault({ method: "PATCH", path: "stmlprod001", status: 503, retryAfter: 0 });
    await storage().storageAccounts.update(RG, "stmlprod001", { publicNetworkAccess: "Disabled" });
    const writes = await admin.writes({ pathIncludes: "stmlprod001" });
    expect(writes).toEqual(sim.writes({ pathIncludes: "stmlprod001" }));
    // The faulted attempt is logged, but only the retry that reached the handler is a write.
    expect(writes).toHaveLength(1);
    expect(await admin.requests({ method: "PATCH", pathIncludes: "stmlprod001" })).toHaveLength(2);
    expect((await admin.getResource(ST))?.properties?.publicNetworkAccess).toBe("Disabled");
  });

  it("puts a resource as a person would change it, and names the bad field otherwise", async () => {
    const current = (await admin.getResource(ST))!;
    const stored = await admin.putResource({
      ...current,
      properties: { ...current.properties, publicNetworkAccess: "Enabled" },
    });
    expect(stored.properties?.publicNetworkAccess).toBe("Enabled");
    expect(sim.getResource(ST)?.properties?.publicNetworkAccess).toBe("Enabled");
    const viaArm = await call(`${sim.url}${ST}?api-version=2023-05-01`, ca, "GET", undefined, {
      authorization: "Bearer x",
    });
    expect(viaArm.body.properties.publicNetworkAccess).toBe("Enabled");

    const bad = await admin.putResource({ id: "not-an-arm-id", name: "x", type: "y" }).catch((e) => e);
    expect(bad).toBeInstanceOf(SimAdminError);
    expect(bad.status).toBe(400);
    const raw = await call(`${sim.url}/_sim/resources`, ca, "PUT", { id: "not-an-arm-id" });
    expect(raw.body.error).toMatchObject({ code: "InvalidResource", path: "id" });
  });

  it("lists a secret's versions without their values", async () => {
    const versions = await admin.secretVersions("kv-ml-prod", "storage-key");
    expect(versions).toHaveLength(sim.listSecretVersions("kv-ml-prod", "storage-key").length);
    expect(versions.length).toBeGreaterThan(0);
    for (const v of versions) {
      expect(v).not.toHaveProperty("value");
      expect(v.name).toBe("storage-key");
    }
    expect(await admin.secretVersions("kv-ml-prod", "no-such-secret")).toEqual([]);
  });

  it("lists and clears faults; unlimited ones report remaining null", async () => {
    await admin.addFault({ path: "stmlprod001", status: 500, count: -1 });
    const listed = await admin.faults();
    expect(listed).toMatchObject([{ path: "stmlprod001", status: 500, remaining: null }]);
    await admin.clearFaults();
    expect(await admin.faults()).toEqual([]);
    await admin.clearRequests();
    expect(await admin.requests()).toEqual([]);
  });
});
