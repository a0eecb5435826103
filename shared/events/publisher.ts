/**
 * Publishes every decision as a CloudEvent, at least once, with stable IDs (docs/events.md):
 *
 * - right after a record is written (`written`), its event is sent and its outbox entry removed —
 *   one send and one delete per record on the hot path. Sends of one resource queue behind each
 *   other in chain order; a record is sent directly only when the resource's previous event is known
 *   to be out (this process sent it, or no earlier entry is pending), else it is left to the timer,
 *   so one resource's events are never sent out of chain order;
 * - the `publishEvents` timer (`publishPending`) sends whatever is left — a host that died between
 *   commit and send, a topic that was down — smallest `seq` first, in rounds of at most one event
 *   per resource, and removes entries whose record never landed (orphans of a failed write);
 * - an entry is removed only after the topic accepted its event. Nothing is published under any ID
 *   but its record's; a send whose answer was lost is sent again under the same ID.
 */
import { resourceKey } from "../audit/chain.js";
import type { AuditRecord } from "../audit/types.js";
import { KeyedMutex } from "../keyed-mutex.js";
import type { Logger } from "../log.js";
import { type EventOutbox, type OutboxEntry, outboxEntryOf } from "../ports/event-outbox.js";
import { redactText } from "../redact.js";
import { type DecisionCloudEvent, toDecisionEvent } from "./decision-event.js";

/** Where events go: an Event Grid topic (shared/events/event-grid-sink.ts) or a test double. */
export interface EventSink {
  /** Sends one batch; throws when the topic did not accept it (`statusCode` when it answered). */
  send(events: DecisionCloudEvent[]): Promise<void>;
}

export interface PublisherOptions {
  outbox: EventOutbox;
  sink: EventSink;
  /** CloudEvents `source`: `/driftguard/<instance>`. */
  source: string;
  log: Logger;
  clock?: () => Date;
  /** The timer leaves entries younger than this to the writer that is sending them (default 30 s). */
  minAgeMs?: number;
  /** After a failed send, the hot path leaves everything to the timer this long (default 30 s). */
  pauseMs?: number;
}

export interface PublishReport {
  published: number;
  orphansRemoved: number;
  /** Entries still pending after this run (too young, or the topic refused them). */
  left: number;
}

/** A topic accepts at most 1 MB per publish; leave room for the batch's brackets and headers. */
const MAX_BATCH_BYTES = 1_000_000;
const MAX_BATCH_EVENTS = 500;
/** Entries the timer reads per page, and pages per run. */
const PAGE = 500;
const MAX_PAGES = 20;
/** Resources whose last sent `seq` this process remembers. */
const MAX_REMEMBERED = 10_000;

export class DecisionPublisher {
  private readonly mutex = new KeyedMutex();
  /** Per resource key: the `seq` of the last event this process knows to be out. */
  private readonly sentThrough = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private pausedUntilMs = 0;
  private readonly clock: () => Date;
  private readonly minAgeMs: number;
  private readonly pauseMs: number;

  constructor(private readonly opts: PublisherOptions) {
    this.clock = opts.clock ?? (() => new Date());
    this.minAgeMs = opts.minAgeMs ?? 30_000;
    this.pauseMs = opts.pauseMs ?? 30_000;
    opts.outbox.onWritten((record, queued) => this.written(record, queued));
  }

