/**
 * One writer per resource, over the local stack (real Cosmos gate, simulator with asynchronous ARM
 * operations): distinct causes for one resource arriving at the same moment produce one ARM write
 * and one `remediated` record; the other causes find the resource compliant — every cause exactly
 * its one record, counted in the store itself (one cross-check through GET /api/audit). Figures for
 * docs/reliability.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { armResource, publicStorageAccount } from "../helpers/seed.js";
import { armWriteEvent, startTestStack, type TestStack } from "../helpers/stack.js";
import { recordsByCause, recordsInStore } from "../helpers/store-records.js";
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

  it("100 resources × 2–3 distinct causes at once: one ARM write, and every cause exactly its one record", async () => {
    const resources = [...WORKSPACES, ...ACCOUNTS];
    const deliveries = resources.flatMap((id, i) =>
      Array.from({ length: 2 + (i % 2) }, () => [armWriteEvent(id)]),
    );
    expect(deliveries.length).toBe(250);
    // Shuffled, all at once.
    deliveries.sort(() => Math.random() - 0.5);
    const attempts = await Promise.all(deliveries.map((d) => deliverUntilAccepted(stack, d)));

    // Read from the store with @azure/cosmos, not through driftguard's own query API.
    const isOurs = (id: string) => resources.some((r) => r.toLowerCase() === id.toLowerCase());
    const records = (await recordsInStore(stack)).filter((r) => isOurs(r.resourceId));
    const perCause = recordsByCause(records);
    const causeOf = ([e]: Record<string, unknown>[]) =>
      `${String(e!.id)}|${String((e!.data as { resourceUri: string }).resourceUri).toLowerCase()}`;
    const writes = stack.sim.writes().filter((w) => isOurs(w.path));
    const writesTo = (id: string) => writes.filter((w) => w.path.toLowerCase() === id.toLowerCase()).length;
    const outcomes = (o: string) => records.filter((r) => r.outcome === o).length;
    await saveFigures("concurrent-causes", {
      resources: resources.length,
      workspaces: WORKSPACES.length,
      storageAccounts: ACCOUNTS.length,
      deliveries: deliveries.length,
      causes: new Set(deliveries.map(causeOf)).size,
      redeliveries: attempts.reduce((a, b) => a + b, 0) - deliveries.length,
      armWrites: writes.length,
      records: records.length,
      remediatedRecords: outcomes("remediated"),
      compliantRecords: outcomes("compliant"),
      otherRecords: records.length - outcomes("remediated") - outcomes("compliant"),
      causesWithoutRecord: deliveries.filter((d) => !perCause.has(causeOf(d))).length,
      causesWithSeveralRecords: [...perCause.values()].filter((rs) => rs.length > 1).length,
      doubleWrites: resources.filter((id) => writesTo(id) > 1).length,
      resourcesLeftOpen: resources.filter(
        (id) => stack.sim.getResource(id)?.properties?.publicNetworkAccess !== "Disabled",
      ).length,
    });

    // Every cause — the one that fixed its resource and the 150 that found it fixed — has exactly
    // its one record. Mutation: in shared/pipeline/run.ts give the `noop` plan `record: undefined`
    // (a compliant decision answered 2xx without its record) → 150 causes without a record, this fails.
    for (const delivery of deliveries) {
      const mine = perCause.get(causeOf(delivery));
      expect(mine?.length ?? 0, causeOf(delivery)).toBe(1);
    }
    expect(records).toHaveLength(deliveries.length);
    for (const id of resources) {
      // Mutation: make the gate's `enter` ignore a held lease (resource-gate.ts `busy` → false) →
      // two writers per resource, two writes and two `remediated` records, this fails.
      expect(writesTo(id), id).toBe(1);
      const mine = records.filter((r) => r.resourceId.toLowerCase() === id.toLowerCase());
      expect(
        mine.filter((r) => r.outcome === "remediated"),
        id,
      ).toHaveLength(1);
      // Every other cause found it compliant; nothing failed.
      expect(
        mine.filter((r) => r.outcome === "compliant"),
        id,
      ).toHaveLength(mine.length - 1);
      expect(stack.sim.getResource(id)?.properties?.publicNetworkAccess).toBe("Disabled");
    }
    expect(outcomes("remediated")).toBe(100);
    expect(outcomes("compliant")).toBe(150);
    // The one cross-check through the API: GET /api/audit returns the same records as the store.
    const viaApi = (await stack.audit()).filter((r) => isOurs(r.resourceId));
    expect(viaApi.map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort());
    const verify = await stack.runtime.stores.audit.verify();
    expect(verify.breaks).toEqual([]);
  }, 120_000);

  it("6 simultaneous near-expiry events for one secret: one new version, one key regeneration", async () => {
    const before = stack.sim.listSecretVersions("kv-conc", "training-key").length;
    const events = Array.from({ length: 6 }, () => [nearExpiryEvent(crypto.randomUUID())]);
    await Promise.all(events.map((e) => deliverUntilAccepted(stack, e)));

    const records = (await recordsInStore(stack)).filter((r) => r.kind === "rotate-secret");
    const newVersions = stack.sim.listSecretVersions("kv-conc", "training-key").length - before;
    const regenerations = stack.sim.writes({ pathIncludes: "stkeysconc/regenerateKey" }).length;
    const outcomes = (o: string) => records.filter((r) => r.outcome === o).length;
    await saveFigures("near-expiry-at-once", {
      events: events.length,
      newVersions,
      keyRegenerations: regenerations,
      records: records.length,
      remediatedRecords: outcomes("remediated"),
      compliantRecords: outcomes("compliant"),
    });

    expect(newVersions).toBe(1);
    expect(regenerations).toBe(1);
    expect(outcomes("remediated")).toBe(1);
    expect(outcomes("compliant")).toBe(5);
    expect(records).toHaveLength(6);
    // The stored value is the regenerated key2, and the tag says so.
    const latest = stack.sim.getSecret("kv-conc", "training-key")!;
    expect(latest.tags.CredentialId).toBe("key2");
    expect(latest.value).toBe(stack.sim.getStorageKeys(PROVIDER).find((k) => k.keyName === "key2")?.value);
    // The hour's action limit was charged once, not six times.
    expect(outcomes("pending-approval")).toBe(0);
  }, 60_000);
});
