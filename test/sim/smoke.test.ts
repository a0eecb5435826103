import { StorageManagementClient } from "@azure/arm-storage";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureSimulator, loadSeedFile, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { credential, modularOptions, RG, retryOptions, SUB, tls } from "./helpers.js";

let sim: AzureSimulator;
let ca: string;

beforeAll(async () => {
  const t = await tls();
  ca = t.cert;
  sim = await startAzureSimulator({ tls: t, seed: await loadSeedFile("dev/sample-seed.json") });
});
afterAll(async () => {
  await sim?.close();
});

describe("azure simulator smoke", () => {
  it("serves storage through the real SDK and applies a PATCH", async () => {
    const client = new StorageManagementClient(credential, SUB, modularOptions(sim.url, ca));
    const acct = await client.storageAccounts.getProperties(RG, "stmlprod001");
    expect(acct.publicNetworkAccess).toBe("Enabled");
    const updated = await client.storageAccounts.update(RG, "stmlprod001", {
      publicNetworkAccess: "Disabled",
      allowBlobPublicAccess: false,
    });
    expect(updated.publicNetworkAccess).toBe("Disabled");
    const id = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/stmlprod001`;
    expect(sim.getResource(id)?.properties?.allowBlobPublicAccess).toBe(false);
    expect(sim.writes({ pathIncludes: "stmlprod001" })).toHaveLength(1);
  });

  it("serves Key Vault secrets through SecretClient and never logs the value", async () => {
    const client = new SecretClient(sim.vaults["kv-ml-prod"]!, credential, {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca },
      retryOptions,
    });
    const set = await client.setSecret("smoke", "s3cr3t-value", { tags: { a: "b" } });
    expect(set.properties.version).toMatch(/^[0-9a-f]{32}$/);
    const got = await client.getSecret("smoke");
    expect(got.value).toBe("s3cr3t-value");
    expect(JSON.stringify(sim.requests())).not.toContain("s3cr3t-value");
    expect(sim.requests({ origin: "vault:kv-ml-prod" }).some((r) => r.status === 401)).toBe(true);
  });

  it("injects a 429 with Retry-After that the SDK retries", async () => {
    const client = new StorageManagementClient(credential, SUB, modularOptions(sim.url, ca));
    sim.addFault({ method: "GET", path: "storageAccounts/stmlscratch001", status: 429, retryAfter: 0 });
    const acct = await client.storageAccounts.getProperties(RG, "stmlscratch001");
    expect(acct.name).toBe("stmlscratch001");
    const gets = sim.requests({ method: "GET", pathIncludes: "stmlscratch001" });
    expect(gets.map((r) => r.status)).toEqual([429, 200]);
    expect(gets[0]?.faulted).toBe(true);
  });
});

describe("azure simulator seed", () => {
  it("refuses a resource listed twice, naming it (the last copy would win silently)", async () => {
    const seed = await loadSeedFile("dev/sample-seed.json");
    const twice = seed.resources![0]!;
    await expect(
      startAzureSimulator({
        tls: await tls(),
        seed: { ...seed, resources: [...seed.resources!, { ...twice }] },
      }),
    ).rejects.toThrow(`resource ${twice.id} is listed twice`);
  });
});
