/**
 * Narrow interfaces between the pure core (signals, policy, pipeline) and its adapters
 * (Cosmos DB, Teams, clock). The core imports only these; adapters live beside them.
 */
import type { AuditRecord, AuditRecordInput, Change, RecordApprover, RecordSignal } from "./audit/types.js";
import type { PolicyMode } from "./policy/schema.js";
import type { Signal, SignalTarget } from "./signals/types.js";

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
  commit(
    record: AuditRecordInput,
    opts: { cause: CauseState; settled?: readonly string[]; keepIntent?: boolean },
  ): Promise<AuditRecord>;
  /** Appends a record without leaving (e.g. the record of an interrupted intent, before the session's own). */
  append(record: AuditRecordInput): Promise<AuditRecord>;
  /** Leaves without a record. `keepIntent`: the intent stays for the next holder to complete. */
  leave(opts: { cause: CauseState; keepIntent?: boolean; settled?: readonly string[] }): Promise<void>;
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

/** Blast-radius limit: at most `max` actions of one policy per rolling clock hour. */
export interface ActionBudget {
  tryConsume(policy: string, max: number, now: Date): Promise<boolean>;
}

export type ApprovalState = "pending" | "approved" | "rejected" | "expired";

/** The change an approval authorised, carried out after the decision (retried while transient). */
export interface ApprovedRun {
  /** `due`: not (successfully) run yet; `done`: a final outcome is recorded; `gave-up`: the
   *  approval's validity ended before the change could be applied (recorded as `failed`). */
  state: "due" | "done" | "gave-up";
  attempts: number;
  /** When the timer may try again (ISO). */
  nextAttemptAt?: string;
  /** The last transient failure, for the approval page and card. */
  lastError?: { code: string; message: string; step: string };
  /** Final outcome of the run (remediated, compliant, failed, pending-approval for a re-plan …). */
  outcome?: string;
  reason?: string;
  recordId?: string;
  updatedAt: string;
}

/** A decision attempt that was refused (self-approval, non-approver), kept on the approval. */
export interface ApprovalRefusal {
  /** Pseudonym of the person refused. */
  by: string;
  at: string;
  via: "teams" | "approval-page" | "cli";
  reason: string;
}

export interface Approval {
  id: string;
  state: ApprovalState;
  createdAt: string;
  expiresAt: string;
  policy: string;
  kind: string;
  target: SignalTarget;
  /** The signal that caused it, as parsed (no personal data beyond raw caller IDs, which the store drops). */
  signal: Signal;
  /** Pseudonym of the principal whose operation caused the drift: they may not approve its fix. */
  causedBy?: string;
  /** Planned changes at the time of the request; an approval authorises exactly these. */
  changes: Change[];
  /** Hash of what the changes bind (see `changeBindingHash`): the approved run acts only on the same. */
  changesHash: string;
  summary: string;
  /** Why approval is needed: `policy-mode`, `rate-limit`, or `replan` (the resource changed after an approval). */
  reason: "policy-mode" | "rate-limit" | "replan";
  decidedAt?: string;
  /** Pseudonymous approver ID. */
  decidedBy?: string;
  /** Where the decision was made. */
  decidedVia?: RecordApprover["via"];
  run?: ApprovedRun;
  refusals?: ApprovalRefusal[];
  etag?: string;
}

export interface ApprovalStore {
  create(approval: Approval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  /** Moves a pending approval to a final state; returns undefined when it was no longer pending (already decided / expired / etag changed). An approval gets a `due` run. */
  decide(
    id: string,
    state: Exclude<ApprovalState, "pending">,
    by: string | undefined,
    now: Date,
    via?: RecordApprover["via"],
  ): Promise<Approval | undefined>;
  /** Updates the approved run (no-op unless the approval is approved); returns the new approval. */
  updateRun(id: string, run: ApprovedRun): Promise<Approval | undefined>;
  /** Keeps a refused decision attempt on a pending approval (bounded list). */
  addRefusal(id: string, refusal: ApprovalRefusal): Promise<Approval | undefined>;
  /** Pending approvals whose `expiresAt` ≤ now. */
  listExpired(now: Date): Promise<Approval[]>;
  /** Approved approvals whose run is `due` and whose `nextAttemptAt` ≤ now. */
  listDueRuns(now: Date): Promise<Approval[]>;
}

/** What happened to an approval after its request was posted. */
export type ApprovalChange = "decided" | "expired" | "run" | "refused";

/** Posts approval requests (Teams card) and decision updates. */
export interface Notifier {
  requestApproval(approval: Approval): Promise<void>;
  /** The approval was decided, expired, its approved run ended (or failed again), or a decision was
   *  refused. Notifiers that can change what they posted (the bot's card) show the new state. */
  approvalChanged?(approval: Approval, change: ApprovalChange): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
