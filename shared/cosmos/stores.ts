/** Builds the Cosmos DB-backed stores from settings (Managed Identity in Azure, key only locally). */
import type { TokenCredential } from "@azure/core-auth";
import type { DriftguardConfig } from "../config.js";
import type { Stores } from "../ports/stores.js";
import { CosmosActionLimit } from "./action-limit.js";
import { CosmosApprovalStore } from "./approval-store.js";
import { CosmosAuditStore } from "./audit-store.js";
import { configuredCosmosClient, ensureContainers } from "./client.js";
import { CosmosEvidenceStore } from "./evidence-store.js";
import { CosmosResourceGate } from "./resource-gate.js";
import { CosmosSweepStore } from "./sweep-store.js";
import { CosmosTeamsConversationStore } from "./teams-store.js";

export async function createCosmosStores(
  config: DriftguardConfig,
  credential: TokenCredential,
  ca?: string,
  opts: { requestTimeoutMs?: number } = {},
): Promise<Stores> {
  const client = configuredCosmosClient(config, credential, ca, opts.requestTimeoutMs);
  const containers = await ensureContainers(client, config.cosmos.database);
  const audit = new CosmosAuditStore(containers.audit, {
    retentionDays: config.cosmos.auditRetentionDays,
    // Decision events on: every record is written together with its outbox entry (docs/events.md).
    ...(config.events.endpoint ? { events: { outcomes: config.events.outcomes } } : {}),
  });
  return {
    audit,
    gate: new CosmosResourceGate(containers.audit, audit),
    actionLimit: new CosmosActionLimit(containers.counters),
    approvals: new CosmosApprovalStore(containers.approvals),
    teams: new CosmosTeamsConversationStore(containers.approvals),
    evidence: new CosmosEvidenceStore(containers.audit, audit),
    ...(audit.outbox ? { outbox: audit.outbox } : {}),
    sweeps: new CosmosSweepStore(containers.sweeps, { retentionDays: config.cosmos.auditRetentionDays }),
    ping: async () => {
      await containers.database.read();
    },
  };
}
