/**
 * In-memory event outbox for tests and the harness, with the Cosmos DB outbox's semantics
 * (shared/cosmos/event-outbox.ts): an entry is added in the same step as its record, listed smallest
 * `seq` first, and removed only by the publisher.
 */
import { resourceKey } from "../audit/chain.js";
import type { AuditRecord, Outcome } from "../audit/types.js";
import {
  type EventOutbox,
  type OutboxEntry,
  type OutboxSelection,
  outboxEntryOf,
  selects,
  type WrittenListener,
} from "../ports/event-outbox.js";

export class InMemoryEventOutbox implements EventOutbox {
  private readonly entries = new Map<string, OutboxEntry>();
  private listener?: WrittenListener;

  constructor(
    private readonly selection: OutboxSelection,
    private readonly readRecord: (resourceId: string, seq: number) => AuditRecord | undefined,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  wants(outcome: Outcome): boolean {
    return selects(this.selection, outcome);
  }

  /** @internal (the store, in the record's own write) */
  add(record: AuditRecord): boolean {
    if (!this.wants(record.outcome)) return false;
    const entry = outboxEntryOf(record, this.clock().getTime());
    this.entries.set(entry.id, entry);
    return true;
  }

  /** @internal (the store, after the write) */
  written(record: AuditRecord, queued: boolean): void {
    this.listener?.(structuredClone(record), queued);
  }

  onWritten(listener: WrittenListener): void {
    this.listener = listener;
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    return [...this.entries.values()]
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
      .map((e) => ({ ...e }));
  }

  async hasPendingBefore(resourceId: string, seq: number): Promise<boolean> {
    const key = resourceKey(resourceId);
    return [...this.entries.values()].some((e) => e.seq < seq && resourceKey(e.resourceId) === key);
  }

  async recordOf(entry: OutboxEntry): Promise<AuditRecord | undefined> {
    const record = this.readRecord(entry.resourceId, entry.seq);
    return record && record.id === entry.recordId && record.hash === entry.hash
      ? structuredClone(record)
      : undefined;
  }

  async remove(entry: OutboxEntry): Promise<void> {
    this.entries.delete(entry.id);
  }

  /** Entries still pending (tests). */
  size(): number {
    return this.entries.size;
  }
}
