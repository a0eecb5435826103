/**
 * Several kinds, one gate session: for one signal and one resource, each applying kind decides its
 * own cause (`<dedupeKey>|<resourceId>|<kind>`) in policy order, each with its own record, inside
 * one lease. Each step's record is committed together with its cause's new state and the session
 * stays in the gate; the last step leaves. So a crash between kinds leaves the decided kinds decided
 * (a redelivery skips them) and the rest open.
 *
 * First, an interrupted intent left on the resource is settled (it may be one of these causes: then
 * that is the kind's decision). While an intent cannot be settled, nothing else runs: a later kind
 * would replace it. The same holds after a kind's own transient failure past its intent.
 */
import type { AuditRecord } from "../audit/types.js";
import type { Policy, PolicyMode } from "../policy/schema.js";
import type { CauseState, GateSession, Intent } from "../ports/resource-gate.js";
import type { AnyRemediation } from "../remediations/types.js";
import type { RecordContext } from "./records.js";
import type { ApprovalNotify, RunResult } from "./run.js";
import type { Decision } from "./types.js";

/** One kind's part of a session. */
export interface KindRun {
  policy: Policy;
  remediation: AnyRemediation;
  mode: PolicyMode;
  cause: string;
  records: RecordContext;
}

export interface SessionEnv {
  /** Runs one kind (read → plan → mode → intent → apply → verify) and returns its result, unwritten. */
  run(kind: KindRun, session: GateSession): Promise<RunResult>;
  /** Settles an interrupted intent (its record, a re-read, or the plan again), unwritten. */
  settleInterrupted(session: GateSession, intent: Intent): Promise<RunResult>;
  /** An approved change was settled here, not by its own run: the approval shows the outcome. */
  noteRunOutcome(approvalId: string, decision: Decision): Promise<void>;
}

export interface SessionOutcome {
  /** One decision per kind, in the order of `runs`. */
  decisions: Decision[];
  /** Approval cards to post once the session has left the gate. */
  notifications: { cause: string; notify: ApprovalNotify }[];
  /** The decision about an interrupted intent of another cause, settled (or attempted) on the way. */
  interrupted?: Decision;
}

const UNSETTLED_INTENT = "an interrupted action on this resource could not be completed yet; retry later";
const EARLIER_KIND_UNSETTLED =
  "another kind's action on this resource in the same delivery is not settled yet; retry later";

export async function decideInSession(
  session: GateSession,
  runs: readonly KindRun[],
  env: SessionEnv,
): Promise<SessionOutcome> {
  const decisions = new Map<string, Decision>();
  const notifications: SessionOutcome["notifications"] = [];
  /** Cause states decided without a record of their own, written with the next write. */
  let pending: Record<string, CauseState> = {};

  /** Kinds not decided yet whose causes are open (read while the session is in the gate). */
  const stillToDecide = (except: string) =>
    runs.filter((r) => r.cause !== except && !decisions.has(r.cause) && !isDone(session, r));

  /**
   * Before the session leaves: every kind without a decision is a duplicate (its cause is done) or,
   * when `why` says the session stops early, `busy` (it comes back with the redelivery).
   */
  const decideTheRest = (except: string | undefined, why?: string) => {
    for (const r of runs) {
      if (r.cause === except || decisions.has(r.cause)) continue;
      decisions.set(
        r.cause,
        isDone(session, r) || !why
          ? { ...baseOf(r), outcome: "duplicate", reason: "already handled", retry: false }
          : { ...baseOf(r), outcome: "busy", reason: why, retry: true },
      );
    }
  };

  /** Writes one step; `last` leaves the gate with it. */
  const write = async (cause: string, result: RunResult, last: boolean): Promise<Decision> => {
    const causes = { ...pending, [cause]: result.cause };
    pending = {};
    let record: AuditRecord | undefined = result.existing;
    if (result.record)
      record = await session.commit(result.record, { causes, keepIntent: result.keepIntent, stay: !last });
    else if (last) await session.leave({ causes, keepIntent: result.keepIntent });
    else pending = causes;
    if (result.notify) notifications.push({ cause, notify: result.notify });
    return { ...result.decision, ...(record ? { record } : {}) } as Decision;
  };
  const outcome = (interrupted?: Decision): SessionOutcome => ({
    decisions: runs.map((r) => decisions.get(r.cause)!),
    notifications,
    ...(interrupted ? { interrupted } : {}),
  });

  let interrupted: Decision | undefined;
  const intent = session.interrupted;
  if (intent) {
    const result = await env.settleInterrupted(session, intent);
    const own = runs.some((r) => r.cause === intent.cause);
    if (result.decision.retry) {
      // Not settled: it stays for later (its interim record, if it is the first, written now), and
      // every kind of this delivery comes back with the redelivery.
      decideTheRest(intent.cause, UNSETTLED_INTENT);
      const decision = await write(intent.cause, result, true);
      if (own) decisions.set(intent.cause, decision);
      return outcome(own ? undefined : decision);
    }
    const last = stillToDecide(intent.cause).length === 0;
    if (last) decideTheRest(intent.cause);
    const decision = await write(intent.cause, result, last);
    if (intent.approvalId) await env.noteRunOutcome(intent.approvalId, decision);
    if (own) decisions.set(intent.cause, decision);
    else interrupted = decision;
    if (last) return outcome(interrupted);
  }

  for (const r of runs) {
    if (decisions.has(r.cause)) continue;
    if (isDone(session, r)) {
      decisions.set(r.cause, { ...baseOf(r), outcome: "duplicate", reason: "already handled", retry: false });
      continue;
    }
    const result = await env.run(r, session);
    const rest = stillToDecide(r.cause);
    if (rest.length > 0 && !result.keepIntent) {
      decisions.set(r.cause, await write(r.cause, result, false));
      continue;
    }
    // The last kind to decide, or one whose intent must be settled before anything else runs.
    decideTheRest(r.cause, result.keepIntent ? EARLIER_KIND_UNSETTLED : undefined);
    decisions.set(r.cause, await write(r.cause, result, true));
    return outcome(interrupted);
  }
  // Every remaining kind was decided already (a redelivery after a crash between kinds).
  decideTheRest(undefined);
  await session.leave({ causes: pending });
  return outcome(interrupted);
}

function isDone(session: GateSession, r: KindRun): boolean {
  return session.causeState(r.cause) === "done";
}

function baseOf(r: KindRun): Omit<Decision, "outcome" | "retry"> {
  return { target: r.records.target, policy: r.policy.name, kind: r.policy.kind, mode: r.mode };
}
