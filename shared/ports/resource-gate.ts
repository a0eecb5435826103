/**
 * The resource gate port: one writer per resource, with the rules every gate (in-memory and Cosmos
 * DB) follows — which cause keys and leases are accepted, how causes are remembered and for how
 * long, and the error a holder gets when its lease was taken over.
 */
import { sha256Hex } from "../audit/chain.js";
import type { AuditRecord, AuditRecordInput, Change, RecordApprover, RecordSignal } from "../audit/types.js";
import { InputError } from "../errors.js";
import type { PolicyMode } from "../policy/schema.js";
import type { Signal, SignalTarget } from "../signals/types.js";
import type { AuditStore } from "./audit-store.js";

/**
 * One writer per resource. Every decision about a resource runs inside a session of its gate: a
 * lease in the store (so it holds across instances) around read → plan → apply → verify → record.
 * The gate also remembers which causes were decided (dedupe: a duplicate delivery gets `done`) and
 * holds the *intent* — what is about to be written to Azure — so that an action whose record could
 * not be written (crash, store outage) is found and completed by whoever enters next.
 */
export type GateEntry =
  | { status: "entered"; session: GateSession }
  /** This cause was already decided: a duplicate delivery, answer 200 and write nothing. */
  | { status: "done" }
  /** Another writer holds an unexpired lease on the resource: wait or ask for redelivery. */
  | { status: "busy"; leaseUntil: string };

/** What happens to the session's cause when it leaves. */
export type CauseState =
  /** Decided (its record is written): later deliveries are duplicates. */
  | "done"
  /** A `deferred` record was written; the cause is retried later but never deferred again. */
  | "deferred"
  /** Nothing final: a redelivery runs it again. */
  | "open";

/** How a session leaves (see `GateSession.commit` and `leave`). */
export interface LeaveOptions {
  /** The new state of the session's cause. */
  cause: CauseState;
  /** Further causes decided by the record (an interrupted intent's cause): remembered as `done`. */
  settled?: readonly string[];
  /** The intent stays for the next holder to complete. */
  keepIntent?: boolean;
}

export interface GateSession {
  readonly resourceId: string;
  readonly cause: string;
  /** An earlier holder's intent whose record is missing (it crashed, or its record write failed). */
  readonly interrupted?: Intent;
  /** What the gate remembers of a cause: decided, or given its interim (`deferred`/transient `failed`) record. */
  causeState(cause: string): "done" | "deferred" | undefined;
  /** Persists the intent before the write to Azure (replaces any earlier one of this session). */
  recordIntent(intent: Intent): Promise<void>;
  /**
   * Appends `record` to the resource's chain and leaves, atomically where the store allows: the
   * record, the cause's new state and the cleared intent are one write. `settled` names further
   * causes decided by this record (an interrupted intent's cause).
   */
  commit(record: AuditRecordInput, opts: LeaveOptions): Promise<AuditRecord>;
  /** Appends a record without leaving (e.g. the record of an interrupted intent, before the session's own). */
  append(record: AuditRecordInput): Promise<AuditRecord>;
  /** Leaves without a record. `keepIntent`: the intent stays for the next holder to complete. */
  leave(opts: LeaveOptions): Promise<void>;
  /** Records of this resource written after the intent was persisted (newest first). */
  recordsSince(intent: Intent): Promise<AuditRecord[]>;
}

export interface ResourceGate {
  enter(resourceId: string, cause: string, opts: { leaseMs: number; now: Date }): Promise<GateEntry>;
  /** Resources whose lease expired with an intent left behind (for the sweeping timer). */
  listInterrupted(now: Date, limit: number): Promise<string[]>;
}

/** What a session is about to write to Azure, persisted before the write. Never secret values. */
export interface Intent {
  id: string;
  /** The cause this action answers (its dedupe key and resource). */
  cause: string;
  plannedAt: string;
  /** The chain's last sequence number when the intent was persisted. */
  seqBefore: number;
  policy: string;
  kind: string;
  /** The policy's params when planned (the policy may have changed since). */
  params: unknown;
  mode: PolicyMode;
  /** The triggering signal as the pipeline saw it, without raw caller object IDs. */
  signal: Signal;
  /** The caller's pseudonym, for the record. */
  recordSignal: RecordSignal;
  target: SignalTarget;
  changes: Change[];
  changesHash: string;
  summary: string;
  reverts: boolean;
  followUp?: Record<string, unknown>;
  actor: string;
  approver?: RecordApprover | null;
  approvalId?: string;
  /** Kind-specific progress (e.g. a provider key already regenerated), for a resumed run. */
  progress?: Record<string, unknown>;
}

