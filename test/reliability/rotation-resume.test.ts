/**
 * A provider key is regenerated at most once per rotation: when the new version cannot be written
 * to the vault after the key was regenerated, the redelivery resumes from the intent's checkpoint
 * and stores that same key instead of regenerating again.
 */
import { afterEach, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { armResource } from "../helpers/seed.js";
import { saveFigures } from "./figures.js";

const SUB = "00000000-0000-0000-0000-0000000000b7";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-resume/providers`;
const VAULT_ID = `${RG}/Microsoft.KeyVault/vaults/kv-resume`;
const PROVIDER = `${RG}/Microsoft.Storage/storageAccounts/stresume001`;
const SECRET_ID = `${VAULT_ID}/secrets/data-key`;

const seed: Seed = {
  resources: [
    armResource(VAULT_ID, { properties: {} }),
    armResource(PROVIDER, { kind: "StorageV2", properties: {} }),
  ],
  secrets: [
    {
      vault: "kv-resume",
      name: "data-key",
      value: "key1-value-0123456789abcdefghij",
      tags: { CredentialId: "key1", ProviderAddress: PROVIDER },
      expiresOn: "P3D",
    },
  ],
  storageKeys: {
    [PROVIDER]: [
      { keyName: "key1", value: "key1-value-0123456789abcdefghij" },
      { keyName: "key2", value: "key2-value-0123456789abcdefghij" },
    ],
  },
};

const policies = `
version: 1
policies:
  - name: rotate
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers: [{ keyVault: SecretNearExpiry }]
    kind: rotate-secret
`;

function nearExpiry(version: string): Signal {
  const id = crypto.randomUUID();
  return {
    source: "eventgrid",
    type: "Microsoft.KeyVault.SecretNearExpiry",
    id,
    dedupeKey: `eg:${id}`,
    time: new Date().toISOString(),
    subscriptionId: SUB,
    trigger: { keyVault: "SecretNearExpiry" },
    keyVault: { vaultName: "kv-resume", objectType: "Secret", objectName: "data-key", version },
    targets: [
      { resourceId: SECRET_ID, resourceType: "Microsoft.KeyVault/vaults/secrets", subscriptionId: SUB },
    ],
  };
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

it("a vault write that fails after the key was regenerated is resumed without a second regeneration", async () => {
  h = await startHarness({ seed, policies });
  const version = h.sim.getSecret("kv-resume", "data-key")!.version;
  h.sim.addFault({
    method: "PUT",
    path: "/secrets/data-key",
    status: 503,
    count: -1,
    origin: "vault:kv-resume",
  });
  const signal = nearExpiry(version);

  const [first] = await h.handle(signal);
  expect(first).toMatchObject({ outcome: "failed", retry: true });
  expect(h.sim.writes({ pathIncludes: "stresume001/regenerateKey" })).toHaveLength(1);
  const regenerated = h.sim.getStorageKeys(PROVIDER).find((k) => k.keyName === "key2")!.value;
  expect(regenerated).not.toBe("key2-value-0123456789abcdefghij");

  h.sim.clearFaults();
  const [second] = await h.handle(signal); // Event Grid's redelivery of the same event
  const regenerations = h.sim.writes({ pathIncludes: "stresume001/regenerateKey" }).length;
  const latest = h.sim.getSecret("kv-resume", "data-key")!;
  const outcomes = (await h.records()).map((r) => r.outcome);
  await saveFigures("rotation-resume", {
    vaultWritesRefused: h.sim
      .requests({ method: "PUT", pathIncludes: "/secrets/data-key" })
      .filter((r) => r.faulted).length,
    keyRegenerations: regenerations,
    storedValueIsTheRegeneratedKey: latest.value === regenerated,
    records: outcomes,
  });

  expect(second).toMatchObject({ outcome: "remediated", retry: false });
  expect(regenerations).toBe(1);
  expect(latest.value).toBe(regenerated);
  expect(latest.tags.CredentialId).toBe("key2");
  expect(outcomes).toEqual(["failed", "remediated"]);
});
