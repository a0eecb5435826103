import type { RecordApprover } from "../audit/types.js";
import type { Logger } from "../log.js";
import { changesHash } from "../pipeline/binding.js";
import {
  type ApprovalNotify,
  type ApprovalRequester,
  type ApprovalRequests,
  withoutCallerObjectId,
} from "../pipeline/run.js";
import type { Decision } from "../pipeline/types.js";
import type { Policy } from "../policy/schema.js";
import type { Approval, ApprovalStore, ApprovedRun } from "../ports/approval-store.js";
import type { Clock } from "../ports/clock.js";
import type { ApprovalChange, Notifier } from "../ports/notifier.js";
import type { ResourceGate } from "../ports/resource-gate.js";
import { pseudonymize, redactText } from "../redact.js";
import { nextRun } from "./approved-run.js";
import {
  type ApproverRules,
  type Authorization,
  authorize,
  causedByPerson,
  type DecidingPrincipal,
  type Refusal,
} from "./authorize.js";
import { decisionDetails, expiryDetails, storedApprover } from "./closing-records.js";
import { alreadyOpenReason, reusableApproval, type SupersedeDeps, supersede } from "./open-approval.js";
import { reasonLine } from "./reasons.js";
import { ApprovalTrail, BUSY } from "./trail.js";

export interface ApprovalLifecycleDeps {
  approvals: ApprovalStore;
  gate: ResourceGate;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  policies: readonly Policy[];
  pseudonymKey: string;
  /** Who may decide (APPROVER_OBJECT_IDS; sign-in required in Azure). */
  approvers: ApproverRules;
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
  /** The decision was refused: shown to the person, recorded once per person, the approval stays pending. */
  refused?: Refusal;
  /** The resource's gate stayed busy: the step could not be recorded now; try again shortly. */
  busy?: true;
}

/** Who decides and where. */
export interface DecisionBy {
  principal: DecidingPrincipal;
  via: RecordApprover["via"];
}

export class ApprovalLifecycle implements ApprovalRequests {
  private readonly trail: ApprovalTrail;
  /** What closing superseded approvals needs. */
  private readonly closing: SupersedeDeps;

  constructor(private readonly deps: ApprovalLifecycleDeps) {
    this.trail = new ApprovalTrail(deps);
    this.closing = { approvals: deps.approvals, clock: deps.clock, trail: this.trail };
  }

  get(id: string): Promise<Approval | undefined> {
    return this.deps.approvals.get(id);
  }

