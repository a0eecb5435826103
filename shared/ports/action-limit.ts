/**
 * The action limit port and its rules (shared by the in-memory and Cosmos DB counters): a policy's
 * blast-radius limit, `maxActionsPerHour`. Called the *action limit* (not a "budget": that word
 * belongs to Cost Management here, whose budgets are signals).
 */
import { InputError } from "../errors.js";

/** At most `max` actions of one policy per UTC clock hour, across every instance. */
export interface ActionLimit {
  /** Counts one action of `policy` in `now`'s clock hour if fewer than `max` were counted; false when the limit is reached. */
  tryConsume(policy: string, max: number, now: Date): Promise<boolean>;
}

/** `2025-01-31T12` — the clock hour (UTC) an action counter covers. */
export function hourBucket(now: Date): string {
  return now.toISOString().slice(0, 13);
}

export function validateActionLimitArgs(policy: unknown, max: unknown): void {
  if (typeof policy !== "string" || policy.length === 0 || policy.length > 256) {
    throw new InputError("InvalidPolicy", "policy name must be a non-empty string", "policy");
  }
  if (typeof max !== "number" || !Number.isInteger(max) || max < 0) {
    throw new InputError("InvalidLimit", "max must be a non-negative integer", "maxActionsPerHour");
  }
}
