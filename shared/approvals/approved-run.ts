/**
 * How an approved change's run went, as the approval keeps it: done with its final outcome, or due
 * again after a backoff while it fails transiently (the `resumeWork` timer retries it, for as long
 * as the approval is valid). Pure: the lifecycle stores what this returns.
 */
import type { Decision } from "../pipeline/types.js";
import type { Approval, ApprovedRun } from "../ports/approval-store.js";

/** First retry of a transiently failed approved run after 30 s, doubling up to 15 minutes. */
export function runBackoffMs(attempts: number): number {
  return Math.min(15 * 60_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

/** The approval's run after `runs` (the decisions of one attempt) at `now`. */
export function nextRun(a: Pick<Approval, "run">, runs: readonly Decision[], now: Date): ApprovedRun {
  const last = runs[runs.length - 1];
  const attempts = (a.run?.attempts ?? 0) + 1;
  if (!last || last.retry) {
    const error = last?.record?.error ?? {
      code: last?.outcome ?? "NotRun",
      message: last?.reason ?? "the change did not run",
      step: "apply",
    };
    return {
      state: "due",
      attempts,
      nextAttemptAt: new Date(now.getTime() + runBackoffMs(attempts)).toISOString(),
      lastError: error,
      updatedAt: now.toISOString(),
    };
  }
  // A re-plan that no longer matches opened a new approval: name it for the card and the page.
  const superseding = last.outcome === "pending-approval" ? last.record?.approvalId : undefined;
  const reason = superseding
    ? `New approval ${superseding} was requested for the new plan.`
    : (last.reason ?? last.summary);
  return {
    state: "done",
    attempts,
    outcome: last.outcome === "duplicate" ? "recorded" : last.outcome,
    ...(reason ? { reason } : {}),
    ...(last.record ? { recordId: last.record.id } : {}),
    updatedAt: now.toISOString(),
  };
}
