/** On-demand rotation: resolves the vault's resource ID and runs the pipeline with a `manual` signal. */

import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Decision } from "../shared/pipeline.js";
import { parseResourceId } from "../shared/resource-id.js";
import type { Runtime } from "../shared/runtime.js";
import type { Signal } from "../shared/signals/types.js";
import { LOCAL_STACK_FILE } from "./context.js";

/** Subscriptions to look in: AZURE_SUBSCRIPTION_ID, policy scopes, and the local stack's seed. */
async function candidateSubscriptions(runtime: Runtime): Promise<string[]> {
  const subs = new Set<string>();
  if (process.env.AZURE_SUBSCRIPTION_ID) subs.add(process.env.AZURE_SUBSCRIPTION_ID);
  for (const p of runtime.pipeline.deps.policies)
    for (const s of p.scope) subs.add(parseResourceId(s).subscriptionId);
  try {
    const info = JSON.parse(await readFile(LOCAL_STACK_FILE, "utf8")) as { subscriptions?: string[] };
    for (const s of info.subscriptions ?? []) subs.add(s);
  } catch {
    // no local stack
  }
  return [...subs];
}

export async function findVaultId(runtime: Runtime, vault: string): Promise<string> {
  const subs = await candidateSubscriptions(runtime);
  if (subs.length === 0)
    throw new Error(
      "cannot find the vault: set AZURE_SUBSCRIPTION_ID or scope a rotate-secret policy to a subscription",
    );
  for (const sub of subs) {
    for await (const v of runtime.clients.keyVaultManagement(sub).vaults.listBySubscription()) {
      if (v.name?.toLowerCase() === vault.toLowerCase() && v.id) return v.id;
    }
  }
  throw new Error(`vault '${vault}' not found in subscription(s) ${subs.join(", ")}`);
}

export async function rotateOnDemand(
  runtime: Runtime,
  vault: string,
  secret: string,
  opts: { dryRun: boolean },
): Promise<Decision[]> {
  const vaultId = await findVaultId(runtime, vault);
  const id = parseResourceId(vaultId);
  const now = runtime.clock.now();
  const requestId = randomUUID();
  const signal: Signal = {
    source: "manual",
    type: "manual.rotate",
    id: requestId,
    dedupeKey: `manual:rotate:${requestId}`,
    time: now.toISOString(),
    subscriptionId: id.subscriptionId,
    trigger: { manual: "rotate" },
    targets: [
      {
        resourceId: `${id.id}/secrets/${secret}`,
        resourceType: "Microsoft.KeyVault/vaults/secrets",
        subscriptionId: id.subscriptionId,
      },
    ],
    keyVault: { vaultName: id.name, objectType: "Secret", objectName: secret },
  };
  return runtime.pipeline.handle(signal, { dryRun: opts.dryRun, actor: "cli:rotate" });
}
