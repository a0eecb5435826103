/** Small helpers around `@azure/cosmos` errors and retries. */

export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code;
  if (typeof code === "number") return code;
  const sc = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof sc === "number" ? sc : undefined;
}

export const isConflict = (err: unknown): boolean => statusOf(err) === 409;
export const isPreconditionFailed = (err: unknown): boolean => statusOf(err) === 412;
export const isNotFound = (err: unknown): boolean => statusOf(err) === 404;

/** Jittered exponential backoff for optimistic-concurrency retries (412/409): 5 ms … 200 ms. */
export function backoff(attempt: number): Promise<void> {
  const cap = Math.min(200, 5 * 2 ** Math.min(attempt, 6));
  return new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)));
}

/** Raised when optimistic concurrency keeps losing (heavy contention): the caller should retry later. */
export class ContentionError extends Error {
  override readonly name = "ContentionError";
  readonly retryable = true;
  readonly statusCode = 503;
  readonly code = "CosmosContention";
}

/** Properties Cosmos DB adds to every document it returns. */
const SYSTEM_PROPERTIES = ["_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"] as const;
/** Cosmos system properties and driftguard storage fields that are not part of a stored entity. */
const SYSTEM_FIELDS = [...SYSTEM_PROPERTIES, "ttl", "pk"] as const;

/** A copy of a document without the Cosmos system properties (to write it back). */
export function withoutSystemProperties<T extends object>(doc: T): T {
  const out = { ...doc } as Record<string, unknown>;
  for (const f of SYSTEM_PROPERTIES) delete out[f];
  return out as T;
}

export function stripFields<T extends Record<string, unknown>>(
  doc: T,
  extra: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...doc };
  for (const f of SYSTEM_FIELDS) delete out[f];
  for (const f of extra) delete out[f];
  return out;
}
