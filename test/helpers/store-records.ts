/**
 * The audit records as the store holds them: read straight from the Cosmos DB stand-in with
 * `@azure/cosmos` (a query over the `audit` container's record documents), not through driftguard's
 * own `GET /api/audit`. The reliability tests count what was written with this, so a bug in the
 * query API (paging, filters, its own store adapter) cannot hide a lost or doubled record.
 */

import https from "node:https";
import { CosmosClient } from "@azure/cosmos";
import type { AuditRecord } from "../../shared/audit/types.js";

export interface StoreConnection {
  cosmosUrl: string;
  cosmosKey: string;
  tls: { cert: string };
}

/** Every record document in the `audit` container of `database`, in no particular order. */
export async function recordsInStore(
  stack: StoreConnection,
  database = "driftguard",
): Promise<AuditRecord[]> {
  const client = new CosmosClient({
    endpoint: stack.cosmosUrl,
    key: stack.cosmosKey,
    // Trust the local CA (the stand-in's certificate); verification stays on.
    agent: new https.Agent({ keepAlive: false, ca: stack.tls.cert }),
    connectionPolicy: { enableEndpointDiscovery: false, requestTimeout: 60_000 },
  });
  try {
    const { resources } = await client
      .database(database)
      .container("audit")
      .items.query<AuditRecord & { docType: string }>('SELECT * FROM c WHERE c.docType = "record"')
      .fetchAll();
    return resources;
  } finally {
    client.dispose();
  }
}

/** Records grouped by cause: the signal's ID and the resource (lower-case), as the gate keys causes. */
export function recordsByCause(records: readonly AuditRecord[]): Map<string, AuditRecord[]> {
  const out = new Map<string, AuditRecord[]>();
  for (const r of records) {
    const key = `${r.signal.id}|${r.resourceId.toLowerCase()}`;
    out.set(key, [...(out.get(key) ?? []), r]);
  }
  return out;
}
