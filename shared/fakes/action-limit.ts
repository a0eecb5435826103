/** In-memory action limit for unit tests and the harness (same rules as shared/cosmos/action-limit.ts). */
import { type ActionLimit, hourBucket, validateActionLimitArgs } from "../ports/action-limit.js";

export class InMemoryActionLimit implements ActionLimit {
  private readonly counters = new Map<string, number>();

  async tryConsume(policy: string, max: number, now: Date): Promise<boolean> {
    validateActionLimitArgs(policy, max);
    const k = `${policy}|${hourBucket(now)}`;
    const count = this.counters.get(k) ?? 0;
    if (count >= max) return false;
    this.counters.set(k, count + 1);
    return true;
  }
}
