/**
 * What `throttle-api-subscription` reads back from its own records: the suspension or rate limit a
 * restore reverses (its action, and for a rate limit the original and throttled scopes). The
 * original scope lives only on the trail, so a restore puts back exactly what was there.
 */
import type { AuditRecord } from "../../audit/types.js";
import { withStep } from "../../errors.js";
import { findInHistory } from "../history.js";
import type { RemediationContext } from "../types.js";
import { KIND, type RecordedThrottle } from "./plan.js";

/** How many of the service's throttle records a restore looks through. */
export const MAX_RECORDS_SCANNED = 100_000;

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The planning view of a remediated throttle record. */
export function recordedThrottleOf(r: AuditRecord): RecordedThrottle {
  const f = r.followUp ?? {};
  const originalScope = str(f.originalScope);
  const throttledScope = str(f.throttledScope);
  const restoreAt = str(f.restoreAt);
  return {
    recordId: r.id,
    action: f.action === "rate-limit" ? "rate-limit" : "suspend",
    ...(originalScope !== undefined ? { originalScope } : {}),
    ...(throttledScope !== undefined ? { throttledScope } : {}),
    ...(restoreAt !== undefined ? { restoreAt } : {}),
  };
}

/** The service's remediated throttle record with ID `recordId`, if any. */
export function findThrottleRecord(
  ctx: Pick<RemediationContext, "history">,
  serviceId: string,
  recordId: string,
): Promise<AuditRecord | undefined> {
  return withStep({ step: "read", resourceId: serviceId }, () =>
    findInHistory(
      ctx.history,
      { resourceId: serviceId, kind: KIND, outcome: "remediated", limit: 1000 },
      (r) => r.id === recordId,
      MAX_RECORDS_SCANNED,
    ),
  );
}

/** The newest remediated throttle of one APIM subscription (suspension or rate limit), if any. */
export async function latestThrottle(
  ctx: Pick<RemediationContext, "history">,
  serviceId: string,
  apimSubscriptionId: string,
): Promise<RecordedThrottle | undefined> {
  const wanted = apimSubscriptionId.toLowerCase();
  const r = await withStep({ step: "read", resourceId: serviceId }, () =>
    findInHistory(
      ctx.history,
      { resourceId: serviceId, kind: KIND, outcome: "remediated", limit: 1000 },
      (x) => str(x.followUp?.apimSubscriptionId)?.toLowerCase() === wanted,
      MAX_RECORDS_SCANNED,
    ),
  );
  return r ? recordedThrottleOf(r) : undefined;
}
