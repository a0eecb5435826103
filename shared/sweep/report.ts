/** What a sweep reports: per candidate, per policy, and the run (shared by the CLI, the timer and the posture). */
import type { PolicyPosture, PostureRun } from "../ports/sweep-store.js";

/** Outcome of one candidate: the record's outcome, or `over-limit` (left for the next run, no record). */
export type CandidateOutcome =
  | "remediated"
  | "reverted"
  | "compliant"
  | "dry-run"
  | "pending-approval"
  | "excluded"
  | "deferred"
  | "failed"
  | "over-limit";

export interface CandidateResult {
  resourceId: string;
  resourceType: string;
  policy: string;
  kind: string;
  outcome: CandidateOutcome;
  /** What the snapshot showed (why it is a candidate). */
  finding: string;
  /** The decision's reason or summary. */
  reason?: string;
  /** The audit record written for it (none for `over-limit`). */
  recordId?: string;
}

/** An exemption tag the sweep met: in force, ended, or unparseable (not an exemption). */
export interface ExemptionNote {
  resourceId: string;
  policy: string;
  status: "exempt" | "ended" | "invalid";
  tag: string;
  value: string;
  /** End of the exemption (ISO 8601, UTC) when it has one. */
  until?: string;
  /** Why an `invalid` value is not an exemption. */
  problem?: string;
}

export interface SweepReport extends PostureRun {
  policies: (PolicyPosture & { nonCompliantResourceIds: string[] })[];
  exemptions: ExemptionNote[];
  /** Exemption notes beyond the listed ones (the list is capped). */
  exemptionsNotListed: number;
  /** Rows that could not be evaluated (a per-row read failed, a malformed row). */
  errors: { resourceId: string; message: string }[];
  graph: { queries: number; pages: number; rows: number; throttled: number; waitedMs: number };
  /** Candidates that went to the pipeline or were over the limit. */
  changes: number;
}

export function emptyCounts(policy: string, kind: string): PolicyPosture {
  return {
    policy,
    kind,
    scanned: 0,
    compliant: 0,
    nonCompliant: 0,
    remediated: 0,
    pendingApproval: 0,
    excluded: 0,
    overLimit: 0,
    failed: 0,
  };
}

/** The JSON lines `driftguard sweep --json` prints: one per candidate, the summary last. */
export function candidateLine(c: CandidateResult): Record<string, unknown> {
  return {
    type: "candidate",
    resourceId: c.resourceId,
    policy: c.policy,
    kind: c.kind,
    outcome: c.outcome,
    finding: c.finding,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.recordId ? { recordId: c.recordId } : {}),
  };
}

export function summaryLine(r: SweepReport): Record<string, unknown> {
  return {
    type: "summary",
    runId: r.runId,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    mode: r.mode,
    resumed: r.resumed,
    subscriptions: r.subscriptions,
    policies: r.policies.map(({ nonCompliantResourceIds: _, ...p }) => p),
    exemptions: r.exemptions,
    ...(r.exemptionsNotListed ? { exemptionsNotListed: r.exemptionsNotListed } : {}),
    errors: r.errors,
    graph: r.graph,
  };
}

/** Whether anything failed (the CLI's exit 1). */
export function sweepFailed(r: SweepReport): boolean {
  return r.errors.length > 0 || r.policies.some((p) => p.failed > 0);
}
