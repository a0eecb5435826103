import type { Approval } from "./approval-store.js";

/** Posts approval requests (Teams card) and decision updates. */
export interface Notifier {
  requestApproval(approval: Approval): Promise<void>;
}
