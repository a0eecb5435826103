/**
 * Resource gate in Cosmos DB: one writer per resource across instances.
 *
 * The gate's state lives on the resource's chain-head document in the `audit` container (same
 * partition as the resource's records — see `HeadDoc`): the lease (`token`, `untilMs`, the cause),
 * the intent persisted before a write to Azure, and the causes already decided (dedupe). So:
 * - entering is one conditional write of the head (create when new, else a patch of the lease with
 *   If-Match). This process remembers the last head it saw of each resource (`HeadHints`, bounded):
 *   when it has one, the conditional write goes out without a read first. The hint is only that —
 *   a changed head fails the If-Match (412) and is read; a hint that says "decided" or "busy" is
 *   read again before it is believed — so every decision is made from the head as stored;
 * - the final record and the release are ONE transactional batch (create record + replace head with
 *   If-Match): in Azure both happen or neither does, so a record never exists with its cause still
 *   open, and an intent is cleared only together with the record that settles it;
 * - the lease is decided by comparing timestamps, never by TTL.
 * The local Cosmos stand-in applies a batch in order and stops at the first failure (not atomic):
 * the record create goes first, so a failure leaves at worst a head that lags (which appends repair).
 */
import { randomUUID } from "node:crypto";
import type { Container, JSONObject, OperationInput } from "@azure/cosmos";
import { chainRecord, GENESIS_HASH, resourceKey } from "../audit/chain.js";
import { storableRecordInput } from "../audit/record.js";
import type { AuditRecord, AuditRecordInput } from "../audit/types.js";
import {
  allDone,
  type CommitOptions,
  causeList,
  causeStateIn,
  causesAfter,
  fixesAfter,
  type GateEntry,
  type GateSession,
  type Intent,
  isLeaseHeld,
  LeaseLostError,
  type LeaveOptions,
  type RecentFix,
  type ResourceGate,
  recentFixesIn,
  validateLease,
} from "../ports/resource-gate.js";
import { type CosmosAuditStore, type HeadDoc, headId, sameContent } from "./audit-store.js";
import {
  backoff,
  ContentionError,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  withoutSystemProperties,
} from "./errors.js";

/** Most records read after an interrupted intent (the intent's own record comes first after it). */
const RECORDS_SINCE_MAX = 50;

/** Marks "the head has not been read yet" (undefined means "read: there is none"). */
const UNREAD = Symbol("unread");

/** Heads this process remembers (the newest `max`), as hints for a conditional write. */
class HeadHints {
  private readonly heads = new Map<string, HeadDoc>();
  constructor(private readonly max: number) {}

  get(pk: string): HeadDoc | undefined {
    return this.heads.get(pk);
  }

  remember(head: HeadDoc): void {
    this.heads.delete(head.pk);
    this.heads.set(head.pk, head);
    if (this.heads.size > this.max) this.heads.delete(this.heads.keys().next().value!);
  }

  forget(pk: string): void {
    this.heads.delete(pk);
  }
}

/** Heads remembered per process: a few MB at most (a head holds at most 256 remembered causes). */
const DEFAULT_HEAD_HINTS = 2_000;

export class CosmosResourceGate implements ResourceGate {
  /** @internal (sessions keep it current) */
  readonly hints: HeadHints;

  constructor(
    private readonly container: Container,
    private readonly audit: CosmosAuditStore,
    private readonly clock: () => Date = () => new Date(),
    opts: { headHints?: number } = {},
  ) {
    this.hints = new HeadHints(opts.headHints ?? DEFAULT_HEAD_HINTS);
  }

  async enter(
    resourceId: string,
    causes: string | readonly string[],
    opts: { leaseMs: number; now: Date },
  ): Promise<GateEntry> {
    const list = causeList(causes);
    validateLease(opts.leaseMs);
    const pk = resourceKey(resourceId);
    const nowMs = opts.now.getTime();
    const lease = () => {
      const until = nowMs + opts.leaseMs;
      return { token: randomUUID(), until: new Date(until).toISOString(), untilMs: until, cause: list[0]! };
    };
    const entered = (head: HeadDoc): GateEntry => {
      this.hints.remember(head);
      return { status: "entered", session: new CosmosGateSession(this, pk, resourceId, list, head) };
    };
    // A remembered head saves the read; it is never trusted for a refusal (done, busy).
    let head: HeadDoc | undefined | typeof UNREAD = this.hints.get(pk) ?? UNREAD;
    let fresh = head === UNREAD;
    for (let attempt = 0; attempt < 10; ) {
      if (head === UNREAD) {
        head = await this.audit.readHead(pk);
        fresh = true;
      }
      const done = allDone(head?.causes, list);
      const busy = !!head?.lease && isLeaseHeld(head.lease, nowMs);
      if ((done || busy) && !fresh) {
        head = UNREAD; // the hint may be old: look at the stored head
        continue;
      }
      if (done) return { status: "done" };
      if (head?.lease && busy) return { status: "busy", leaseUntil: head.lease.until };
      try {
        if (!head) {
          const created: HeadDoc = {
            ...{ id: headId(pk), pk, docType: "head", resourceId, seq: 0, hash: GENESIS_HASH, recordId: "" },
            lease: lease(),
          };
          const { resource } = await this.container.items.create(created, {
            disableAutomaticIdGeneration: true,
          });
          return entered(resource as HeadDoc);
        }
        const { resource } = await this.container
          .item(headId(pk), pk)
          .patch<HeadDoc>([{ op: "set", path: "/lease", value: lease() }], {
            accessCondition: { type: "IfMatch", condition: head._etag ?? "" },
          });
        return entered(resource as HeadDoc);
      } catch (err) {
        if (!isConflict(err) && !isPreconditionFailed(err) && !isNotFound(err)) throw err;
        this.hints.forget(pk);
        head = UNREAD;
        if (!fresh) continue; // only the hint was old
        await backoff(attempt++); // another writer changed the head in between: look again
      }
    }
    throw new ContentionError(`entering ${resourceId} kept racing; retry later`);
  }

