import type { Approval } from "./approval-store.js";

/** What happened to an approval after its request was posted. */
export type ApprovalChange = "decided" | "expired" | "run" | "refused";

/** Posts approval requests (Teams card) and decision updates. */
export interface Notifier {
  requestApproval(approval: Approval): Promise<void>;
  /** The approval was decided, expired, its approved run ended (or failed again), or a decision was
   *  refused. Notifiers that can change what they posted (the bot's card) show the new state. */
  approvalChanged?(approval: Approval, change: ApprovalChange): Promise<void>;
}
