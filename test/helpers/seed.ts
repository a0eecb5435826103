/** Seeded ARM resources for tests: name and type derived from the ID, as ARM would answer them. */
import type { Seed } from "../../dev/azure-sim/index.js";

export type SeedResource = NonNullable<Seed["resources"]>[number];

export function armResource(id: string, rest: Record<string, unknown> = {}): SeedResource {
  const parts = id.split("/providers/").at(-1)!.split("/");
  const type = [parts[0], ...parts.slice(1).filter((_, i) => i % 2 === 0)].join("/");
  return { id, name: parts.at(-1)!, type, location: "westeurope", tags: {}, ...rest };
}

/** A storage account open to the Internet (what `disable-public-network-access` fixes). */
export function publicStorageAccount(id: string): SeedResource {
  return armResource(id, {
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
  });
}
