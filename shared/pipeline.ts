/**
 * The remediation pipeline (pure core: no Azure SDK import, only narrow interfaces).
 *
 *   signal → per target: self-echo? → policy match → dedupe lease → read current state →
 *   opt-out tag → plan → mode (dry-run | approval | enforce + blast-radius limit) → apply →
 *   verify → exactly one audit record per decision.
 *
 * Events arrive at least once and out of order, so the decision is always made from the
 * resource's current state; a duplicate delivery of a handled cause yields no record, and a
 * failure releases the lease so that Event Grid's redelivery retries instead of being dropped.
 */
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from "cockatiel";
import { toRecordSignal } from "./audit/record.js";
import type {
  AuditRecord,
  AuditRecordInput,
  AuditStore,
  Change,
  Outcome,
  RecordApprover,
} from "./audit/types.js";
import type { AzureClients } from "./azure/clients.js";
import { asRemediationError, RemediationError, type Step } from "./errors.js";
import type { Logger } from "./log.js";
import { EXCLUDE_TAG, isOptedOut } from "./opt-out.js";
import { matchPolicy, policyByName } from "./policy/match.js";
import { mostRestrictive, type Policy, type PolicyMode } from "./policy/schema.js";
import type { ActionBudget, Approval, ApprovalStore, Clock, Notifier, SignalLedger } from "./ports.js";
import { redactText } from "./redact.js";
import { getRemediation } from "./remediations/registry.js";
import type { ChangePlan, Current, Plan, RemediationContext } from "./remediations/types.js";
import type { Signal, SignalTarget } from "./signals/types.js";

export interface PipelineDeps {
  policies: readonly Policy[];
  /** Global kill switch `DRIFTGUARD_MODE`. */
  globalMode: PolicyMode;
  clients: AzureClients;
  audit: AuditStore;
  ledger: SignalLedger;
  budget: ActionBudget;
  approvals: ApprovalStore;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  /** Our own principals (object or app IDs): events they caused are our echoes, not drift. */
  selfPrincipalIds: readonly string[];
  /** Key for pseudonymous caller/approver IDs. */
  pseudonymKey: string;
  /** Dedupe lease: how long a claim protects a cause before a redelivery may retry it. */
  leaseMs?: number;
  /** How long a concurrent delivery waits for the lease holder to finish before asking for redelivery. */
  busyWaitMs?: number;
  /** How long an approval request stays open. */
  approvalTtlMs?: number;
  /** Public base URL of the function app (approval links). */
  publicBaseUrl?: string;
  /** Observer of every decision (the local demo prints them as they happen). */
  onDecision?: (decision: Decision, signal: Signal) => void;
}

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
}

/** Options for runs that are not plain deliveries: approved replays, timers, manual runs. */
export interface RunOptions {
  /** Use this policy instead of matching (the approval / follow-up names it). */
  policyName?: string;
  /** Set for the run an approver has approved: policy mode `approval` then means enforce. */
  approved?: { approval: Approval; approver: RecordApprover };
  actor?: string;
  /** Force dry-run (CLI `replay --dry-run`). */
  dryRun?: boolean;
}

const DEFAULT_LEASE_MS = 5 * 60_000;
const DEFAULT_BUSY_WAIT_MS = 10_000;
const DEFAULT_APPROVAL_TTL_MS = 24 * 3600_000;

export class Pipeline {
  /** One breaker per kind: repeated failures of one kind stop hammering Azure; others go on. */
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();

  constructor(readonly deps: PipelineDeps) {}

  /** Handles every target of a signal; one Decision per target. */
  async handle(signal: Signal, opts: RunOptions = {}): Promise<Decision[]> {
    const decisions: Decision[] = [];
    for (const target of signal.targets) {
      const decision = await this.handleTarget(signal, target, opts);
      this.deps.onDecision?.(decision, signal);
      decisions.push(decision);
    }
    return decisions;
  }

  /** Handles a validated batch; every signal is attempted even if an earlier one failed. */
  async handleAll(signals: readonly Signal[], opts: RunOptions = {}): Promise<Decision[]> {
    const out: Decision[] = [];
    for (const s of signals) out.push(...(await this.handle(s, opts)));
    return out;
  }

  private isSelfEcho(signal: Signal): boolean {
    const self = this.deps.selfPrincipalIds.map((s) => s.toLowerCase());
    const c = signal.caller;
    if (!c || self.length === 0) return false;
    return (
      (!!c.objectId && self.includes(c.objectId.toLowerCase())) ||
      (!!c.appId && self.includes(c.appId.toLowerCase()))
    );
  }

