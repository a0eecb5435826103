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
 *
 * A session may decide several causes of one resource one after another (one per remediation kind
 * a signal applies): each `commit` with `stay` writes one cause's record and its new state together
 * and keeps the lease; the last step leaves. A crash between steps leaves the decided causes decided.
 */
export type GateEntry =
  | { status: "entered"; session: GateSession }
  /** Every cause asked for was already decided: a duplicate delivery, answer 200 and write nothing. */
  | { status: "done" }
  /** Another writer holds an unexpired lease on the resource: wait or ask for redelivery. */
  | { status: "busy"; leaseUntil: string };

/** What happens to a cause when a step settles it. */
export type CauseState =
  /** Decided (its record is written): later deliveries are duplicates. */
  | "done"
  /** A `deferred` record was written; the cause is retried later but never deferred again. */
  | "deferred"
  /** Nothing final: a redelivery runs it again. */
  | "open";

/** How a step settles causes (see `GateSession.commit` and `leave`). */
export interface LeaveOptions {
  /**
   * The new state of each cause this step decided: one of the session's own causes, or an
   * interrupted intent's cause (then `done`). Causes not named keep what the gate remembers.
   */
  causes: Readonly<Record<string, CauseState>>;
  /** The intent stays for the next holder to complete. */
  keepIntent?: boolean;
}

export interface CommitOptions extends LeaveOptions {
  /** Keep the lease after this record: the session goes on with its next cause. */
  stay?: boolean;
}

/** A `remediated` record of one kind on this resource, as the gate remembers it (for flapping). */
export interface RecentFix {
  time: string;
  /** Pseudonym of the caller whose write the fix answered (as the record's `signal.caller.id`). */
  caller: string | null;
}

export interface GateSession {
  readonly resourceId: string;
  /** The causes this session was entered for, in the order they are to be decided. */
  readonly causes: readonly string[];
  /** An earlier holder's intent whose record is missing (it crashed, or its record write failed). */
  readonly interrupted?: Intent;
  /** What the gate remembers of a cause: decided, or given its interim (`deferred`/transient `failed`) record. */
  causeState(cause: string): "done" | "deferred" | undefined;
  /** `remediated` records of `kind` on this resource since `since` (oldest first; see `FIX_MEMORY_MS`). */
  recentFixes(kind: string, since: Date): readonly RecentFix[];
  /** Persists the intent before the write to Azure (replaces any earlier one of this session). */
  recordIntent(intent: Intent): Promise<void>;
  /**
   * Appends `record` to the resource's chain and settles `opts.causes`, atomically where the store
   * allows: the record, the causes' new states and the cleared intent are one write. Leaves the
   * gate unless `opts.stay`.
   */
  commit(record: AuditRecordInput, opts: CommitOptions): Promise<AuditRecord>;
  /** Appends a record without settling anything (the head catches up at the next commit/leave). */
  append(record: AuditRecordInput): Promise<AuditRecord>;
  /** Leaves without a record. `keepIntent`: the intent stays for the next holder to complete. */
  leave(opts: LeaveOptions): Promise<void>;
  /** Records of this resource written after the intent was persisted (newest first). */
  recordsSince(intent: Intent): Promise<AuditRecord[]>;
}

export interface ResourceGate {
  /**
   * Enters the resource's gate for one cause or several (one per kind a signal applies): `done`
   * when every one of them is decided already, `busy` while another holder's lease runs.
   */
  enter(
    resourceId: string,
    causes: string | readonly string[],
    opts: { leaseMs: number; now: Date },
  ): Promise<GateEntry>;
  /** Resources whose lease expired with an intent left behind (for the `resumeWork` timer). */
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

/** The remembered causes after a step: each named cause in its new state. */
export function causesAfter(
  causes: Readonly<Record<string, CauseEntry>> | undefined,
  updates: Readonly<Record<string, CauseState>>,
  nowMs: number,
): Record<string, CauseEntry> {
  return updateCauses(
    causes,
    Object.entries(updates).map(([cause, state]) => ({ cause, state })),
    nowMs,
  );
}

/** The causes of an `enter` as a list: one or more valid cause keys, each once, in order. */
export function causeList(causes: string | readonly string[]): string[] {
  const list = typeof causes === "string" ? [causes] : [...causes];
  if (list.length === 0)
    throw new InputError("InvalidDedupeKey", "at least one cause is needed to enter a gate", "dedupeKey");
  for (const c of list) validateCauseKey(c);
  return [...new Set(list)];
}

/** Whether every cause of `list` is decided (`done`). */
export function allDone(
  causes: Readonly<Record<string, CauseEntry>> | undefined,
  list: readonly string[],
): boolean {
  return list.every((c) => causeStateIn(causes, c) === "done");
}

/** `remediated` records are remembered per kind this long: the flapping window. */
export const FIX_MEMORY_MS = 24 * 3600_000;
/** At most this many remembered fixes per kind (newest kept). */
const MAX_REMEMBERED_FIXES = 32;

/** A remembered `remediated` record: kind, time (epoch ms) and the caller's pseudonym. */
export interface FixEntry {
  k: string;
  t: number;
  c: string | null;
}

/**
 * The remembered fixes after `record` was appended: a `remediated` one is added, and fixes more
 * than a window older than the newest are forgotten (by the records' own times, not a clock).
 */
export function fixesAfter(
  fixes: readonly FixEntry[] | undefined,
  record: Pick<AuditRecordInput, "outcome" | "kind" | "time" | "signal">,
): FixEntry[] | undefined {
  if (record.outcome !== "remediated") return fixes ? [...fixes] : undefined;
  const t = Date.parse(record.time);
  const next = [...(fixes ?? []), { k: record.kind, t, c: record.signal.caller?.id ?? null }];
  const newest = Math.max(...next.map((f) => f.t));
  const perKind = new Map<string, number>();
  return next
    .filter((f) => newest - f.t < FIX_MEMORY_MS)
    .sort((a, b) => b.t - a.t)
    .filter((f) => {
      const n = (perKind.get(f.k) ?? 0) + 1;
      perKind.set(f.k, n);
      return n <= MAX_REMEMBERED_FIXES;
    })
    .reverse();
}

/** The remembered fixes of `kind` since `since`, oldest first. */
export function recentFixesIn(
  fixes: readonly FixEntry[] | undefined,
  kind: string,
  since: Date,
): RecentFix[] {
  return (fixes ?? [])
    .filter((f) => f.k === kind && f.t >= since.getTime())
    .sort((a, b) => a.t - b.t)
    .map((f) => ({ time: new Date(f.t).toISOString(), caller: f.c }));
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
