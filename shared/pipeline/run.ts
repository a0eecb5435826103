/**
 * One kind's run inside a gate session: read → (excluded) → plan → mode (flapping, action limit) →
 * intent → apply → verify. It returns the decision and the record that settles its cause; the
 * session (`./session.ts`) commits the record together with the cause. Nothing here touches a store
 * except through the session, the action limit and the approval requests.
 */
import { BrokenCircuitError, type CircuitBreakerPolicy } from "cockatiel";
import type { AuditRecord, AuditRecordInput, Change, RecordApprover } from "../audit/types.js";
import { asRemediationError, RemediationError, type Step } from "../errors.js";
import type { Logger } from "../log.js";
import { describeExemption, exemptionOf } from "../opt-out.js";
import type { Policy, PolicyMode } from "../policy/schema.js";
import type { ActionLimit } from "../ports/action-limit.js";
import type { Approval, ApprovalContextEntry, ApprovalReason } from "../ports/approval-store.js";
import type { Clock } from "../ports/clock.js";
import type { CauseState, GateSession, Intent } from "../ports/resource-gate.js";
import { redactText } from "../redact.js";
import type { AnyRemediation, ChangePlan, Current, Plan, RemediationContext } from "../remediations/types.js";
import type { Signal, SignalTarget } from "../signals/types.js";
import { changesHash } from "./binding.js";
import { type Flapping, flappingOf } from "./flapping.js";
import { buildRecord, type RecordContext, type RecordDetails } from "./records.js";
import type { Decision } from "./types.js";

/** Why an approval is requested. */
export type ApprovalWhy = ApprovalReason;

/** Posts the approval card once the session is over: `context` is what the other kinds did for the same signal. */
export type ApprovalNotify = (context: readonly ApprovalContextEntry[]) => Promise<void>;

/** Creates the approval for a plan (not yet notified): the run records `pending-approval` for it. */
export type ApprovalRequester = (req: {
  run: RunInput;
  plan: ChangePlan;
  why: ApprovalWhy;
  /** For `flapping`: the fixes that were undone, and by whom. */
  flapping?: Flapping;
}) => Promise<{ approvalId: string; reason: string; notify: ApprovalNotify; reused?: boolean }>;

/** What the pipeline needs of the approval lifecycle (built beside it; see shared/runtime.ts). */
export interface ApprovalRequests {
  request: ApprovalRequester;
  /** An approved change was settled outside its own run (an interrupted intent completed). */
  noteRunOutcome(approvalId: string, decision: Decision): Promise<void>;
  get(id: string): Promise<Approval | undefined>;
}

export interface RunEnv {
  actionLimit: ActionLimit;
  /** Fixes of one kind on one resource within 24 h after which the next change needs a person (0: off). */
  flapLimit: number;
  clock: Clock;
  log: Logger;
  breaker: CircuitBreakerPolicy;
  requestApproval: ApprovalRequester;
  /** Builds the kind's context (clients, history) for this run. */
  context: (run: RunInput, checkpoint: (p: Record<string, unknown>) => Promise<void>) => RemediationContext;
}

export interface RunInput {
  session: GateSession;
  /** The cause this run decides. */
  cause: string;
  remediation: AnyRemediation;
  signal: Signal;
  target: SignalTarget;
  policy: Policy;
  mode: PolicyMode;
  records: RecordContext;
  /** The run an approver approved: policy mode `approval` means enforce, for the same change only. */
  approved?: { approval: Approval; approver: RecordApprover };
  /** Resuming an interrupted intent: its progress; the action was counted when it was planned. */
  resume?: Intent;
}

export type DecisionBase = Omit<Decision, "outcome" | "retry">;

/** The decision, the record that settles it (if any), and how the session goes on. */
export interface RunResult {
  decision: Omit<Decision, "record">;
  record?: AuditRecordInput;
  /** The cause's record exists already (an interrupted action recorded after all): nothing to write. */
  existing?: AuditRecord;
  cause: CauseState;
  /** The intent stays for the next holder: the session decides nothing more now. */
  keepIntent: boolean;
  /** After the session has left the gate (posting the approval card). */
  notify?: ApprovalNotify;
}

