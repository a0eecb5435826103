/**
 * The action limit (a policy's blast-radius limit) in Cosmos DB (container `counters`): one
 * counter document per policy and UTC clock hour, incremented with a conditional patch (`incr` only while `count < max`), which is
 * atomic on the server — concurrent callers can never push it past `max`.
 */
import type { Container } from "@azure/cosmos";
import { sha256Hex } from "../audit/chain.js";
import { type ActionLimit, hourBucket, validateActionLimitArgs } from "../ports/action-limit.js";
import { COUNTER_TTL_SECONDS } from "./client.js";
import { ContentionError, isConflict, isNotFound, isPreconditionFailed } from "./errors.js";

export class CosmosActionLimit implements ActionLimit {
  constructor(private readonly container: Container) {}

  async tryConsume(policy: string, max: number, now: Date): Promise<boolean> {
    validateActionLimitArgs(policy, max);
    if (max === 0) return false;
    const hour = hourBucket(now);
    const id = `${hour}-${sha256Hex(policy).slice(0, 32)}`;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        // `max` is a validated integer, so interpolating it into the condition is safe.
        await this.container.item(id, id).patch({
          condition: `FROM c WHERE c.count < ${max}`,
          operations: [{ op: "incr", path: "/count", value: 1 }],
        });
        return true;
      } catch (err) {
        if (isPreconditionFailed(err)) return false;
        if (!isNotFound(err)) throw err;
      }
      try {
        await this.container.items.create(
          { id, pk: id, policy, hour, count: 1, ttl: COUNTER_TTL_SECONDS },
          { disableAutomaticIdGeneration: true },
        );
        return true;
      } catch (err) {
        if (!isConflict(err)) throw err; // created concurrently: go back to patching
      }
    }
    throw new ContentionError("action limit counter kept racing; retry later");
  }
}
