/** The ports backed by the store (Cosmos DB in Azure and on the local stack, in-memory fakes in unit tests). */
import type { ActionBudget } from "./action-budget.js";
import type { ApprovalStore } from "./approval-store.js";
import type { AuditStore } from "./audit-store.js";
import type { ResourceGate } from "./resource-gate.js";

export interface Stores {
  audit: AuditStore;
  /** One writer per resource; remembers decided causes and interrupted intents. */
  gate: ResourceGate;
  budget: ActionBudget;
  approvals: ApprovalStore;
  /** Readiness probe of the backing store (Cosmos reachable). */
  ping(): Promise<void>;
}
