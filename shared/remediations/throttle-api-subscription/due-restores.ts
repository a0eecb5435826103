/**
 * Cooldown restores of `throttle-api-subscription`: the audit trail is the schedule. A suspension's
 * `remediated` record carries `followUp.restoreAt`; the kind's follow-up `cooldownRestores` (run by
 * the `runFollowUps` timer every minute) finds the due ones with `findDueRestorations` and hands each
 * `restoreSignal` to the pipeline, which runs the kind with a `source: "timer"` signal (treated like
 * a resolved alert). Nothing depends on a process staying up: a missed tick is caught up by the
 * next one, and the dedupe key `timer:restore:<record id>` makes each due restoration happen once.
 */
import type { AuditRecord } from "../../audit/types.js";
import type { Signal } from "../../signals/types.js";
import { allHistory } from "../history.js";
import type { AuditHistory, FollowUp } from "../types.js";
import { APIM_SERVICE_TYPE, KIND, MAX_COOLDOWN_MS, RESTORE_TRIGGER } from "./plan.js";

export interface DueRestoration {
  /** ID of the `remediated` record that suspended the subscription. */
  recordId: string;
  /** The APIM service (the record's resource). */
  resourceId: string;
  resourceType: string;
  subscriptionId: string;
  /** Full resource ID of the suspended APIM subscription. */
  apimSubscriptionId: string;
  restoreAt: string;
  policy: string;
  /** When the suspension was recorded. */
  suspendedAt: string;
  correlationId: string | null;
}

export interface FindDueOptions {
  /** How far back to look for suspensions (default: the longest cooldown plus a week). */
  lookbackMs?: number;
  /** Page size of the audit queries (default 1000, the API's maximum). */
  pageSize?: number;
  /** The kind whose records schedule restores (default this kind's name). */
  kind?: string;
}

/** Outcomes of a later record that settle a suspension for good (a failed or deferred restore does not). */
const SETTLING = new Set(["reverted", "compliant", "excluded", "rejected", "expired"]);

function key(resourceId: string, apimSubscriptionId: string): string {
  return `${resourceId.toLowerCase()}|${apimSubscriptionId.toLowerCase()}`;
}

/** True when `b` was recorded after `a` (time, then chain position on the same resource). */
function after(b: AuditRecord, a: AuditRecord): boolean {
  const tb = Date.parse(b.time);
  const ta = Date.parse(a.time);
  if (tb !== ta) return tb > ta;
  return b.resourceId.toLowerCase() === a.resourceId.toLowerCase() && b.seq > a.seq;
}

/**
 * Suspensions whose cooldown is over (`followUp.restoreAt` ≤ now) and that nothing has settled yet:
 * no later `reverted` record for the same APIM subscription, no later suspension of it (that one
 * has its own due time), and no settled timer run for this record. Oldest due first.
 */
export async function findDueRestorations(
  history: AuditHistory,
  now: Date,
  opts: FindDueOptions = {},
): Promise<DueRestoration[]> {
  const lookbackMs = opts.lookbackMs ?? MAX_COOLDOWN_MS + 7 * 24 * 3600_000;
  const limit = opts.pageSize ?? 1000;
  const from = new Date(now.getTime() - lookbackMs).toISOString();
  const records = await allHistory(history, { kind: opts.kind ?? KIND, from, limit });

  // Latest suspension per (service, APIM subscription).
  const latest = new Map<string, AuditRecord>();
  for (const r of records) {
    if (r.outcome !== "remediated") continue;
    const apimId = r.followUp?.apimSubscriptionId;
    const restoreAt = r.followUp?.restoreAt;
    if (typeof apimId !== "string" || typeof restoreAt !== "string") continue;
    const k = key(r.resourceId, apimId);
    const seen = latest.get(k);
    if (!seen || after(r, seen)) latest.set(k, r);
  }

  const due: DueRestoration[] = [];
  for (const [k, r] of latest) {
    const restoreAt = r.followUp!.restoreAt as string;
    const dueMs = Date.parse(restoreAt);
    if (Number.isNaN(dueMs) || dueMs > now.getTime()) continue;
    const settled = records.some(
      (o) =>
        o !== r &&
        after(o, r) &&
        SETTLING.has(o.outcome) &&
        ((o.outcome === "reverted" &&
          typeof o.followUp?.apimSubscriptionId === "string" &&
          key(o.resourceId, o.followUp.apimSubscriptionId) === k) ||
          (o.signal.source === "timer" && o.signal.id === r.id)),
    );
    if (settled) continue;
    due.push({
      recordId: r.id,
      resourceId: r.resourceId,
      resourceType: r.resourceType || APIM_SERVICE_TYPE,
      subscriptionId: r.subscriptionId,
      apimSubscriptionId: r.followUp!.apimSubscriptionId as string,
      restoreAt,
      policy: r.policy,
      suspendedAt: r.time,
      correlationId: r.signal.correlationId ?? null,
    });
  }
  return due.sort(
    (a, b) => Date.parse(a.restoreAt) - Date.parse(b.restoreAt) || a.recordId.localeCompare(b.recordId),
  );
}

/** The timer signal that restores one due suspension; handled once per record (dedupe key). */
export function restoreSignal(due: DueRestoration, now: Date): Signal {
  return {
    source: "timer",
    type: "timer.throttle-restore",
    id: due.recordId,
    dedupeKey: `timer:restore:${due.recordId}`,
    ...(due.correlationId ? { correlationId: due.correlationId } : {}),
    time: now.toISOString(),
    subscriptionId: due.subscriptionId,
    trigger: { manual: RESTORE_TRIGGER },
    targets: [
      { resourceId: due.resourceId, resourceType: due.resourceType, subscriptionId: due.subscriptionId },
    ],
  };
}

/** The kind's follow-up: every due restoration, as the timer signal that restores it. */
export const cooldownRestores: FollowUp = {
  name: "cooldown-restore",
  due: async ({ kind, history, now }) =>
    (await findDueRestorations(history, now, { kind })).map((d) => ({
      policy: d.policy,
      signal: restoreSignal(d, now),
    })),
};
