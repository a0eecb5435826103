/**
 * One writer per resource, over the local stack (real Cosmos gate, simulator with asynchronous ARM
 * operations): distinct causes for one resource arriving at the same moment produce one ARM write
 * and one `remediated` record; the other causes find the resource compliant. Figures for
 * docs/reliability.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { armResource, publicStorageAccount } from "../helpers/seed.js";
import { armWriteEvent, startTestStack, type TestStack } from "../helpers/stack.js";
import { saveFigures } from "./figures.js";

const SUB = "00000000-0000-0000-0000-0000000000c1";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-conc/providers`;
const WORKSPACES = Array.from(
  { length: 50 },
  (_, i) => `${RG}/Microsoft.MachineLearningServices/workspaces/ws-conc-${i}`,
);
const ACCOUNTS = Array.from(
  { length: 50 },
  (_, i) => `${RG}/Microsoft.Storage/storageAccounts/stconc${String(i).padStart(3, "0")}`,
);
const VAULT_ID = `${RG}/Microsoft.KeyVault/vaults/kv-conc`;
const PROVIDER = `${RG}/Microsoft.Storage/storageAccounts/stkeysconc`;
const SECRET_VERSION = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";

const seed: Seed = {
  resources: [
    ...WORKSPACES.map((id) =>
      armResource(id, {
        location: "westeurope",
        tags: {},
        properties: { publicNetworkAccess: "Enabled", provisioningState: "Succeeded" },
      }),
    ),
    ...ACCOUNTS.map(publicStorageAccount),
    armResource(VAULT_ID, {
      location: "westeurope",
      tags: {},
      properties: { publicNetworkAccess: "Disabled" },
    }),
    armResource(PROVIDER, {
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS" },
      tags: {},
      properties: { publicNetworkAccess: "Disabled", allowBlobPublicAccess: false },
    }),
  ],
  secrets: [
    {
      vault: "kv-conc",
      name: "training-key",
      value: "initial-value-of-key1-0123456789abcdef",
      contentType: "text/plain",
      tags: { CredentialId: "key1", ProviderAddress: PROVIDER, ValidityPeriodDays: "60" },
      expiresOn: "P10D",
    },
  ],
  storageKeys: {
    [PROVIDER]: [
      { keyName: "key1", value: "initial-value-of-key1-0123456789abcdef" },
      { keyName: "key2", value: "initial-value-of-key2-0123456789abcdef" },
    ],
  },
};

const policyYaml = `
version: 1
policies:
  - name: private-ai
    resourceTypes: [Microsoft.MachineLearningServices/workspaces, Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: "Microsoft.Resources.ResourceWrite*" }]
    kind: disable-public-network-access
    maxActionsPerHour: 10000
  - name: rotate
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers: [{ keyVault: SecretNearExpiry }]
    kind: rotate-secret
    params: { minAgeMinutes: 60 }
    maxActionsPerHour: 10000
`;

function nearExpiryEvent(id: string): Record<string, unknown> {
  return {
    id,
    topic: VAULT_ID,
    subject: "training-key",
    eventType: "Microsoft.KeyVault.SecretNearExpiry",
    eventTime: new Date().toISOString(),
    data: {
      Id: `https://kv-conc.vault.azure.net/secrets/training-key/${SECRET_VERSION}`,
      VaultName: "kv-conc",
      ObjectType: "Secret",
      ObjectName: "training-key",
      Version: SECRET_VERSION,
      NBF: 1763700000,
      EXP: Math.floor(Date.now() / 1000) + 10 * 86400,
    },
    dataVersion: "1",
    metadataVersion: "1",
  };
}

/** Delivers until accepted, as Event Grid does with non-2xx answers (shortened backoff). */
async function deliverUntilAccepted(stack: TestStack, events: unknown[]): Promise<number> {
  for (let attempt = 1; attempt <= 30; attempt++) {
    const res = await stack.deliver(events);
    await res.text();
    if (res.ok) return attempt;
    await new Promise((r) => setTimeout(r, 200 * Math.min(attempt, 5)));
  }
  throw new Error("never accepted");
}

