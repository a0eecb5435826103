/**
 * The sweep store port (docs/sweep.md#posture-over-time): one lease so that one sweep runs at a
 * time across instances, the cursor of a timer run cut short (kept with the lease, so the next
 * tick resumes it), and the posture: one summary document per run, with its non-compliant
 * resource IDs in parts (a long list never reaches Cosmos DB's 2 MB document limit).
 * Rules shared by the in-memory and Cosmos DB implementations live here.
 */
import { canonicalTime, decodeContinuation, encodeContinuation } from "../audit/paging.js";
import { InputError } from "../errors.js";

/** A run's counts for one policy (and, once read back, its non-compliant resources). */
export interface PolicyPosture {
  policy: string;
  kind: string;
  scanned: number;
  compliant: number;
  nonCompliant: number;
  remediated: number;
  pendingApproval: number;
  excluded: number;
  overLimit: number;
  failed: number;
  /** Filled when read back (from the run's parts). */
  nonCompliantResourceIds?: string[];
}

export interface PostureRun {
  runId: string;
  startedAt: string;
  endedAt: string;
  /** `timer`: the resync timer; `cli`: `driftguard sweep`. */
  trigger: "timer" | "cli";
  /** `policy`: each policy's own mode; `dry-run`: nothing was changed. */
  mode: "policy" | "dry-run";
  /** The subscriptions queried; null = every subscription the identity can read (tenant scope). */
  subscriptions: string[] | null;
  /** True when the run continued one cut short. */
  resumed: boolean;
  policies: PolicyPosture[];
}

/** A slice of a run's non-compliant resources of one policy. `seq` orders slices within a run. */
export interface PosturePart {
  runId: string;
  seq: number;
  policy: string;
  resourceIds: string[];
}

export interface PostureQuery {
  /** ISO 8601 inclusive lower bound on `startedAt`. */
  from?: string;
  /** ISO 8601 exclusive upper bound on `startedAt`. */
  to?: string;
  /** Only runs that swept this policy, and only its entry in each. */
  policy?: string;
  limit?: number;
  continuationToken?: string | null;
}

export interface PosturePage {
  /** Newest first. */
  items: PostureRun[];
  continuationToken: string | null;
}

/** The progress a sweep keeps with the lease (its shape belongs to the sweep). */
export type SweepCursor = object;

export class SweepLeaseLostError extends Error {
  override readonly name = "SweepLeaseLostError";
  readonly code = "SweepLeaseLost";
  constructor(holder: string) {
    super(`the sweep lease was taken over (this holder: ${holder}); the run stops`);
  }
}

/** A held lease. Every write checks that it is still ours (else SweepLeaseLostError). */
export interface SweepLease {
  readonly holder: string;
  /** Left by a run that was cut short (crash, timeout, failure), if any. */
  readonly cursor: SweepCursor | undefined;
  /** Extends the lease to `now + leaseMs`. */
  renew(now: Date): Promise<void>;
  /** Saves (or clears) the cursor and extends the lease. */
  saveCursor(cursor: SweepCursor | undefined, now: Date): Promise<void>;
  /** Ends the lease; the cursor is kept when given (a run to resume), else cleared. */
  release(keep?: SweepCursor): Promise<void>;
}

export type LeaseAttempt =
  | { acquired: true; lease: SweepLease }
  | { acquired: false; holder: string; untilMs: number };

export interface SweepStore {
  acquireLease(holder: string, now: Date, leaseMs: number): Promise<LeaseAttempt>;
  /** Idempotent (same run and seq replace). */
  savePart(part: PosturePart): Promise<void>;
  /** One document per run, written once the run ends. Idempotent. */
  saveRun(run: PostureRun): Promise<void>;
  queryRuns(q: PostureQuery): Promise<PosturePage>;
}

export const POSTURE_DEFAULT_LIMIT = 50;
export const POSTURE_MAX_LIMIT = 1000;
/** Resource IDs per part: ~2,000 IDs of ≤ 250 characters stay far below 2 MB. */
export const POSTURE_PART_SIZE = 2000;

export interface NormalizedPostureQuery {
  from?: string;
  to?: string;
  policy?: string;
  limit: number;
  after?: string;
}

export function normalizePostureQuery(q: PostureQuery): NormalizedPostureQuery {
  const limit = q.limit ?? POSTURE_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > POSTURE_MAX_LIMIT)
    throw new InputError("InvalidLimit", `limit must be an integer from 1 to ${POSTURE_MAX_LIMIT}`, "limit");
  return {
    ...(q.from !== undefined ? { from: canonicalTime(q.from, "from") } : {}),
    ...(q.to !== undefined ? { to: canonicalTime(q.to, "to") } : {}),
    ...(q.policy !== undefined ? { policy: q.policy } : {}),
    limit,
    ...(decodeContinuation(q.continuationToken) ? { after: decodeContinuation(q.continuationToken) } : {}),
  };
}

/** `<startedAt>|<runId>`: newest first, unique; keyset paging as in the audit query. */
export function postureSortKey(run: Pick<PostureRun, "startedAt" | "runId">): string {
  return `${canonicalTime(run.startedAt, "startedAt")}|${run.runId}`;
}

export function postureMatches(key: string, policies: readonly string[], q: NormalizedPostureQuery): boolean {
  if (q.from !== undefined && key < q.from) return false;
  if (q.to !== undefined && key >= q.to) return false;
  if (q.after !== undefined && key >= q.after) return false;
  if (q.policy !== undefined && !policies.includes(q.policy)) return false;
  return true;
}

/** Runs as returned: the policy filter keeps only that policy; parts fill the ID lists in order. */
export function assembleRuns(
  runs: readonly PostureRun[],
  parts: readonly PosturePart[],
  q: NormalizedPostureQuery,
): PostureRun[] {
  return runs.map((run) => ({
    ...run,
    policies: run.policies
      .filter((p) => q.policy === undefined || p.policy === q.policy)
      .map((p) => ({
        ...p,
        nonCompliantResourceIds: parts
          .filter((part) => part.runId === run.runId && part.policy === p.policy)
          .sort((a, b) => a.seq - b.seq)
          .flatMap((part) => part.resourceIds),
      })),
  }));
}

export function pageToken(items: readonly PostureRun[], more: boolean): string | null {
  const last = items[items.length - 1];
  return more && last ? encodeContinuation(postureSortKey(last)) : null;
}
