/** Builds the Cosmos DB-backed stores from settings (Managed Identity in Azure, key only locally). */
import type { TokenCredential } from "@azure/core-auth";
import type { DriftguardConfig } from "../config.js";
import type { Stores } from "../ports/stores.js";
import { CosmosActionBudget } from "./action-budget.js";
import { CosmosApprovalStore } from "./approval-store.js";
import { CosmosAuditStore } from "./audit-store.js";
import { createCosmosClient, ensureContainers } from "./client.js";
import { CosmosResourceGate } from "./resource-gate.js";
import { CosmosSweepStore } from "./sweep-store.js";
import { CosmosTeamsConversationStore } from "./teams-store.js";

export async function createCosmosStores(
  config: DriftguardConfig,
  credential: TokenCredential,
  ca?: string,
  opts: { requestTimeoutMs?: number } = {},
): Promise<Stores> {
  const client = createCosmosClient({
    endpoint: config.cosmos.endpoint,
    // The key exists only for the local stack; in Azure the app's Managed Identity is used.
    ...(config.cosmos.key ? { key: config.cosmos.key } : { credential }),
    ca,
    requestTimeoutMs: opts.requestTimeoutMs,
  });
  const containers = await ensureContainers(client, config.cosmos.database);
  const audit = new CosmosAuditStore(containers.audit, { retentionDays: config.cosmos.auditRetentionDays });
  return {
    audit,
    gate: new CosmosResourceGate(containers.audit, audit),
    budget: new CosmosActionBudget(containers.counters),
    approvals: new CosmosApprovalStore(containers.approvals),
    teams: new CosmosTeamsConversationStore(containers.approvals),
    sweeps: new CosmosSweepStore(containers.sweeps, { retentionDays: config.cosmos.auditRetentionDays }),
    ping: async () => {
      await containers.database.read();
    },
  };
}