  /**
   * The approval for a plan: the one already open for this resource, kind and plan, or a new one
   * (then `notify` posts its card, after closing the open ones it replaces). The run records
   * `pending-approval` naming it. Called from inside the resource's gate (see ./open-approval.ts).
   */
  readonly request: ApprovalRequester = async ({ run, plan, why, flapping }) => {
    const { approvals, clock, pseudonymKey } = this.deps;
    const now = clock.now();
    const earlier =
      run.approved?.approval ??
      (run.resume?.approvalId ? await approvals.get(run.resume.approvalId) : undefined);
    const reason = reasonLine(why, {
      policy: run.policy.name,
      kind: run.policy.kind,
      maxActionsPerHour: run.policy.maxActionsPerHour,
      ...(earlier ? { earlierApprovalId: earlier.id } : {}),
      ...(flapping ? { flapping } : {}),
    });
    const hash = changesHash(plan.changes, run.remediation.volatileChangePaths);
    const open = await approvals.listPendingFor(run.target.resourceId, run.policy.kind, now);
    const same = reusableApproval(open, hash, run.session);
    if (same) {
      // Older duplicates (stored before one open approval per resource and kind) close too.
      const closed = await supersede(this.closing, run.session, open, same);
      // Whoever drifted it again caused this drift too: they may not approve its fix either.
      const caller = run.signal.caller?.objectId;
      const person = caller ? pseudonymize(caller, pseudonymKey) : undefined;
      if (person && !causedByPerson(same, person)) await approvals.annotate(same.id, { causedBy: person });
      return {
        approvalId: same.id,
        reason: alreadyOpenReason(reason, same),
        notify: () => this.closedCards(closed),
        reused: true,
      };
    }
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
      changesHash: hash,
      summary: plan.summary,
      reason: why,
      reasonDetail: reason,
      requestCause: run.cause,
    });
    const closed = await supersede(this.closing, run.session, open, approval);
    const notify: ApprovalNotify = async (context) => {
      // The replaced approvals' cards say so before the new card arrives.
      await this.closedCards(closed);
      const shown = context.length > 0 ? await this.annotate(approval, { context: [...context] }) : approval;
      try {
        await this.deps.notifier.requestApproval(shown);
      } catch (err) {
        await this.cardNotPosted(shown, err);
      }
    };
    return { approvalId: approval.id, reason, notify };
  };

  /** Updates the cards of superseded approvals (after the session, like every card). */
  private async closedCards(closed: readonly Approval[]): Promise<void> {
    for (const a of closed) await this.changed(a, "expired");
  }

  /** Whether `principal` may decide approval `a` (or decide at all, without one). */
  authorize(
    a: Pick<Approval, "causedBy" | "alsoCausedBy"> | undefined,
    principal: DecidingPrincipal,
  ): Authorization {
    return authorize({ ...(a ? { approval: a } : {}) }, principal, this.deps.approvers);
  }

  /**
   * A person decided. Refused (not signed in, not an approver, the person who caused the drift) →
   * recorded once per approval and person, still pending. Approve → `approved` record, then the
   * change runs against the resource's current state; if it fails transiently it stays due and the
   * timer retries it. Reject → `rejected`.
   */
  async decide(id: string, decision: "approved" | "rejected", by: DecisionBy): Promise<DecideResult> {
    const { approvals, clock } = this.deps;
    const existing = await approvals.get(id);
    if (!existing) return { decisions: [], error: "approval not found" };
    const auth = this.authorize(existing, by.principal);
    if (!auth.allowed && auth.refusal !== "self-approval") return this.refuse(existing, auth, by);
    if (existing.state !== "pending")
      return { approval: existing, decisions: [], error: closedError(existing) };
    if (Date.parse(existing.expiresAt) <= clock.now().getTime()) {
      const expired = await this.expireOne(existing);
      if (expired === BUSY) return { approval: existing, decisions: [], busy: true };
      return { approval: (await approvals.get(id)) ?? existing, decisions: [], error: "approval expired" };
    }
    if (!auth.allowed) return this.refuse(existing, auth, by);
    const approver: RecordApprover = {
      id: auth.approverId,
      decidedAt: clock.now().toISOString(),
      via: by.via,
    };

    const decided = await approvals.closePending(id, decision, approver.id, clock.now(), approver.via);
    if (!decided) {
      const now = (await approvals.get(id)) ?? existing;
      return { approval: now, decisions: [], error: `${closedError(now)} (decided concurrently)` };
    }
    const first = await this.trail.record(decided, decision, decisionDetails(decided, decision, approver));
    // Recorded later: the `resumeWork` timer writes a missing `approved` record before it runs the
    // change, the `expireApprovals` timer a missing `rejected` one (the approval is `recordDue`).
    if (first === BUSY) return { approval: decided, decisions: [], busy: true };
    if (decision === "rejected") await this.deps.approvals.markRecorded(id);
    await this.changed(decided, "decided");
    if (decision === "rejected") return { approval: decided, decisions: first };
    const runs = await this.deps.runApproved(decided, approver);
    const settled = await this.settleRun(decided, runs);
    await this.changed(settled ?? decided, "run");
    return { approval: settled ?? decided, decisions: [...first, ...runs] };
  }

  /**
   * Expires pending approvals past their deadline (timer): one `expired` record each. Then writes
   * the closing records a host did not get to (an approval closed as expired, superseded or
   * rejected whose record is missing: it died in between, or the resource's gate stayed busy).
   */
  async expireDue(): Promise<Decision[]> {
    const out: Decision[] = [];
    for (const a of await this.deps.approvals.listExpired(this.deps.clock.now())) {
      const expired = await this.expireOne(a);
      if (expired !== BUSY) out.push(...expired);
    }
    for (const a of await this.deps.approvals.listRecordDue()) {
      const recorded = await this.recordClosing(a);
      if (recorded !== BUSY) out.push(...recorded);
    }
    return out;
  }

  /**
   * Approved changes that have not run to a final outcome (timer): tried again when due; after the
   * approval's validity ends, given up with one `failed` record. A busy resource waits for the next tick.
   */
  async runDue(): Promise<Decision[]> {
    const now = this.deps.clock.now();
    const out: Decision[] = [];
    for (const a of await this.deps.approvals.listDueRuns(now)) {
      if (Date.parse(a.expiresAt) <= now.getTime()) {
        const gaveUp = await this.giveUp(a);
        if (gaveUp !== BUSY) out.push(...gaveUp);
        continue;
      }
      const approver = storedApprover(a);
      // The `approved` record may be missing if the decision's own request failed after the store
      // accepted it: it is written once, here, before the change runs.
      const first = await this.trail.record(a, "approved", decisionDetails(a, "approved", approver));
      if (first === BUSY) continue;
      out.push(...first);
      const runs = await this.deps.runApproved(a, approver);
      await this.changed((await this.settleRun(a, runs)) ?? a, "run");
      out.push(...runs);
    }
    return out;
  }

  /**
   * An approved change was settled outside its own run (an interrupted intent completed by the
   * `resumeWork` timer or another cause): the approval shows that outcome, and its run is no longer due.
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

  /** A refused decision: kept on the approval, recorded once per approval and person, the card updated. */
  private async refuse(
    a: Approval,
    auth: Extract<Authorization, { allowed: false }>,
    by: DecisionBy,
  ): Promise<DecideResult> {
    this.deps.log.warn({ approvalId: a.id, via: by.via, refusal: auth.refusal }, "approval decision refused");
    // Nobody to name (not signed in), or nothing to refuse any more: nothing is recorded.
    if (!auth.personId || a.state !== "pending")
      return { approval: a, decisions: [], error: auth.reason, refused: auth.refusal };
    const updated = await this.deps.approvals.addRefusal(a.id, {
      by: auth.personId,
      at: this.deps.clock.now().toISOString(),
      via: by.via,
      reason: auth.reason,
    });
    // One record per approval and person: repeated clicks do not flood the trail.
    const decisions = await this.trail.record(a, `refused:${auth.personId}`, {
      outcome: "pending-approval",
      changes: a.changes,
      actor: `approver:${auth.personId}`,
      approver: null,
      reason: auth.reason,
    });
    await this.changed(updated ?? a, "refused");
    return {
      approval: updated ?? a,
      decisions: decisions === BUSY ? [] : decisions,
      error: auth.reason,
      refused: auth.refusal,
    };
  }

  private async expireOne(a: Approval): Promise<Decision[] | typeof BUSY> {
    const done = await this.deps.approvals.closePending(a.id, "expired", undefined, this.deps.clock.now());
    // Decided by someone else in between, or expired already by a decision attempt: record once anyway.
    const expired = done ?? (await this.deps.approvals.get(a.id));
    if (expired?.state !== "expired") return [];
    // Approvals closed before closes marked `recordDue` are recorded here too (once, by cause).
    return this.recordClosing({ ...expired, recordDue: expired.recordDue ?? "expired" });
  }

  /**
   * Writes the record of a closed approval's `recordDue` step (once: a repeated step finds its cause
   * done), updates its card when this call wrote it, and clears the mark.
   */
  private async recordClosing(a: Approval): Promise<Decision[] | typeof BUSY> {
    if (a.recordDue === undefined) return [];
    const details =
      a.recordDue === "rejected"
        ? decisionDetails(a, "rejected", storedApprover(a))
        : expiryDetails(a, a.supersededBy ? await this.deps.approvals.get(a.supersededBy) : undefined);
    const decisions = await this.trail.record(a, a.recordDue, details);
    if (decisions === BUSY) return BUSY;
    const recorded = (await this.deps.approvals.markRecorded(a.id)) ?? a;
    if (decisions.length > 0)
      await this.changed(recorded, a.recordDue === "rejected" ? "decided" : "expired");
    return decisions;
  }

  private async giveUp(a: Approval): Promise<Decision[] | typeof BUSY> {
    const last = a.run?.lastError;
    const message = `the approved change could not be applied before the approval's validity ended (${a.expiresAt})${last ? `; last error: ${last.code} at ${last.step}` : ""}`;
    const decisions = await this.trail.record(a, "gave-up", {
      outcome: "failed",
      changes: a.changes,
      actor: "driftguard:approval",
      approver: null,
      reason: message,
      error: { code: "ApprovedChangeNotApplied", message, step: last?.step ?? "apply" },
    });
    if (decisions === BUSY) return BUSY;
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

  /**
   * The card could not be posted: the approval exists, is recorded and its page works, so the
   * delivery does not fail for it — but the trail (once per approval), the page and `doctor` say so.
   */
  private async cardNotPosted(a: Approval, err: unknown): Promise<void> {
    const error = redactText(String((err as Error)?.message ?? err)).slice(0, 300);
    this.deps.log.error({ approvalId: a.id, err: error }, "posting the approval card failed");
    try {
      const at = this.deps.clock.now().toISOString();
      await this.annotate(a, { cardPostFailed: { at, error } });
      await this.trail.record(a, "card-not-posted", {
        outcome: "pending-approval",
        changes: a.changes,
        actor: "driftguard",
        approver: null,
        reason: `the approval card could not be posted to Teams (${error}); the approval page still works`,
      });
    } catch (noteErr) {
      this.deps.log.error(
        { approvalId: a.id, err: redactText(String((noteErr as Error).message)) },
        "recording the failed card post failed",
      );
    }
  }

  private async annotate(a: Approval, note: Parameters<ApprovalStore["annotate"]>[1]): Promise<Approval> {
    return (await this.deps.approvals.annotate(a.id, note)) ?? { ...a, ...note };
  }

  /** Stores how the approved run went: done with its outcome, or due again after a backoff. */
  private settleRun(a: Approval, runs: Decision[]): Promise<Approval | undefined> {
    return this.deps.approvals.updateRun(a.id, nextRun(a, runs, this.deps.clock.now()));
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
}

/** Why a closed approval cannot be decided (a superseded one names its successor). */
function closedError(a: Approval): string {
  return a.supersededBy
    ? `approval already ${a.state}: superseded by approval ${a.supersededBy}`
    : `approval already ${a.state}`;
}
