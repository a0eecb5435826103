import { InMemoryActionLimit } from "../../shared/fakes/action-limit.js";
import { InMemoryApprovalStore } from "../../shared/fakes/approval-store.js";
import { InMemoryAuditStore } from "../../shared/fakes/audit-store.js";
import { InMemoryResourceGate } from "../../shared/fakes/resource-gate.js";
import { describeAuditStoreContract, describePortsContract } from "./contract.js";

describeAuditStoreContract("in-memory", {
  async open() {
    // One store object stands for the shared storage; the "second instance" shares it, like two
    // function instances sharing one Cosmos container.
    const store = new InMemoryAuditStore();
    return {
      store,
      second: store,
      raw: {
        async tamper(resourceId, seq, mutate) {
          const rec = store.unsafeStoredChain(resourceId).find((r) => r.seq === seq);
          if (!rec) throw new Error(`no record ${seq}`);
          mutate(rec as unknown as Record<string, unknown>);
        },
        async remove(resourceId, seq) {
          if (!store.unsafeRemove(resourceId, seq)) throw new Error(`no record ${seq}`);
        },
        async dump() {
          return JSON.stringify((await store.query({ limit: 1000 })).items);
        },
      },
    };
  },
});

describePortsContract("in-memory", {
  async open() {
    const audit = new InMemoryAuditStore();
    const gate = new InMemoryResourceGate(audit);
    const actionLimit = new InMemoryActionLimit();
    const approvals = new InMemoryApprovalStore();
    return {
      gate,
      gate2: gate,
      audit,
      actionLimit,
      actionLimit2: actionLimit,
      approvals,
      approvals2: approvals,
      rawApprovals: async () =>
        JSON.stringify(
          await Promise.all((await approvals.listExpired(new Date(8.64e15))).map((a) => approvals.get(a.id))),
        ),
    };
  },
});
