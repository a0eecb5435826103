/**
 * Completing an interrupted intent: an earlier holder persisted what it was about to write to Azure
 * and vanished (or could not write its record). Its record may exist after all; otherwise the
 * resource is re-read: in the planned state → `remediated` (completed after an interruption); not →
 * the plan is carried out again (resumed). This decides the intent's cause and returns the step's
 * result; the session (`./session.ts`) writes it.
 */
import type { Logger } from "../log.js";
import { policyByName } from "../policy/match.js";
import type { Policy } from "../policy/schema.js";
import type { Clock } from "../ports/clock.js";
import type { GateSession, Intent } from "../ports/resource-gate.js";
import type { RemediationRegistry } from "../remediations/registry.js";
import type { AnyRemediation } from "../remediations/types.js";
import { buildRecord, type RecordDetails } from "./records.js";
import { type ApprovalRequests, type RunEnv, type RunInput, type RunResult, runRemediation } from "./run.js";

export interface InterruptedContext {
  deps: {
    policies: readonly Policy[];
    registry: RemediationRegistry;
    approvals: Pick<ApprovalRequests, "get">;
    clock: Clock;
    log: Logger;
    policyFileHash?: string;
  };
  runEnv(remediation: AnyRemediation): RunEnv;
}

export async function settleInterrupted(
  ctx: InterruptedContext,
  session: GateSession,
  intent: Intent,
): Promise<RunResult> {
  const base = { target: intent.target, policy: intent.policy, kind: intent.kind, mode: intent.mode };
  const recorded = (await session.recordsSince(intent)).find(
    (r) =>
      r.signal.id === intent.recordSignal.id &&
      r.policy === intent.policy &&
      (r.outcome === "remediated" || r.outcome === "reverted"),
  );
  if (recorded) {
    return {
      decision: { ...base, outcome: recorded.outcome, reason: "already recorded", retry: false },
      existing: recorded,
      cause: "done",
      keepIntent: false,
    };
  }
  const remediation = ctx.deps.registry.get(intent.kind);
  // The intent's params come back from storage: the kind's schema checks them before they run.
  const params = remediation?.paramsSchema.safeParse(intent.params ?? {});
  const policy: Policy = {
    ...(policyByName(ctx.deps.policies, intent.policy) ?? {
      name: intent.policy,
      resourceTypes: [intent.target.resourceType],
      triggers: [{ manual: "*" }],
      scope: [],
      maxActionsPerHour: 1,
    }),
    kind: intent.kind,
    params: (params?.success ? params.data : intent.params) as Record<string, unknown>,
    mode: intent.mode,
  };
  const records = {
    signal: intent.recordSignal,
    target: intent.target,
    policy: intent.policy,
    kind: intent.kind,
    mode: intent.mode,
    actor: intent.actor,
    startedMs: Date.parse(intent.plannedAt),
    ...(ctx.deps.policyFileHash ? { policyFileHash: ctx.deps.policyFileHash } : {}),
  };
  const final = (outcome: "failed" | "remediated" | "reverted", details: Omit<RecordDetails, "outcome">) => {
    const reason = details.reason ?? "";
    return {
      decision: { ...base, outcome, reason, changes: intent.changes, retry: false },
      record: buildRecord(records, ctx.deps.clock.now(), { outcome, changes: intent.changes, ...details }),
      cause: "done" as const,
      keepIntent: false,
    };
  };
  if (!remediation || !params?.success) {
    const [code, reason] = !remediation
      ? ["UnknownKind", `kind '${intent.kind}' is no longer known: the interrupted change cannot be checked`]
      : [
          "InvalidParams",
          `the interrupted change's params are not valid for kind '${intent.kind}' any more: it cannot be checked`,
        ];
    return final("failed", { reason, error: { code, message: reason, step: "verify" } });
  }
  // An approved change is carried out again only while its approval is valid; after that, only
  // a write that already happened is recorded.
  const approval = intent.approvalId ? await ctx.deps.approvals.get(intent.approvalId) : undefined;
  const approvalEnded =
    !!intent.approvalId && (!approval || Date.parse(approval.expiresAt) <= ctx.deps.clock.now().getTime());
  const run: RunInput = {
    session,
    cause: intent.cause,
    remediation,
    signal: intent.signal,
    target: intent.target,
    policy,
    mode: approvalEnded ? "dry-run" : intent.mode === "approval" ? "enforce" : intent.mode,
    records,
    resume: intent,
  };
  const result = await runRemediation(ctx.runEnv(remediation), run);
  const { decision } = result;
  const approvalId = intent.approvalId ? { approvalId: intent.approvalId } : {};
  if (decision.outcome === "dry-run" && approvalEnded) {
    const message = `the approved change was not applied before approval ${intent.approvalId} ended (${approval?.expiresAt ?? "unknown"})`;
    return final("failed", {
      reason: message,
      error: { code: "ApprovedChangeNotApplied", message, step: "apply" },
      ...approvalId,
    });
  }
  if (decision.outcome === "compliant") {
    // The planned state is there: the interrupted write happened. Record it as the action it was.
    ctx.deps.log.info(
      { resourceId: intent.target.resourceId, intentId: intent.id },
      "interrupted action completed",
    );
    return final(intent.reverts ? "reverted" : "remediated", {
      reason: `${intent.summary} (completed after an interruption: the resource is in the planned state)`,
      approver: intent.approver ?? null,
      ...approvalId,
      ...(intent.followUp ? { followUp: intent.followUp } : {}),
    });
  }
  return result;
}
