/**
 * Audit-side checks of the bench: records per cause over a burst (exactly-once), chains verified,
 * and resources with a long history (a full page for `GET /api/audit?resourceId=`) written straight
 * into the stand-in as chained records with their head, as driftguard would have written them.
 */
import type { Container } from "@azure/cosmos";
import {
  computeRecordHash,
  GENESIS_HASH,
  recordId,
  resourceKey,
  verifyChain,
} from "../shared/audit/chain.js";
import type { AuditRecord } from "../shared/audit/types.js";
import { type CosmosAuditStore, headId } from "../shared/cosmos/audit-store.js";
import { BENCH_SUB } from "./lib/workload.js";

/**
 * The records of resources whose lower-cased ID starts with `prefix` (one scan of the stand-in):
 * records per (resource, event ID), and each resource's chain checked link by link.
 */
export async function burstRecords(audit: Container, store: CosmosAuditStore, prefix: string) {
  const { resources } = await audit.items
    .query<Record<string, unknown>>(
      {
        query: 'SELECT * FROM c WHERE c.docType = "record" AND STARTSWITH(c.rid, @p)',
        parameters: [{ name: "@p", value: prefix.toLowerCase() }],
      },
      { maxItemCount: 10_000 },
    )
    .fetchAll();
  const perCause = new Map<string, number>();
  const chains = new Map<string, AuditRecord[]>();
  for (const doc of resources) {
    const r = store.toRecord(doc);
    const key = `${r.resourceId.toLowerCase()}|${r.signal.id}`;
    perCause.set(key, (perCause.get(key) ?? 0) + 1);
    chains.set(r.resourceId.toLowerCase(), [...(chains.get(r.resourceId.toLowerCase()) ?? []), r]);
  }
  let breaks = 0;
  for (const records of chains.values()) {
    records.sort((a, b) => a.seq - b.seq);
    if (verifyChain(records)) breaks++;
  }
  return { perCause, chains: chains.size, records: resources.length, breaks };
}

/** Writes `perResource` chained records (+ head) for each resource, one transactional batch each. */
export async function seedHistories(
  audit: Container,
  store: CosmosAuditStore,
  resourceIds: readonly string[],
  perResource: number,
): Promise<number> {
  let written = 0;
  const start = Date.parse("2025-01-01T00:00:00.000Z");
  for (const resourceId of resourceIds) {
    const pk = resourceKey(resourceId);
    let prevHash = GENESIS_HASH;
    const docs: Record<string, unknown>[] = [];
    let last: AuditRecord | undefined;
    for (let seq = 1; seq <= perResource; seq++) {
      const base = {
        time: new Date(start + seq * 3_600_000).toISOString(),
        subscriptionId: BENCH_SUB,
        resourceId,
        resourceType: "Microsoft.Storage/storageAccounts",
        signal: {
          source: "eventgrid" as const,
          type: "Microsoft.Resources.ResourceWriteSuccess",
          id: crypto.randomUUID(),
          correlationId: crypto.randomUUID(),
          caller: { id: "a1b2c3d4e5f60718293a4b5c6d7e8f90", appId: "04b07795-8ddb-461a-bbee-02f9e1bf7b46" },
        },
        policy: "storage-private",
        kind: "disable-public-network-access",
        mode: "enforce" as const,
        outcome: seq % 2 ? ("remediated" as const) : ("compliant" as const),
        changes: seq % 2 ? [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }] : [],
        actor: "driftguard",
        approver: null,
        error: null,
        durationMs: 180,
        reason: seq % 2 ? "Disable public network access" : "public network access is disabled",
        id: recordId(resourceId, seq),
        seq,
        prevHash,
      };
      const record: AuditRecord = { ...base, hash: computeRecordHash(base) };
      docs.push(store.toDoc(record, pk));
      prevHash = record.hash;
      last = record;
    }
    docs.push({
      id: headId(pk),
      pk,
      docType: "head",
      resourceId,
      seq: last!.seq,
      hash: last!.hash,
      recordId: last!.id,
    });
    const res = await audit.items.batch(
      docs.map((d) => ({ operationType: "Create" as const, partitionKey: pk, resourceBody: d as never })),
      pk,
    );
    if (!res.result?.every((r) => r.statusCode < 300)) throw new Error(`seeding ${resourceId} failed`);
    written += perResource;
  }
  return written;
}

/** Mean stored size (JSON bytes) of audit records and chain heads: the input of the RU estimate. */
export async function documentSizes(audit: Container): Promise<{ recordBytes: number; headBytes: number }> {
  const mean = async (docType: string) => {
    const { resources } = await audit.items
      .query<Record<string, unknown>>({
        query: "SELECT TOP 200 * FROM c WHERE c.docType = @t",
        parameters: [{ name: "@t", value: docType }],
      })
      .fetchAll();
    const sizes = resources.map((r) => Buffer.byteLength(JSON.stringify(r)));
    return sizes.length ? Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length) : 0;
  };
  return { recordBytes: await mean("record"), headBytes: await mean("head") };
}
