/**
 * Sweep benchmark (docs/performance.md#sweep): the `npm run seed:large` estate (10,000 resources in
 * 20 subscriptions, 2 % drifted) behind a separate-process stack (one host; Cosmos DB stand-in and
 * simulator in their own processes). The host's `sweep` timer runs twice: the first run fixes the
 * drift, the second finds nothing. From the simulator's request log and the posture:
 *
 * - `sweep_resources_per_s`: Resource Graph rows evaluated per second by the second run (nothing drifts);
 * - `sweep_arm_reads_per_compliant`: ARM requests touching a compliant resource, per compliant resource,
 *   over both runs (the snapshot decides: 0);
 * - `sweep_graph_queries`: Resource Graph requests of the second run, against the pages the rows need + 1;
 * - `sweep_second_run_writes`: ARM/Key Vault writes and audit records of the second run (0).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { LoggedRequest } from "../dev/azure-sim/index.js";
import { startProcessStack } from "../dev/proc/stack.js";
import { largeSeed } from "../dev/seed-large.js";
import { check, type Results } from "./lib/report.js";

const POLICIES = `version: 1
policies:
  - name: ai-services-private
    resourceTypes:
      - Microsoft.MachineLearningServices/workspaces
      - Microsoft.Storage/storageAccounts
      - Microsoft.CognitiveServices/accounts
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    maxActionsPerHour: 100000
  - name: no-internet-inbound
    resourceTypes:
      - Microsoft.Network/networkSecurityGroups
      - Microsoft.Network/networkSecurityGroups/securityRules
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: close-internet-inbound-rule
    maxActionsPerHour: 100000
`;

const GRAPH = "/providers/microsoft.resourcegraph/resources";

/** `/subscriptions/s/resourceGroups/g/providers/ns/type/name` of any path under a resource. */
function topLevelId(p: string): string {
  return p.toLowerCase().split("/").slice(0, 9).join("/");
}

interface PostureItem {
  runId: string;
  startedAt: string;
  endedAt: string;
  policies: {
    scanned: number;
    compliant: number;
    nonCompliant: number;
    remediated: number;
    failed: number;
  }[];
}

