/**
 * The ports (this folder) are the narrow interfaces between the core (signals, policy, pipeline)
 * and its adapters: Cosmos DB (shared/cosmos/), Teams (shared/approvals/notifier.ts) and the
 * in-memory fakes for tests (shared/fakes/). Each file holds one port and the rules every
 * implementation of it shares. `Stores` bundles the ports backed by the store.
 */
import type { ActionLimit } from "./action-limit.js";
import type { ApprovalStore } from "./approval-store.js";
import type { AuditStore } from "./audit-store.js";
import type { EventOutbox } from "./event-outbox.js";
import type { EvidenceStore } from "./evidence-store.js";
import type { ResourceGate } from "./resource-gate.js";
import type { SweepStore } from "./sweep-store.js";
import type { TeamsConversationStore } from "./teams-conversations.js";

export interface Stores {
  audit: AuditStore;
  /** One writer per resource; remembers decided causes and interrupted intents. */
  gate: ResourceGate;
  /** Per-policy action counters (`maxActionsPerHour`). */
  actionLimit: ActionLimit;
  approvals: ApprovalStore;
  /** The Teams bot's captured conversation and card messages. */
  teams?: TeamsConversationStore;
  /** Chains, heads, policy files and the last verification, for anchors and evidence packs. */
  evidence?: EvidenceStore;
  /** Pending decision events, written with their records (present when decision events are on). */
  outbox?: EventOutbox;
  /** The sweep lease and the posture runs (absent: this process cannot sweep). */
  sweeps?: SweepStore;
  /** Readiness probe of the backing store (Cosmos reachable). */
  ping(): Promise<void>;
}
