/**
 * In-memory resource gate for unit tests and the harness. Same semantics as the Cosmos DB gate
 * (shared/cosmos/resource-gate.ts): leases decided by comparing timestamps, causes remembered per
 * resource, the intent kept until a record settles it, and the record + release as one step.
 */
import { randomUUID } from "node:crypto";
import { resourceKey } from "../audit/chain.js";
import type { AuditRecord, AuditRecordInput } from "../audit/types.js";
import {
  type CauseEntry,
  causeStateIn,
  causesAfterLeave,
  type GateEntry,
  type GateSession,
  type Intent,
  isLeaseHeld,
  LeaseLostError,
  type LeaveOptions,
  type ResourceGate,
  recordsAfterSeq,
  validateCauseKey,
  validateLease,
} from "../ports/resource-gate.js";
import type { InMemoryAuditStore } from "./audit-store.js";

interface Control {
  lease?: { token: string; untilMs: number; cause: string };
  intent?: Intent;
  causes?: Record<string, CauseEntry>;
}

export class InMemoryResourceGate implements ResourceGate {
  private readonly controls = new Map<string, Control>();

  constructor(
    private readonly audit: InMemoryAuditStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async enter(resourceId: string, cause: string, opts: { leaseMs: number; now: Date }): Promise<GateEntry> {
    validateCauseKey(cause);
    validateLease(opts.leaseMs);
    const key = resourceKey(resourceId);
    const control = this.controls.get(key) ?? {};
    if (causeStateIn(control.causes, cause) === "done") return { status: "done" };
    const nowMs = opts.now.getTime();
    if (control.lease && isLeaseHeld(control.lease, nowMs))
      return { status: "busy", leaseUntil: new Date(control.lease.untilMs).toISOString() };
    const token = randomUUID();
    control.lease = { token, untilMs: nowMs + opts.leaseMs, cause };
    this.controls.set(key, control);
    return { status: "entered", session: new InMemorySession(this, key, resourceId, cause, token, control) };
  }

  async listInterrupted(now: Date, limit: number): Promise<string[]> {
    const out: string[] = [];
    for (const c of this.controls.values()) {
      if (out.length >= limit) break;
      if (c.intent && !isLeaseHeld(c.lease, now.getTime())) out.push(c.intent.target.resourceId);
    }
    return out;
  }

  /** @internal */
  ownedControl(key: string, token: string, resourceId: string): Control {
    const c = this.controls.get(key);
    if (!c?.lease || c.lease.token !== token) throw new LeaseLostError(resourceId);
    return c;
  }

  /** @internal */
  appendRecord(input: AuditRecordInput): Promise<AuditRecord> {
    return this.audit.append(input);
  }

  /** @internal */
  recordsAfter(resourceId: string, seq: number): Promise<AuditRecord[]> {
    return recordsAfterSeq(this.audit, resourceId, seq);
  }

  /** @internal */
  lastSeq(resourceId: string): number {
    const chain = this.audit.unsafeStoredChain(resourceId);
    return chain.length === 0 ? 0 : Math.max(...chain.map((r) => r.seq));
  }

  /** @internal */
  now(): number {
    return this.clock().getTime();
  }
}

class InMemorySession implements GateSession {
  readonly interrupted?: Intent;
  private closed = false;

  constructor(
    private readonly gate: InMemoryResourceGate,
    private readonly key: string,
    readonly resourceId: string,
    readonly cause: string,
    private readonly token: string,
    control: Control,
  ) {
    if (control.intent) this.interrupted = structuredClone(control.intent);
  }

  causeState(cause: string): "done" | "deferred" | undefined {
    return causeStateIn(this.gate.ownedControl(this.key, this.token, this.resourceId).causes, cause);
  }

  async recordIntent(intent: Intent): Promise<void> {
    const c = this.open();
    c.intent = { ...structuredClone(intent), seqBefore: this.gate.lastSeq(this.resourceId) };
  }

  async append(record: AuditRecordInput): Promise<AuditRecord> {
    this.open();
    return this.gate.appendRecord(record);
  }

  async commit(record: AuditRecordInput, opts: LeaveOptions): Promise<AuditRecord> {
    this.open();
    const stored = await this.gate.appendRecord(record);
    this.release(opts);
    return stored;
  }

  async leave(opts: LeaveOptions): Promise<void> {
    if (this.closed) return;
    this.release(opts);
  }

  async recordsSince(intent: Intent): Promise<AuditRecord[]> {
    return this.gate.recordsAfter(this.resourceId, intent.seqBefore);
  }

  private release(opts: LeaveOptions): void {
    const c = this.gate.ownedControl(this.key, this.token, this.resourceId);
    c.causes = causesAfterLeave(c.causes, this.cause, opts, this.gate.now());
    if (!opts.keepIntent) delete c.intent;
    delete c.lease;
    this.closed = true;
  }

  private open(): Control {
    if (this.closed) throw new Error(`gate session on ${this.resourceId} already left`);
    return this.gate.ownedControl(this.key, this.token, this.resourceId);
  }
}
