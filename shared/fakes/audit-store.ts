/**
 * In-memory audit store for unit tests and the test harness. It follows exactly the semantics of
 * the Cosmos DB store (shared/cosmos/audit-store.ts): same query order and paging, same chain and
 * head rules.
 */
import { type ChainHead, chainRecord, GENESIS_HASH, resourceKey, verifyChains } from "../audit/chain.js";
import { encodeContinuation, matchesQuery, normalizeQuery, sortKey } from "../audit/paging.js";
import { storableRecordInput } from "../audit/record.js";
import type { AuditPage, AuditQuery, AuditRecord, AuditRecordInput, VerifyReport } from "../audit/types.js";
import { KeyedMutex } from "../keyed-mutex.js";
import type { AuditStore } from "../ports/audit-store.js";
import type { OutboxSelection } from "../ports/event-outbox.js";
import { InMemoryEventOutbox } from "./event-outbox.js";

interface Entry {
  record: AuditRecord;
  key: string;
}

export class InMemoryAuditStore implements AuditStore {
  private readonly chains = new Map<string, AuditRecord[]>();
  /** Chain heads, kept apart from the records like the Cosmos store's head documents: a witness of
   *  each chain's end, so that a deleted tail is detected. */
  private readonly heads = new Map<string, ChainHead>();
  /** Newest first by sort key. */
  private readonly sorted: Entry[] = [];
  private readonly mutex = new KeyedMutex();
  /** Present when decision events are on: each record's entry is added with the record. */
  readonly outbox?: InMemoryEventOutbox;

  constructor(opts: { events?: OutboxSelection; clock?: () => Date } = {}) {
    if (opts.events)
      this.outbox = new InMemoryEventOutbox(
        opts.events,
        (resourceId, seq) => this.chains.get(resourceKey(resourceId))?.find((r) => r.seq === seq),
        opts.clock,
      );
  }

  async append(input: AuditRecordInput): Promise<AuditRecord> {
    const clean = storableRecordInput(input);
    const chainKey = resourceKey(clean.resourceId);
    return this.mutex.run(chainKey, async () => {
      const chain = this.chains.get(chainKey) ?? [];
      const head = this.heads.get(chainKey);
      const seq = (head?.seq ?? 0) + 1;
      const record = chainRecord(clean, seq, head?.hash ?? GENESIS_HASH);
      const stored = structuredClone(record);
      chain.push(stored);
      this.chains.set(chainKey, chain);
      this.heads.set(chainKey, {
        resourceId: stored.resourceId,
        seq,
        hash: stored.hash,
        recordId: stored.id,
      });
      const key = sortKey(stored);
      // Binary insertion keeps `sorted` newest first.
      let lo = 0;
      let hi = this.sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.sorted[mid]!.key > key) lo = mid + 1;
        else hi = mid;
      }
      this.sorted.splice(lo, 0, { record: stored, key });
      const queued = this.outbox?.add(stored) ?? false;
      this.outbox?.written(record, queued);
      return structuredClone(record);
    });
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    const nq = normalizeQuery(q);
    const items: AuditRecord[] = [];
    let lastKey: string | undefined;
    let more = false;
    for (const e of this.sorted) {
      if (!matchesQuery(e.record, e.key, nq)) continue;
      if (items.length === nq.limit) {
        more = true;
        break;
      }
      items.push(structuredClone(e.record));
      lastKey = e.key;
    }
    return { items, continuationToken: more && lastKey ? encodeContinuation(lastKey) : null };
  }

  async verify(opts: { resourceId?: string } = {}): Promise<VerifyReport> {
    const keys = opts.resourceId
      ? [resourceKey(opts.resourceId)]
      : [...new Set([...this.chains.keys(), ...this.heads.keys()])];
    const chains = new Map(keys.map((k) => [k, this.chains.get(k) ?? []]));
    const heads = new Map<string, ChainHead>();
    for (const k of keys) {
      const head = this.heads.get(k);
      if (head) heads.set(k, head);
    }
    return verifyChains(chains, heads);
  }

  /** The stored records of one resource's chain, by reference — for tests that tamper with storage
   *  behind the store's back (the equivalent of editing a Cosmos document directly). */
  unsafeStoredChain(resourceId: string): AuditRecord[] {
    return this.chains.get(resourceKey(resourceId)) ?? [];
  }

  /** Deletes one stored record behind the store's back (tests: the equivalent of deleting a Cosmos document). */
  unsafeRemove(resourceId: string, seq: number): boolean {
    const chain = this.chains.get(resourceKey(resourceId)) ?? [];
    const i = chain.findIndex((r) => r.seq === seq);
    if (i < 0) return false;
    const [removed] = chain.splice(i, 1);
    const j = this.sorted.findIndex((e) => e.record === removed);
    if (j >= 0) this.sorted.splice(j, 1);
    return true;
  }
}
