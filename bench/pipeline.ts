/**
 * `pipeline_us_per_event`: driftguard's own work per event, in one process, with in-memory adapters
 * and no network: parse (JSON) → validate (Event Grid + ARM event schemas) → policy (match) → read
 * (an in-memory ARM holding the resource, shaped as the SDK returns it) → plan. 100,000 real-shaped
 * events about storage accounts, half of them drifted (a change is planned), half compliant.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { AzureClients } from "../shared/azure/clients.js";
import { silentLogger } from "../shared/log.js";
import { validatePolicyText } from "../shared/policy/load.js";
import { matchPolicy } from "../shared/policy/match.js";
import { builtinRegistry } from "../shared/remediations/index.js";
import type { RemediationContext } from "../shared/remediations/types.js";
import { parseJsonBody } from "../shared/signals/body.js";
import { parseEventGridDelivery } from "../shared/signals/eventgrid.js";
import { percentile } from "./lib/report.js";
import { armWriteEvent, driftedStorageAccount, storageAccounts } from "./lib/workload.js";

export interface PipelineResult {
  events: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  planned: { change: number; noop: number };
}

/** The in-memory ARM: storage accounts as `storageAccounts.getProperties` returns them. */
function inMemoryClients(accounts: Map<string, ReturnType<typeof driftedStorageAccount>>): AzureClients {
  const storage = {
    storageAccounts: {
      getProperties: async (resourceGroup: string, name: string) => {
        const a = accounts.get(`${resourceGroup}/${name}`.toLowerCase());
        if (!a) throw Object.assign(new Error("ResourceNotFound"), { statusCode: 404 });
        return { ...a, ...a.properties, provisioningState: "Succeeded" };
      },
    },
  };
  return { storage: () => storage, lro: {} } as unknown as AzureClients;
}

export async function runPipelineBench(events = 100_000, warmup = 5_000): Promise<PipelineResult> {
  // The shipped default policies: storage accounts are matched among all of them, first match wins.
  const registry = builtinRegistry();
  const { file, issues } = validatePolicyText(
    await readFile(path.resolve("policies/default.yaml"), "utf8"),
    registry,
  );
  if (!file) throw new Error(`policies/default.yaml is invalid: ${JSON.stringify(issues)}`);
  const policies = file.policies;
  const ids = storageAccounts("rg-pipeline", "stpipe", 1000);
  const accounts = new Map(
    ids.map((id, i) => {
      const a = driftedStorageAccount(id);
      if (i % 2)
        Object.assign(a.properties, { publicNetworkAccess: "Disabled", allowBlobPublicAccess: false });
      return [`rg-pipeline/${a.name}`.toLowerCase(), a] as const;
    }),
  );
  const clients = inMemoryClients(accounts);
  const planned = { change: 0, noop: 0 };

  const one = async (body: Buffer) => {
    const parsed = parseEventGridDelivery(parseJsonBody(body), {});
    if (parsed.kind !== "signals") throw new Error("expected signals");
    for (const signal of parsed.signals) {
      for (const target of signal.targets) {
        const policy = matchPolicy(policies, signal, target);
        if (!policy) throw new Error(`no policy for ${target.resourceId}`);
        const remediation = registry.get(policy.kind)!;
        const ctx: RemediationContext = {
          target,
          signal,
          policy,
          params: policy.params,
          clients,
          history: { query: async () => ({ items: [], continuationToken: null }) },
          now: () => new Date(),
          log: silentLogger,
        };
        const current = await remediation.read(ctx);
        const plan = await remediation.plan(current, ctx);
        planned[plan.action === "noop" ? "noop" : "change"]++;
      }
    }
  };

  const samples = new Float64Array(events);
  for (let i = 0; i < warmup + events; i++) {
    // Each event is new (its own IDs), serialized as Event Grid sends it; not timed.
    const body = Buffer.from(JSON.stringify([armWriteEvent(ids[i % ids.length]!)]));
    const t0 = process.hrtime.bigint();
    await one(body);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (i >= warmup) samples[i - warmup] = us;
  }
  const sorted = Array.from(samples).sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  planned.change = Math.round((planned.change * events) / (events + warmup));
  planned.noop = Math.round((planned.noop * events) / (events + warmup));
  return { events, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99), meanUs: mean, planned };
}
