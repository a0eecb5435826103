/**
 * An approval's records: each step the trail must show (approved, rejected, expired, gave up, a
 * refused decision, an unposted card) is written once, through the resource's gate under its own
 * cause `approval:<id>:<step>|<resource ID>`, so a retried step finds its cause done and writes
 * nothing twice. An interrupted intent on the resource is left for the pipeline to complete. A
 * step taken while the pipeline holds the resource's gate is written in that session instead.
 */
import { toRecordSignal } from "../audit/record.js";
import type { AuditRecord, AuditRecordInput } from "../audit/types.js";
import type { Logger } from "../log.js";
import { approvalStepCause, GateRunner } from "../pipeline/gate-runner.js";
import { buildRecord } from "../pipeline/records.js";
import type { Decision } from "../pipeline/types.js";
import { policyByName } from "../policy/match.js";
import type { Policy } from "../policy/schema.js";
import type { Approval } from "../ports/approval-store.js";
import type { Clock } from "../ports/clock.js";
import type { GateSession, ResourceGate } from "../ports/resource-gate.js";

/** A step could not be recorded now: the resource's gate stayed busy (retry later). */
export const BUSY = Symbol("busy");

export interface ApprovalTrailDeps {
  gate: ResourceGate;
  clock: Clock;
  log: Logger;
  policies: readonly Policy[];
  pseudonymKey: string;
  leaseMs: number;
  busyWaitMs: number;
  /** SHA-256 of the loaded policy file, carried by every record. */
  policyFileHash?: string;
  onDecision?: (decision: Decision, approval: Approval) => void;
}

export type StepDetails = Pick<
  AuditRecordInput,
  "outcome" | "changes" | "actor" | "approver" | "reason" | "error"
>;

export class ApprovalTrail {
  private readonly runner: GateRunner;

  constructor(private readonly deps: ApprovalTrailDeps) {
    this.runner = new GateRunner({
      gate: deps.gate,
      clock: deps.clock,
      log: deps.log,
      leaseMs: deps.leaseMs,
      busyWaitMs: deps.busyWaitMs,
    });
  }

  /** Writes the record of `step` once: its decision, `[]` when recorded before, or `BUSY`. */
  async record(a: Approval, step: string, details: StepDetails): Promise<Decision[] | typeof BUSY> {
    const cause = approvalStepCause(a.id, step, a.target.resourceId);
    const run = await this.runner.run(a.target.resourceId, cause, (session) =>
      session.commit(this.input(a, details), { causes: { [cause]: "done" }, keepIntent: true }),
    );
    if (run.status === "busy") return BUSY;
    if (run.status === "done") return [];
    return [this.decided(a, details, run.value)];
  }

  /**
   * Writes the record of `step` once from inside a session of the approval's resource that its
   * holder goes on with (the pipeline, closing an approval a new one supersedes): `[]` when
   * recorded before. The session keeps its lease and its intent.
   */
  async recordInSession(
    session: GateSession,
    a: Approval,
    step: string,
    details: StepDetails,
  ): Promise<Decision[]> {
    const cause = approvalStepCause(a.id, step, a.target.resourceId);
    if (session.causeState(cause) === "done") return [];
    const record = await session.commit(this.input(a, details), {
      causes: { [cause]: "done" },
      keepIntent: true,
      stay: true,
    });
    return [this.decided(a, details, record)];
  }

  private input(a: Approval, details: StepDetails): AuditRecordInput {
    const { clock } = this.deps;
    const policy = policyByName(this.deps.policies, a.policy);
    return buildRecord(
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
  }

  private decided(a: Approval, details: StepDetails, record: AuditRecord): Decision {
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
    return d;
  }
}
