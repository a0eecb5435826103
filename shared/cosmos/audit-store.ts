/**
 * Append-only, hash-chained audit trail in Cosmos DB (container `audit`, partition key `/pk` =
 * hash of the lower-cased resource ID: one logical partition per resource chain).
 *
 * Linear chains under concurrent writers (threads, processes, instances):
 * - a record's ID is deterministic, `recordId(resourceId, seq)`, so two writers that both try to
 *   append seq n collide on create (409): exactly one wins. The create is the linearisation point;
 * - a chain-head document (`docType: "head"`, same partition) caches `{seq, hash}` of the latest
 *   record, so an append costs one point read + one create instead of a query. It is only a hint:
 *   it is advanced after the record is created (If-Match, never backwards). When it is behind
 *   (a writer crashed between the two writes, or lost a race), the next append's create hits 409,
 *   reads that record and walks forward — the chain repairs itself deterministically, no record is
 *   ever unreachable, and the head never points at a missing record (it is only written after the
 *   record exists). The chain needs no transactional batch: the local server applies batches
 *   non-atomically, and the hint design needs no atomicity. With decision events on, the record
 *   and its outbox entry are one batch (shared/cosmos/event-outbox.ts).
 * - within one process appends to one chain are also serialised by a mutex (less contention).
 *
 * Records are never replaced or deleted by this code. Expiry is by TTL (retention, default 400
 * days, per record); the head never expires. See docs/audit.md.
 */
import type { Container, JSONObject, OperationInput, SqlParameter } from "@azure/cosmos";
import {
  canonicalJson,
  chainRecord,
  GENESIS_HASH,
  recordId,
  resourceKey,
  verifyChains,
} from "../audit/chain.js";
import { encodeContinuation, normalizeQuery, sortKey } from "../audit/paging.js";
import { storableRecordInput } from "../audit/record.js";
import type { AuditPage, AuditQuery, AuditRecord, AuditRecordInput, VerifyReport } from "../audit/types.js";
import { KeyedMutex } from "../keyed-mutex.js";
import type { AuditStore } from "../ports/audit-store.js";
import type { OutboxSelection } from "../ports/event-outbox.js";
import type { CauseEntry, FixEntry } from "../ports/resource-gate.js";
import {
  backoff,
  ContentionError,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  stripFields,
  withoutSystemProperties,
} from "./errors.js";
import { CosmosEventOutbox } from "./event-outbox.js";

/** Storage-only fields of a record document (not part of the record or its hash). */
const RECORD_STORAGE_FIELDS = ["docType", "rid", "sub", "sk"] as const;

/**
 * The chain head, which is also the resource's control document for the resource gate
 * (shared/cosmos/resource-gate.ts): lease, intent and remembered causes live beside `seq`/`hash`,
 * in the same partition as the records, so a record and the release are one transactional batch.
 * `seq` 0 means "no record yet" (the gate created the document).
 */
export interface HeadDoc {
  id: string;
  pk: string;
  docType: "head";
  resourceId: string;
  seq: number;
  hash: string;
  recordId: string;
  lease?: { token: string; until: string; untilMs: number; cause: string };
  intent?: unknown;
  causes?: Record<string, CauseEntry>;
  /** Recent `remediated` records per kind (the flapping check reads them without a query). */
  fixes?: FixEntry[];
  _etag?: string;
}

export const headId = (pk: string): string => `${pk}-head`;

/** Attempts per append before giving up with a retryable ContentionError. */
const MAX_APPEND_ATTEMPTS = 100;

export interface CosmosAuditStoreOptions {
  /** Days a record is kept (Cosmos TTL, per record). 0 = forever (the setting's default is in config.ts). */
  retentionDays: number;
  /** Decision events on: every record write also queues its event (docs/events.md). */
  events?: OutboxSelection;
}

export class CosmosAuditStore implements AuditStore {
  private readonly mutex = new KeyedMutex();
  private readonly retentionDays: number;
  /** Present when decision events are on. */
  readonly outbox?: CosmosEventOutbox;

