/**
 * Query semantics shared by every AuditStore implementation, so that the in-memory store and the
 * Cosmos DB store answer the same query the same way.
 *
 * Order: newest first by `time`, ties broken by `id` (descending). Both are folded into one
 * sortable string, the sort key `<time as canonical ISO 8601 UTC>|<id>`, which is unique per record.
 *
 * Paging is keyset paging: a continuation token carries the sort key of the last item returned;
 * the next page holds the records whose sort key is strictly smaller. Consequences ("exactly once"):
 * every record that exists when the first page is read, and still matches, is returned exactly
 * once over the pages; records appended while paging are newer than the first page's items (their
 * time is "now"), so they sort before the cursor and do not show up in later pages — a new query
 * (without a token) sees them. A record with a back-dated `time` appended mid-paging shows up iff
 * it sorts after the cursor. No record is ever returned twice, because the cursor only moves
 * towards older keys.
 */
import { InputError } from "../errors.js";
import type { AuditQuery, AuditRecord } from "./types.js";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;
export const MAX_TOKEN_LENGTH = 4096;

/** Canonical ISO 8601 UTC form of a time (milliseconds precision), or InputError naming `path`. */
export function canonicalTime(time: unknown, path: string): string {
  if (typeof time !== "string" || time.length > 64 || !ISO_8601.test(time)) {
    throw new InputError(
      "InvalidTime",
      `${path} must be an ISO 8601 date-time (e.g. 2025-01-31T12:00:00Z)`,
      path,
    );
  }
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) throw new InputError("InvalidTime", `${path} is not a valid date-time`, path);
  return new Date(ms).toISOString();
}

/** Date, or date-time with optional fraction and a `Z` or `±hh:mm` offset (no offset on a date-time means UTC). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

export function sortKey(record: Pick<AuditRecord, "time" | "id">): string {
  return `${canonicalTime(record.time, "time")}|${record.id}`;
}

export function normalizeLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InputError("InvalidLimit", `limit must be an integer from 1 to ${MAX_LIMIT}`, "limit");
  }
  return limit;
}

export function encodeContinuation(lastSortKey: string): string {
  return Buffer.from(JSON.stringify({ v: 1, k: lastSortKey }), "utf8").toString("base64url");
}

/** Decodes a continuation token to the sort key it resumes after; InputError when malformed. */
export function decodeContinuation(token: string | null | undefined): string | undefined {
  if (token === undefined || token === null || token === "") return undefined;
  const bad = () =>
    new InputError(
      "InvalidContinuationToken",
      "continuationToken is not a token returned by this API",
      "continuationToken",
    );
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token))
    throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  const k = (parsed as { v?: unknown; k?: unknown } | null)?.k;
  if (
    (parsed as { v?: unknown }).v !== 1 ||
    typeof k !== "string" ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\|[A-Za-z0-9-]{1,200}$/.test(k)
  ) {
    throw bad();
  }
  return k;
}

/** Normalised filters (lower-cased IDs, canonical times) used by every implementation. */
export interface NormalizedQuery {
  resourceId?: string;
  subscriptionId?: string;
  kind?: string;
  outcome?: string;
  policy?: string;
  actor?: string;
  source?: string;
  from?: string;
  to?: string;
  limit: number;
  after?: string;
}

export function normalizeQuery(q: AuditQuery): NormalizedQuery {
  return {
    resourceId: q.resourceId?.toLowerCase(),
    subscriptionId: q.subscriptionId?.toLowerCase(),
    kind: q.kind,
    outcome: q.outcome,
    policy: q.policy,
    actor: q.actor,
    source: q.source,
    from: q.from === undefined ? undefined : canonicalTime(q.from, "from"),
    to: q.to === undefined ? undefined : canonicalTime(q.to, "to"),
    limit: normalizeLimit(q.limit),
    after: decodeContinuation(q.continuationToken),
  };
}

/** In-process filter with exactly the semantics of the Cosmos SQL built from the same query. */
export function matchesQuery(record: AuditRecord, key: string, q: NormalizedQuery): boolean {
  if (q.resourceId !== undefined && record.resourceId.toLowerCase() !== q.resourceId) return false;
  if (q.subscriptionId !== undefined && record.subscriptionId.toLowerCase() !== q.subscriptionId)
    return false;
  if (q.kind !== undefined && record.kind !== q.kind) return false;
  if (q.outcome !== undefined && record.outcome !== q.outcome) return false;
  if (q.policy !== undefined && record.policy !== q.policy) return false;
  if (q.actor !== undefined && record.actor !== q.actor) return false;
  if (q.source !== undefined && record.signal?.source !== q.source) return false;
  // key = "<iso>|<id>": key >= from  ⇔ time >= from;  key < to ⇔ time < to (the "|" suffix sorts after).
  if (q.from !== undefined && key < q.from) return false;
  if (q.to !== undefined && key >= q.to) return false;
  if (q.after !== undefined && key >= q.after) return false;
  return true;
}