/** Causes are remembered this long: Event Grid redelivers for 24 h; a week leaves room. */
const CAUSE_MEMORY_MS = 7 * 24 * 3600_000;
/** At most this many remembered causes per resource (newest kept): bounds the control document. */
const MAX_REMEMBERED_CAUSES = 256;

/** A remembered cause: state and when it was set (epoch ms). Short keys keep the document small. */
export interface CauseEntry {
  s: Exclude<CauseState, "open">;
  t: number;
}

/** Stable, short ID of a cause key (the key itself may be long and carries event IDs). */
function causeId(cause: string): string {
  return sha256Hex(cause).slice(0, 32);
}

/**
 * Applies a cause's new state and forgets what is too old or beyond the cap. `open` forgets the
 * cause (a redelivery runs it again) unless it already has its interim (`deferred`) record.
 */
function updateCauses(
  causes: Readonly<Record<string, CauseEntry>> | undefined,
  changes: readonly { cause: string; state: CauseState }[],
  nowMs: number,
): Record<string, CauseEntry> {
  const next: Record<string, CauseEntry> = { ...(causes ?? {}) };
  for (const { cause, state } of changes) {
    const id = causeId(cause);
    if (state === "open") continue;
    if (state === "deferred" && next[id]?.s === "done") continue;
    next[id] = { s: state, t: nowMs };
  }
  const kept = Object.entries(next)
    .filter(([, e]) => nowMs - e.t < CAUSE_MEMORY_MS)
    .sort((a, b) => b[1].t - a[1].t)
    .slice(0, MAX_REMEMBERED_CAUSES);
  return Object.fromEntries(kept);
}

/** The remembered causes after a session leaves: its own cause in its new state, `settled` ones done. */
export function causesAfterLeave(
  causes: Readonly<Record<string, CauseEntry>> | undefined,
  sessionCause: string,
  opts: LeaveOptions,
  nowMs: number,
): Record<string, CauseEntry> {
  return updateCauses(
    causes,
    [
      { cause: sessionCause, state: opts.cause },
      ...(opts.settled ?? []).map((cause) => ({ cause, state: "done" as const })),
    ],
    nowMs,
  );
}

/** A lease holds until its end time, compared with the clock (never left to a TTL). */
export function isLeaseHeld(lease: { untilMs: number } | undefined, nowMs: number): boolean {
  return lease !== undefined && lease.untilMs > nowMs;
}

/** Records of a resource after `seq` (newest first), from the newest 50 of its chain. */
export async function recordsAfterSeq(
  audit: Pick<AuditStore, "query">,
  resourceId: string,
  seq: number,
): Promise<AuditRecord[]> {
  const { items } = await audit.query({ resourceId, limit: 50 });
  return items.filter((r) => r.seq > seq);
}

export function causeStateIn(
  causes: Readonly<Record<string, CauseEntry>> | undefined,
  cause: string,
): CauseEntry["s"] | undefined {
  return causes?.[causeId(cause)]?.s;
}

/** The holder's lease was taken over (it expired): its writes are refused. Retry later. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  readonly retryable = true;
  readonly statusCode = 503;
  readonly code = "LeaseLost";
  constructor(readonly resourceId: string) {
    super(`the lease on ${resourceId} was taken over by another writer; retry later`);
  }
}

/** A cause key (dedupe key + resource) as the gates accept it. */
export function validateCauseKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > 2048) {
    throw new InputError(
      "InvalidDedupeKey",
      "dedupe key must be a non-empty string of at most 2048 characters",
      "dedupeKey",
    );
  }
}

export function validateLease(leaseMs: unknown): void {
  if (typeof leaseMs !== "number" || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new InputError("InvalidLease", "leaseMs must be a positive number", "leaseMs");
  }
}