  /** A record was written (`queued`: with an outbox entry). Sends in the background, in chain order. */
  written(record: AuditRecord, queued: boolean): void {
    const key = resourceKey(record.resourceId);
    const work = this.mutex
      .run(key, async () => {
        if (!queued) {
          // Not published (outcome not selected): the chain's order moves on past it.
          if (this.sentThrough.get(key) === record.seq - 1) this.remember(key, record.seq);
          return;
        }
        await this.sendNow(key, record);
      })
      .catch((err: unknown) =>
        this.opts.log.warn(
          { recordId: record.id, err: redactText(String((err as Error)?.message ?? err)) },
          "decision event left for the publishEvents timer",
        ),
      );
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Resolves when every send started so far has finished (tests; a clean shutdown). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async sendNow(key: string, record: AuditRecord): Promise<void> {
    if (this.clock().getTime() < this.pausedUntilMs) return; // the topic just failed: the timer retries
    const previousOut = record.seq === 1 || this.sentThrough.get(key) === record.seq - 1;
    if (!previousOut && (await this.opts.outbox.hasPendingBefore(record.resourceId, record.seq))) {
      this.sentThrough.delete(key);
      return; // an earlier event of this resource is still pending: the timer sends both, in order
    }
    try {
      await this.opts.sink.send([toDecisionEvent(record, this.opts.source)]);
    } catch (err) {
      this.sentThrough.delete(key);
      this.pausedUntilMs = this.clock().getTime() + this.pauseMs;
      throw err;
    }
    this.remember(key, record.seq);
    await this.opts.outbox.remove(outboxEntryOf(record, 0));
  }

  private remember(key: string, seq: number): void {
    this.sentThrough.delete(key);
    this.sentThrough.set(key, seq);
    if (this.sentThrough.size > MAX_REMEMBERED)
      this.sentThrough.delete(this.sentThrough.keys().next().value!);
  }

  /** The timer's run: sends every pending event old enough, each resource's in chain order. */
  async publishPending(): Promise<PublishReport> {
    const report: PublishReport = { published: 0, orphansRemoved: 0, left: 0 };
    for (let page = 0; page < MAX_PAGES; page++) {
      const entries = await this.opts.outbox.pending(PAGE);
      const { sent, orphans, left, stop } = await this.publishPage(entries);
      report.published += sent;
      report.orphansRemoved += orphans;
      report.left = left;
      if (stop || entries.length < PAGE || sent + orphans === 0) break;
    }
    return report;
  }

  private async publishPage(
    entries: OutboxEntry[],
  ): Promise<{ sent: number; orphans: number; left: number; stop: boolean }> {
    const nowMs = this.clock().getTime();
    // Per resource, in seq order; a young entry holds back the rest of its resource (its writer is
    // sending it, and the order must hold).
    const byResource = new Map<string, OutboxEntry[]>();
    for (const e of entries) {
      const key = resourceKey(e.resourceId);
      const list = byResource.get(key) ?? [];
      list.push(e);
      byResource.set(key, list);
    }
    let orphans = 0;
    const queues: { key: string; items: { entry: OutboxEntry; record: AuditRecord }[] }[] = [];
    for (const [key, list] of byResource) {
      list.sort((a, b) => a.seq - b.seq);
      const items: { entry: OutboxEntry; record: AuditRecord }[] = [];
      for (const entry of list) {
        if (nowMs - entry.atMs < this.minAgeMs) break;
        const record = await this.opts.outbox.recordOf(entry);
        if (!record) {
          // The write that queued it did not land (or landed as another record): nothing to publish.
          await this.opts.outbox.remove(entry);
          orphans++;
          continue;
        }
        items.push({ entry, record });
      }
      if (items.length > 0) queues.push({ key, items });
    }
    let sent = 0;
    let stop = false;
    const blocked = new Set<string>();
    // Round r sends the r-th pending event of every resource: one resource's events go out one
    // publish after another, in chain order; different resources share a publish.
    for (let round = 0; !stop; round++) {
      const batch = queues
        .filter((q) => q.items.length > round && !blocked.has(q.key))
        .map((q) => ({ key: q.key, ...q.items[round]! }));
      if (batch.length === 0) break;
      for (const chunk of chunks(
        batch.map((b) => ({ ...b, event: toDecisionEvent(b.record, this.opts.source) })),
      )) {
        try {
          await this.mutexAll(
            chunk.map((c) => c.key),
            () => this.opts.sink.send(chunk.map((c) => c.event)),
          );
        } catch (err) {
          const status = (err as { statusCode?: number }).statusCode;
          const refused = chunk.length === 1 && (status === 400 || status === 413);
          this.opts.log[refused ? "error" : "warn"](
            {
              events: chunk.length,
              ...(refused ? { recordId: chunk[0]!.record.id, status } : {}),
              err: redactText(String((err as Error)?.message ?? err)),
            },
            refused
              ? "the topic refuses this decision event; it stays pending and holds back its resource's later events"
              : "decision events not accepted by the topic; left for the next run",
          );
          if (!refused) {
            stop = true;
            break;
          }
          blocked.add(chunk[0]!.key);
          continue;
        }
        for (const c of chunk) {
          await this.opts.outbox.remove(c.entry);
          this.remember(c.key, c.record.seq);
          sent++;
        }
      }
    }
    this.pausedUntilMs = stop ? this.clock().getTime() + this.pauseMs : 0;
    return { sent, orphans, left: entries.length - sent - orphans, stop };
  }

  /** Runs `fn` while holding each resource's send queue (no hot-path send of these resources meanwhile). */
  private mutexAll<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const [first, ...rest] = [...new Set(keys)].sort();
    if (first === undefined) return fn();
    return this.mutex.run(first, () => this.mutexAll(rest, fn));
  }
}

/** Splits into publishes of at most MAX_BATCH_EVENTS events and MAX_BATCH_BYTES bytes. */
function chunks<T extends { event: DecisionCloudEvent }>(items: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 2;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item.event)) + 1;
    if (current.length > 0 && (current.length >= MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 2;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
