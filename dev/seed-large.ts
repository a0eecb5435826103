/**
 * Writes a large simulator seed for the sweep benchmark (docs/local-stack.md#a-large-seed):
 *
 *   npm run seed:large -- --resources 10000 --subscriptions 20 --drift 0.02 [--out FILE] [--seed N]
 *
 * Storage accounts (40 %), ML workspaces (20 %), Cognitive Services accounts (20 %) and NSGs with
 * two rules (20 %), spread over the subscriptions (one resource group per type and subscription).
 * A `--drift` share of them, chosen by a seeded random generator (same arguments → same file), is
 * non-compliant: public network access enabled, or an NSG rule open to the Internet on port 22.
 * No Key Vaults: each simulated vault takes a port of its own.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Seed } from "./azure-sim/index.js";

export interface LargeSeedOptions {
  resources: number;
  subscriptions: number;
  /** Share of non-compliant resources, 0..1. */
  drift: number;
  /** Random seed (deterministic output). */
  seed?: number;
}

export interface LargeSeed extends Seed {
  /** IDs of the non-compliant resources (NSGs: their open rule), sorted. */
  drifted: string[];
}

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function subscriptionIdOf(i: number): string {
  return `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`;
}

const rule = (name: string, source: string, port: string, priority: number) => ({
  name,
  properties: {
    protocol: "Tcp",
    sourceAddressPrefix: source,
    sourcePortRange: "*",
    destinationAddressPrefix: "*",
    destinationPortRange: port,
    access: "Allow",
    direction: "Inbound",
    priority,
  },
});

export function largeSeed(opts: LargeSeedOptions): LargeSeed {
  const { resources: total, subscriptions } = opts;
  if (!Number.isInteger(total) || total < 1 || total > 1_000_000)
    throw new Error("--resources: 1 to 1000000");
  if (!Number.isInteger(subscriptions) || subscriptions < 1 || subscriptions > 5000)
    throw new Error("--subscriptions: 1 to 5000");
  if (!(opts.drift >= 0 && opts.drift <= 1)) throw new Error("--drift: a share from 0 to 1");
  const random = prng(opts.seed ?? 42);
  const driftCount = Math.round(total * opts.drift);
  // Exactly `driftCount` drifted resources, at random positions.
  const order = Array.from({ length: total }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const drifted = new Set(order.slice(0, driftCount));
  const out: NonNullable<Seed["resources"]> = [];
  // name and type as ARM derives them from the ID
  const push = (r: { id: string } & Record<string, unknown>) => {
    const parts = r.id.split("/providers/")[1]!.split("/");
    out.push({ name: parts.at(-1)!, type: `${parts[0]}/${parts[1]}`, ...r } as NonNullable<
      Seed["resources"]
    >[number]);
  };
  const driftedIds: string[] = [];
  for (let i = 0; i < total; i++) {
    const sub = subscriptionIdOf(i % subscriptions);
    const bad = drifted.has(i);
    const n = String(i).padStart(7, "0");
    const slot = i % 10;
    const base = `/subscriptions/${sub}/resourceGroups`;
    if (slot < 4) {
      const id = `${base}/rg-data/providers/Microsoft.Storage/storageAccounts/st${n}`;
      push({
        id,
        location: "westeurope",
        kind: "StorageV2",
        tags: { team: "ml" },
        properties: bad
          ? { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true }
          : { publicNetworkAccess: "Disabled", allowBlobPublicAccess: false },
      });
      if (bad) driftedIds.push(id);
    } else if (slot < 6) {
      const id = `${base}/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-${n}`;
      push({
        id,
        location: "westeurope",
        tags: {},
        properties: { publicNetworkAccess: bad ? "Enabled" : "Disabled" },
      });
      if (bad) driftedIds.push(id);
    } else if (slot < 8) {
      const id = `${base}/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-${n}`;
      push({
        id,
        location: "swedencentral",
        kind: "OpenAI",
        tags: {},
        properties: { publicNetworkAccess: bad ? "Enabled" : "Disabled" },
      });
      if (bad) driftedIds.push(id);
    } else {
      const id = `${base}/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-${n}`;
      push({
        id,
        location: "westeurope",
        tags: {},
        properties: {
          securityRules: [
            rule("allow-https-vnet", "VirtualNetwork", "443", 100),
            bad
              ? rule("allow-ssh-internet", "*", "22", 110)
              : rule("allow-ssh-bastion", "10.0.0.0/24", "22", 110),
          ],
        },
      });
      if (bad) driftedIds.push(`${id}/securityRules/allow-ssh-internet`);
    }
  }
  return { resources: out, drifted: driftedIds.sort() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resources: { type: "string", default: "10000" },
      subscriptions: { type: "string", default: "20" },
      drift: { type: "string", default: "0.02" },
      seed: { type: "string", default: "42" },
      out: { type: "string", default: path.join(".driftguard", "seed-large.json") },
    },
  });
  const seed = largeSeed({
    resources: Number(values.resources),
    subscriptions: Number(values.subscriptions),
    drift: Number(values.drift),
    seed: Number(values.seed),
  });
  const { drifted, ...file } = seed;
  await mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
  await writeFile(values.out, JSON.stringify(file));
  process.stdout.write(
    `${values.out}: ${seed.resources?.length} resources in ${values.subscriptions} subscriptions, ${drifted.length} non-compliant\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`seed:large: ${(err as Error).message}\n`);
    process.exitCode = 2;
  });
}
