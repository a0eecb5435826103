/**
 * The bench phases that run against the separate-process stack (dev/proc): hosts in their own
 * processes, the Cosmos DB stand-in and the Azure simulator in theirs. Single-host figures are
 * taken by sending to host 0 directly; the 3-host burst goes through the round-robin front end.
 */
import type { ProcessStack } from "../dev/proc/stack.js";
import {
  closedLoop,
  type Delivery,
  EventGridSender,
  openLoop,
  type RunStats,
  TimeLimitReached,
} from "./lib/driver.js";
import { percentile, round } from "./lib/report.js";
import {
  armWritesByResource,
  cpuBetween,
  cpuSnapshot,
  diffCounts,
  type RequestCounts,
  requestCounts,
} from "./lib/stand-ins.js";
import { armWriteEvent, burstWithDuplicates, driftedStorageAccount } from "./lib/workload.js";

export interface StackContext {
  stack: ProcessStack;
  countsDir: string;
}

const nameOf = (id: string) => id.split("/").pop()!.toLowerCase();

function host0(ctx: StackContext): EventGridSender {
  return new EventGridSender({ url: ctx.stack.hosts[0]!.url, functionKey: ctx.stack.functionKey });
}

async function cosmosCounts(ctx: StackContext): Promise<RequestCounts> {
  return requestCounts(ctx.stack.cosmos.pid, ctx.countsDir);
}

function summary(stats: RunStats) {
  const sorted = [...stats.latencies].sort((a, b) => a - b);
  return {
    deliveries: stats.deliveries,
    redeliveries: stats.redeliveries,
    failedForGood: stats.failedForGood,
    statuses: stats.statuses,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    seconds: round(stats.durationMs / 1000),
  };
}

/** Deliveries that must all end 2xx (after redeliveries), or the phase's figures mean nothing. */
function assertDelivered(stats: RunStats, what: string): void {
  if (stats.cut) throw new TimeLimitReached(what);
  if (stats.failedForGood > 0)
    throw new Error(
      `${what}: ${stats.failedForGood} deliveries never succeeded (${JSON.stringify(stats.statuses)})`,
    );
}

/** Warms every host (first invocation builds the runtime, containers, SDK clients). */
export async function warmUp(ctx: StackContext, ids: readonly string[]): Promise<void> {
  const front = new EventGridSender({ url: ctx.stack.functionsUrl, functionKey: ctx.stack.functionKey });
  try {
    const stats = await closedLoop(ids, 4, (id) => front.send(armWriteEvent(id)), {
      onDeadline: () => front.close(),
    });
    assertDelivered(stats, "warm-up");
  } finally {
    front.close();
  }
}

/**
 * Cosmos requests per remediation and per compliant decision, counted at the stand-in over a burst
 * on one host; ARM writes per fix and per compliant decision from the simulator's log.
 */
export async function countingBurst(ctx: StackContext, ids: readonly string[], concurrency = 16) {
  const sender = host0(ctx);
  const prefix = nameOf(ids[0]!).replace(/\d+$/, "");
  try {
    const run = async (label: string) => {
      const before = await cosmosCounts(ctx);
      const stats = await closedLoop(ids, concurrency, (id) => sender.send(armWriteEvent(id)), {
        onDeadline: () => sender.close(),
      });
      assertDelivered(stats, label);
      const after = await cosmosCounts(ctx);
      return { stats, cosmos: diffCounts(after, before) };
    };
    // 1. Fresh drift: every resource is seen for the first time and needs a fix.
    const fix = await run("remediation burst");
    const writesAfterFix = await armWritesByResource(ctx.stack, prefix);
    // 2. The same resources again (new events): all compliant now.
    const compliant = await run("compliant burst");
    const writesAfterCompliant = await armWritesByResource(ctx.stack, prefix);
    // 3. Drift again on resources that have a chain (the steady state in production).
    for (const id of ids) await ctx.stack.sim.admin.putResource(driftedStorageAccount(id));
    const known = await run("known-resource remediation burst");
    const totalWrites = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const fixWrites = totalWrites(writesAfterFix);
    // Per resource, not only on average: one resource written twice and one not at all average 1.
    const writesPerResource = ids.map((id) => writesAfterFix.get(nameOf(id)) ?? 0);
    return {
      n: ids.length,
      remediation: fix.cosmos,
      compliant: compliant.cosmos,
      knownRemediation: known.cosmos,
      writesPerResource,
      armWritesPerCompliant: (totalWrites(writesAfterCompliant) - fixWrites) / ids.length,
      deliveries: {
        fix: summary(fix.stats),
        compliant: summary(compliant.stats),
        known: summary(known.stats),
      },
    };
  } finally {
    sender.close();
  }
}