  async listInterrupted(now: Date, limit: number): Promise<string[]> {
    const { resources } = await this.container.items
      .query<{ resourceId: string }>({
        query:
          'SELECT TOP @top c.resourceId FROM c WHERE c.docType = "head" AND IS_DEFINED(c.intent.id) AND (NOT IS_DEFINED(c.lease) OR c.lease.untilMs <= @now)',
        parameters: [
          { name: "@top", value: limit },
          { name: "@now", value: now.getTime() },
        ],
      })
      .fetchAll();
    return resources.map((r) => r.resourceId);
  }

  /** @internal */
  get store(): CosmosAuditStore {
    return this.audit;
  }

  /** @internal */
  get items(): Container {
    return this.container;
  }

  /** @internal */
  nowMs(): number {
    return this.clock().getTime();
  }
}

class CosmosGateSession implements GateSession {
  readonly interrupted?: Intent;
  private closed = false;

  constructor(
    private readonly gate: CosmosResourceGate,
    private readonly pk: string,
    readonly resourceId: string,
    readonly causes: readonly string[],
    /** The head as we last wrote it (our lease on it; its etag for the next conditional write). */
    private head: HeadDoc,
  ) {
    if (head.intent) this.interrupted = structuredClone(head.intent as Intent);
  }

  causeState(cause: string): "done" | "deferred" | undefined {
    return causeStateIn(this.head.causes, cause);
  }

  recentFixes(kind: string, since: Date): readonly RecentFix[] {
    return recentFixesIn(this.head.fixes, kind, since);
  }

  async recordIntent(intent: Intent): Promise<void> {
    this.assertOpen();
    await this.writeHead({
      ...withoutSystemProperties(this.head),
      intent: { ...intent, seqBefore: this.head.seq },
    });
  }

  async append(input: AuditRecordInput): Promise<AuditRecord> {
    this.assertOpen();
    for (let attempt = 0; attempt < 100; attempt++) {
      const record = this.nextRecord(input);
      try {
        await this.gate.store.writeRecord(record, this.pk);
        // Later records chain on from here; the head document catches up at commit/leave.
        this.head = this.advanced(record);
        this.gate.store.recordWritten(record);
        return record;
      } catch (err) {
        if (!isConflict(err)) throw err;
        const existing = await this.walkForward(record);
        if (existing) {
          this.gate.store.recordWritten(existing);
          return existing;
        }
      }
    }
    throw new ContentionError(`appending to ${this.resourceId} kept racing; retry later`);
  }

  async commit(input: AuditRecordInput, opts: CommitOptions): Promise<AuditRecord> {
    this.assertOpen();
    const leave = !opts.stay;
    for (let attempt = 0; attempt < 100; attempt++) {
      const record = this.nextRecord(input);
      const released = this.settled(opts, leave, record);
      const operations: OperationInput[] = [
        // The record's pending event, when decision events are on (docs/events.md#not-one-lost).
        ...this.gate.store.outboxOperations(record, this.pk),
        {
          operationType: "Create",
          partitionKey: this.pk,
          resourceBody: this.gate.store.toDoc(record, this.pk) as unknown as JSONObject,
        },
        {
          operationType: "Replace",
          partitionKey: this.pk,
          id: released.id,
          resourceBody: released as unknown as JSONObject,
          ifMatch: this.head._etag,
        },
      ];
      let failure: unknown;
      this.gate.hints.forget(this.pk); // until the batch's answer says what the head is now
      try {
        const response = await this.gate.items.items.batch(operations, this.pk);
        const results = response.result ?? [];
        if (results.length === operations.length && results.every((r) => r.statusCode < 300)) {
          // The head as stored (its new ETag comes with the batch's answer): the next enter in this
          // process, or this session's next step, writes without reading it first.
          const etag = results.at(-1)?.eTag;
          if (etag) this.gate.hints.remember({ ...released, _etag: etag });
          else this.gate.hints.forget(this.pk);
          this.gate.store.recordWritten(record);
          if (leave) this.closed = true;
          else await this.stayOn(etag ? { ...released, _etag: etag } : undefined);
          return record;
        }
        failure = Object.assign(new Error(`audit batch for ${this.resourceId} was not applied`), {
          statusCode: 503,
        });
      } catch (err) {
        failure = err; // the SDK reports a failed batch without the operation's status: look
      }
      const state = await this.reconcile(record, opts, leave);
      if (state === "committed") {
        if (leave) this.closed = true;
        this.gate.store.recordWritten(record);
        return record;
      }
      if (state === "taken") continue; // the seq was taken by an append outside the gate: walk on
      if (state === "lost") throw new LeaseLostError(this.resourceId);
      throw failure;
    }
    throw new ContentionError(`committing to ${this.resourceId} kept racing; retry later`);
  }

