/**
 * Completing an interrupted intent: an earlier holder persisted what it was about to write to Azure
 * and vanished (or could not write its record). Its record may exist after all; otherwise the
 * resource is re-read: in the planned state → `remediated` (completed after an interruption); not →
 * the plan is carried out again (resumed). `final`: the intent is the session's own business (its
 * cause, or a sweep), so commit and leave; else append and let the caller go on with its own cause.
 */
import type { AuditRecord } from "../audit/types.js";
import type { Logger } from "../log.js";
import { policyByName } from "../policy/match.js";
import type { Policy } from "../policy/schema.js";
import type { ApprovalStore } from "../ports/approval-store.js";
import type { Clock } from "../ports/clock.js";
import type { GateSession, Intent } from "../ports/resource-gate.js";
import type { RemediationRegistry } from "../remediations/registry.js";
import type { AnyRemediation } from "../remediations/types.js";
import { buildRecord } from "./records.js";
import { type RunEnv, type RunInput, type RunResult, runRemediation } from "./run.js";
import type { Decision } from "./types.js";

export interface InterruptedContext {
  deps: {
    policies: readonly Policy[];
    registry: RemediationRegistry;
    approvals: ApprovalStore;
    clock: Clock;
    log: Logger;
    policyFileHash?: string;
  };
  runEnv(remediation: AnyRemediation): RunEnv;
}

/**
 * Commits the run's record together with leaving the gate (or leaves without one). `runCause` is
 * the cause the run decided: the session's own, or an interrupted intent's (then the session's
 * own cause — a sweep — stays open, and the intent's is settled when decided).
 */
export async function settle(
  session: GateSession,
  runCause: string,
  result: RunResult,
  settled: readonly string[],
): Promise<Decision> {
  let record: AuditRecord | undefined;
  const own = session.cause === runCause;
  const opts = {
    cause: own ? result.cause : ("open" as const),
    keepIntent: result.keepIntent,
    settled: !own && result.cause === "done" ? [...settled, runCause] : settled,
  };
  if (result.record) record = await session.commit(result.record, opts);
  else await session.leave(opts);
  await result.afterCommit?.();
  return { ...result.decision, ...(record ? { record } : {}) } as Decision;
}

export async function settleInterrupted(
  ctx: InterruptedContext,
  session: GateSession,
  intent: Intent,
  final: boolean,
): Promise<Decision> {
  const base = { target: intent.target, policy: intent.policy, kind: intent.kind, mode: intent.mode };
  const recorded = (await session.recordsSince(intent)).find(
    (r) =>
      r.signal.id === intent.recordSignal.id &&
      r.policy === intent.policy &&
      (r.outcome === "remediated" || r.outcome === "reverted"),
  );
  const ownCause = session.cause === intent.cause ? ("done" as const) : ("open" as const);
  if (recorded) {
    if (final) await session.leave({ cause: ownCause, settled: [intent.cause] });
    return {
      ...base,
      outcome: recorded.outcome,
      reason: "already recorded",
      record: recorded,
      retry: false,
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
  if (!remediation || !params?.success) {
    const [code, reason] = !remediation
      ? ["UnknownKind", `kind '${intent.kind}' is no longer known: the interrupted change cannot be checked`]
      : [
          "InvalidParams",
          `the interrupted change's params are not valid for kind '${intent.kind}' any more: it cannot be checked`,
        ];
    const input = buildRecord(records, ctx.deps.clock.now(), {
      outcome: "failed",
      changes: intent.changes,
      reason,
      error: { code, message: reason, step: "verify" },
    });
    return finishInterrupted(
      ctx,
      session,
      intent,
      final,
      { ...base, outcome: "failed", reason, retry: false },
      input,
    );
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
  if (decision.outcome === "dry-run" && approvalEnded) {
    const message = `the approved change was not applied before approval ${intent.approvalId} ended (${approval?.expiresAt ?? "unknown"})`;
    const input = buildRecord(records, ctx.deps.clock.now(), {
      outcome: "failed",
      changes: intent.changes,
      reason: message,
      error: { code: "ApprovedChangeNotApplied", message, step: "apply" },
      ...(intent.approvalId ? { approvalId: intent.approvalId } : {}),
    });
    return finishInterrupted(
      ctx,
      session,
      intent,
      final,
      { ...decision, outcome: "failed", reason: message, retry: false },
      input,
    );
  }
  if (decision.outcome === "compliant") {
    // The planned state is there: the interrupted write happened. Record it as the action it was.
    const outcome = intent.reverts ? "reverted" : "remediated";
    const reason = `${intent.summary} (completed after an interruption: the resource is in the planned state)`;
    const input = buildRecord(records, ctx.deps.clock.now(), {
      outcome,
      changes: intent.changes,
      reason,
      approver: intent.approver ?? null,
      ...(intent.approvalId ? { approvalId: intent.approvalId } : {}),
      ...(intent.followUp ? { followUp: intent.followUp } : {}),
    });
    return finishInterrupted(
      ctx,
      session,
      intent,
      final,
      { ...decision, outcome, reason, changes: intent.changes },
      input,
    );
  }
  if (final) return settle(session, intent.cause, result, []);
  if (decision.retry) {
    // Not settled yet: keep it for later and let the current cause come back too.
    await session.leave({ cause: "open", keepIntent: true });
    return { ...decision, retry: true };
  }
  const record = result.record ? await session.append(result.record) : undefined;
  await result.afterCommit?.();
  return { ...decision, ...(record ? { record } : {}) } as Decision;
}

async function finishInterrupted(
  ctx: InterruptedContext,
  session: GateSession,
  intent: Intent,
  final: boolean,
  decision: Decision,
  input: Parameters<GateSession["commit"]>[0],
): Promise<Decision> {
  const cause = session.cause === intent.cause ? ("done" as const) : ("open" as const);
  const record = final
    ? await session.commit(input, { cause, settled: [intent.cause] })
    : await session.append(input);
  ctx.deps.log.info(
    { resourceId: intent.target.resourceId, intentId: intent.id },
    "interrupted action completed",
  );
  return { ...decision, record };
}
