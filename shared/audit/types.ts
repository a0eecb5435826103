/** Audit record shapes (docs/audit-records.md#record-fields) and the narrow store interfaces the core talks to. */
import type { PolicyMode } from "../policy/schema.js";
import type { SignalSource } from "../signals/types.js";

export const OUTCOMES = [
  "remediated",
  "compliant",
  "dry-run",
  "pending-approval",
  "approved",
  "rejected",
  "expired",
  "excluded",
  "deferred",
  "reverted",
  "failed",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One field changed (or to be changed). `path` is a JSON-ish path inside the resource, e.g.
 *  `properties.publicNetworkAccess` or `properties.securityRules[allow-ssh]`. */
export interface Change {
  path: string;
  from: unknown;
  to: unknown;
}

export interface RecordSignal {
  source: SignalSource;
  type: string;
  id: string;
  correlationId: string | null;
  /** Pseudonymous caller of the triggering operation: keyed hash of the object ID, plus the app ID. */
  caller?: { id: string | null; appId: string | null } | null;
}

export interface RecordError {
  code: string;
  message: string;
  step: string;
}

export interface RecordApprover {
  /** Pseudonymous ID (keyed hash of the approver's object ID). */
  id: string;
  decidedAt: string;
  via: "teams" | "approval-page" | "cli";
}

/** What the pipeline hands to the store; the store adds `id`, `seq`, `prevHash`, `hash`. */
export interface AuditRecordInput {
  time: string;
  subscriptionId: string;
  resourceId: string;
  resourceType: string;
  signal: RecordSignal;
  policy: string;
  kind: string;
  mode: PolicyMode;
  outcome: Outcome;
  changes: Change[];
  /** Who acted: `driftguard` for automated decisions, `driftguard:approval` after approval, `cli:<pseudonym>`. */
  actor: string;
  approver?: RecordApprover | null;
  error?: RecordError | null;
  durationMs: number;
  /** Short human-readable reason (why compliant / excluded / deferred / failed). */
  reason?: string;
  /** ID of the approval this record belongs to (pending-approval, approved, rejected, expired). */
  approvalId?: string;
  /** Kind-specific, non-secret facts later runs need (e.g. when a throttle is due to be restored). */
  followUp?: Record<string, unknown>;
  /** SHA-256 (hex) of the policy file in force when the record was written. */
  policyFileHash?: string;
}

export interface AuditRecord extends AuditRecordInput {
  id: string;
  /** Position in this resource's chain, from 1. */
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  resourceId?: string;
  subscriptionId?: string;
  kind?: string;
  outcome?: Outcome;
  policy?: string;
  actor?: string;
  /** The record's `signal.source` (e.g. `sweep`). */
  source?: SignalSource;
  /** ISO 8601 inclusive lower bound on `time`. */
  from?: string;
  /** ISO 8601 exclusive upper bound on `time`. */
  to?: string;
  limit?: number;
  continuationToken?: string | null;
}

export interface AuditPage {
  items: AuditRecord[];
  continuationToken: string | null;
}

export interface ChainBreak {
  resourceId: string;
  recordId: string;
  seq: number;
  reason: string;
}

export interface VerifyReport {
  chains: number;
  records: number;
  /** First broken record per broken chain (ordered by resource ID); empty when intact. */
  breaks: ChainBreak[];
}
