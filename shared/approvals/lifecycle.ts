/**
 * The approval lifecycle: request (a plan that needs a person), decide (approve / reject, with
 * self-approval refused), run the approved change until it is done (retried with backoff while it
 * fails transiently, for as long as the approval is valid), and expire. Every step that the trail
 * must show is recorded once: each record goes through the resource's gate under its own cause
 * (`approval:<id>:<step>`), so a retried step finds its cause done and writes nothing twice.
 */

import { toRecordSignal } from "../audit/record.js";
import type { AuditRecordInput, RecordApprover } from "../audit/types.js";
import type { Logger } from "../log.js";
import { changesHash } from "../pipeline/binding.js";
import { buildRecord } from "../pipeline/records.js";
import { type ApprovalRequester, withoutCallerObjectId } from "../pipeline/run.js";
import type { Decision } from "../pipeline/types.js";
import { policyByName } from "../policy/match.js";
import type { Policy } from "../policy/schema.js";
import type { Approval, ApprovalStore, ApprovedRun } from "../ports/approval-store.js";
import type { Clock } from "../ports/clock.js";
import type { ApprovalChange, Notifier } from "../ports/notifier.js";
import type { ResourceGate } from "../ports/resource-gate.js";
import { pseudonymize, redactText } from "../redact.js";

export interface ApprovalLifecycleDeps {
  approvals: ApprovalStore;
  gate: ResourceGate;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  policies: readonly Policy[];
  pseudonymKey: string;
  approvalTtlMs: number;
  leaseMs: number;
  busyWaitMs: number;
  /** SHA-256 of the loaded policy file, carried by every record. */
  policyFileHash?: string;
  /** Runs the approved change against the resource's current state (the pipeline). */
  runApproved(approval: Approval, approver: RecordApprover): Promise<Decision[]>;
  onDecision?: (decision: Decision, approval: Approval) => void;
}

export interface DecideResult {
  approval?: Approval;
  decisions: Decision[];
  /** Why nothing (more) happened, for the page / card. */
  error?: string;
  /** The decision was refused (self-approval): shown to the person, recorded, the approval stays pending. */
  refused?: "self-approval";
}