  constructor(
    private readonly container: Container,
    opts: CosmosAuditStoreOptions,
  ) {
    this.retentionDays = opts.retentionDays;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < 0)
      throw new RangeError("retentionDays must be a non-negative integer");
    if (opts.events)
      this.outbox = new CosmosEventOutbox(container, opts.events, (pk, id) => this.readRecordDoc(pk, id));
  }

  async append(input: AuditRecordInput): Promise<AuditRecord> {
    const clean = storableRecordInput(input);
    const pk = resourceKey(clean.resourceId);
    return this.mutex.run(pk, async () => {
      const head = await this.readHead(pk);
      let seq = (head?.seq ?? 0) + 1;
      let prevHash = head?.hash ?? GENESIS_HASH;
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        const record = chainRecord(clean, seq, prevHash);
        try {
          await this.writeRecord(record, pk);
        } catch (err) {
          if (!isConflict(err)) throw err;
          // Someone else appended seq `seq`: continue after it (walk forward) — unless it is our own
          // write whose response was lost and retried (same content at the same place in the chain):
          // then it is done, and appending it again would duplicate the decision.
          const existing = await this.readRecordDoc(pk, record.id);
          if (existing && existing.prevHash === prevHash && sameContent(existing, record)) {
            await this.advanceHead(pk, existing, head);
            this.recordWritten(existing);
            return existing;
          }
          if (existing) {
            prevHash = existing.hash;
            seq += 1;
          }
          if (attempt >= 2) await backoff(attempt);
          continue;
        }
        await this.advanceHead(pk, record, head);
        this.recordWritten(record);
        return record;
      }
      throw new ContentionError(
        `audit append for ${clean.resourceId} lost ${MAX_APPEND_ATTEMPTS} races; retry later`,
      );
    });
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    const nq = normalizeQuery(q);
    const where: string[] = ["c.docType = @docType"];
    const parameters: SqlParameter[] = [
      { name: "@docType", value: "record" },
      { name: "@top", value: nq.limit + 1 },
    ];
    const add = (clause: string, name: string, value: string) => {
      where.push(clause);
      parameters.push({ name, value });
    };
    if (nq.resourceId !== undefined) {
      add("c.pk = @pk", "@pk", resourceKey(nq.resourceId));
      add("c.rid = @rid", "@rid", nq.resourceId);
    }
    if (nq.subscriptionId !== undefined) add("c.sub = @sub", "@sub", nq.subscriptionId);
    if (nq.kind !== undefined) add("c.kind = @kind", "@kind", nq.kind);
    if (nq.outcome !== undefined) add("c.outcome = @outcome", "@outcome", nq.outcome);
    if (nq.policy !== undefined) add("c.policy = @policy", "@policy", nq.policy);
    if (nq.actor !== undefined) add("c.actor = @actor", "@actor", nq.actor);
    if (nq.source !== undefined) add("c.signal.source = @source", "@source", nq.source);
    if (nq.from !== undefined) add("c.sk >= @from", "@from", nq.from);
    if (nq.to !== undefined) add("c.sk < @to", "@to", nq.to);
    if (nq.after !== undefined) add("c.sk < @after", "@after", nq.after);
    const query = `SELECT TOP @top * FROM c WHERE ${where.join(" AND ")} ORDER BY c.sk DESC`;
    const { resources } = await this.container.items
      .query<Record<string, unknown>>(
        { query, parameters },
        {
          maxItemCount: nq.limit + 1,
          ...(nq.resourceId !== undefined ? { partitionKey: resourceKey(nq.resourceId) } : {}),
        },
      )
      .fetchAll();
    const more = resources.length > nq.limit;
    const docs = resources.slice(0, nq.limit);
    const items = docs.map((d) => this.toRecord(d));
    const last = docs[docs.length - 1];
    return { items, continuationToken: more && last ? encodeContinuation(String(last.sk)) : null };
  }

  async verify(opts: { resourceId?: string } = {}): Promise<VerifyReport> {
    const { chains, heads } = await this.readChains(opts);
    return verifyChains(chains, heads, { retention: this.retentionDays > 0 });
  }

  /** @internal (verify, evidence) Every record per partition key, and every head document. */
  async readChains(
    opts: { resourceId?: string } = {},
  ): Promise<{ chains: Map<string, AuditRecord[]>; heads: Map<string, HeadDoc> }> {
    const chains = new Map<string, AuditRecord[]>();
    const heads = new Map<string, HeadDoc>();
    const pk = opts.resourceId ? resourceKey(opts.resourceId) : undefined;
    const where = pk ? "c.pk = @pk AND " : "";
    const parameters: SqlParameter[] = pk ? [{ name: "@pk", value: pk }] : [];
    const options = pk ? { partitionKey: pk, maxItemCount: 1000 } : { maxItemCount: 1000 };
    for await (const page of this.container.items
      .query<Record<string, unknown>>(
        { query: `SELECT * FROM c WHERE ${where}c.docType = "record"`, parameters },
        options,
      )
      .getAsyncIterator()) {
      for (const doc of page.resources) {
        const key = String(doc.pk);
        const list = chains.get(key) ?? [];
        list.push(this.toRecord(doc));
        chains.set(key, list);
      }
    }
    for await (const page of this.container.items
      .query<HeadDoc>({ query: `SELECT * FROM c WHERE ${where}c.docType = "head"`, parameters }, options)
      .getAsyncIterator()) {
      for (const h of page.resources) heads.set(h.pk, h);
    }
    return { chains, heads };
  }

  /** @internal (the gate) */
  async readHead(pk: string): Promise<HeadDoc | undefined> {
    const { resource } = await this.container.item(headId(pk), pk).read<HeadDoc>();
    return resource ?? undefined;
  }

  /** @internal (the gate) */
  async readRecordDoc(pk: string, id: string): Promise<AuditRecord | undefined> {
    const { resource } = await this.container.item(id, pk).read<Record<string, unknown>>();
    return resource ? this.toRecord(resource) : undefined;
  }

  /**
   * @internal (the gate) Records of a chain after `seq`, newest first, at most `max`: point reads
   * of seq + 1, seq + 2, … by their deterministic IDs until one is missing. No query: this runs on a
   * decision's path (an interrupted intent is settled by the next holder), where a point read costs
   * 1 RU and a query also costs the SDK's query-plan round trip; a head that lags (the record was
   * written, the head not yet) is walked past, as an append walks past it.
   */
  async recordsAfter(pk: string, resourceId: string, seq: number, max: number): Promise<AuditRecord[]> {
    const found: AuditRecord[] = [];
    for (let next = seq + 1; found.length < max; next++) {
      const record = await this.readRecordDoc(pk, recordId(resourceId, next));
      if (!record) break;
      found.push(record);
    }
    return found.reverse();
  }

  /** Moves the head forward to `record` (If-Match; never backwards), keeping the gate's fields.
   *  Best effort: the head is a hint. */
  private async advanceHead(pk: string, record: AuditRecord, known: HeadDoc | undefined): Promise<void> {
    let head = known;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (head && head.seq >= record.seq) return;
      const next: HeadDoc = {
        ...(head ? withoutSystemProperties(head) : {}),
        id: headId(pk),
        pk,
        docType: "head",
        resourceId: record.resourceId,
        seq: record.seq,
        hash: record.hash,
        recordId: record.id,
      };
      try {
        if (!head) await this.container.items.create(next, { disableAutomaticIdGeneration: true });
        else
          await this.container
            .item(next.id, pk)
            .replace(next, { accessCondition: { type: "IfMatch", condition: head._etag ?? "" } });
        return;
      } catch (err) {
        if (!isConflict(err) && !isPreconditionFailed(err) && !isNotFound(err)) throw err;
        head = await this.readHead(pk);
        await backoff(attempt);
      }
    }
    // Still racing: another writer is advancing the head past us, which is what we wanted.
  }

  /**
   * @internal (the gate) Creates the record document — with its outbox entry in one transactional
   * batch when decision events are on. A failed operation is thrown with its status (409: the seq
   * is taken), as a plain create would be.
   */
  async writeRecord(record: AuditRecord, pk: string): Promise<void> {
    const queue = this.outboxOperations(record, pk);
    if (queue.length === 0) {
      await this.container.items.create(this.toDoc(record, pk), { disableAutomaticIdGeneration: true });
      return;
    }
    const operations: OperationInput[] = [
      ...queue,
      { operationType: "Create", partitionKey: pk, resourceBody: this.toDoc(record, pk) as JSONObject },
    ];
    const response = await this.container.items.batch(operations, pk);
    const failed = batchFailure(response.result, operations.length);
    if (failed !== undefined)
      throw Object.assign(new Error(`record ${record.id} was not written (${failed})`), { code: failed });
  }

  /** @internal (the gate) The operations that queue a record's event, placed before the record. */
  outboxOperations(record: AuditRecord, pk: string): OperationInput[] {
    return this.outbox?.operationsFor(record, pk) ?? [];
  }

  /** @internal (the gate) A record is stored: its event may be sent now. */
  recordWritten(record: AuditRecord): void {
    this.outbox?.written(record);
  }

  /** @internal (the gate) */
  toDoc(record: AuditRecord, pk: string): Record<string, unknown> {
    const doc: Record<string, unknown> = {
      ...record,
      pk,
      docType: "record",
      rid: record.resourceId.toLowerCase(),
      sub: record.subscriptionId.toLowerCase(),
      sk: sortKey(record),
    };
    if (this.retentionDays > 0) doc.ttl = this.retentionDays * 86_400;
    return doc;
  }

  /** @internal (the gate) */
  toRecord(doc: Record<string, unknown>): AuditRecord {
    return stripFields(doc, RECORD_STORAGE_FIELDS) as unknown as AuditRecord;
  }
}

/**
 * The status of a transactional batch's failed operation, or undefined when every one succeeded.
 * Azure answers the failing operation's status and 424 for the others; a missing result is 503.
 */
export function batchFailure(
  results: { statusCode: number }[] | undefined,
  expected: number,
): number | undefined {
  if (!results || results.length !== expected) return 503;
  if (results.every((r) => r.statusCode < 300)) return undefined;
  return (results.find((r) => r.statusCode >= 300 && r.statusCode !== 424) ?? results[0])!.statusCode;
}

/** Same decision: equal in every field but the chain position. */
export function sameContent(a: AuditRecord, b: AuditRecord): boolean {
  const strip = ({ id: _i, seq: _s, prevHash: _p, hash: _h, ...rest }: AuditRecord) => rest;
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}
