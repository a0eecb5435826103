/**
 * The remediation pipeline (pure core: no Azure SDK import, only narrow interfaces).
 *
 *   signal → per target: self-echo? → policy match (the first policy of each kind, file order) →
 *   enter the resource's gate once for every kind's cause (one writer per resource; a decided cause
 *   is a duplicate) → complete an interrupted intent, if any → per kind, one after another: read
 *   current state → opt-out tag → plan → mode (dry-run | approval | enforce + flapping + action
 *   limit) → intent → apply → verify → its record, committed together with its cause → leave the
 *   gate with the last kind's record.
 *
 * Events arrive at least once and out of order, so every decision is made from the resource's
 * current state. An action is never without its record: the intent is persisted before the write
 * to Azure, and kept when the record cannot be written, so the next holder completes it.
 */
import { type CircuitBreakerPolicy, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import { toRecordSignal } from "./audit/record.js";
import type { RecordApprover } from "./audit/types.js";
import type { AzureClients } from "./azure/clients.js";
import { asRemediationError } from "./errors.js";
import type { Logger } from "./log.js";
import { causeKey, GateRunner, gatedTarget, resumeCause } from "./pipeline/gate-runner.js";
import { settleInterrupted } from "./pipeline/interrupted.js";
import type { RecordContext } from "./pipeline/records.js";
import { type ApprovalRequests, type RunEnv, runRemediation } from "./pipeline/run.js";
import { decideInSession, type KindRun, type SessionEnv, type SessionOutcome } from "./pipeline/session.js";
import type { Decision } from "./pipeline/types.js";
import { explainNoMatch, matchPolicies, policyByName } from "./policy/match.js";
import { mostRestrictive, type Policy, type PolicyMode } from "./policy/schema.js";
import type { ActionLimit } from "./ports/action-limit.js";
import type { Approval } from "./ports/approval-store.js";
import type { AuditStore } from "./ports/audit-store.js";
import type { Clock } from "./ports/clock.js";
import type { ResourceGate } from "./ports/resource-gate.js";
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
  actionLimit: ActionLimit;
  /** The approval lifecycle (built beside the pipeline: shared/runtime.ts `createCore`). */
  approvals: ApprovalRequests;
  clock: Clock;
  log: Logger;
  /** Our own principals (object or app IDs): events they caused are our echoes, not drift. */
  selfPrincipalIds: readonly string[];
  /** Key for pseudonymous caller/approver IDs. */
  pseudonymKey: string;
  /** How long a session's lease protects a resource: longer than any one invocation may run. */
  leaseMs?: number;
  /** How long a delivery waits for a resource's current writer before asking for redelivery. */
  busyWaitMs?: number;
  /** `DRIFTGUARD_FLAP_LIMIT`: fixes of one kind per resource within 24 h before a person decides (0: off). */
  flapLimit?: number;
  /** Observer of every decision (the local demo prints them as they happen). */
  onDecision?: (decision: Decision, signal: Signal) => void;
  /** SHA-256 of the loaded policy file: every record carries it as `policyFileHash`. */
  policyFileHash?: string;
}

/** Options for runs that are not plain deliveries: approved replays, timers, manual runs, sweeps. */
export interface RunOptions {
  /** Use this policy instead of matching (the approval / follow-up names it). */
  policyName?: string;
  /**
   * Run exactly these policies, in this order, in one gate session per resource (a sweep names
   * the policies it evaluated). At most one per kind: a later one of a kind already named is
   * `ignored`. Wins over `policyName`.
   */
  policyNames?: readonly string[];
  /** Set for the run an approver has approved: policy mode `approval` then means enforce. */
  approved?: { approval: Approval; approver: RecordApprover };
  actor?: string;
  /** Force dry-run (CLI `replay --dry-run`). */
  dryRun?: boolean;
}

/**
 * Host.json's `functionTimeout` is 5 minutes: the host stops an invocation by then. The lease runs
 * a minute longer, so no second writer enters while a stopped invocation might still be writing
 * (docs/reliability.md#the-resource-gate).
 */
export const FUNCTION_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_LEASE_MS = FUNCTION_TIMEOUT_MS + 60_000;
export const DEFAULT_BUSY_WAIT_MS = 10_000;
export const DEFAULT_FLAP_LIMIT = 3;

export class Pipeline {
  /** One breaker per kind: repeated failures of one kind stop hammering Azure; others go on. */
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  private readonly runner: GateRunner;

