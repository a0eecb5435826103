/** Maps pipeline decisions to a compact, non-sensitive response body and log lines. */
import type { Decision } from "../shared/pipeline.js";

export interface DecisionSummary {
  resourceId: string;
  policy: string | null;
  kind: string | null;
  outcome: string;
  reason: string | null;
  recordId: string | null;
}

export function summarize(decisions: readonly Decision[]): DecisionSummary[] {
  return decisions.map((d) => ({
    resourceId: d.target.resourceId,
    policy: d.policy ?? null,
    kind: d.kind ?? null,
    outcome: d.outcome,
    reason: d.reason ?? d.summary ?? null,
    recordId: d.record?.id ?? null,
  }));
}

/** Raised by a trigger when a decision asked for redelivery (Event Grid / action group retry). */
export class RedeliveryRequested extends Error {
  override readonly name = "RedeliveryRequested";
  constructor(readonly decisions: DecisionSummary[]) {
    super(
      `redelivery requested: ${decisions
        .filter((d) => d.outcome !== "duplicate")
        .map((d) => `${d.outcome} ${d.resourceId}`)
        .join("; ")}`,
    );
  }
}
