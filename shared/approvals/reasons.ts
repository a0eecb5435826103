/**
 * Why an approval was requested, in words: one title per reason for the card and the page, and the
 * one line the `pending-approval` record and the approval keep (`reasonDetail`). An approval stored
 * before the action limit had its name says `rate-limit`; it reads as the action limit.
 */
import type { Flapping } from "../pipeline/flapping.js";
import {
  type Approval,
  type ApprovalReason,
  currentReason,
  type StoredApprovalReason,
} from "../ports/approval-store.js";

/** The card's and the page's short answer to "why does this need a person?". */
const TITLES: Record<ApprovalReason, string> = {
  "policy-mode": "The policy asks a person to approve every change of this kind",
  "action-limit": "The policy's action limit for this hour is reached",
  replan: "The resource changed after an earlier approval: this is the new plan",
  flapping: "The fix keeps being undone: a person should decide before driftguard fights it again",
};

export function reasonTitle(reason: StoredApprovalReason): string {
  return TITLES[currentReason(reason)];
}

export interface ReasonFacts {
  policy: string;
  kind: string;
  maxActionsPerHour: number;
  /** The approval the new plan replaces (`replan`). */
  earlierApprovalId?: string;
  flapping?: Flapping;
}

/** The one line for the record and the approval. */
export function reasonLine(reason: ApprovalReason, f: ReasonFacts): string {
  switch (reason) {
    case "action-limit":
      return `action limit of ${f.maxActionsPerHour} actions/hour reached for policy ${f.policy}; waiting for approval`;
    case "replan":
      return `the resource changed since approval ${f.earlierApprovalId ?? "?"} was requested: the approved change no longer matches, so a new approval is requested`;
    case "flapping": {
      const n = f.flapping?.fixes.length ?? 0;
      const who = f.flapping?.undoneBy.length
        ? `by ${f.flapping.undoneBy.join(", ")}`
        : "by principals driftguard does not know";
      return `flapping: ${f.kind} fixed this resource ${n} times within ${f.flapping?.windowHours ?? 24} h and the fix was undone each time (${who}); waiting for approval instead of changing it again`;
    }
    case "policy-mode":
      return `policy ${f.policy} requires approval`;
  }
}

/** What the card and page show as the reason: the stored line, or the title for older approvals. */
export function reasonText(a: Pick<Approval, "reason" | "reasonDetail">): string {
  return a.reasonDetail ?? reasonTitle(a.reason);
}