  constructor(readonly deps: PipelineDeps) {
    this.runner = new GateRunner({
      gate: deps.gate,
      clock: deps.clock,
      log: deps.log,
      leaseMs: deps.leaseMs ?? DEFAULT_LEASE_MS,
      busyWaitMs: deps.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS,
    });
  }

  /** Handles every target of a signal; one Decision per target and applying kind. */
  async handle(signal: Signal, opts: RunOptions = {}): Promise<Decision[]> {
    // One trace per signal; one span per target's decisions, with the ARM and store calls in it.
    return withSpan(
      "driftguard.signal",
      { "driftguard.signal.source": signal.source, "driftguard.signal.type": signal.type },
      async () => {
        const decisions: Decision[] = [];
        for (const target of signal.targets) {
          const own = await withSpan(
            "driftguard.decision",
            // Resource IDs are configuration, not personal data: they let a trace be found by resource.
            { "driftguard.resource.type": target.resourceType, "driftguard.resource.id": target.resourceId },
            async (span) => {
              const ds = await this.handleTarget(signal, target, opts);
              // Several kinds: each attribute lists every kind's value, in policy order.
              const list = (f: (d: Decision) => string) => ds.map(f).join(",");
              span.setAttributes({
                "driftguard.outcome": list((d) => d.outcome),
                "driftguard.kind": list((d) => d.kind ?? "none"),
                "driftguard.policy": list((d) => d.policy ?? "none"),
              });
              return ds;
            },
          );
          for (const d of own) this.deps.onDecision?.(d, signal);
          decisions.push(...own);
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

  /** Runs the change an approver approved, against the resource's current state (its own cause). */
  runApproved(approval: Approval, approver: RecordApprover): Promise<Decision[]> {
    const replay: Signal = {
      ...approval.signal,
      dedupeKey: `approval:${approval.id}`,
      targets: [approval.target],
    };
    return this.handle(replay, { policyName: approval.policy, approved: { approval, approver } });
  }

  /**
   * Completes intents whose holder vanished (`resumeWork` timer): enters each such resource under
   * a `resume` cause, which settles the intent and records nothing else.
   */
  async resumeInterrupted(limit = 50): Promise<Decision[]> {
    const out: Decision[] = [];
    for (const resourceId of await this.deps.gate.listInterrupted(this.deps.clock.now(), limit)) {
      // A resume cause is never remembered (it stays `open`): each tick may enter again.
      const run = await this.runner.run(resourceId, resumeCause(resourceId), async (session) => {
        if (!session.interrupted) {
          await session.leave({ causes: {}, keepIntent: true });
          return undefined;
        }
        return decideInSession(session, [], this.sessionEnv());
      });
      if (run.status !== "ran" || !run.value) continue;
      await this.notify([], run.value); // a resumed approved change may have asked for a new approval
      if (run.value.interrupted) out.push(run.value.interrupted);
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

  private async handleTarget(signal: Signal, named: SignalTarget, opts: RunOptions): Promise<Decision[]> {
    const { log } = this.deps;
    // Policies match the target as the signal names it; the kinds run in (and record as) the
    // resource that owns its gate (a blob service's account).
    const target = gatedTarget(named);
    if (this.isSelfEcho(signal)) {
      log.debug({ signalId: signal.id, resourceId: named.resourceId }, "own change echoed back; ignored");
      return [{ target: named, outcome: "ignored", reason: "caused by driftguard itself", retry: false }];
    }
    const selected = this.selectPolicies(signal, named, opts);
    if (selected.length === 0) {
      const reason = explainNoMatch(this.deps.policies, signal, named);
      log.debug({ signalId: signal.id, resourceId: named.resourceId, type: signal.type, reason }, "ignored");
      return [{ target: named, outcome: "ignored", reason, retry: false }];
    }
    // Per policy: a decision without the gate (off, unknown kind), or a kind to run in the session.
    const slots: (Decision | KindRun)[] = selected.map((s) => this.kindRun(signal, target, s, opts));
    const runs = slots.filter((s): s is KindRun => "cause" in s);
    if (runs.length === 0) return slots as Decision[];

    const gated = await this.runner.run(
      target.resourceId,
      runs.map((r) => r.cause),
      (session) => decideInSession(session, runs, this.sessionEnv(signal, target, opts)),
    );
    const byCause = new Map<string, Decision>();
    for (const [i, r] of runs.entries()) {
      const base = { target, policy: r.policy.name, kind: r.policy.kind, mode: r.mode };
      byCause.set(
        r.cause,
        gated.status === "ran"
          ? gated.value.decisions[i]!
          : gated.status === "done"
            ? { ...base, outcome: "duplicate", reason: "already handled", retry: false }
            : {
                ...base,
                outcome: "busy",
                reason: "another writer holds this resource; retry later",
                retry: true,
              },
      );
    }
    if (gated.status === "ran") await this.notify(runs, gated.value);
    return slots.map((s) => ("cause" in s ? byCause.get(s.cause)! : s));
  }

  /** The policies that apply: pinned by name (in that order), or matched (the first of each kind). */
  private selectPolicies(signal: Signal, target: SignalTarget, opts: RunOptions): (Policy | string)[] {
    const names = opts.policyNames ?? (opts.policyName ? [opts.policyName] : undefined);
    if (!names) return matchPolicies(this.deps.policies, signal, target);
    return [...new Set(names)].map((n) => policyByName(this.deps.policies, n) ?? n);
  }

  /** One selected policy: the kind to run in the gate, or why it does not run (no gate, no record). */
  private kindRun(
    signal: Signal,
    target: SignalTarget,
    selected: Policy | string,
    opts: RunOptions,
  ): Decision | KindRun {
    if (typeof selected === "string")
      return { target, outcome: "ignored", reason: `policy '${selected}' no longer exists`, retry: false };
    const policy = selected;
    const mode = this.modeFor(policy, opts);
    const base = { target, policy: policy.name, kind: policy.kind, mode };
    const names = opts.policyNames ?? [];
    const first = names.find((n) => policyByName(this.deps.policies, n)?.kind === policy.kind);
    if (first !== undefined && first !== policy.name)
      return {
        ...base,
        outcome: "ignored",
        reason: `policy '${first}' of kind ${policy.kind} runs for this resource already`,
        retry: false,
      };
    if (mode === "off") return { ...base, outcome: "ignored", reason: "mode is off", retry: false };
    const remediation = this.deps.registry.get(policy.kind);
    if (!remediation)
      return { ...base, outcome: "ignored", reason: `unknown kind '${policy.kind}'`, retry: false };
    return {
      policy,
      remediation,
      mode,
      cause: causeKey(signal.dedupeKey, target.resourceId, policy.kind),
      records: this.recordContext(signal, target, policy, mode, opts),
    };
  }

  private sessionEnv(signal?: Signal, target?: SignalTarget, opts: RunOptions = {}): SessionEnv {
    return {
      run: (r, session) =>
        runRemediation(this.runEnv(r.remediation), {
          session,
          cause: r.cause,
          remediation: r.remediation,
          signal: signal!,
          target: target!,
          policy: r.policy,
          mode: r.mode,
          records: r.records,
          ...(opts.approved ? { approved: opts.approved } : {}),
        }),
      settleInterrupted: (session, intent) =>
        settleInterrupted({ deps: this.deps, runEnv: (r) => this.runEnv(r) }, session, intent),
      noteRunOutcome: (approvalId, decision) =>
        decision.retry ? Promise.resolve() : this.deps.approvals.noteRunOutcome(approvalId, decision),
    };
  }

  /** Posts the session's approval cards, each with what the other kinds did for the same signal. */
  private async notify(runs: readonly KindRun[], outcome: SessionOutcome): Promise<void> {
    for (const { cause, notify } of outcome.notifications) {
      const context = outcome.decisions
        .filter((_, i) => runs[i]!.cause !== cause)
        .map((d) => {
          const detail = d.summary ?? d.reason;
          return {
            policy: d.policy ?? "",
            kind: d.kind ?? "",
            outcome: d.outcome,
            ...(detail ? { detail } : {}),
          };
        });
      try {
        await notify(context);
      } catch (err) {
        // The approval and its record exist and its page works; the lifecycle records failed posts.
        this.deps.log.error(
          { cause, err: String((err as Error).message).slice(0, 200) },
          "notifying an approval failed",
        );
      }
    }
  }

  private modeFor(policy: Policy, opts: RunOptions): PolicyMode {
    const policyMode = opts.approved && policy.mode === "approval" ? "enforce" : policy.mode;
    return mostRestrictive(this.deps.globalMode, policyMode, opts.dryRun ? "dry-run" : "enforce");
  }

  private recordContext(
    signal: Signal,
    target: SignalTarget,
    policy: Policy,
    mode: PolicyMode,
    opts: RunOptions,
  ): RecordContext {
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
      actionLimit: deps.actionLimit,
      flapLimit: deps.flapLimit ?? DEFAULT_FLAP_LIMIT,
      clock: deps.clock,
      log: deps.log,
      breaker: this.breaker(remediation.kind),
      requestApproval: deps.approvals.request,
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
