/**
 * One open approval per resource and kind. When the pipeline asks for an approval, the approvals
 * still open for the same resource and kind decide what happens: one for the same plan (same
 * `changesHash`) whose request is on record is named again — no new approval, no new card; any
 * other is closed (`expired`, superseded) so it can never act, and the new request replaces it.
 *
 * The pipeline asks from inside the resource's gate (shared/pipeline/gate-runner.ts), so no other
 * host requests an approval for this resource between the read of the open approvals and this
 * session's record. Decisions by people are taken outside the gate; each is a conditional change of
 * the approval (from `pending` only), so an approval decided meanwhile is simply not closed here.
 */
import type { Approval, ApprovalStore } from "../ports/approval-store.js";
import type { Clock } from "../ports/clock.js";
import type { GateSession } from "../ports/resource-gate.js";
import type { ApprovalTrail } from "./trail.js";

/**
 * Whether `a`'s `pending-approval` record was written: the gate remembers its request's cause as
 * done. An approval whose record never was (the request failed after creating it) was never shown
 * to anyone, so it is replaced rather than named again. Approvals stored before requests named
 * their cause count as recorded.
 */
export function requestRecorded(a: Approval, session: GateSession): boolean {
  return a.requestCause === undefined || session.causeState(a.requestCause) === "done";
}

/** The open approval a new request for `changesHash` names again, if any (the newest such). */
export function reusableApproval(
  open: readonly Approval[],
  changesHash: string,
  session: GateSession,
): Approval | undefined {
  return open.find((a) => a.changesHash === changesHash && requestRecorded(a, session));
}

/** The `expired` record's reason for an approval `by` replaced. */
export function supersededReason(old: Approval, by: Approval): string {
  return old.changesHash === by.changesHash
    ? `superseded by approval ${by.id}, which asks for the same change`
    : `superseded by approval ${by.id}: the resource changed and the new plan needs its own decision`;
}

/** The reason a later cause's `pending-approval` record gives when it names `open` again. */
export function alreadyOpenReason(reason: string, open: Approval): string {
  return `${reason}; approval ${open.id} already waits for this change (no new card)`;
}

export interface SupersedeDeps {
  approvals: ApprovalStore;
  clock: Clock;
  trail: ApprovalTrail;
}

/**
 * Closes every approval of `open` but `by` as `expired`, naming `by`, each with its one `expired`
 * record written in `session` (the caller's, in the resource's gate): from then on none can act.
 * One decided meanwhile stays as decided. Returns the closed ones (their cards are updated later).
 */
export async function supersede(
  deps: SupersedeDeps,
  session: GateSession,
  open: readonly Approval[],
  by: Approval,
): Promise<Approval[]> {
  const closed: Approval[] = [];
  for (const old of open) {
    if (old.id === by.id) continue;
    const done = await deps.approvals.closePending(old.id, "expired", undefined, deps.clock.now());
    if (!done) continue;
    const annotated = (await deps.approvals.annotate(old.id, { supersededBy: by.id })) ?? {
      ...done,
      supersededBy: by.id,
    };
    await deps.trail.recordInSession(session, annotated, "expired", {
      outcome: "expired",
      changes: old.changes,
      actor: "driftguard",
      approver: null,
      reason: supersededReason(old, by),
    });
    closed.push(annotated);
  }
  return closed;
}