  private breaker(kind: string): CircuitBreakerPolicy {
    let b = this.breakers.get(kind);
    if (!b) {
      // Only transient failures (throttling, 5xx, network) say "Azure is struggling"; a 403 on one
      // resource must not pause the kind for everyone.
      const transient = handleWhen((err) => asRemediationError(err, "apply", "").retryable);
      b = circuitBreaker(transient, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) });
      this.breakers.set(kind, b);
    }
    return b;
  }

  private async handleTarget(signal: Signal, target: SignalTarget, opts: RunOptions): Promise<Decision> {
    const { log } = this.deps;
    if (this.isSelfEcho(signal)) {
      log.debug({ signalId: signal.id, resourceId: target.resourceId }, "own change echoed back; ignored");
      return { target, outcome: "ignored", reason: "caused by driftguard itself", retry: false };
    }
    const policy = opts.policyName
      ? policyByName(this.deps.policies, opts.policyName)
      : matchPolicy(this.deps.policies, signal, target);
    if (!policy) {
      log.debug(
        { signalId: signal.id, resourceId: target.resourceId, type: signal.type },
        "no policy matches",
      );
      return {
        target,
        outcome: "ignored",
        reason: opts.policyName ? `policy '${opts.policyName}' no longer exists` : "no policy matches",
        retry: false,
      };
    }
    const policyMode = opts.approved && policy.mode === "approval" ? "enforce" : policy.mode;
    const mode = mostRestrictive(this.deps.globalMode, policyMode, opts.dryRun ? "dry-run" : "enforce");
    const base = { target, policy: policy.name, kind: policy.kind, mode };
    if (mode === "off") return { ...base, outcome: "ignored", reason: "mode is off", retry: false };

    const remediation = getRemediation(policy.kind);
    if (!remediation)
      return { ...base, outcome: "ignored", reason: `unknown kind '${policy.kind}'`, retry: false };

    const key = `${signal.dedupeKey}|${target.resourceId.toLowerCase()}`;
    const claim = await this.claim(key);
    if (claim.status === "done")
      return { ...base, outcome: "duplicate", reason: "already handled", retry: false };
    if (claim.status === "busy") {
      return {
        ...base,
        outcome: "busy",
        reason: "another delivery of this cause is in progress",
        retry: true,
      };
    }

    const started = Date.now();
    const ctx: RemediationContext = {
      target,
      signal,
      policy,
      params: policy.params,
      clients: this.deps.clients,
      history: this.deps.audit,
      now: () => this.deps.clock.now(),
      log: log.child({ kind: policy.kind, resourceId: target.resourceId, signalId: signal.id }),
    };
    const record = (input: Partial<AuditRecordInput> & { outcome: Outcome }) =>
      this.record(signal, target, policy, mode, started, opts, input);

    let decision: Decision;
    try {
      decision = await this.decide(remediation, ctx, mode, base, record, opts);
    } catch (err) {
      // The record could not be written (or something unexpected broke): give the lease up so
      // that the redelivery retries, and surface the failure to the trigger.
      await this.deps.ledger.release(key, claim.token).catch(() => undefined);
      throw err;
    }
    if (decision.retry) await this.deps.ledger.release(key, claim.token);
    else await this.deps.ledger.complete(key, claim.token);
    return decision;
  }

  /** Claims the cause; waits briefly for a concurrent holder so that duplicates settle as "done". */
  private async claim(key: string) {
    const { ledger, clock } = this.deps;
    const leaseMs = this.deps.leaseMs ?? DEFAULT_LEASE_MS;
    const deadline = Date.now() + (this.deps.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS);
    let delay = 50;
    for (;;) {
      const claim = await ledger.claim(key, { leaseMs, now: clock.now() });
      if (claim.status !== "busy" || Date.now() >= deadline) return claim;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }

  private async decide(
    remediation: NonNullable<ReturnType<typeof getRemediation>>,
    ctx: RemediationContext,
    mode: PolicyMode,
    base: Omit<Decision, "outcome" | "retry">,
    record: (input: Partial<AuditRecordInput> & { outcome: Outcome }) => Promise<AuditRecord>,
    opts: RunOptions,
  ): Promise<Decision> {
    const failed = async (err: unknown, step: Step): Promise<Decision> => {
      const e = asRemediationError(err, step, ctx.target.resourceId);
      ctx.log.warn({ code: e.code, step: e.step, retryable: e.retryable }, "remediation step failed");
      const r = await record({
        outcome: "failed",
        changes: changes ?? [],
        error: { code: e.code, message: redactText(e.message), step: e.step },
        reason: `${e.step} failed: ${redactText(e.message)}`,
      });
      return {
        ...base,
        outcome: "failed",
        reason: r.reason,
        record: r,
        changes: r.changes,
        retry: e.retryable,
      };
    };
    let changes: Change[] | undefined;

    // read → (excluded) → plan
    let current: Current<unknown>;
    let plan: Plan;
    try {
      current = await this.breaker(remediation.kind).execute(() => remediation.read(ctx));
    } catch (err) {
      if (err instanceof BrokenCircuitError)
        return this.deferred(base, record, "circuit breaker open after repeated failures");
      return failed(err, "read");
    }
    if (isOptedOut(current.tags)) {
      const r = await record({
        outcome: "excluded",
        reason: `resource carries the opt-out tag ${EXCLUDE_TAG}=true`,
      });
      return { ...base, outcome: "excluded", reason: r.reason, record: r, retry: false };
    }
    try {
      plan = await remediation.plan(current, ctx);
    } catch (err) {
      return failed(err, "plan");
    }
    if (plan.action === "noop") {
      const r = await record({ outcome: "compliant", reason: plan.reason });
      return { ...base, outcome: "compliant", reason: plan.reason, record: r, retry: false };
    }
    changes = plan.changes;

    if (mode === "dry-run") {
      const r = await record({
        outcome: "dry-run",
        changes: plan.changes,
        reason: plan.summary,
        followUp: plan.followUp,
      });
      return {
        ...base,
        outcome: "dry-run",
        summary: plan.summary,
        changes: plan.changes,
        record: r,
        retry: false,
      };
    }
    if (mode === "approval") return this.requestApproval(ctx, plan, "policy-mode", base, record);
    // Enforce. Restores are always allowed; new actions count against the blast-radius limit.
    if (!plan.reverts && !opts.approved) {
      const allowed = await this.deps.budget.tryConsume(
        ctx.policy.name,
        ctx.policy.maxActionsPerHour,
        this.deps.clock.now(),
      );
      if (!allowed) return this.requestApproval(ctx, plan, "rate-limit", base, record);
    }
    try {
      await this.breaker(remediation.kind).execute(() => remediation.apply(plan as ChangePlan, ctx));
    } catch (err) {
      if (err instanceof BrokenCircuitError)
        return this.deferred(base, record, "circuit breaker open after repeated failures");
      return failed(err, (err as RemediationError).step ?? "apply");
    }
    changes = plan.changes; // apply may have filled in values only known afterwards (e.g. a new version)
    try {
      const verified = await remediation.verify(plan, ctx);
      if (!verified.ok) {
        throw new RemediationError(
          "VerificationFailed",
          verified.detail ?? "read-back differs from the plan",
          {
            step: "verify",
            resourceId: ctx.target.resourceId,
            retryable: true,
          },
        );
      }
    } catch (err) {
      return failed(err, "verify");
    }
    const outcome: Outcome = plan.reverts ? "reverted" : "remediated";
    const r = await record({
      outcome,
      changes: plan.changes,
      reason: plan.summary,
      followUp: plan.followUp,
      approver: opts.approved?.approver ?? null,
      approvalId: opts.approved?.approval.id,
    });
    return { ...base, outcome, summary: plan.summary, changes: plan.changes, record: r, retry: false };
  }

  private async deferred(
    base: Omit<Decision, "outcome" | "retry">,
    record: (input: Partial<AuditRecordInput> & { outcome: Outcome }) => Promise<AuditRecord>,
    reason: string,
  ): Promise<Decision> {
    const r = await record({ outcome: "deferred", reason });
    return { ...base, outcome: "deferred", reason, record: r, retry: true };
  }

  private async requestApproval(
    ctx: RemediationContext,
    plan: ChangePlan,
    why: Approval["reason"],
    base: Omit<Decision, "outcome" | "retry">,
    record: (input: Partial<AuditRecordInput> & { outcome: Outcome }) => Promise<AuditRecord>,
  ): Promise<Decision> {
    const now = this.deps.clock.now();
    const approval = await this.deps.approvals.create({
      id: crypto.randomUUID(),
      state: "pending",
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + (this.deps.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS)).toISOString(),
      policy: ctx.policy.name,
      kind: ctx.policy.kind,
      target: ctx.target,
      signal: { ...ctx.signal, caller: undefined },
      changes: plan.changes,
      summary: plan.summary,
      reason: why,
    });
    const reason =
      why === "rate-limit"
        ? `blast-radius limit of ${ctx.policy.maxActionsPerHour} actions/hour reached for policy ${ctx.policy.name}; waiting for approval`
        : `policy ${ctx.policy.name} requires approval`;
    const r = await record({
      outcome: "pending-approval",
      changes: plan.changes,
      reason,
      approvalId: approval.id,
    });
    try {
      await this.deps.notifier.requestApproval(approval);
    } catch (err) {
      // The approval exists and is recorded; a lost card is visible in the trail and the approval
      // page still works, so do not fail the whole delivery for it.
      ctx.log.error(
        { approvalId: approval.id, err: redactText(String((err as Error).message)) },
        "posting the approval card failed",
      );
    }
    return {
      ...base,
      outcome: "pending-approval",
      summary: plan.summary,
      changes: plan.changes,
      reason,
      record: r,
      retry: false,
    };
  }

  private record(
    signal: Signal,
    target: SignalTarget,
    policy: Policy,
    mode: PolicyMode,
    started: number,
    opts: RunOptions,
    input: Partial<AuditRecordInput> & { outcome: Outcome },
  ): Promise<AuditRecord> {
    return this.deps.audit.append({
      time: this.deps.clock.now().toISOString(),
      subscriptionId: target.subscriptionId,
      resourceId: target.resourceId,
      resourceType: target.resourceType,
      signal: toRecordSignal(signal, this.deps.pseudonymKey),
      policy: policy.name,
      kind: policy.kind,
      mode,
      changes: [],
      actor: opts.actor ?? (opts.approved ? "driftguard:approval" : "driftguard"),
      approver: null,
      error: null,
      durationMs: Date.now() - started,
      ...input,
    });
  }

  /**
   * An approver decided. Approve → `approved` record, then the change runs against the resource's
   * *current* state (re-read, re-planned) → `remediated`/`compliant`/`failed`. Reject → `rejected`.
   * A decision on an approval that is no longer pending (decided, expired) changes nothing.
   */
  async decideApproval(
    id: string,
    decision: "approved" | "rejected",
    approver: RecordApprover,
  ): Promise<{ approval?: Approval; decisions: Decision[]; error?: string }> {
    const { approvals, clock } = this.deps;
    const existing = await approvals.get(id);
    if (!existing) return { decisions: [], error: "approval not found" };
    if (existing.state !== "pending")
      return { approval: existing, decisions: [], error: `approval already ${existing.state}` };
    if (new Date(existing.expiresAt).getTime() <= clock.now().getTime()) {
      await this.expireApproval(existing);
      return { approval: { ...existing, state: "expired" }, decisions: [], error: "approval expired" };
    }
    const decided = await approvals.decide(id, decision, approver.id, clock.now());
    if (!decided) return { approval: existing, decisions: [], error: "approval was decided concurrently" };
    const policy = policyByName(this.deps.policies, decided.policy);
    const decisionRecord = await this.deps.audit.append({
      time: clock.now().toISOString(),
      subscriptionId: decided.target.subscriptionId,
      resourceId: decided.target.resourceId,
      resourceType: decided.target.resourceType,
      signal: toRecordSignal(decided.signal, this.deps.pseudonymKey),
      policy: decided.policy,
      kind: decided.kind,
      mode: policy?.mode ?? "approval",
      outcome: decision,
      changes: decided.changes,
      actor: `approver:${approver.id}`,
      approver,
      error: null,
      durationMs: 0,
      approvalId: id,
      reason: decision === "approved" ? "approved; applying against current state" : "rejected by approver",
    });
    const first: Decision = {
      target: decided.target,
      policy: decided.policy,
      kind: decided.kind,
      outcome: decision,
      record: decisionRecord,
      retry: false,
    };
    this.deps.onDecision?.(first, decided.signal);
    if (decision === "rejected") return { approval: decided, decisions: [first] };
    const replay: Signal = { ...decided.signal, dedupeKey: `approval:${id}`, targets: [decided.target] };
    const runs = await this.handle(replay, {
      policyName: decided.policy,
      approved: { approval: decided, approver },
    });
    return { approval: decided, decisions: [first, ...runs] };
  }

  /** Expires pending approvals past their deadline (timer): one `expired` record each. */
  async expireApprovals(): Promise<Decision[]> {
    const due = await this.deps.approvals.listExpired(this.deps.clock.now());
    const out: Decision[] = [];
    for (const a of due) {
      const d = await this.expireApproval(a);
      if (d) out.push(d);
    }
    return out;
  }

  private async expireApproval(a: Approval): Promise<Decision | undefined> {
    const done = await this.deps.approvals.decide(a.id, "expired", undefined, this.deps.clock.now());
    if (!done) return undefined;
    const r = await this.deps.audit.append({
      time: this.deps.clock.now().toISOString(),
      subscriptionId: a.target.subscriptionId,
      resourceId: a.target.resourceId,
      resourceType: a.target.resourceType,
      signal: toRecordSignal(a.signal, this.deps.pseudonymKey),
      policy: a.policy,
      kind: a.kind,
      mode: "approval",
      outcome: "expired",
      changes: a.changes,
      actor: "driftguard",
      approver: null,
      error: null,
      durationMs: 0,
      approvalId: a.id,
      reason: `no decision before ${a.expiresAt}`,
    });
    const d: Decision = {
      target: a.target,
      policy: a.policy,
      kind: a.kind,
      outcome: "expired",
      record: r,
      retry: false,
    };
    this.deps.onDecision?.(d, a.signal);
    return d;
  }
}