export async function runRemediation(env: RunEnv, run: RunInput): Promise<RunResult> {
  const { remediation, session } = run;
  const base: DecisionBase = {
    target: run.target,
    policy: run.policy.name,
    kind: run.policy.kind,
    mode: run.mode,
  };
  /** Appended to every record's reason once read: an exemption tag that is none (it does not parse). */
  let exemptionNote = "";
  const record = (d: RecordDetails) =>
    buildRecord(
      run.records,
      env.clock.now(),
      exemptionNote ? { ...d, reason: `${d.reason ?? ""}${exemptionNote}`.trim() } : d,
    );
  let intent: Intent | undefined = run.resume;
  const checkpoint = async (progress: Record<string, unknown>) => {
    if (!intent) return;
    intent = { ...intent, progress: { ...intent.progress, ...progress } };
    await session.recordIntent(intent);
  };
  const ctx = env.context(run, checkpoint);

  /** A failed step: one record per cause for transient failures (later ones only retry). */
  const failed = (err: unknown, step: Step, changes: Change[] = []): RunResult => {
    const e = asRemediationError(err, { step, resourceId: run.target.resourceId });
    ctx.log.warn({ code: e.code, step: e.step, retryable: e.retryable }, "remediation step failed");
    const error = { code: e.code, message: redactText(e.message), step: e.step };
    const reason = `${e.step} failed: ${error.message}`;
    const decision = { ...base, outcome: "failed" as const, reason, changes, retry: e.retryable };
    // Transient after the intent: the write may have happened; the next holder re-reads and settles it.
    const keepIntent = e.retryable && intent !== undefined;
    if (e.retryable && session.causeState(run.cause) === "deferred")
      return { decision, cause: "deferred", keepIntent };
    return {
      decision,
      record: record({ outcome: "failed", changes, error, reason }),
      cause: e.retryable ? "deferred" : "done",
      keepIntent,
    };
  };
  const deferred = (reason: string): RunResult => {
    const decision = { ...base, outcome: "deferred" as const, reason, retry: true };
    if (session.causeState(run.cause) === "deferred")
      return { decision, cause: "deferred", keepIntent: false };
    return {
      decision,
      record: record({ outcome: "deferred", reason }),
      cause: "deferred",
      keepIntent: false,
    };
  };
  const breakerOpen = "circuit breaker open after repeated failures";

  let current: Current<unknown>;
  try {
    current = await env.breaker.execute(() => remediation.read(ctx));
  } catch (err) {
    if (err instanceof BrokenCircuitError) return deferred(breakerOpen);
    return failed(err, "read");
  }
  // The record names the exemption and, for `driftguard:exclude-until`, its end.
  const exemption = exemptionOf(current.tags, env.clock.now());
  if (!exemption.exempt && exemption.invalid) {
    // Not an exemption: the resource is treated normally, and its record and the log say why.
    const { tag, value, problem } = exemption.invalid;
    exemptionNote = ` (tag ${tag}=${redactText(value)} is not an exemption: ${problem})`;
    ctx.log.warn({ tag, problem }, "exemption tag does not parse: the resource is treated normally");
  }
  if (exemption.exempt) {
    const reason = describeExemption(exemption);
    return {
      decision: { ...base, outcome: "excluded", reason, retry: false },
      record: record({ outcome: "excluded", reason }),
      cause: "done",
      keepIntent: false,
    };
  }
  let plan: Plan;
  try {
    plan = await remediation.plan(current, ctx);
  } catch (err) {
    return failed(err, "plan");
  }
  if (plan.action === "noop") {
    return {
      decision: { ...base, outcome: "compliant", reason: plan.reason, retry: false },
      record: record({ outcome: "compliant", reason: plan.reason }),
      cause: "done",
      keepIntent: false,
    };
  }
  const change = plan;
  const hash = changesHash(change.changes, remediation.volatileChangePaths);

  if (run.mode === "dry-run") {
    return {
      decision: {
        ...base,
        outcome: "dry-run",
        summary: change.summary,
        changes: change.changes,
        retry: false,
      },
      record: record({
        outcome: "dry-run",
        changes: change.changes,
        reason: change.summary,
        followUp: change.followUp,
      }),
      cause: "done",
      keepIntent: false,
    };
  }
  const askApproval = async (why: ApprovalWhy, flapping?: Flapping): Promise<RunResult> => {
    const req = await env.requestApproval({ run, plan: change, why, ...(flapping ? { flapping } : {}) });
    return {
      decision: {
        ...base,
        outcome: "pending-approval",
        summary: change.summary,
        changes: change.changes,
        reason: req.reason,
        retry: false,
        ...(req.reused ? { reusedApproval: true } : {}),
      },
      record: record({
        outcome: "pending-approval",
        changes: change.changes,
        reason: req.reason,
        approvalId: req.approvalId,
      }),
      cause: "done",
      keepIntent: false,
      notify: req.notify,
    };
  };
  // An approval authorises exactly the change it showed; a different plan needs a new approval.
  const boundHash =
    run.approved?.approval.changesHash ?? (run.resume?.approvalId ? run.resume.changesHash : undefined);
  if (boundHash !== undefined && boundHash !== hash) return askApproval("replan");
  if (run.mode === "approval") return askApproval("policy-mode");
  // Enforce. Restores are always allowed; a fix that keeps being undone goes to a person; new
  // actions count against the policy's action limit.
  if (!change.reverts && !run.approved && !run.resume) {
    const flapping = flappingOf(session, run, env.flapLimit, env.clock.now());
    if (flapping) return askApproval("flapping", flapping);
    const allowed = await env.actionLimit.tryConsume(
      run.policy.name,
      run.policy.maxActionsPerHour,
      env.clock.now(),
    );
    if (!allowed) return askApproval("action-limit");
  }

  // Intent before action: whoever enters next can tell a write happened even if its record did not.
  intent = {
    id: run.resume?.id ?? crypto.randomUUID(),
    cause: run.cause,
    plannedAt: env.clock.now().toISOString(),
    seqBefore: 0, // the gate sets it
    policy: run.policy.name,
    kind: run.policy.kind,
    params: run.policy.params,
    mode: run.mode,
    signal: withoutCallerObjectId(run.signal),
    recordSignal: run.records.signal,
    target: run.target,
    changes: change.changes,
    changesHash: hash,
    summary: change.summary,
    reverts: !!change.reverts,
    ...(change.followUp ? { followUp: change.followUp } : {}),
    actor: run.records.actor,
    approver: run.approved?.approver ?? run.resume?.approver ?? null,
    ...(run.approved || run.resume?.approvalId
      ? { approvalId: run.approved?.approval.id ?? run.resume?.approvalId }
      : {}),
    ...(run.resume?.progress ? { progress: run.resume.progress } : {}),
  };
  await session.recordIntent(intent);

  let applied: ChangePlan;
  try {
    // The changes as made (e.g. with the new secret version) are what is verified and recorded.
    applied = { ...change, changes: await env.breaker.execute(() => remediation.apply(change, ctx)) };
  } catch (err) {
    if (err instanceof BrokenCircuitError) {
      intent = undefined; // nothing was attempted
      return deferred(breakerOpen);
    }
    return failed(err, (err as RemediationError).step ?? "apply", change.changes);
  }
  try {
    const verified = await remediation.verify(applied, ctx);
    if (!verified.ok) {
      throw new RemediationError("VerificationFailed", verified.detail ?? "read-back differs from the plan", {
        step: "verify",
        resourceId: run.target.resourceId,
        retryable: true,
      });
    }
  } catch (err) {
    return failed(err, "verify", applied.changes);
  }
  const outcome = change.reverts ? "reverted" : "remediated";
  const resumed = run.resume ? " (resumed after an interruption)" : "";
  return {
    decision: { ...base, outcome, summary: change.summary, changes: applied.changes, retry: false },
    record: record({
      outcome,
      changes: applied.changes,
      reason: `${change.summary}${resumed}`,
      followUp: change.followUp,
      approver: run.approved?.approver ?? run.resume?.approver ?? null,
      approvalId: run.approved?.approval.id ?? run.resume?.approvalId,
    }),
    cause: "done",
    keepIntent: false,
  };
}

/** Intents and approvals keep the signal without raw caller object IDs (app IDs are not personal). */
export function withoutCallerObjectId(signal: Signal): Signal {
  const { caller, ...rest } = signal;
  return caller?.appId ? { ...rest, caller: { appId: caller.appId } } : rest;
}