/** First retry of a transiently failed approved run after 30 s, doubling up to 15 minutes. */
export function runBackoffMs(attempts: number): number {
  return Math.min(15 * 60_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

export class ApprovalLifecycle {
  constructor(private readonly deps: ApprovalLifecycleDeps) {}

  /** Creates the approval for a plan; the run records `pending-approval`, then `notify` posts the card. */
  readonly request: ApprovalRequester = async ({ run, plan, why }) => {
    const { approvals, clock, pseudonymKey } = this.deps;
    const now = clock.now();
    const earlier =
      run.approved?.approval ??
      (run.resume?.approvalId ? await approvals.get(run.resume.approvalId) : undefined);
    const callerObjectId = run.signal.caller?.objectId;
    const causedBy =
      earlier?.causedBy ?? (callerObjectId ? pseudonymize(callerObjectId, pseudonymKey) : undefined);
    const approval = await approvals.create({
      id: crypto.randomUUID(),
      state: "pending",
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.deps.approvalTtlMs).toISOString(),
      policy: run.policy.name,
      kind: run.policy.kind,
      target: run.target,
      signal: withoutCallerObjectId(run.signal),
      ...(causedBy ? { causedBy } : {}),
      changes: plan.changes,
      changesHash: changesHash(plan.changes, run.remediation.volatileChangePaths),
      summary: plan.summary,
      reason: why,
    });
    const reason =
      why === "rate-limit"
        ? `blast-radius limit of ${run.policy.maxActionsPerHour} actions/hour reached for policy ${run.policy.name}; waiting for approval`
        : why === "replan"
          ? `the resource changed since approval ${earlier?.id ?? "?"} was requested: the approved change no longer matches, so a new approval is requested`
          : `policy ${run.policy.name} requires approval`;
    const notify = async () => {
      try {
        await this.deps.notifier.requestApproval(approval);
      } catch (err) {
        // The approval exists and is recorded; a lost card is visible in the trail and the approval
        // page still works, so the delivery does not fail for it.
        this.deps.log.error(
          { approvalId: approval.id, err: redactText(String((err as Error).message)) },
          "posting the approval card failed",
        );
      }
    };
    return { approvalId: approval.id, reason, notify };
  };

  /**
   * An approver decided. Approve → `approved` record, then the change runs against the resource's
   * current state; if it fails transiently it stays due and the timer retries it. Reject →
   * `rejected`. The person who caused the drift may not decide: refused and recorded, still pending.
   */
  async decide(
    id: string,
    decision: "approved" | "rejected",
    approver: RecordApprover,
  ): Promise<DecideResult> {
    const { approvals, clock } = this.deps;
    const existing = await approvals.get(id);
    if (!existing) return { decisions: [], error: "approval not found" };
    if (existing.state !== "pending")
      return { approval: existing, decisions: [], error: `approval already ${existing.state}` };
    if (Date.parse(existing.expiresAt) <= clock.now().getTime()) {
      await this.expireOne(existing);
      return { approval: (await approvals.get(id)) ?? existing, decisions: [], error: "approval expired" };
    }
    if (existing.causedBy && existing.causedBy === approver.id)
      return this.refuseSelfApproval(existing, approver);

    const decided = await approvals.closePending(id, decision, approver.id, clock.now(), approver.via);
    if (!decided) {
      const now = (await approvals.get(id)) ?? existing;
      return { approval: now, decisions: [], error: `approval already ${now.state} (decided concurrently)` };
    }
    const first = await this.recordDecision(decided, decision, approver);
    await this.changed(decided, "decided");
    if (decision === "rejected") return { approval: decided, decisions: first };
    const runs = await this.deps.runApproved(decided, approver);
    const settled = await this.settleRun(decided, runs);
    await this.changed(settled ?? decided, "run");
    return { approval: settled ?? decided, decisions: [...first, ...runs] };
  }

  /** Expires pending approvals past their deadline (timer): one `expired` record each. */
  async expireDue(): Promise<Decision[]> {
    const due = await this.deps.approvals.listExpired(this.deps.clock.now());
    const out: Decision[] = [];
    for (const a of due) out.push(...(await this.expireOne(a)));
    return out;
  }

  /**
   * Approved changes that have not run to a final outcome (timer): tried again when due; after the
   * approval's validity ends, given up with one `failed` record.
   */
  async runDue(): Promise<Decision[]> {
    const now = this.deps.clock.now();
    const out: Decision[] = [];
    for (const a of await this.deps.approvals.listDueRuns(now)) {
      if (Date.parse(a.expiresAt) <= now.getTime()) {
        out.push(...(await this.giveUp(a)));
        continue;
      }
      const approver: RecordApprover = {
        id: a.decidedBy ?? "unknown",
        decidedAt: a.decidedAt ?? a.createdAt,
        via: a.decidedVia ?? "approval-page",
      };
      // The `approved` record may be missing if the decision's own request failed after the store
      // accepted it: it is written once, here, before the change runs.
      out.push(...(await this.recordDecision(a, "approved", approver)));
      const runs = await this.deps.runApproved(a, approver);
      await this.changed((await this.settleRun(a, runs)) ?? a, "run");
      out.push(...runs);
    }
    return out;
  }

  /**
   * An approved change was settled outside its own run (an interrupted intent completed by the
   * sweep or another cause): the approval shows that outcome, and its run is no longer due.
   */
  async noteRunOutcome(approvalId: string, decision: Decision): Promise<void> {
    const a = await this.deps.approvals.get(approvalId);
    if (a?.state !== "approved" || a.run?.state !== "due") return;
    const failedForGood =
      decision.outcome === "failed" && decision.record?.error?.code === "ApprovedChangeNotApplied";
    await this.deps.approvals.updateRun(approvalId, {
      state: failedForGood ? "gave-up" : "done",
      attempts: a.run.attempts,
      outcome: decision.outcome,
      ...(decision.reason ? { reason: decision.reason } : {}),
      ...(decision.record ? { recordId: decision.record.id } : {}),
      updatedAt: this.deps.clock.now().toISOString(),
    });
  }

  private recordDecision(
    a: Approval,
    decision: "approved" | "rejected",
    approver: RecordApprover,
  ): Promise<Decision[]> {
    return this.recordStep(a, decision, {
      outcome: decision,
      changes: a.changes,
      actor: `approver:${approver.id}`,
      approver,
      reason: decision === "approved" ? "approved; applying against current state" : "rejected by approver",
    });
  }

  private async refuseSelfApproval(a: Approval, approver: RecordApprover): Promise<DecideResult> {
    const reason =
      "self-approval refused: the approver caused the change that drifted; another approver must decide";
    const updated = await this.deps.approvals.addRefusal(a.id, {
      by: approver.id,
      at: this.deps.clock.now().toISOString(),
      via: approver.via,
      reason,
    });
    // One record per approval and person: repeated clicks do not flood the trail.
    const decisions = await this.recordStep(a, `refused:${approver.id}`, {
      outcome: "pending-approval",
      changes: a.changes,
      actor: `approver:${approver.id}`,
      approver: null,
      reason,
    });
    this.deps.log.warn({ approvalId: a.id, via: approver.via }, "self-approval refused");
    await this.changed(updated ?? a, "refused");
    return { approval: updated ?? a, decisions, error: reason, refused: "self-approval" };
  }

  private async expireOne(a: Approval): Promise<Decision[]> {
    const done = await this.deps.approvals.closePending(a.id, "expired", undefined, this.deps.clock.now());
    // Decided by someone else in between, or expired already by a decision attempt: record once anyway.
    const expired = done ?? (await this.deps.approvals.get(a.id));
    if (expired?.state !== "expired") return [];
    const decisions = await this.recordStep(expired, "expired", {
      outcome: "expired",
      changes: a.changes,
      actor: "driftguard",
      approver: null,
      reason: `no decision before ${a.expiresAt}`,
    });
    // Only the expiry that was recorded now updates the card (a repeated sweep finds it done).
    if (decisions.length > 0) await this.changed(expired, "expired");
    return decisions;
  }

  private async giveUp(a: Approval): Promise<Decision[]> {
    const last = a.run?.lastError;
    const message = `the approved change could not be applied before the approval's validity ended (${a.expiresAt})${last ? `; last error: ${last.code} at ${last.step}` : ""}`;
    const decisions = await this.recordStep(a, "gave-up", {
      outcome: "failed",
      changes: a.changes,
      actor: "driftguard:approval",
      approver: null,
      reason: message,
      error: { code: "ApprovedChangeNotApplied", message, step: last?.step ?? "apply" },
    });
    const updated = await this.deps.approvals.updateRun(a.id, {
      ...(a.run ?? { attempts: 0 }),
      state: "gave-up",
      outcome: "failed",
      reason: message,
      updatedAt: this.deps.clock.now().toISOString(),
    } as ApprovedRun);
    await this.changed(updated ?? a, "run");
    return decisions;
  }

  /** Stores how the approved run went: done with its outcome, or due again after a backoff. */
  private async settleRun(a: Approval, runs: Decision[]): Promise<Approval | undefined> {
    const now = this.deps.clock.now();
    const last = runs[runs.length - 1];
    const attempts = (a.run?.attempts ?? 0) + 1;
    let run: ApprovedRun;
    if (!last || last.retry) {
      const error = last?.record?.error ?? {
        code: last?.outcome ?? "NotRun",
        message: last?.reason ?? "the change did not run",
        step: "apply",
      };
      run = {
        state: "due",
        attempts,
        nextAttemptAt: new Date(now.getTime() + runBackoffMs(attempts)).toISOString(),
        lastError: error,
        updatedAt: now.toISOString(),
      };
    } else {
      // A re-plan that no longer matches opened a new approval: name it for the card and the page.
      const superseding = last.outcome === "pending-approval" ? last.record?.approvalId : undefined;
      const reason = superseding
        ? `New approval ${superseding} was requested for the new plan.`
        : (last.reason ?? last.summary);
      run = {
        state: "done",
        attempts,
        outcome: last.outcome === "duplicate" ? "recorded" : last.outcome,
        ...(reason ? { reason } : {}),
        ...(last.record ? { recordId: last.record.id } : {}),
        updatedAt: now.toISOString(),
      };
    }
    return this.deps.approvals.updateRun(a.id, run);
  }

  /**
   * Tells the notifier (the bot updates its card). Never fails the step: the decision is recorded,
   * and the card refreshes to the current state for every approver who looks at it.
   */
  private async changed(a: Approval, change: ApprovalChange): Promise<void> {
    if (!this.deps.notifier.approvalChanged) return;
    try {
      await this.deps.notifier.approvalChanged(a, change);
    } catch (err) {
      this.deps.log.warn(
        { approvalId: a.id, change, err: redactText(String((err as Error).message)) },
        "updating the approval card failed",
      );
    }
  }

  /** Writes one record about an approval through the resource's gate, once per `step`. */
  private async recordStep(
    a: Approval,
    step: string,
    details: Pick<AuditRecordInput, "outcome" | "changes" | "actor" | "approver" | "reason" | "error">,
  ): Promise<Decision[]> {
    const { gate, clock } = this.deps;
    const cause = `approval:${a.id}:${step}|${a.target.resourceId.toLowerCase()}`;
    const policy = policyByName(this.deps.policies, a.policy);
    const deadline = Date.now() + this.deps.busyWaitMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      const entry = await gate.enter(a.target.resourceId, cause, {
        leaseMs: this.deps.leaseMs,
        now: clock.now(),
      });
      if (entry.status === "done") return [];
      if (entry.status === "entered") {
        const input = buildRecord(
          {
            signal: toRecordSignal(a.signal, this.deps.pseudonymKey),
            target: a.target,
            policy: a.policy,
            kind: a.kind,
            mode: policy?.mode ?? "approval",
            actor: details.actor,
            startedMs: clock.now().getTime(),
            ...(this.deps.policyFileHash ? { policyFileHash: this.deps.policyFileHash } : {}),
          },
          clock.now(),
          { ...details, approvalId: a.id },
        );
        let record: Awaited<ReturnType<typeof entry.session.commit>>;
        try {
          // An interrupted intent on this resource is left for the pipeline to complete.
          record = await entry.session.commit(input, { cause: "done", keepIntent: true });
        } catch (err) {
          await entry.session.leave({ cause: "open", keepIntent: true }).catch(() => undefined);
          throw err;
        }
        const d: Decision = {
          target: a.target,
          policy: a.policy,
          kind: a.kind,
          outcome: details.outcome,
          reason: details.reason,
          record,
          retry: false,
        };
        this.deps.onDecision?.(d, a);
        return [d];
      }
      if (Date.now() >= deadline)
        throw Object.assign(new Error(`resource ${a.target.resourceId} is busy; retry the decision`), {
          statusCode: 503,
        });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
