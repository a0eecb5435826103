/**
 * The one reader of "what did driftguard record before" for kinds that reverse or follow up on
 * their own changes (scale restores, throttle restores, the throttle restore timer). It pages
 * through the `AuditHistory` port newest first.
 */
import type { AuditQuery, AuditRecord } from "../audit/types.js";
import type { AuditHistory } from "./types.js";

export type HistoryQuery = Omit<AuditQuery, "continuationToken">;

/**
 * Records matching `query`, newest first, read one page (`query.limit`) at a time as the caller
 * consumes them. After `maxRecords` records no further page is read (default: no bound).
 */
export async function* readHistory(
  port: AuditHistory,
  query: HistoryQuery,
  maxRecords = Number.POSITIVE_INFINITY,
): AsyncGenerator<AuditRecord> {
  let continuationToken: string | null = null;
  let read = 0;
  do {
    const page: { items: AuditRecord[]; continuationToken: string | null } = await port.query({
      ...query,
      continuationToken,
    });
    read += page.items.length;
    yield* page.items;
    continuationToken = page.continuationToken;
  } while (continuationToken && read < maxRecords);
}

/** The newest record matching `query` and `predicate` (within `maxRecords`), if any. */
export async function findInHistory(
  port: AuditHistory,
  query: HistoryQuery,
  predicate: (r: AuditRecord) => boolean,
  maxRecords?: number,
): Promise<AuditRecord | undefined> {
  for await (const r of readHistory(port, query, maxRecords)) if (predicate(r)) return r;
  return undefined;
}

/** Every record matching `query`, newest first. */
export async function allHistory(port: AuditHistory, query: HistoryQuery): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of readHistory(port, query)) out.push(r);
  return out;
}
