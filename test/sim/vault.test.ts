/** Key Vault data plane of the simulator, driven by the real SecretClient. */
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureSimulator, loadSeedFile, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { call, credential, retryOptions, tls } from "./helpers.js";

let sim: AzureSimulator;
let ca: string;
let client: SecretClient;
const ST_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml-prod/providers/Microsoft.Storage/storageAccounts/stmlprod001";

beforeAll(async () => {
  const t = await tls();
  ca = t.cert;
  sim = await startAzureSimulator({ tls: t, seed: await loadSeedFile("dev/sample-seed.json") });
  client = newClient();
});

/** A fresh client has no cached challenge, so its first request goes out bare. */
function newClient(): SecretClient {
  return new SecretClient(sim.vaults["kv-ml-prod"]!, credential, {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca },
    retryOptions,
  });
}
afterAll(async () => {
  await sim?.close();
});

describe("Key Vault secrets", () => {
  it("has one origin per vault and serves the seeded secrets with tags and expiry", async () => {
    expect(Object.keys(sim.vaults)).toEqual(["kv-ml-prod"]);
    expect(sim.vaults["kv-ml-prod"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const s = await client.getSecret("storage-key");
    expect(s.value).toBe(sim.getStorageKeys(ST_ID)[0]?.value);
    expect(s.properties.tags).toEqual({
      CredentialId: "key1",
      ProviderAddress: ST_ID,
      ValidityPeriodDays: "60",
    });
    const days = (s.properties.expiresOn!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(0);
    expect(days).toBeLessThan(30);
    expect(s.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(s.properties.vaultUrl).toBe(sim.vaults["kv-ml-prod"]);
  });

  it("answers the bare first request with a Bearer challenge, then takes the body", async () => {
    sim.clearRequests();
    const expires = new Date(Date.now() + 60 * 86_400_000);
    expires.setMilliseconds(0);
    const set = await newClient().setSecret("db-password", "n3w-Pa55word!", {
      tags: { owner: "dba" },
      contentType: "password",
      expiresOn: expires,
    });
    expect(set.value).toBe("n3w-Pa55word!");
    const log = sim.requests({ origin: "vault:kv-ml-prod" });
    expect(log.map((r) => [r.method, r.status])).toEqual([
      ["PUT", 401],
      ["PUT", 200],
    ]);
    expect(log[0]?.body).toBeUndefined();
    expect(log[1]?.body).toMatchObject({
      value: "<redacted>",
      tags: { owner: "dba" },
      contentType: "password",
    });
    expect(log[1]?.headers.authorization).toBe("<redacted>");
    expect(log[1]?.query["api-version"]).toBeTruthy();
    expect(log[1]?.apiVersion).toBe(log[1]?.query["api-version"]);
    const raw = await call(`${sim.vaults["kv-ml-prod"]}/secrets/db-password?api-version=7.5`, ca, "GET");
    expect(raw.status).toBe(401);
    expect(raw.headers["www-authenticate"]).toBe(
      'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
    );
    const state = sim.getSecret("kv-ml-prod", "db-password")!;
    expect(state.value).toBe("n3w-Pa55word!");
    expect(state.attributes.exp).toBe(expires.getTime() / 1000);
    expect(sim.listSecretVersions("kv-ml-prod", "db-password")).toHaveLength(2);
    expect(JSON.stringify(sim.requests())).not.toContain("n3w-Pa55word!");
  });

  it("gets a specific version, updates properties, lists versions and secrets", async () => {
    const v1 = sim.getSecret("kv-ml-prod", "openai-key")!;
    const v2 = await client.setSecret("openai-key", "rotated-value", { tags: { CredentialId: "key2" } });
    const old = await client.getSecret("openai-key", { version: v1.version });
    expect(old.value).toBe(v1.value);
    expect(old.properties.tags?.CredentialId).toBe("key1");
    const latest = await client.getSecret("openai-key");
    expect(latest.properties.version).toBe(v2.properties.version);

    const updated = await client.updateSecretProperties("openai-key", v1.version, {
      enabled: false,
      tags: { CredentialId: "key1", retired: "true" },
    });
    expect(updated.enabled).toBe(false);
    expect(sim.getSecret("kv-ml-prod", "openai-key", v1.version)?.tags.retired).toBe("true");
    await expect(client.getSecret("openai-key", { version: v1.version })).rejects.toMatchObject({
      statusCode: 403,
    });

    const versions = [];
    for await (const p of client.listPropertiesOfSecretVersions("openai-key")) versions.push(p.version);
    expect(versions.sort()).toEqual([v1.version, v2.properties.version].sort());
    const names = [];
    for await (const p of client.listPropertiesOfSecrets()) names.push(p.name);
    expect(names.sort()).toEqual(["db-password", "openai-key", "storage-key"]);
  });

  it("404 SecretNotFound for unknown secrets and versions", async () => {
    await expect(client.getSecret("does-not-exist")).rejects.toMatchObject({
      statusCode: 404,
      code: "SecretNotFound",
    });
    await expect(client.getSecret("storage-key", { version: "0".repeat(32) })).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("deletes (soft) through the SDK poller", async () => {
    await client.setSecret("temp", "x");
    const poller = await client.beginDeleteSecret("temp", { intervalInMs: 0 });
    const deleted = await poller.pollUntilDone();
    expect(deleted.name).toBe("temp");
    expect(sim.getSecret("kv-ml-prod", "temp")).toBeUndefined();
  });

  it("vault faults apply to the vault origin only", async () => {
    sim.clearRequests();
    sim.addFault({ origin: "vault:kv-ml-prod", path: "/secrets/storage-key", status: 503, retryAfter: 0 });
    const s = await client.getSecret("storage-key");
    expect(s.name).toBe("storage-key");
    const statuses = sim.requests({ origin: "vault:kv-ml-prod" }).map((r) => r.status);
    // the challenge is cached by then: the first request already carries the token
    expect(statuses).toEqual([503, 200]);
    expect(sim.requests({ origin: "arm" })).toEqual([]);
  });
});
