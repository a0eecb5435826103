/** The action budget port and its rules (shared by the in-memory and Cosmos DB budgets). */
import { InputError } from "../errors.js";

/** Blast-radius limit: at most `max` actions of one policy per UTC clock hour. */
export interface ActionBudget {
  tryConsume(policy: string, max: number, now: Date): Promise<boolean>;
}

/** `2025-01-31T12` — the clock hour (UTC) a budget counter covers. */
export function hourBucket(now: Date): string {
  return now.toISOString().slice(0, 13);
}

export function validateBudgetArgs(policy: unknown, max: unknown): void {
  if (typeof policy !== "string" || policy.length === 0 || policy.length > 256) {
    throw new InputError("InvalidPolicy", "policy name must be a non-empty string", "policy");
  }
  if (typeof max !== "number" || !Number.isInteger(max) || max < 0) {
    throw new InputError("InvalidLimit", "max must be a non-negative integer", "maxActionsPerHour");
  }
}
