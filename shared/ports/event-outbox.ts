/**
 * The event outbox port (docs/events.md#not-one-lost): every record written while decision events
 * are on gets an outbox entry in the same write (the same transactional batch in Cosmos DB, in the
 * record's partition, placed before the record), so a record never exists without its pending
 * event. An entry is removed only after its event was published. Entries point at their record by
 * ID and hash: an entry whose record never landed (or is another writer's) is an orphan.
 */
import type { AuditRecord, Outcome } from "../audit/types.js";

export interface OutboxEntry {
  /** Deterministic: `<recordId>-evt-<hash prefix>` (a retried write lands on the same entry). */
  id: string;
  resourceId: string;
  seq: number;
  recordId: string;
  hash: string;
  /** When the entry was written (epoch ms): the timer leaves young entries to the writer. */
  atMs: number;
}

/** Which records get an entry (`DRIFTGUARD_EVENTS_OUTCOMES`; undefined = every outcome). */
export interface OutboxSelection {
  outcomes?: readonly Outcome[];
}

export type WrittenListener = (record: AuditRecord, queued: boolean) => void;

export interface EventOutbox {
  /** Whether a record of this outcome gets an entry. */
  wants(outcome: Outcome): boolean;
  /** Pending entries, smallest `seq` first (so each resource's entries come in chain order). */
  pending(limit: number): Promise<OutboxEntry[]>;
  /** Whether an entry of this resource before `seq` is still pending. */
  hasPendingBefore(resourceId: string, seq: number): Promise<boolean>;
  /** The stored record the entry points at; undefined when it never landed or is another record. */
  recordOf(entry: OutboxEntry): Promise<AuditRecord | undefined>;
  /** Removes the entry (after its event was published); an entry already gone is fine. */
  remove(entry: OutboxEntry): Promise<void>;
  /** Called after every record write (`queued`: the write carried an entry). One listener. */
  onWritten(listener: WrittenListener): void;
}

export function outboxEntryId(record: Pick<AuditRecord, "id" | "hash">): string {
  return `${record.id}-evt-${record.hash.slice(0, 16)}`;
}

export function outboxEntryOf(record: AuditRecord, atMs: number): OutboxEntry {
  return {
    id: outboxEntryId(record),
    resourceId: record.resourceId,
    seq: record.seq,
    recordId: record.id,
    hash: record.hash,
    atMs,
  };
}

/** The selection's test, shared by every outbox. */
export function selects(selection: OutboxSelection, outcome: Outcome): boolean {
  return !selection.outcomes || selection.outcomes.includes(outcome);
}
