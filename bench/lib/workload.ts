/**
 * The bench's workload: seeded resources that drift (storage accounts open to the Internet) and
 * real-shaped Azure Resource Manager events about them, as Event Grid delivers them (one event per
 * delivery, as the Functions Event Grid trigger receives them).
 */

import { armWriteEvent } from "../../dev/arm-event-builder.js";
import type { Seed } from "../../dev/azure-sim/index.js";

export { armWriteEvent };

export const BENCH_SUB = "00000000-0000-0000-0000-0000000000bb";

export const BENCH_POLICY_YAML = `# The bench's policy: the shipped one for storage accounts, with a blast-radius limit a load test
# does not hit (the default 50 per hour would turn most of the burst into approval requests).
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: enforce
    maxActionsPerHour: 100000
`;

/** `count` storage accounts in resource group `group`, named `<prefix><n>`. */
export function storageAccounts(group: string, prefix: string, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) =>
      `/subscriptions/${BENCH_SUB}/resourceGroups/${group}/providers/Microsoft.Storage/storageAccounts/${prefix}${String(i).padStart(5, "0")}`,
  );
}

export function driftedStorageAccount(id: string) {
  return {
    id,
    name: id.split("/").pop()!,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags: { env: "bench" },
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true, minimumTlsVersion: "TLS1_2" },
  };
}

export function seedOf(ids: readonly string[]): Seed {
  return { resources: ids.map(driftedStorageAccount) };
}

/** Fisher–Yates with a seeded generator (the same burst every run). */
export function shuffled<T>(items: readonly T[], seed = 42): T[] {
  const out = [...items];
  let s = seed >>> 0;
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * A burst of `total` events about `ids.length` resources: one event per resource, plus redeliveries
 * of the same events (Event Grid's at-least-once duplicates) up to `total`, shuffled.
 */
export function burstWithDuplicates(ids: readonly string[], total: number, seed = 7) {
  const originals = ids.map((id) => ({ resourceId: id, event: armWriteEvent(id) }));
  const duplicates = shuffled(originals, seed).slice(0, total - originals.length);
  const extra = Array.from(
    { length: Math.max(0, total - originals.length - duplicates.length) },
    (_, i) => originals[i % originals.length]!,
  );
  return shuffled([...originals, ...duplicates, ...extra], seed + 1);
}
