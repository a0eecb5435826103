/** In-memory action budget for unit tests and the harness (same rules as shared/cosmos/action-budget.ts). */
import { type ActionBudget, hourBucket, validateBudgetArgs } from "../ports/action-budget.js";

export class InMemoryActionBudget implements ActionBudget {
  private readonly counters = new Map<string, number>();

  async tryConsume(policy: string, max: number, now: Date): Promise<boolean> {
    validateBudgetArgs(policy, max);
    const k = `${policy}|${hourBucket(now)}`;
    const count = this.counters.get(k) ?? 0;
    if (count >= max) return false;
    this.counters.set(k, count + 1);
    return true;
  }
}
