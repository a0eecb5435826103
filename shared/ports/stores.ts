/**
 * The ports (this folder) are the narrow interfaces between the core (signals, policy, pipeline)
 * and its adapters: Cosmos DB (shared/cosmos/), Teams (shared/approvals/notifier.ts) and the
 * in-memory fakes for tests (shared/fakes/). Each file holds one port and the rules every
 * implementation of it shares. `Stores` bundles the ports backed by the store.
 */
import type { ActionBudget } from "./action-budget.js";
import type { ApprovalStore } from "./approval-store.js";
import type { AuditStore } from "./audit-store.js";
import type { ResourceGate } from "./resource-gate.js";
import type { SweepStore } from "./sweep-store.js";
import type { TeamsConversationStore } from "./teams-conversations.js";

export interface Stores {
  audit: AuditStore;
  /** One writer per resource; remembers decided causes and interrupted intents. */
  gate: ResourceGate;
  budget: ActionBudget;
  approvals: ApprovalStore;
  /** The Teams bot's captured conversation and card messages. */
  teams?: TeamsConversationStore;
  /** The sweep lease and the posture runs (absent: this process cannot sweep). */
  sweeps?: SweepStore;
  /** Readiness probe of the backing store (Cosmos reachable). */
  ping(): Promise<void>;
}
