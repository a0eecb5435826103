/**
 * The event outbox in Cosmos DB: one document per pending decision event (`docType: "outbox"`), in
 * the record's partition of the `audit` container, written by the record's own write — as the first
 * operation of the gate's commit batch, or in a two-operation batch with a direct append — so in
 * Azure the record and its entry exist together or not at all. The entry is an *upsert*: the local
 * Cosmos stand-in applies a batch in order without rolling back, and a retried write must not fail
 * on the entry it left behind (an entry whose record did not land is an orphan the publisher
 * removes; see docs/events.md#not-one-lost). Entries carry no TTL: they live until published.
 */
import type { Container, JSONObject, OperationInput } from "@azure/cosmos";
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
import { isNotFound } from "./errors.js";

interface OutboxDoc extends OutboxEntry {
  pk: string;
  docType: "outbox";
}

export class CosmosEventOutbox implements EventOutbox {
  private listener?: WrittenListener;

  constructor(
    private readonly container: Container,
    private readonly selection: OutboxSelection,
    private readonly readRecord: (pk: string, id: string) => Promise<AuditRecord | undefined>,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  wants(outcome: Outcome): boolean {
    return selects(this.selection, outcome);
  }

  /** The batch operations that queue `record`'s event (none when its outcome is not published). */
  operationsFor(record: AuditRecord, pk: string): OperationInput[] {
    if (!this.wants(record.outcome)) return [];
    const doc: OutboxDoc = { ...outboxEntryOf(record, this.clock().getTime()), pk, docType: "outbox" };
    return [{ operationType: "Upsert", partitionKey: pk, resourceBody: doc as unknown as JSONObject }];
  }

  /** Tells the publisher a record was written (`queued`: its entry was part of the write). */
  written(record: AuditRecord): void {
    this.listener?.(record, this.wants(record.outcome));
  }

  onWritten(listener: WrittenListener): void {
    this.listener = listener;
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const { resources } = await this.container.items
      .query<OutboxDoc>({
        query:
          'SELECT TOP @top c.id, c.resourceId, c.seq, c.recordId, c.hash, c.atMs FROM c WHERE c.docType = "outbox" ORDER BY c.seq ASC',
        parameters: [{ name: "@top", value: limit }],
      })
      .fetchAll();
    return resources.map(({ id, resourceId, seq, recordId, hash, atMs }) => ({
      id,
      resourceId,
      seq,
      recordId,
      hash,
      atMs,
    }));
  }

  async hasPendingBefore(resourceId: string, seq: number): Promise<boolean> {
    const pk = resourceKey(resourceId);
    const { resources } = await this.container.items
      .query<number>(
        {
          query: 'SELECT TOP 1 VALUE c.seq FROM c WHERE c.docType = "outbox" AND c.seq < @seq',
          parameters: [{ name: "@seq", value: seq }],
        },
        { partitionKey: pk },
      )
      .fetchAll();
    return resources.length > 0;
  }

  async recordOf(entry: OutboxEntry): Promise<AuditRecord | undefined> {
    const record = await this.readRecord(resourceKey(entry.resourceId), entry.recordId);
    return record && record.hash === entry.hash ? record : undefined;
  }

  async remove(entry: OutboxEntry): Promise<void> {
    try {
      await this.container.item(entry.id, resourceKey(entry.resourceId)).delete();
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
