/**
 * Rules shared by the resource gates (in-memory and Cosmos DB): how causes are remembered, for how
 * long, and the error a holder gets when its lease was taken over. See `ResourceGate` in ports.ts.
 */
import { sha256Hex } from "../audit/chain.js";
import type { CauseState } from "./approval-store.js";

/** Causes are remembered this long: Event Grid redelivers for 24 h; a week leaves room. */
export const CAUSE_MEMORY_MS = 7 * 24 * 3600_000;
/** At most this many remembered causes per resource (newest kept): bounds the control document. */
export const MAX_REMEMBERED_CAUSES = 256;

/** A remembered cause: state and when it was set (epoch ms). Short keys keep the document small. */
export interface CauseEntry {
  s: Exclude<CauseState, "open">;
  t: number;
}

/** Stable, short ID of a cause key (the key itself may be long and carries event IDs). */
export function causeId(cause: string): string {
  return sha256Hex(cause).slice(0, 32);
}

/**
 * Applies a cause's new state and forgets what is too old or beyond the cap. `open` forgets the
 * cause (a redelivery runs it again) unless it already has its interim (`deferred`) record.
 */
export function updateCauses(
  causes: Readonly<Record<string, CauseEntry>> | undefined,
  changes: readonly { cause: string; state: CauseState }[],
  nowMs: number,
): Record<string, CauseEntry> {
  const next: Record<string, CauseEntry> = { ...(causes ?? {}) };
  for (const { cause, state } of changes) {
    const id = causeId(cause);
    if (state === "open") continue;
    if (state === "deferred" && next[id]?.s === "done") continue;
    next[id] = { s: state, t: nowMs };
  }
  const kept = Object.entries(next)
    .filter(([, e]) => nowMs - e.t < CAUSE_MEMORY_MS)
    .sort((a, b) => b[1].t - a[1].t)
    .slice(0, MAX_REMEMBERED_CAUSES);
  return Object.fromEntries(kept);
}

export function causeStateIn(
  causes: Readonly<Record<string, CauseEntry>> | undefined,
  cause: string,
): CauseEntry["s"] | undefined {
  return causes?.[causeId(cause)]?.s;
}

/** The holder's lease was taken over (it expired): its writes are refused. Retry later. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  readonly retryable = true;
  readonly statusCode = 503;
  readonly code = "LeaseLost";
  constructor(readonly resourceId: string) {
    super(`the lease on ${resourceId} was taken over by another writer; retry later`);
  }
}
