/**
 * The Cosmos DB stand-in's own request rate, in the same run: the request mix of a remediation
 * (conditional enter, action limit, intent, record + release batch — driftguard's own gate code)
 * sent straight from this process at 64 concurrent "decisions", no host and no ARM in between,
 * counted at the stand-in. Divided by the requests per remediation it is the most remediations per
 * second the store lets through: the ceiling `throughput_vs_store_ceiling` compares against.
 */
import { CosmosActionLimit } from "../shared/cosmos/action-limit.js";
import { CosmosAuditStore } from "../shared/cosmos/audit-store.js";
import { createCosmosClient, ensureContainers } from "../shared/cosmos/client.js";
import { CosmosResourceGate } from "../shared/cosmos/resource-gate.js";
import type { Intent } from "../shared/ports/resource-gate.js";
import { diffCounts, requestCounts } from "./lib/stand-ins.js";
import { BENCH_SUB, storageAccounts } from "./lib/workload.js";

export async function storeCeiling(opts: {
  endpoint: string;
  key: string;
  ca: string;
  cosmosPid: number;
  countsDir: string;
  decisions: number;
  concurrency?: number;
  /** The stand-in's own CPU time so far (dev/proc `usage()`), to tell whether it was saturated. */
  cosmosCpuMs: () => Promise<number>;
}) {
  const client = createCosmosClient({ endpoint: opts.endpoint, key: opts.key, ca: opts.ca });
  try {
    const containers = await ensureContainers(client, "bench-ceiling");
    const audit = new CosmosAuditStore(containers.audit, { retentionDays: 0 });
    const gate = new CosmosResourceGate(containers.audit, audit);
    const actionLimit = new CosmosActionLimit(containers.counters);
    const ids = storageAccounts("rg-ceiling", "stceil", opts.decisions);
    const decide = async (resourceId: string) => {
      const cause = `${crypto.randomUUID()}|${resourceId.toLowerCase()}|disable-public-network-access`;
      const entry = await gate.enter(resourceId, cause, { leaseMs: 300_000, now: new Date() });
      if (entry.status !== "entered") throw new Error(`ceiling: expected to enter, got ${entry.status}`);
      const { session } = entry;
      await actionLimit.tryConsume("storage-private", 100_000, new Date());
      const target = {
        resourceId,
        resourceType: "Microsoft.Storage/storageAccounts",
        subscriptionId: BENCH_SUB,
      };
      const signal = {
        source: "eventgrid" as const,
        type: "Microsoft.Resources.ResourceWriteSuccess",
        id: cause.split("|")[0]!,
        correlationId: null,
      };
      const changes = [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }];
      const intent: Intent = {
        id: crypto.randomUUID(),
        cause,
        plannedAt: new Date().toISOString(),
        seqBefore: 0,
        policy: "storage-private",
        kind: "disable-public-network-access",
        params: {},
        mode: "enforce",
        signal: {
          source: "eventgrid",
          type: signal.type,
          id: signal.id,
          dedupeKey: signal.id,
          time: new Date().toISOString(),
          trigger: { eventGrid: signal.type },
          targets: [target],
        } as unknown as Intent["signal"],
        recordSignal: signal,
        target,
        changes,
        changesHash: "0".repeat(64),
        summary: "Disable public network access",
        reverts: false,
        actor: "driftguard",
      };
      await session.recordIntent(intent);
      await session.commit(
        {
          time: new Date().toISOString(),
          subscriptionId: BENCH_SUB,
          resourceId,
          resourceType: target.resourceType,
          signal,
          policy: "storage-private",
          kind: "disable-public-network-access",
          mode: "enforce",
          outcome: "remediated",
          changes,
          actor: "driftguard",
          durationMs: 20,
        },
        { causes: { [cause]: "done" } },
      );
    };
    const before = await requestCounts(opts.cosmosPid, opts.countsDir);
    const cpuBefore = process.cpuUsage();
    const cosmosCpuBefore = await opts.cosmosCpuMs();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency ?? 64 }, async () => {
        while (next < ids.length) await decide(ids[next++]!);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cosmosCpuMs = (await opts.cosmosCpuMs()) - cosmosCpuBefore;
    const counted = diffCounts(await requestCounts(opts.cosmosPid, opts.countsDir), before);
    return {
      decisions: ids.length,
      seconds,
      requests: counted.total,
      requestsPerSecond: counted.total / seconds,
      requestsPerDecision: counted.total / ids.length,
      counts: counted.counts,
      benchCpuShareOfOneCore: (cpu.user + cpu.system) / 1000 / (seconds * 1000),
      cosmosCpuShareOfOneCore: cosmosCpuMs / (seconds * 1000),
    };
  } finally {
    client.dispose();
  }
}
