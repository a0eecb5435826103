/** What the pipeline answers per target of a signal and kind that applies to it. */
import type { AuditRecord, Change, Outcome } from "../audit/types.js";
import type { PolicyMode } from "../policy/schema.js";
import type { SignalTarget } from "../signals/types.js";

export type DecisionOutcome = Outcome | "ignored" | "duplicate" | "busy";

export interface Decision {
  target: SignalTarget;
  policy?: string;
  kind?: string;
  mode?: PolicyMode;
  outcome: DecisionOutcome;
  /** Why (ignored / compliant / excluded / failed …) in one line. */
  reason?: string;
  /** One line for people, from the plan. */
  summary?: string;
  changes?: Change[];
  record?: AuditRecord;
  /** The delivery should be retried (answer non-2xx so Event Grid redelivers). */
  retry: boolean;
  /** `pending-approval` only: the record names an approval already open for the same plan (no new
   *  approval, no new card) — a sweep does not count it as a change of this run. */
  reusedApproval?: boolean;
}
