/**
 * The approval store port and the rules every approval store (in-memory and Cosmos DB) follows:
 * what a new approval must look like, what is stored of it, and which state transitions are allowed.
 */
import type { Change, RecordApprover } from "../audit/types.js";
import { InputError } from "../errors.js";
import type { Signal, SignalTarget } from "../signals/types.js";

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

/** Why an approval is requested (each has its own text on the card and the page). */
export type ApprovalReason =
  /** The policy's mode is `approval`. */
  | "policy-mode"
  /** The policy's action limit (`maxActionsPerHour`) is reached. */
  | "action-limit"
  /** The resource changed after an approval: the approved change no longer matches its new plan. */
  | "replan"
  /** The same fix was undone again and again (`DRIFTGUARD_FLAP_LIMIT` within 24 h). */
  | "flapping";

/** A stored reason: approvals written before the action limit had its name say `rate-limit`. */
export type StoredApprovalReason = ApprovalReason | "rate-limit";

/** The reason as it reads today (`rate-limit` is the action limit's old name). */
export function currentReason(reason: StoredApprovalReason): ApprovalReason {
  return reason === "rate-limit" ? "action-limit" : reason;
}

/** What another kind did for the same signal on the same resource (context on the card and page). */
export interface ApprovalContextEntry {
  policy: string;
  kind: string;
  /** The decision's outcome (`remediated`, `compliant`, `pending-approval`, …). */
  outcome: string;
  /** One line: the plan's summary or the reason. */
  detail?: string;
}

/** The approval card could not be posted (Teams down, webhook refused): shown on the page and by `doctor`. */
export interface CardPostFailure {
  at: string;
  /** Why, redacted (never a URL with its signature, never a token). */
  error: string;
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
  /**
   * Pseudonyms of other principals whose later operations drifted the resource the same way while
   * it was open (their causes named this approval again): they may not approve it either.
   */
  alsoCausedBy?: string[];
  /** Planned changes at the time of the request; an approval authorises exactly these. */
  changes: Change[];
  /** Hash of the planned changes (`changesHash` in shared/pipeline/binding.ts, the kind's volatile
   *  paths bound by path and `from` only): the approved run acts only on a plan with the same hash. */
  changesHash: string;
  summary: string;
  /** Why approval is needed (`rate-limit` only on approvals stored before it was named `action-limit`). */
  reason: StoredApprovalReason;
  /** The reason as one line for people, as the `pending-approval` record says it (e.g. who undid a flapping fix). */
  reasonDetail?: string;
  /** What the other kinds did for the same signal on this resource. */
  context?: ApprovalContextEntry[];
  /** Set when the approval card could not be posted. */
  cardPostFailed?: CardPostFailure;
  decidedAt?: string;
  /** Pseudonymous approver ID. */
  decidedBy?: string;
  /** Where the decision was made. */
  decidedVia?: RecordApprover["via"];
  run?: ApprovedRun;
  refusals?: ApprovalRefusal[];
  /**
   * The cause whose `pending-approval` record requested it: the resource's gate remembers whether
   * that record was written (an approval whose record never was is not reused for later causes).
   */
  requestCause?: string;
  /** Closed (`expired`) before its deadline because this newer approval replaced it. */
  supersededBy?: string;
  /**
   * The closing step (`expired`, `rejected`) whose record is not yet known to be written: set by the
   * close itself, in the same write, and cleared once the record is. A host that dies between the
   * two leaves it set, and the `expireApprovals` timer writes the record (once: the step's cause is
   * kept by the resource's gate). An approval's `approved` record is the due run's (see `listDueRuns`).
   */
  recordDue?: "expired" | "rejected";
  etag?: string;
}

