/**
 * Decision events in the bench (docs/events.md#cost): the same workload on two one-host stacks,
 * decision events off and on (published to the local Event Grid's topic), so the difference is what
 * publishing costs:
 * - `events_requests_per_remediation`: Cosmos DB requests publishing adds per remediation, counted at
 *   the stand-in once every event is out (the outbox write rides in the record's batch; its delete
 *   counts), target ≤ 1; plus the publish calls per remediation, reported beside it;
 * - `events_e2e_p99_added_pct`: the change of `e2e_p99_ms` (steady arrivals on the host) with events
 *   on, target ≤ 10 %.
 */
import { DECISIONS_TOPIC } from "../dev/event-grid/driftguard.js";
import { type ProcessStack, startProcessStack } from "../dev/proc/stack.js";
import { closedLoop, EventGridSender } from "./lib/driver.js";
import { round } from "./lib/report.js";
import { diffCounts, requestCounts } from "./lib/stand-ins.js";
import { armWriteEvent, seedOf, storageAccounts } from "./lib/workload.js";
import { steadyLatency } from "./stack.js";

export interface EventsBenchOptions {
  policyFile: string;
  countsDir: string;
  /** Remediations counted per stack. */
  counting: number;
  e2eRate: number;
  e2eSeconds: number;
}

interface Side {
  cosmosPerRemediation: number;
  byRequest: Record<string, number>;
  publishesPerRemediation: number;
  eventsPublished: number;
  p50: number;
  p99: number;
}

async function runSide(opts: EventsBenchOptions, publish: boolean): Promise<Side> {
  const tag = publish ? "on" : "off";
  const ids = {
    warm: storageAccounts(`rg-ev-${tag}-warm`, `stev${tag}w`, 8),
    counting: storageAccounts(`rg-ev-${tag}-count`, `stev${tag}c`, opts.counting),
    e2e: storageAccounts(`rg-ev-${tag}-e2e`, `stev${tag}e`, opts.e2eRate * opts.e2eSeconds),
  };
  const stack: ProcessStack = await startProcessStack({
    hosts: 1,
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: seedOf(Object.values(ids).flat()),
    policyFile: opts.policyFile,
    lro: "sync",
    logLevel: "error",
    functionKey: "bench-function-key-0123456789abcdef",
    cosmosRequestTimeoutMs: 120_000,
    readyTimeoutMs: 180_000,
    events: { publish },
  });
  const sender = new EventGridSender({ url: stack.hosts[0]!.url, functionKey: stack.functionKey });
  try {
    const published = async () => (await stack.eventGrid.events(DECISIONS_TOPIC)).length;
    const settled = async (expected: number) => {
      if (!publish) return;
      for (let i = 0; i < 600 && (await published()) < expected; i++)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300)); // the last deletes follow their publish
    };
    await closedLoop(ids.warm, 4, (id) => sender.send(armWriteEvent(id)));
    await settled(ids.warm.length);
    const before = await requestCounts(stack.cosmos.pid, opts.countsDir);
    const eventsBefore = await published();
    const publishesBefore = publish ? await publishCalls(stack) : 0;
    const stats = await closedLoop(ids.counting, 16, (id) => sender.send(armWriteEvent(id)));
    if (stats.failedForGood > 0) throw new Error(`events bench: ${stats.failedForGood} deliveries failed`);
    await settled(eventsBefore + ids.counting.length);
    const counted = diffCounts(await requestCounts(stack.cosmos.pid, opts.countsDir), before);
    const eventsPublished = (await published()) - eventsBefore;
    const publishes = publish ? (await publishCalls(stack)) - publishesBefore : 0;
    const e2e = await steadyLatency({ stack, countsDir: opts.countsDir }, ids.e2e, opts.e2eRate);
    return {
      cosmosPerRemediation: counted.total / ids.counting.length,
      byRequest: Object.fromEntries(
        Object.entries(counted.counts).map(([k, v]) => [k, round(v / ids.counting.length, 3)]),
      ),
      publishesPerRemediation: publishes / ids.counting.length,
      eventsPublished,
      p50: e2e.p50,
      p99: e2e.p99,
    };
  } finally {
    sender.close();
    await stack.close();
  }
}

/** Publish requests the decisions topic accepted so far. */
async function publishCalls(stack: ProcessStack): Promise<number> {
  return (await stack.eventGrid.topics()).find((t) => t.name === DECISIONS_TOPIC)?.publishes ?? 0;
}

export async function eventsBench(opts: EventsBenchOptions) {
  const off = await runSide(opts, false);
  const on = await runSide(opts, true);
  const added = on.cosmosPerRemediation - off.cosmosPerRemediation;
  const p99AddedPct = ((on.p99 - off.p99) / off.p99) * 100;
  return {
    requestsAdded: round(added, 3),
    requestsOff: round(off.cosmosPerRemediation, 3),
    requestsOn: round(on.cosmosPerRemediation, 3),
    byRequestOff: off.byRequest,
    byRequestOn: on.byRequest,
    publishesPerRemediation: round(on.publishesPerRemediation, 3),
    eventsPublished: on.eventsPublished,
    p99Off: round(off.p99),
    p99On: round(on.p99),
    p50Off: round(off.p50),
    p50On: round(on.p50),
    p99AddedPct: round(p99AddedPct, 1),
  };
}
