/**
 * `npm run bench`: benchmarks over the real code paths. Prints one JSON object per metric
 * (`{"metric","value","unit"}`) and writes them all to bench/results.json.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Seed } from "../dev/azure-sim/index.js";
import { startLocalStack } from "../dev/stack.js";
import { silentLogger } from "../shared/log.js";
import { validatePolicyText } from "../shared/policy/load.js";
import { matchPolicy } from "../shared/policy/match.js";
import { builtinRegistry } from "../shared/remediations/index.js";
import { parseEventGridDelivery } from "../shared/signals/eventgrid.js";

interface Metric {
  metric: string;
  value: number;
  unit: string;
}
const results: Metric[] = [];
function report(metric: string, value: number, unit: string): void {
  const m = { metric, value: Math.round(value * 100) / 100, unit };
  results.push(m);
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const SUB = "00000000-0000-0000-0000-0000000000cc";

function armEvent(resourceId: string) {
  return {
    id: crypto.randomUUID(),
    topic: `/subscriptions/${SUB}`,
    subject: resourceId,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      resourceUri: resourceId,
      subscriptionId: SUB,
      operationName: "Microsoft.Storage/storageAccounts/write",
      status: "Succeeded",
    },
  };
}

async function pureBenchmarks(): Promise<void> {
  const text = await readFile(path.resolve("policies/default.yaml"), "utf8");
  const { file } = validatePolicyText(text, builtinRegistry());
  if (!file) throw new Error("default policies invalid");
  const batch = Array.from({ length: 1000 }, (_, i) =>
    armEvent(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st${i}`),
  );
  // Parse + match, 20 batches of 1000 events.
  const t0 = performance.now();
  let matched = 0;
  for (let round = 0; round < 20; round++) {
    const parsed = parseEventGridDelivery(batch, {});
    if (parsed.kind !== "signals") throw new Error("unexpected");
    for (const s of parsed.signals)
      for (const t of s.targets) if (matchPolicy(file.policies, s, t)) matched++;
  }
  const ms = performance.now() - t0;
  if (matched !== 20_000) throw new Error(`expected 20000 matches, got ${matched}`);
  report("parse_and_match_events_per_second", 20_000 / (ms / 1000), "events/s");
}

async function stackBenchmarks(): Promise<void> {
  const N = 60;
  const resources = Array.from({ length: N }, (_, i) => ({
    id: `/subscriptions/${SUB}/resourceGroups/rg-bench/providers/Microsoft.Storage/storageAccounts/stbench${i}`,
    name: `stbench${i}`,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    tags: {},
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
  }));
  const seed: Seed = { resources };
  const stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed,
    log: silentLogger,
    lro: "sync",
  });
  try {
    const url = `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${stack.functionKey}`;
    const deliver = (body: unknown) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
        body: JSON.stringify(body),
      });

    // End-to-end remediation latency: HTTP delivery → read → PATCH → verify → audit record (sequential).
    const latencies: number[] = [];
    for (let i = 0; i < N / 2; i++) {
      const t = performance.now();
      const res = await deliver([armEvent(resources[i]!.id)]);
      if (res.status !== 200) throw new Error(`delivery ${res.status}`);
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    report("remediation_latency_p50", percentile(latencies, 50), "ms");
    report("remediation_latency_p95", percentile(latencies, 95), "ms");

    // Throughput: 30 concurrent deliveries of distinct resources.
    const rest = resources.slice(N / 2);
    const t1 = performance.now();
    await Promise.all(rest.map((r) => deliver([armEvent(r.id)])));
    report(
      "remediations_per_second_concurrency_30",
      rest.length / ((performance.now() - t1) / 1000),
      "remediations/s",
    );

    // Already-compliant redeliveries (read, no write, compliant record).
    const t2 = performance.now();
    await Promise.all(resources.slice(0, 30).map((r) => deliver([armEvent(r.id)])));
    report(
      "compliant_decisions_per_second_concurrency_30",
      30 / ((performance.now() - t2) / 1000),
      "decisions/s",
    );

    // Audit query latency, newest first, limit 50.
    const q: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      const res = await fetch(`${stack.functionsUrl}/api/audit?limit=50&kind=disable-public-network-access`, {
        headers: { "x-functions-key": stack.functionKey },
      });
      await res.json();
      q.push(performance.now() - t);
    }
    q.sort((a, b) => a - b);
    report("audit_query_limit50_p50", percentile(q, 50), "ms");

    // Chain verification over the whole trail.
    const t3 = performance.now();
    const verify = await stack.runtime.stores.audit.verify();
    report(
      "audit_verify_records_per_second",
      verify.records / ((performance.now() - t3) / 1000),
      "records/s",
    );
  } finally {
    await stack.close();
  }
}

await pureBenchmarks();
await stackBenchmarks();
await writeFile(path.resolve("bench", "results.json"), `${JSON.stringify(results, null, 2)}\n`);