/** Steady arrivals at `rate` per second on one host; each delivery is a remediation. */
export async function steadyLatency(ctx: StackContext, ids: readonly string[], rate: number) {
  const sender = host0(ctx);
  try {
    const cpu0 = await cpuSnapshot(ctx.stack);
    const stats = await openLoop(ids, rate, (id) => sender.send(armWriteEvent(id)), {
      onDeadline: () => sender.close(),
    });
    if (stats.cut) throw new TimeLimitReached("steady arrivals");
    const cpu = cpuBetween(await cpuSnapshot(ctx.stack), cpu0);
    // Latencies of accepted deliveries only; failures are counted apart (and fail the metric).
    const ok = stats.latencies.length;
    const sorted = [...stats.latencies].sort((a, b) => a - b);
    return {
      n: ids.length,
      ok,
      accepted: stats.latencies,
      failed: stats.failed,
      statuses: stats.statuses,
      lateStarts: stats.lateStarts,
      seconds: stats.durationMs / 1000,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      cpuMsPerDecision: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v / ok, 3)])),
      cpuShareOfOneCore: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, round(v / stats.durationMs, 3)]),
      ),
    };
  } finally {
    sender.close();
  }
}

/** Remediations per second with `concurrency` deliveries in flight on one host. */
export async function saturatedThroughput(ctx: StackContext, ids: readonly string[], concurrency = 64) {
  const sender = host0(ctx);
  try {
    const cpu0 = await cpuSnapshot(ctx.stack);
    const before = await cosmosCounts(ctx);
    const stats = await closedLoop(ids, concurrency, (id) => sender.send(armWriteEvent(id)), {
      onDeadline: () => sender.close(),
    });
    assertDelivered(stats, "throughput burst");
    const cosmos = diffCounts(await cosmosCounts(ctx), before);
    const cpu = cpuBetween(await cpuSnapshot(ctx.stack), cpu0);
    return {
      n: ids.length,
      perSecond: ids.length / (stats.durationMs / 1000),
      cosmosRequestsPerSecond: cosmos.total / (stats.durationMs / 1000),
      cpuShareOfOneCore: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, round(v / stats.durationMs, 3)]),
      ),
      deliveries: summary(stats),
    };
  } finally {
    sender.close();
  }
}

/**
 * A burst of `total` events (30 % of them redeliveries of the same events), shuffled, through
 * `url` (host 0 alone, or the front end over every host). Afterwards: ARM writes per resource and
 * audit records per cause.
 */
export async function duplicateBurst(
  ctx: StackContext,
  ids: readonly string[],
  total: number,
  via: "host-0" | "front-end",
  concurrency = 64,
) {
  const items = burstWithDuplicates(ids, total);
  const url = via === "host-0" ? ctx.stack.hosts[0]!.url : ctx.stack.functionsUrl;
  const sender = new EventGridSender({ url, functionKey: ctx.stack.functionKey });
  try {
    const cpu0 = await cpuSnapshot(ctx.stack);
    const stats = await closedLoop(items, concurrency, (it) => sender.send(it.event) as Promise<Delivery>, {
      retryDelayMs: 500,
      onDeadline: () => sender.close(),
    });
    assertDelivered(stats, `${via} burst`);
    const cpu = cpuBetween(await cpuSnapshot(ctx.stack), cpu0);
    const writes = await armWritesByResource(ctx.stack, nameOf(ids[0]!).replace(/\d+$/, ""));
    const extraWrites = [...writes.values()].reduce((n, w) => n + Math.max(0, w - 1), 0);
    const unfixed = ids.filter((id) => !writes.has(nameOf(id))).length;
    return {
      events: items.length,
      resources: ids.length,
      seconds: stats.durationMs / 1000,
      // Each resource needed exactly one fix: the burst's remediations per second.
      remediationsPerSecond: ids.length / (stats.durationMs / 1000),
      eventsPerSecond: items.length / (stats.durationMs / 1000),
      extraWrites,
      unfixed,
      cpuShareOfOneCore: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, round(v / stats.durationMs, 3)]),
      ),
      cpuMsPerRemediation: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, round(v / ids.length, 2)]),
      ),
      deliveries: summary(stats),
      events_: items,
    };
  } finally {
    sender.close();
  }
}

/** GET /api/audit?resourceId= latencies on one host, sequentially. */
export async function auditQueries(ctx: StackContext, resourceIds: readonly string[]) {
  const base = ctx.stack.hosts[0]!.url;
  const latencies: number[] = [];
  let items = 0;
  for (const id of resourceIds) {
    const t = performance.now();
    const res = await fetch(`${base}/api/audit?resourceId=${encodeURIComponent(id)}`, {
      headers: { "x-functions-key": ctx.stack.functionKey },
    });
    const page = (await res.json()) as { items?: unknown[] };
    latencies.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`audit query answered ${res.status}`);
    items += page.items?.length ?? 0;
  }
  latencies.sort((a, b) => a - b);
  return {
    n: resourceIds.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    meanItems: items / resourceIds.length,
  };
}
