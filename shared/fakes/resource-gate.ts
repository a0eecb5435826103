/**
 * In-memory resource gate for unit tests and the harness. Same semantics as the Cosmos DB gate
 * (shared/cosmos/resource-gate.ts): leases decided by comparing timestamps, causes remembered per
 * resource, the intent kept until a record settles it, and each record together with the causes it
 * settles as one step.
 */
import { randomUUID } from "node:crypto";
import { resourceKey } from "../audit/chain.js";
import type { AuditRecord, AuditRecordInput } from "../audit/types.js";
import {
  allDone,
  type CauseEntry,
  type CommitOptions,
  causeList,
  causeStateIn,
  causesAfter,
  type FixEntry,
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
  recordsAfterSeq,
  validateLease,
} from "../ports/resource-gate.js";
import type { InMemoryAuditStore } from "./audit-store.js";

interface Control {
  lease?: { token: string; untilMs: number; cause: string };
  intent?: Intent;
  causes?: Record<string, CauseEntry>;
  fixes?: FixEntry[];
}

export class InMemoryResourceGate implements ResourceGate {
  private readonly controls = new Map<string, Control>();

  constructor(
    private readonly audit: InMemoryAuditStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async enter(
    resourceId: string,
    causes: string | readonly string[],
    opts: { leaseMs: number; now: Date },
  ): Promise<GateEntry> {
    const list = causeList(causes);
    validateLease(opts.leaseMs);
    const key = resourceKey(resourceId);
    const control = this.controls.get(key) ?? {};
    if (allDone(control.causes, list)) return { status: "done" };
    const nowMs = opts.now.getTime();
    if (control.lease && isLeaseHeld(control.lease, nowMs))
      return { status: "busy", leaseUntil: new Date(control.lease.untilMs).toISOString() };
    const token = randomUUID();
    control.lease = { token, untilMs: nowMs + opts.leaseMs, cause: list[0]! };
    this.controls.set(key, control);
    return { status: "entered", session: new InMemorySession(this, key, resourceId, list, token, control) };
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
    readonly causes: readonly string[],
    private readonly token: string,
    control: Control,
  ) {
    if (control.intent) this.interrupted = structuredClone(control.intent);
  }

  causeState(cause: string): "done" | "deferred" | undefined {
    return causeStateIn(this.gate.ownedControl(this.key, this.token, this.resourceId).causes, cause);
  }

  recentFixes(kind: string, since: Date): readonly RecentFix[] {
    return recentFixesIn(this.gate.ownedControl(this.key, this.token, this.resourceId).fixes, kind, since);
  }

  async recordIntent(intent: Intent): Promise<void> {
    const c = this.open();
    c.intent = { ...structuredClone(intent), seqBefore: this.gate.lastSeq(this.resourceId) };
  }

  async append(record: AuditRecordInput): Promise<AuditRecord> {
    const c = this.open();
    const stored = await this.gate.appendRecord(record);
    c.fixes = fixesAfter(c.fixes, stored);
    return stored;
  }

  async commit(record: AuditRecordInput, opts: CommitOptions): Promise<AuditRecord> {
    const c = this.open();
    const stored = await this.gate.appendRecord(record);
    c.fixes = fixesAfter(c.fixes, stored);
    this.settle(opts, !opts.stay);
    return stored;
  }

  async leave(opts: LeaveOptions): Promise<void> {
    if (this.closed) return;
    this.settle(opts, true);
  }

  async recordsSince(intent: Intent): Promise<AuditRecord[]> {
    return this.gate.recordsAfter(this.resourceId, intent.seqBefore);
  }

  private settle(opts: LeaveOptions, leave: boolean): void {
    const c = this.gate.ownedControl(this.key, this.token, this.resourceId);
    c.causes = causesAfter(c.causes, opts.causes, this.gate.now());
    if (!opts.keepIntent) delete c.intent;
    if (leave) {
      delete c.lease;
      this.closed = true;
    }
  }

  private open(): Control {
    if (this.closed) throw new Error(`gate session on ${this.resourceId} already left`);
    return this.gate.ownedControl(this.key, this.token, this.resourceId);
  }
}
