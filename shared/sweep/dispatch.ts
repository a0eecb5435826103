/**
 * One candidate of a sweep through the normal pipeline: a signal of source `sweep` (dedupe key
 * `sweep:<runId>`) pinned to the policy that governs the resource — gate, current-state read,
 * plan, mode, action limit, apply, verify, one record. A resumed run meets the candidates it had
 * already decided as duplicates: their outcome is read back from the trail.
 */
import type { Decision, Pipeline } from "../pipeline.js";
import type { Policy } from "../policy/schema.js";
import type { Signal } from "../signals/types.js";
import type { CandidateOutcome } from "./report.js";

export interface SweepTarget {
  resourceId: string;
  resourceType: string;
}

export function sweepSignal(runId: string, startedAt: string, target: SweepTarget): Signal {
  const subscriptionId = target.resourceId.split("/")[2] ?? "";
  return {
    source: "sweep",
    type: "driftguard.sweep",
    id: runId,
    dedupeKey: `sweep:${runId}`,
    correlationId: runId,
    time: startedAt,
    subscriptionId,
    trigger: { sweep: runId },
    targets: [{ resourceId: target.resourceId, resourceType: target.resourceType, subscriptionId }],
  };
}

export interface Dispatched {
  outcome: CandidateOutcome;
  reason?: string;
  recordId?: string;
  /** Whether it counts against the sweep's change limit (a write attempted or an approval asked). */
  isChange: boolean;
}

const RECORD_OUTCOMES = new Set<string>([
  "remediated",
  "reverted",
  "compliant",
  "dry-run",
  "pending-approval",
  "excluded",
  "deferred",
  "failed",
]);

function fromDecision(d: Decision): Dispatched {
  const reason = d.reason ?? d.summary;
  const withReason = reason ? { reason } : {};
  const recordId = d.record?.id ? { recordId: d.record.id } : {};
  if (RECORD_OUTCOMES.has(d.outcome)) {
    const outcome = d.outcome as CandidateOutcome;
    const isChange =
      outcome === "remediated" ||
      outcome === "reverted" ||
      (outcome === "pending-approval" && !d.reusedApproval) ||
      ((outcome === "failed" || outcome === "deferred") && (d.changes?.length ?? 0) > 0);
    return { outcome, ...withReason, ...recordId, isChange };
  }
  // `busy` (another writer kept the resource), `ignored`: nothing was decided for it in this run.
  return { outcome: "failed", reason: `${d.outcome}: ${reason ?? "not decided"}`, isChange: false };
}

/** Runs one candidate; a duplicate (decided before a resume) takes its recorded outcome. */
export async function dispatchCandidate(
  pipeline: Pipeline,
  run: { runId: string; startedAt: string; dryRun: boolean; actor: string },
  target: SweepTarget,
  policy: Policy,
): Promise<Dispatched> {
  const signal = sweepSignal(run.runId, run.startedAt, target);
  const [decision] = await pipeline.handle(signal, {
    policyName: policy.name,
    dryRun: run.dryRun,
    actor: run.actor,
  });
  if (!decision) return { outcome: "failed", reason: "no decision", isChange: false };
  if (decision.outcome !== "duplicate") return fromDecision(decision);
  const page = await pipeline.deps.audit.query({
    resourceId: target.resourceId,
    kind: policy.kind,
    source: "sweep",
    limit: 20,
  });
  const record = page.items.find((r) => r.signal.id === run.runId);
  if (!record)
    return { outcome: "failed", reason: "decided earlier in this run, record not found", isChange: false };
  return fromDecision({
    ...decision,
    outcome: record.outcome,
    reason: record.reason,
    record,
    changes: record.changes,
  });
}
