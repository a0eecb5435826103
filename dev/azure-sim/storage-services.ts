/**
 * A storage account's blob service (`…/storageAccounts/{a}/blobServices/default`): ARM has one for
 * every account, even when nobody ever set its properties. The simulator stores it only when seeded
 * or written, so before a request reaches it, an account without one gets the properties a new
 * account shows (CORS empty, blob soft delete off; versioning and container soft delete absent).
 */
import type { ArmResource } from "./common.js";
import type { ResourceStore } from "./store.js";

const BLOB_SERVICE =
  /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+)\/blobServices(?:\/(default))?(?:\/|$)/i;

/** The blob service a new account has, as ARM shows it. */
export function defaultBlobService(account: ArmResource): ArmResource {
  return {
    id: `${account.id}/blobServices/default`,
    name: "default",
    type: "Microsoft.Storage/storageAccounts/blobServices",
    ...(account.sku !== undefined ? { sku: structuredClone(account.sku) } : {}),
    properties: {
      cors: { corsRules: [] },
      deleteRetentionPolicy: { allowPermanentDelete: false, enabled: false },
    },
  };
}

/** Stores the account's default blob service when `path` is about it (or lists it) and it is not stored yet. */
export function ensureBlobService(store: ResourceStore, path: string): void {
  const m = BLOB_SERVICE.exec(path);
  if (!m) return;
  const account = store.get(m[1]!);
  if (!account || store.has(`${account.id}/blobServices/default`)) return;
  store.put(defaultBlobService(account));
}