  /** After a batch that did not (visibly) succeed: what happened to it? */
  private async reconcile(
    record: AuditRecord,
    opts: LeaveOptions,
    leave: boolean,
  ): Promise<"committed" | "taken" | "lost" | "not-applied"> {
    const head = await this.gate.store.readHead(this.pk);
    const ours = leave ? !head?.lease : head?.lease?.token === this.head.lease?.token;
    if (head && head.seq >= record.seq && head.recordId === record.id && ours) {
      const stored = await this.gate.store.readRecordDoc(this.pk, record.id);
      if (stored && stored.hash === record.hash) {
        if (!leave) this.head = head; // the answer was lost, not the write: go on from the stored head
        return "committed";
      }
    }
    if (head?.lease?.token !== this.head.lease?.token) return "lost";
    const existing = await this.gate.store.readRecordDoc(this.pk, record.id);
    if (!existing) return "not-applied";
    if (existing.prevHash === record.prevHash && sameContent(existing, record)) {
      // The stand-in applies a batch in order: the record landed, the head did not. Settle it now.
      await this.writeHead(this.settled(opts, leave, existing));
      return "committed";
    }
    this.head = this.advanced(existing);
    return "taken";
  }

  async leave(opts: LeaveOptions): Promise<void> {
    if (this.closed) return;
    await this.writeHead(this.settled(opts, true));
    this.closed = true;
  }

  /** Point reads of the records after the intent (usually one, or none, plus the read that finds
   *  the end), never a query: see `CosmosAuditStore.recordsAfter`. */
  async recordsSince(intent: Intent): Promise<AuditRecord[]> {
    return this.gate.store.recordsAfter(this.pk, this.resourceId, intent.seqBefore, RECORDS_SINCE_MAX);
  }

  /**
   * The head after a step: causes updated, intent cleared unless kept, seq advanced to `record`
   * (and the fix it records remembered); the lease gone when the session `leave`s.
   */
  private settled(opts: LeaveOptions, leave: boolean, record?: AuditRecord): HeadDoc {
    const next: HeadDoc = {
      ...withoutSystemProperties(record ? this.advanced(record) : this.head),
      causes: causesAfter(this.head.causes, opts.causes, this.gate.nowMs()),
    };
    if (leave) delete next.lease;
    if (!opts.keepIntent) delete next.intent;
    return next;
  }

  /** The head moved on to `record` (a record of ours or one appended outside the gate). */
  private advanced(record: AuditRecord): HeadDoc {
    return {
      ...this.head,
      seq: record.seq,
      hash: record.hash,
      recordId: record.id,
      fixes: fixesAfter(this.head.fixes, record),
    };
  }

  /** After a committed step that keeps the lease: the head as stored, to write the next step on. */
  private async stayOn(stored: HeadDoc | undefined): Promise<void> {
    const head = stored ?? (await this.gate.store.readHead(this.pk));
    if (!head || head.lease?.token !== this.head.lease?.token) throw new LeaseLostError(this.resourceId);
    this.head = head;
  }

  private nextRecord(input: AuditRecordInput): AuditRecord {
    return chainRecord(storableRecordInput(input), this.head.seq + 1, this.head.hash);
  }

  /** After a 409 on `record.id`: our own earlier write (returned), or someone else's (move past it). */
  private async walkForward(record: AuditRecord): Promise<AuditRecord | undefined> {
    const existing = await this.gate.store.readRecordDoc(this.pk, record.id);
    if (!existing) return undefined;
    if (existing.prevHash === record.prevHash && sameContent(existing, record)) return existing;
    this.head = this.advanced(existing);
    return undefined;
  }

  /** Conditional write of the head: only while our lease is on it. */
  private async writeHead(next: HeadDoc): Promise<void> {
    try {
      const { resource } = await this.gate.items
        .item(next.id, this.pk)
        .replace(next, { accessCondition: { type: "IfMatch", condition: this.head._etag ?? "" } });
      this.head = resource as HeadDoc;
      this.gate.hints.remember(this.head);
    } catch (err) {
      this.gate.hints.forget(this.pk);
      if (isPreconditionFailed(err) || isNotFound(err)) throw new LeaseLostError(this.resourceId);
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`gate session on ${this.resourceId} already left`);
  }
}
