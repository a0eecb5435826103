/**
 * Flapping: the same fix on the same resource, undone again and again (a deployment pipeline, a
 * Terraform run or a person keeps writing the old value back). After `limit` fixes of one kind
 * within 24 hours the next change is not made automatically: it becomes an approval (reason
 * `flapping`) naming the principals whose writes undid the fix, pseudonymous as in the trail. The
 * gate remembers the resource's recent fixes on its head document, so the check costs no request.
 */
import type { GateSession, RecentFix } from "../ports/resource-gate.js";

/** The window the flapping limit counts fixes in. */
export const FLAP_WINDOW_MS = 24 * 3600_000;

export interface Flapping {
  /** Fixes of this kind on this resource within the window, oldest first. */
  fixes: readonly RecentFix[];
  /** Pseudonyms of the callers whose writes undid a fix (this signal's caller included), each once. */
  undoneBy: string[];
  windowHours: number;
}

/**
 * Whether this change is one too many: `limit` or more fixes of `kind` on the session's resource
 * within 24 h. `caller` is the pseudonym of this signal's caller (its write undid the last fix).
 */
export function flappingOf(
  session: Pick<GateSession, "recentFixes">,
  run: { policy: { kind: string }; records: { signal: { caller?: { id: string | null } | null } } },
  limit: number,
  now: Date,
): Flapping | undefined {
  if (limit <= 0) return undefined;
  const fixes = session.recentFixes(run.policy.kind, new Date(now.getTime() - FLAP_WINDOW_MS));
  if (fixes.length < limit) return undefined;
  // The first fix answered the original drift; every later write of the old state undid a fix.
  const callers = [...fixes.slice(1).map((f) => f.caller), run.records.signal.caller?.id ?? null];
  const undoneBy = [...new Set(callers.filter((c): c is string => !!c))];
  return { fixes, undoneBy, windowHours: FLAP_WINDOW_MS / 3600_000 };
}
