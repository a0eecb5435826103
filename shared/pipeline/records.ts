/**
 * The one place audit record inputs are built from a decision's context. Every record of a run
 * shares signal, target, policy, kind, mode and actor; only the outcome and its details differ.
 */
import type {
  AuditRecordInput,
  Change,
  Outcome,
  RecordApprover,
  RecordError,
  RecordSignal,
} from "../audit/types.js";
import type { PolicyMode } from "../policy/schema.js";
import type { SignalTarget } from "../signals/types.js";

export interface RecordContext {
  signal: RecordSignal;
  target: SignalTarget;
  policy: string;
  kind: string;
  mode: PolicyMode;
  /** `driftguard`, `driftguard:approval`, `approver:<pseudonym>`, `cli:…`. */
  actor: string;
  /** When the run started (epoch ms), for `durationMs`. */
  startedMs: number;
  /** SHA-256 of the policy file in force (stored once in Cosmos DB; evidence packs include it). */
  policyFileHash?: string;
}

export interface RecordDetails {
  outcome: Outcome;
  changes?: Change[];
  reason?: string;
  error?: RecordError | null;
  approver?: RecordApprover | null;
  approvalId?: string;
  followUp?: Record<string, unknown>;
}

export function buildRecord(ctx: RecordContext, now: Date, details: RecordDetails): AuditRecordInput {
  return {
    time: now.toISOString(),
    subscriptionId: ctx.target.subscriptionId,
    resourceId: ctx.target.resourceId,
    resourceType: ctx.target.resourceType,
    signal: ctx.signal,
    policy: ctx.policy,
    kind: ctx.kind,
    mode: ctx.mode,
    outcome: details.outcome,
    changes: details.changes ?? [],
    actor: ctx.actor,
    approver: details.approver ?? null,
    error: details.error ?? null,
    durationMs: Math.max(0, now.getTime() - ctx.startedMs),
    ...(details.reason !== undefined ? { reason: details.reason } : {}),
    ...(details.approvalId !== undefined ? { approvalId: details.approvalId } : {}),
    ...(details.followUp !== undefined ? { followUp: details.followUp } : {}),
    ...(ctx.policyFileHash !== undefined ? { policyFileHash: ctx.policyFileHash } : {}),
  };
}
