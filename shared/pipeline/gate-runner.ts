/**
 * The one way into a resource's gate, for the pipeline and the approval lifecycle alike: the cause
 * keys, entering with a short wait while another writer holds the lease, and leaving safely when the
 * work in the session fails. `busy` is a result, never an exception: the caller answers non-2xx
 * (Event Grid, action groups and people retry) or tries again on the next timer tick.
 */
import type { Logger } from "../log.js";
import type { Clock } from "../ports/clock.js";
import type { GateSession, ResourceGate } from "../ports/resource-gate.js";
import type { SignalTarget } from "../signals/types.js";

/** `…/storageAccounts/{account}/blobServices/default`: one resource with its account for writers. */
const BLOB_SERVICE =
  /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+)\/blobServices\/default\/?$/i;

/**
 * The resource whose gate a target's kinds run in, and which they decide and record as. A storage
 * account's blob service is its account's: the kinds that write the blob service (protect-model-storage,
 * enable-diagnostic-logs) reach it from an event about the account and from one about the blob
 * service, and it has no ETag, so both must queue behind one lease or the same fix is written twice.
 * Policies still match the target as the signal names it.
 */
export function gatedTarget(target: SignalTarget): SignalTarget {
  const m = BLOB_SERVICE.exec(target.resourceId);
  return m ? { ...target, resourceId: m[1]!, resourceType: "Microsoft.Storage/storageAccounts" } : target;
}

/** The cause one kind decides for one resource and one signal: `<dedupeKey>|<resourceId>|<kind>`. */
export function causeKey(dedupeKey: string, resourceId: string, kind: string): string {
  return `${dedupeKey}|${resourceId.toLowerCase()}|${kind}`;
}

/** The cause of one step of an approval (`approved`, `rejected`, `expired`, `refused:<person>` …). */
export function approvalStepCause(approvalId: string, step: string, resourceId: string): string {
  return `approval:${approvalId}:${step}|${resourceId.toLowerCase()}`;
}

/** The `resumeWork` timer's cause: never remembered, so every tick may enter again. */
export function resumeCause(resourceId: string): string {
  return `resume|${resourceId.toLowerCase()}`;
}

/** What running in a gate came to. */
export type GateRun<T> =
  | { status: "ran"; value: T }
  /** Every cause was decided already: a duplicate, nothing to do. */
  | { status: "done" }
  /** Another writer kept the resource past the wait: retry later. */
  | { status: "busy"; leaseUntil: string };

export interface GateRunnerDeps {
  gate: ResourceGate;
  clock: Clock;
  log: Logger;
  /** How long a session's lease protects a resource (longer than a function may run). */
  leaseMs: number;
  /** How long to wait for another writer before answering `busy`. */
  busyWaitMs: number;
}

/** Attempts to leave the gate after a failure before giving up (the lease then expires). */
const LEAVE_ATTEMPTS = 4;

export class GateRunner {
  constructor(readonly deps: GateRunnerDeps) {}

  /**
   * Enters the resource's gate for `causes`, runs `work` in the session and returns what it
   * returned. If `work` throws (a record could not be written, the store is down), the session is
   * left keeping the intent — the release retried — so a redelivery or the timer can finish, and
   * the error is rethrown. `work` must leave the session itself (its last commit, or `leave`).
   */
  async run<T>(
    resourceId: string,
    causes: string | readonly string[],
    work: (session: GateSession) => Promise<T>,
  ): Promise<GateRun<T>> {
    const entry = await this.enter(resourceId, causes);
    if (entry.status !== "entered") return entry;
    try {
      return { status: "ran", value: await work(entry.session) };
    } catch (err) {
      await this.leaveKeepingIntent(entry.session);
      throw err;
    }
  }

  /** Enters the gate, waiting with backoff while another writer holds it (up to `busyWaitMs`). */
  async enter(resourceId: string, causes: string | readonly string[]) {
    const { gate, clock, leaseMs, busyWaitMs } = this.deps;
    const deadline = Date.now() + busyWaitMs;
    let delay = 50;
    for (;;) {
      const entry = await gate.enter(resourceId, causes, { leaseMs, now: clock.now() });
      if (entry.status !== "busy" || Date.now() >= deadline) return entry;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }

  /** Leaves without deciding anything, keeping the intent; a few attempts, then the lease expires. */
  async leaveKeepingIntent(session: GateSession): Promise<void> {
    for (let attempt = 1; attempt <= LEAVE_ATTEMPTS; attempt++) {
      try {
        await session.leave({ causes: {}, keepIntent: true });
        return;
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
  }
}