export async function sweepBench(
  results: Results,
  opts: { resources: number; subscriptions: number; drift: number; log: (s: string) => void },
): Promise<void> {
  const seed = largeSeed({ resources: opts.resources, subscriptions: opts.subscriptions, drift: opts.drift });
  const dir = await mkdtemp(path.join(os.tmpdir(), "driftguard-bench-sweep-"));
  const policyFile = path.join(dir, "policies.yaml");
  await writeFile(policyFile, POLICIES);
  const { drifted, ...seedFile } = seed;
  const seedPath = path.join(dir, "seed.json");
  await writeFile(seedPath, JSON.stringify(seedFile));
  const stack = await startProcessStack({
    hosts: 1,
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: seedPath,
    policyFile,
    lro: "sync",
    logLevel: "error",
    functionKey: "bench-function-key-0123456789abcdef",
    env: { DRIFTGUARD_SWEEP_MAX_CHANGES: "100000", DRIFTGUARD_SWEEP_MODE: "policy" },
    cosmosRequestTimeoutMs: 120_000,
    readyTimeoutMs: 180_000,
  });
  try {
    const host = stack.hosts[0]!;
    const posture = async (): Promise<PostureItem[]> => {
      const res = await fetch(`${stack.functionsUrl}/api/posture?limit=10`, {
        headers: { "x-functions-key": stack.functionKey },
      });
      return ((await res.json()) as { items: PostureItem[] }).items;
    };
    const records = async (): Promise<number> => {
      const res = await fetch(`${stack.functionsUrl}/api/audit?limit=1000&source=sweep`, {
        headers: { "x-functions-key": stack.functionKey },
      });
      return ((await res.json()) as { items: unknown[] }).items.length;
    };

    await stack.sim.admin.clearRequests();
    opts.log(`sweep 1 of ${opts.resources} resources (${drifted.length} drifted)…`);
    const first = await host.runTimer("sweep", 1_800_000);
    if (!first.ok) throw new Error(`first sweep failed: ${first.error}`);
    const firstRequests = await stack.sim.admin.requests();
    const recordsAfterFirst = await records();

    await stack.sim.admin.clearRequests();
    opts.log("sweep 2 (nothing drifts)…");
    const t0 = performance.now();
    const second = await host.runTimer("sweep", 1_800_000);
    const elapsedS = (performance.now() - t0) / 1000;
    if (!second.ok) throw new Error(`second sweep failed: ${second.error}`);
    const secondRequests = await stack.sim.admin.requests();
    const secondWrites = await stack.sim.admin.writes();
    const recordsAfterSecond = await records();

    const [run2, run1] = await posture();
    if (!run1 || !run2) throw new Error("the sweeps wrote no posture");
    const sum = (r: PostureItem, k: keyof PostureItem["policies"][number]) =>
      r.policies.reduce((n, p) => n + p[k], 0);
    const rows = opts.resources;

    // Reads that touched a compliant resource: ARM requests (not Resource Graph) under a resource
    // none of whose parts drifted.
    const driftedTop = new Set(drifted.map(topLevelId));
    const compliantTouched = (reqs: LoggedRequest[]) =>
      reqs.filter(
        (r) =>
          r.origin === "arm" &&
          r.path.toLowerCase().replace(/\/+$/, "") !== GRAPH &&
          !driftedTop.has(topLevelId(r.path)),
      ).length;
    const compliantCount = rows - driftedTop.size;
    const armReadsPerCompliant =
      (compliantTouched(firstRequests) + compliantTouched(secondRequests)) / compliantCount;
    const graphQueries = secondRequests.filter(
      (r) => r.path.toLowerCase().replace(/\/+$/, "") === GRAPH,
    ).length;
    const pagesNeeded = Math.ceil(rows / 1000);
    const perSecond = rows / elapsedS;

    results.add({
      metric: "sweep_resources_per_s",
      value: perSecond,
      unit: "resources/s",
      ...check(perSecond, ">=", 2_000),
      what: `second sweep (nothing drifts) of the seed:large estate: ${rows} resources, ${opts.subscriptions} subscriptions, timer run on one host process, wall time incl. lease and posture writes`,
      elapsed_s: elapsedS,
      posture_run_ms: Date.parse(run2.endedAt) - Date.parse(run2.startedAt),
    });
    results.add({
      metric: "sweep_arm_reads_per_compliant",
      value: armReadsPerCompliant,
      unit: "requests/resource",
      ...check(armReadsPerCompliant, "==", 0),
      what: "ARM requests touching a compliant resource over both sweeps, per compliant resource (simulator request log)",
      compliant: compliantCount,
    });
    results.add({
      metric: "sweep_graph_queries",
      value: graphQueries,
      unit: "queries",
      ...check(graphQueries, "<=", pagesNeeded + 1),
      what: `Resource Graph requests of one sweep of ${rows} resources (${pagesNeeded} pages of 1,000 needed)`,
    });
    const secondRunWrites = secondWrites.length + (recordsAfterSecond - recordsAfterFirst);
    results.add({
      metric: "sweep_second_run_writes",
      value: secondRunWrites,
      unit: "writes",
      ...check(secondRunWrites, "==", 0),
      what: "ARM/Key Vault writes plus audit records of a sweep right after one that fixed every drifted resource",
      first_run: {
        nonCompliant: sum(run1, "nonCompliant"),
        remediated: sum(run1, "remediated"),
        failed: sum(run1, "failed"),
        writes: firstRequests.filter((r) => ["PUT", "PATCH", "DELETE"].includes(r.method)).length,
        seconds: (Date.parse(run1.endedAt) - Date.parse(run1.startedAt)) / 1000,
      },
    });
  } finally {
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  }
}
