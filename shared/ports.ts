/**
 * Narrow interfaces between the pure core (signals, policy, pipeline) and its adapters
 * (Cosmos DB, Teams, clock). The core imports only these; adapters live beside them.
 */
import type { Change } from "./audit/types.js";
import type { Signal, SignalTarget } from "./signals/types.js";

/** Dedupe ledger: a cause is claimed with an expiring lease, so a crash mid-way turns the
 *  redelivery into a retry (lease expired → claim again), never into a dropped "duplicate". */
export type Claim =
  | { status: "claimed"; token: string }
  /** Already handled: a duplicate delivery, answer 200 and write nothing. */
  | { status: "done" }
  /** Someone else holds an unexpired lease: wait or ask for redelivery. */
  | { status: "busy"; leaseUntil: string };

export interface SignalLedger {
  claim(key: string, opts: { leaseMs: number; now: Date }): Promise<Claim>;
  /** Marks the cause handled (keeps it for the dedupe window). */
  complete(key: string, token: string): Promise<void>;
  /** Gives the lease up after a failure so that a redelivery can retry at once. */
  release(key: string, token: string): Promise<void>;
}

/** Blast-radius limit: at most `max` actions of one policy per rolling clock hour. */
export interface ActionBudget {
  tryConsume(policy: string, max: number, now: Date): Promise<boolean>;
}

export type ApprovalState = "pending" | "approved" | "rejected" | "expired";

export interface Approval {
  id: string;
  state: ApprovalState;
  createdAt: string;
  expiresAt: string;
  policy: string;
  kind: string;
  target: SignalTarget;
  /** The signal that caused it, as parsed (no personal data beyond raw caller IDs, which the store drops). */
  signal: Signal;
  /** Planned changes at the time of the request (the approved run re-reads and re-plans). */
  changes: Change[];
  summary: string;
  /** Why approval is needed: `policy-mode` or `rate-limit`. */
  reason: "policy-mode" | "rate-limit";
  decidedAt?: string;
  /** Pseudonymous approver ID. */
  decidedBy?: string;
  etag?: string;
}

export interface ApprovalStore {
  create(approval: Approval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  /** Moves a pending approval to a final state; returns undefined when it was no longer pending (already decided / expired / etag changed). */
  decide(
    id: string,
    state: Exclude<ApprovalState, "pending">,
    by: string | undefined,
    now: Date,
  ): Promise<Approval | undefined>;
  /** Pending approvals whose `expiresAt` ≤ now. */
  listExpired(now: Date): Promise<Approval[]>;
}

/** Posts approval requests (Teams card) and decision updates. */
export interface Notifier {
  requestApproval(approval: Approval): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
