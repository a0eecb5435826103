/**
 * The remediation pipeline (pure core: no Azure SDK import, only narrow interfaces).
 *
 *   signal → per target: self-echo? → policy match → enter the resource's gate (one writer per
 *   resource; a decided cause is a duplicate) → complete an interrupted intent, if any → read
 *   current state → opt-out tag → plan → mode (dry-run | approval | enforce + blast-radius limit) →
 *   intent → apply → verify → exactly one record, committed together with leaving the gate.
 *
 * Events arrive at least once and out of order, so every decision is made from the resource's
 * current state. An action is never without its record: the intent is persisted before the write
 * to Azure, and kept when the record cannot be written, so the next holder completes it.
 */
import { type CircuitBreakerPolicy, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import { ApprovalLifecycle, type DecideResult } from "./approvals/lifecycle.js";
import { toRecordSignal } from "./audit/record.js";
import type { RecordApprover } from "./audit/types.js";
import type { AzureClients } from "./azure/clients.js";
import { asRemediationError } from "./errors.js";
import type { Logger } from "./log.js";
import { settle, settleInterrupted } from "./pipeline/interrupted.js";
import { type RunEnv, runRemediation } from "./pipeline/run.js";
import type { Decision } from "./pipeline/types.js";
import { matchPolicy, policyByName } from "./policy/match.js";
import { mostRestrictive, type Policy, type PolicyMode } from "./policy/schema.js";
import type { ActionBudget } from "./ports/action-budget.js";
import type { Approval, ApprovalStore } from "./ports/approval-store.js";
import type { AuditStore } from "./ports/audit-store.js";
import type { Clock } from "./ports/clock.js";
import type { Notifier } from "./ports/notifier.js";
import type { GateSession, Intent, ResourceGate } from "./ports/resource-gate.js";
import type { RemediationRegistry } from "./remediations/registry.js";
import type { AnyRemediation } from "./remediations/types.js";
import type { Signal, SignalTarget } from "./signals/types.js";
import { withSpan } from "./telemetry/api.js";

export type { Decision, DecisionOutcome } from "./pipeline/types.js";

export interface PipelineDeps {
  /** Policies as the loader returned them: each one's `params` already parsed by its kind. */
  policies: readonly Policy[];
  /** The kinds policies may name (the one the policies were loaded with). */
  registry: RemediationRegistry;
  /** Global kill switch `DRIFTGUARD_MODE`. */
  globalMode: PolicyMode;
  clients: AzureClients;
  audit: AuditStore;
  gate: ResourceGate;
  budget: ActionBudget;
  approvals: ApprovalStore;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  /** Our own principals (object or app IDs): events they caused are our echoes, not drift. */
  selfPrincipalIds: readonly string[];
  /** Key for pseudonymous caller/approver IDs. */
  pseudonymKey: string;
  /** How long a session's lease protects a resource: longer than any one remediation takes. */
  leaseMs?: number;
  /** How long a delivery waits for a resource's current writer before asking for redelivery. */
  busyWaitMs?: number;
  /** How long an approval request stays open. */
  approvalTtlMs?: number;
  /** Observer of every decision (the local demo prints them as they happen). */
  onDecision?: (decision: Decision, signal: Signal) => void;
  /** SHA-256 of the loaded policy file: every record carries it as `policyFileHash`. */
  policyFileHash?: string;
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

export const DEFAULT_LEASE_MS = 5 * 60_000;
const DEFAULT_BUSY_WAIT_MS = 10_000;
const DEFAULT_APPROVAL_TTL_MS = 24 * 3600_000;
/** Attempts to leave the gate after a failure before giving up (the lease then expires). */
const LEAVE_ATTEMPTS = 4;

export class Pipeline {
  /** One breaker per kind: repeated failures of one kind stop hammering Azure; others go on. */
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  readonly approvalLifecycle: ApprovalLifecycle;

  constructor(readonly deps: PipelineDeps) {
    this.approvalLifecycle = new ApprovalLifecycle({
      approvals: deps.approvals,
      gate: deps.gate,
      notifier: deps.notifier,
      clock: deps.clock,
      log: deps.log,
      policies: deps.policies,
      pseudonymKey: deps.pseudonymKey,
      approvalTtlMs: deps.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS,
      leaseMs: this.leaseMs,
      busyWaitMs: deps.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS,
      ...(deps.policyFileHash ? { policyFileHash: deps.policyFileHash } : {}),
      runApproved: (approval, approver) => {
        const replay: Signal = {
          ...approval.signal,
          dedupeKey: `approval:${approval.id}`,
          targets: [approval.target],
        };
        return this.handle(replay, { policyName: approval.policy, approved: { approval, approver } });
      },
      onDecision: (d, a) => deps.onDecision?.(d, a.signal),
    });
  }

  private get leaseMs(): number {
    return this.deps.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** Handles every target of a signal; one Decision per target. */
  async handle(signal: Signal, opts: RunOptions = {}): Promise<Decision[]> {
    // One trace per signal; one span per target's decision, with the ARM and store calls in it.
    return withSpan(
      "driftguard.signal",
      { "driftguard.signal.source": signal.source, "driftguard.signal.type": signal.type },
      async () => {
        const decisions: Decision[] = [];
        for (const target of signal.targets) {
          const decision = await withSpan(
            "driftguard.decision",
            // Resource IDs are configuration, not personal data: they let a trace be found by resource.
            { "driftguard.resource.type": target.resourceType, "driftguard.resource.id": target.resourceId },
            async (span) => {
              const d = await this.handleTarget(signal, target, opts);
              span.setAttributes({
                "driftguard.outcome": d.outcome,
                "driftguard.kind": d.kind ?? "none",
                "driftguard.policy": d.policy ?? "none",
              });
              return d;
            },
          );
          this.deps.onDecision?.(decision, signal);
          decisions.push(decision);
        }
        return decisions;
      },
    );
  }

  /** Handles a validated batch; every signal is attempted even if an earlier one failed. */
  async handleAll(signals: readonly Signal[], opts: RunOptions = {}): Promise<Decision[]> {
    const out: Decision[] = [];
    for (const s of signals) out.push(...(await this.handle(s, opts)));
    return out;
  }

  /** An approver decided (approval page, Teams). */
  decideApproval(
    id: string,
    decision: "approved" | "rejected",
    approver: RecordApprover,
  ): Promise<DecideResult> {
    return this.approvalLifecycle.decide(id, decision, approver);
  }

  /** Expires pending approvals past their deadline (timer): one `expired` record each. */
  expireApprovals(): Promise<Decision[]> {
    return this.approvalLifecycle.expireDue();
  }

  /** Runs approved changes that are due again after a transient failure (timer). */
  runDueApprovedChanges(): Promise<Decision[]> {
    return this.approvalLifecycle.runDue();
  }

  /**
   * Completes intents whose holder vanished (timer): enters each such resource under a sweep cause,
   * which settles the intent and records nothing else.
   */
  async resumeInterrupted(limit = 50): Promise<Decision[]> {
    const out: Decision[] = [];
    for (const resourceId of await this.deps.gate.listInterrupted(this.deps.clock.now(), limit)) {
      // A sweep cause is never remembered (it leaves `open`): each sweep may enter again.
      const entry = await this.deps.gate.enter(resourceId, `sweep|${resourceId.toLowerCase()}`, {
        leaseMs: this.leaseMs,
        now: this.deps.clock.now(),
      });
      if (entry.status !== "entered" || !entry.session.interrupted) {
        if (entry.status === "entered") await entry.session.leave({ cause: "open", keepIntent: true });
        continue;
      }
      const decision = await this.guarded(entry.session, (session) =>
        this.completeInterrupted(session, session.interrupted!, true),
      );
      if (decision) out.push(decision);
    }
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
      const transient = handleWhen(
        (err) => asRemediationError(err, { step: "apply", resourceId: "" }).retryable,
      );
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
    const mode = this.modeFor(policy, opts);
    const base = { target, policy: policy.name, kind: policy.kind, mode };
    if (mode === "off") return { ...base, outcome: "ignored", reason: "mode is off", retry: false };
    const remediation = this.deps.registry.get(policy.kind);
    if (!remediation)
      return { ...base, outcome: "ignored", reason: `unknown kind '${policy.kind}'`, retry: false };

    const cause = `${signal.dedupeKey}|${target.resourceId.toLowerCase()}`;
    const entry = await this.enter(target.resourceId, cause);
    if (entry.status === "done")
      return { ...base, outcome: "duplicate", reason: "already handled", retry: false };
    if (entry.status === "busy")
      return {
        ...base,
        outcome: "busy",
        reason: "another writer holds this resource; retry later",
        retry: true,
      };

    const decision = await this.guarded(entry.session, async (session) => {
      const interrupted = session.interrupted;
      if (interrupted) {
        const completed = await this.completeInterrupted(session, interrupted, interrupted.cause === cause);
        if (interrupted.cause === cause) return completed;
        if (completed.retry)
          return {
            ...base,
            outcome: "busy",
            reason: "an interrupted action on this resource could not be completed yet; retry later",
            retry: true,
          };
      }
      const result = await runRemediation(this.runEnv(remediation), {
        session,
        cause,
        remediation,
        signal,
        target,
        policy,
        mode,
        records: this.recordContext(signal, target, policy, mode, opts),
        ...(opts.approved ? { approved: opts.approved } : {}),
      });
      return settle(session, cause, result, interrupted ? [interrupted.cause] : []);
    });
    return decision ?? { ...base, outcome: "busy", reason: "resource session ended early", retry: true };
  }

  private modeFor(policy: Policy, opts: RunOptions): PolicyMode {
    const policyMode = opts.approved && policy.mode === "approval" ? "enforce" : policy.mode;
    return mostRestrictive(this.deps.globalMode, policyMode, opts.dryRun ? "dry-run" : "enforce");
  }

  /** Enters the resource's gate, waiting briefly while another writer holds it. */
  private async enter(resourceId: string, cause: string) {
    const { gate, clock } = this.deps;
    const deadline = Date.now() + (this.deps.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS);
    let delay = 50;
    for (;;) {
      const entry = await gate.enter(resourceId, cause, { leaseMs: this.leaseMs, now: clock.now() });
      if (entry.status !== "busy" || Date.now() >= deadline) return entry;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }

  /**
   * Runs `work` in the session; if it throws (a record could not be written, the store is down),
   * leaves the gate keeping the intent — retrying the release — so a redelivery can finish, and
   * rethrows so the trigger answers non-2xx.
   */
  private async guarded(
    session: GateSession,
    work: (session: GateSession) => Promise<Decision>,
  ): Promise<Decision | undefined> {
    try {
      return await work(session);
    } catch (err) {
      for (let attempt = 1; attempt <= LEAVE_ATTEMPTS; attempt++) {
        try {
          await session.leave({ cause: "open", keepIntent: true });
          break;
        } catch (leaveErr) {
          this.deps.log.warn(
            {
              resourceId: session.resourceId,
              attempt,
              err: String((leaveErr as Error).message).slice(0, 200),
            },
            "leaving the resource gate failed; retrying",
          );
          if (attempt < LEAVE_ATTEMPTS) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
      throw err;
    }
  }

  /**
   * An earlier holder persisted `intent` and vanished (or could not write its record). Its record
   * may exist after all; otherwise the resource is re-read: in the planned state → `remediated`
   * (completed after an interruption); not → the plan is carried out again (resumed). `final`:
   * this is the session's own cause, so commit and leave; else append and let the caller go on.
   */
  private async completeInterrupted(session: GateSession, intent: Intent, final: boolean): Promise<Decision> {
    const decision = await settleInterrupted(
      { deps: this.deps, runEnv: (r) => this.runEnv(r) },
      session,
      intent,
      final,
    );
    // An approved change settled here (not by its own run): the approval shows the outcome.
    if (intent.approvalId && !decision.retry)
      await this.approvalLifecycle.noteRunOutcome(intent.approvalId, decision);
    return decision;
  }

  private recordContext(
    signal: Signal,
    target: SignalTarget,
    policy: Policy,
    mode: PolicyMode,
    opts: RunOptions,
  ) {
    return {
      signal: toRecordSignal(signal, this.deps.pseudonymKey),
      target,
      policy: policy.name,
      kind: policy.kind,
      mode,
      actor: opts.actor ?? (opts.approved ? "driftguard:approval" : "driftguard"),
      startedMs: this.deps.clock.now().getTime(),
      ...(this.deps.policyFileHash ? { policyFileHash: this.deps.policyFileHash } : {}),
    };
  }

  private runEnv(remediation: AnyRemediation): RunEnv {
    const { deps } = this;
    return {
      budget: deps.budget,
      clock: deps.clock,
      log: deps.log,
      breaker: this.breaker(remediation.kind),
      requestApproval: this.approvalLifecycle.request,
      context: (run, checkpoint) => ({
        target: run.target,
        signal: run.signal,
        policy: run.policy,
        params: run.policy.params,
        clients: deps.clients,
        history: deps.audit,
        now: () => deps.clock.now(),
        log: deps.log.child({
          kind: run.policy.kind,
          resourceId: run.target.resourceId,
          signalId: run.signal.id,
        }),
        checkpoint,
        ...(run.resume?.progress ? { resume: run.resume.progress } : {}),
      }),
    };
  }
}
