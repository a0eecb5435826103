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
import { expiryDetails } from "./closing-records.js";
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
 * Closes every approval of `open` but `by` as `expired`, naming `by` in the same write, each with its
 * one `expired` record written in `session` (the caller's, in the resource's gate): from then on none
 * can act. One decided meanwhile stays as decided. If the record is not written (the session's
 * store failed, the host died), the close left the approval `recordDue` and the `expireApprovals`
 * timer writes it. Returns the closed ones (their cards are updated later).
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
    const done = await deps.approvals.closePending(
      old.id,
      "expired",
      undefined,
      deps.clock.now(),
      undefined,
      by.id,
    );
    if (!done) continue;
    await deps.trail.recordInSession(session, done, "expired", expiryDetails(done, by));
    closed.push((await deps.approvals.markRecorded(done.id)) ?? done);
  }
  return closed;
}
