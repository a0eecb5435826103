/**
 * The store contracts against the real `@azure/cosmos` client and the embedded Cosmos DB server over
 * HTTPS (local-stack certificate, verification on). "Second instance" = a separate CosmosClient and
 * store object, like a second process.
 */
import type { CosmosClient } from "@azure/cosmos";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { recordId, resourceKey } from "../../shared/audit/chain.js";
import { CosmosActionLimit } from "../../shared/cosmos/action-limit.js";
import { CosmosApprovalStore } from "../../shared/cosmos/approval-store.js";
import { CosmosAuditStore } from "../../shared/cosmos/audit-store.js";
import { createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { CosmosResourceGate } from "../../shared/cosmos/resource-gate.js";
import { describeAuditStoreContract, describePortsContract } from "../audit/contract.js";

let cosmos: EmbeddedCosmos | undefined;
let ca = "";
const clients: CosmosClient[] = [];
let dbCounter = 0;

async function twoClients(): Promise<[CosmosClient, CosmosClient]> {
  if (!cosmos) {
    const tls = await loadOrCreateLocalTls();
    ca = tls.cert;
    cosmos = await startEmbeddedCosmos({ port: 0, tls });
  }
  const a = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca });
  const b = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca });
  clients.push(a, b);
  return [a, b];
}

async function closeAll(): Promise<void> {
  for (const c of clients.splice(0)) c.dispose();
  await cosmos?.close();
  cosmos = undefined;
}

describeAuditStoreContract("Cosmos DB", {
  async open() {
    const [a, b] = await twoClients();
    const db = `audit-${process.pid}-${++dbCounter}`;
    const [ca1, ca2] = await Promise.all([ensureContainers(a, db), ensureContainers(b, db)]);
    const store = new CosmosAuditStore(ca1.audit, { retentionDays: 0 });
    const second = new CosmosAuditStore(ca2.audit, { retentionDays: 0 });
    const container = ca1.audit;
    return {
      store,
      second,
      raw: {
        async tamper(resourceId, seq, mutate) {
          const pk = resourceKey(resourceId);
          const item = container.item(recordId(resourceId, seq), pk);
          const { resource } = await item.read<Record<string, unknown>>();
          if (!resource) throw new Error(`no record ${seq}`);
          mutate(resource);
          await item.replace(resource);
        },
        async remove(resourceId, seq) {
          await container.item(recordId(resourceId, seq), resourceKey(resourceId)).delete();
        },
        async dump() {
          const { resources } = await container.items.query("SELECT * FROM c").fetchAll();
          return JSON.stringify(resources);
        },
      },
    };
  },
  close: closeAll,
});

describePortsContract("Cosmos DB", {
  async open() {
    const [a, b] = await twoClients();
    const db = `ports-${process.pid}-${++dbCounter}`;
    const c1 = await ensureContainers(a, db);
    const c2 = await ensureContainers(b, db);
    const audit = new CosmosAuditStore(c1.audit, { retentionDays: 0 });
    return {
      gate: new CosmosResourceGate(c1.audit, audit),
      gate2: new CosmosResourceGate(c2.audit, new CosmosAuditStore(c2.audit, { retentionDays: 0 })),
      audit,
      actionLimit: new CosmosActionLimit(c1.counters),
      actionLimit2: new CosmosActionLimit(c2.counters),
      approvals: new CosmosApprovalStore(c1.approvals),
      approvals2: new CosmosApprovalStore(c2.approvals),
      rawApprovals: async () =>
        JSON.stringify((await c1.approvals.items.query("SELECT * FROM c").fetchAll()).resources),
    };
  },
  close: closeAll,
});