export interface ApprovalStore {
  create(approval: Approval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  /**
   * Moves a pending approval to a final state (a person's approval or rejection, or the timer's
   * expiry); returns undefined when it was no longer pending (already closed / past `expiresAt` /
   * etag changed). An approval gets a `due` run; an expiry or rejection its `recordDue`.
   * `supersededBy` names the approval that replaces an `expired` one (written with the close).
   */
  closePending(
    id: string,
    state: Exclude<ApprovalState, "pending">,
    by: string | undefined,
    now: Date,
    via?: RecordApprover["via"],
    supersededBy?: string,
  ): Promise<Approval | undefined>;
  /** The closing step's record is written: clears `recordDue` (undefined when it was not set). */
  markRecorded(id: string): Promise<Approval | undefined>;
  /** Closed approvals whose closing step's record may be missing (`recordDue` set), oldest decision first. */
  listRecordDue(): Promise<Approval[]>;
  /** Updates the approved run (no-op unless the approval is approved); returns the new approval. */
  updateRun(id: string, run: ApprovedRun): Promise<Approval | undefined>;
  /** Keeps a refused decision attempt on a pending approval (bounded list). */
  addRefusal(id: string, refusal: ApprovalRefusal): Promise<Approval | undefined>;
  /** Adds what the card shows beside the request (other kinds' outcomes, a failed card post), in any state. */
  annotate(id: string, note: ApprovalNote): Promise<Approval | undefined>;
  /** Pending approvals whose card could not be posted (newest first, at most `limit`): `driftguard doctor`. */
  listCardPostFailures(limit: number): Promise<Approval[]>;
  /** Pending approvals whose `expiresAt` ≤ now. */
  listExpired(now: Date): Promise<Approval[]>;
  /**
   * The open approvals of one resource and kind: pending and `expiresAt` > now, the resource ID
   * compared case-insensitively (ARM IDs are), newest first. Normally at most one.
   */
  listPendingFor(resourceId: string, kind: string, now: Date): Promise<Approval[]>;
  /** Approved approvals whose run is `due` and whose `nextAttemptAt` ≤ now. */
  listDueRuns(now: Date): Promise<Approval[]>;
  /** How many approvals wait for a decision (the `driftguard.approvals.pending` metric). */
  countPending(): Promise<number>;
}

/** The stored form of an approval's signal: raw caller object IDs are dropped (app IDs are not personal). */
export function storableApproval(a: Approval): Approval {
  const { etag: _etag, ...rest } = a;
  const copy = structuredClone(rest) as Approval;
  if (copy.signal.caller) {
    if (copy.signal.caller.appId) copy.signal.caller = { appId: copy.signal.caller.appId };
    else delete copy.signal.caller;
  }
  return copy;
}

/** Approval IDs are 1-128 characters of [A-Za-z0-9_-] (document IDs, and part of approval links). */
export function isApprovalId(id: unknown): id is string {
  return typeof id === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

export function validateApproval(a: Approval): void {
  if (!a || typeof a !== "object")
    throw new InputError("InvalidApproval", "approval must be an object", "approval");
  if (!isApprovalId(a.id)) {
    throw new InputError("InvalidApproval", "approval id must be 1-128 characters of [A-Za-z0-9_-]", "id");
  }
  if (a.state !== "pending")
    throw new InputError("InvalidApproval", "a new approval must be pending", "state");
  for (const f of ["createdAt", "expiresAt"] as const) {
    if (typeof a[f] !== "string" || Number.isNaN(Date.parse(a[f])))
      throw new InputError("InvalidApproval", `${f} must be an ISO 8601 date-time`, f);
  }
}

export class ApprovalExistsError extends Error {
  override readonly name = "ApprovalExistsError";
  constructor(readonly id: string) {
    super(`approval ${id} already exists`);
  }
}

/** How a pending approval closes, in every store: only from `pending`, and never after `expiresAt`
 *  (then it expires; `granted` is false). An approval starts its run as `due`, an expiry or a
 *  rejection its `recordDue`, so a crash before the run or the record still leaves it to a timer. */
export function closePendingTransition(
  current: Approval,
  state: Exclude<ApprovalState, "pending">,
  by: string | undefined,
  now: Date,
  via?: Approval["decidedVia"],
  supersededBy?: string,
): { next: Approval; granted: boolean } | undefined {
  if (current.state !== "pending") return undefined;
  const expired = Date.parse(current.expiresAt) <= now.getTime();
  if (expired && state !== "expired") {
    const next: Approval = {
      ...current,
      state: "expired",
      decidedAt: now.toISOString(),
      recordDue: "expired",
    };
    delete next.decidedBy;
    return { next, granted: false };
  }
  const next: Approval = { ...current, state, decidedAt: now.toISOString() };
  if (by !== undefined) next.decidedBy = by;
  else delete next.decidedBy;
  if (via !== undefined) next.decidedVia = via;
  if (state === "approved")
    next.run = { state: "due", attempts: 0, nextAttemptAt: now.toISOString(), updatedAt: now.toISOString() };
  else next.recordDue = state;
  if (state === "expired" && supersededBy !== undefined) next.supersededBy = supersededBy;
  return { next, granted: true };
}

/** The closing step's record is written (no change when none was due). */
export function recordedTransition(current: Approval): Approval | undefined {
  if (current.recordDue === undefined) return undefined;
  const next = { ...current };
  delete next.recordDue;
  return next;
}

/** Order of `listRecordDue`: oldest decision first (then by ID). */
export function byDecided(a: Approval, b: Approval): number {
  return compare(a.decidedAt ?? a.createdAt, b.decidedAt ?? b.createdAt) || compare(a.id, b.id);
}

/** Run updates apply to approved approvals only. */
export function runTransition(current: Approval, run: ApprovedRun): Approval | undefined {
  if (current.state !== "approved") return undefined;
  return { ...current, run };
}

/** What `annotate` may set. */
export type ApprovalNote = Partial<Pick<Approval, "context" | "cardPostFailed">> & {
  /** One more person whose operation caused this drift (added once; the first stays `causedBy`). */
  causedBy?: string;
};

/** Most principals kept in `alsoCausedBy`; the oldest drop out first. */
const MAX_ALSO_CAUSED_BY = 20;

export function annotateTransition(current: Approval, note: ApprovalNote): Approval {
  const others = current.alsoCausedBy ?? [];
  const addCause =
    note.causedBy !== undefined && note.causedBy !== current.causedBy && !others.includes(note.causedBy);
  return {
    ...current,
    ...(addCause ? { alsoCausedBy: [...others, note.causedBy as string].slice(-MAX_ALSO_CAUSED_BY) } : {}),
    ...(note.context ? { context: note.context.slice(0, 20) } : {}),
    ...(note.cardPostFailed ? { cardPostFailed: note.cardPostFailed } : {}),
  };
}

/** The key of one resource and kind: the resource ID lower-cased (ARM IDs are case-insensitive). */
export function resourceKindKey(resourceId: string, kind: string): string {
  return `${resourceId.toLowerCase()}|${kind}`;
}

/** What `listPendingFor` returns: pending approvals of this resource and kind not yet past `expiresAt`. */
export function isOpenFor(a: Approval, resourceId: string, kind: string, now: Date): boolean {
  return (
    a.state === "pending" &&
    Date.parse(a.expiresAt) > now.getTime() &&
    resourceKindKey(a.target.resourceId, a.kind) === resourceKindKey(resourceId, kind)
  );
}

/** What `listCardPostFailures` returns: pending approvals whose card was not posted. */
export function isUnposted(a: Approval): boolean {
  return a.state === "pending" && a.cardPostFailed !== undefined;
}

/** Order of `listCardPostFailures`: newest first (then by ID). */
export function byNewest(a: Approval, b: Approval): number {
  return compare(b.createdAt, a.createdAt) || compare(a.id, b.id);
}

/** Most recent refusals kept on an approval. */
const MAX_REFUSALS = 20;

export function refusalTransition(current: Approval, refusal: ApprovalRefusal): Approval | undefined {
  if (current.state !== "pending") return undefined;
  return { ...current, refusals: [...(current.refusals ?? []), refusal].slice(-MAX_REFUSALS) };
}

/** When an approved run is due (ISO 8601), or undefined when the approval has no due run. */
export function runDueAt(a: Approval): string | undefined {
  if (a.state !== "approved" || a.run?.state !== "due") return undefined;
  return a.run.nextAttemptAt ?? a.decidedAt ?? a.createdAt;
}

/** What `listDueRuns` returns: approved runs due by `now`. */
export function isDueRun(a: Approval, now: Date): boolean {
  const due = runDueAt(a);
  return due !== undefined && Date.parse(due) <= now.getTime();
}

/** What `listExpired` returns: pending approvals whose `expiresAt` has passed. */
export function isExpiredPending(a: Approval, now: Date): boolean {
  return a.state === "pending" && Date.parse(a.expiresAt) <= now.getTime();
}

/** Order of `listDueRuns`: oldest due first (then by ID). */
export function byRunDue(a: Approval, b: Approval): number {
  return compare(runDueAt(a) ?? "", runDueAt(b) ?? "") || compare(a.id, b.id);
}

/** Order of `listExpired`: earliest expiry first (then by ID). */
export function byExpiry(a: Approval, b: Approval): number {
  return compare(a.expiresAt, b.expiresAt) || compare(a.id, b.id);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
