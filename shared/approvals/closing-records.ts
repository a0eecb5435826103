/**
 * What an approval's decision and closing records say. An expiry or a rejection is written in two
 * steps, the close (which marks the approval `recordDue`) and then its record; the timer writes the
 * records a host did not get to from the approval alone, so the record reads the same whichever
 * wrote it.
 */
import type { RecordApprover } from "../audit/types.js";
import type { Approval } from "../ports/approval-store.js";
import type { StepDetails } from "./trail.js";

/** The `expired` record's reason for an approval `by` replaced (its plan, when known, says why). */
export function supersededReason(old: Approval, by: Pick<Approval, "id"> & Partial<Approval>): string {
  if (by.changesHash === undefined) return `superseded by approval ${by.id}`;
  return old.changesHash === by.changesHash
    ? `superseded by approval ${by.id}, which asks for the same change`
    : `superseded by approval ${by.id}: the resource changed and the new plan needs its own decision`;
}

/** An `approved` or `rejected` record: the approver is the actor. */
export function decisionDetails(
  a: Approval,
  decision: "approved" | "rejected",
  approver: RecordApprover,
): StepDetails {
  return {
    outcome: decision,
    changes: a.changes,
    actor: `approver:${approver.id}`,
    approver,
    reason: decision === "approved" ? "approved; applying against current state" : "rejected by approver",
  };
}

/** An `expired` record: past its deadline, or closed early because `successor` replaced it. */
export function expiryDetails(
  a: Approval,
  successor?: Pick<Approval, "id"> & Partial<Approval>,
): StepDetails {
  return {
    outcome: "expired",
    changes: a.changes,
    actor: "driftguard",
    approver: null,
    reason: a.supersededBy
      ? supersededReason(a, successor ?? { id: a.supersededBy })
      : `no decision before ${a.expiresAt}`,
  };
}

/** The approver of a decided approval, from what the close stored. */
export function storedApprover(a: Approval): RecordApprover {
  return {
    id: a.decidedBy ?? "unknown",
    decidedAt: a.decidedAt ?? a.createdAt,
    via: a.decidedVia ?? "approval-page",
  };
}