describe("one writer per resource under concurrent causes (local stack, async ARM operations)", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ seed, policyYaml, lro: "async" });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it("100 resources × 2–3 distinct causes at once: one ARM write and one `remediated` record each", async () => {
    const resources = [...WORKSPACES, ...ACCOUNTS];
    const deliveries = resources.flatMap((id, i) =>
      Array.from({ length: 2 + (i % 2) }, () => [armWriteEvent(id)]),
    );
    expect(deliveries.length).toBe(250);
    // Shuffled, all at once.
    deliveries.sort(() => Math.random() - 0.5);
    const attempts = await Promise.all(deliveries.map((d) => deliverUntilAccepted(stack, d)));
    expect(attempts.every((a) => a >= 1)).toBe(true);

    const records = await stack.audit();
    for (const id of resources) {
      const writes = stack.sim.writes().filter((w) => w.path.toLowerCase() === id.toLowerCase());
      expect(writes, id).toHaveLength(1);
      const mine = records.filter((r) => r.resourceId.toLowerCase() === id.toLowerCase());
      expect(
        mine.filter((r) => r.outcome === "remediated"),
        id,
      ).toHaveLength(1);
      // Every other cause found it compliant; nothing failed or was recorded twice.
      expect(
        mine.filter((r) => r.outcome !== "remediated").every((r) => r.outcome === "compliant"),
        id,
      ).toBe(true);
      expect(new Set(mine.map((r) => r.signal.id)).size, id).toBe(mine.length);
      expect(stack.sim.getResource(id)?.properties?.publicNetworkAccess).toBe("Disabled");
    }
    const verify = await stack.runtime.stores.audit.verify();
    expect(verify.breaks).toEqual([]);
    const writes = stack.sim
      .writes()
      .filter((w) => resources.some((id) => id.toLowerCase() === w.path.toLowerCase()));
    await saveFigures("concurrent-causes", {
      resources: resources.length,
      deliveries: deliveries.length,
      redeliveries: attempts.reduce((a, b) => a + b, 0) - deliveries.length,
      armWrites: writes.length,
      remediatedRecords: records.filter((r) => r.outcome === "remediated").length,
      compliantRecords: records.filter((r) => r.outcome === "compliant").length,
      doubleWrites: resources.filter(
        (id) => writes.filter((w) => w.path.toLowerCase() === id.toLowerCase()).length > 1,
      ).length,
    });
  }, 120_000);

  it("6 simultaneous near-expiry events for one secret: one new version, one key regeneration", async () => {
    const before = stack.sim.listSecretVersions("kv-conc", "training-key").length;
    const events = Array.from({ length: 6 }, () => [nearExpiryEvent(crypto.randomUUID())]);
    await Promise.all(events.map((e) => deliverUntilAccepted(stack, e)));

    expect(stack.sim.listSecretVersions("kv-conc", "training-key")).toHaveLength(before + 1);
    expect(stack.sim.writes({ pathIncludes: "stkeysconc/regenerateKey" })).toHaveLength(1);
    const records = await stack.audit({ kind: "rotate-secret" });
    expect(records.filter((r) => r.outcome === "remediated")).toHaveLength(1);
    expect(records.filter((r) => r.outcome === "compliant")).toHaveLength(5);
    // The stored value is the regenerated key2, and the tag says so.
    const latest = stack.sim.getSecret("kv-conc", "training-key")!;
    expect(latest.tags.CredentialId).toBe("key2");
    expect(latest.value).toBe(stack.sim.getStorageKeys(PROVIDER).find((k) => k.keyName === "key2")?.value);
    // The hour's action budget was charged once, not six times.
    expect(records.filter((r) => r.outcome === "pending-approval")).toHaveLength(0);
  }, 60_000);
});
