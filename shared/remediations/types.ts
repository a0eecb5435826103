/**
 * The remediation contract. Each kind is a module exporting `remediation` (listed in
 * `./index.ts`, which builds the registry): read the resource's *current* state → plan exact
 * changes (or nothing) → apply (with If-Match where the API offers it) → verify by reading back.
 * Events arrive at least once and out of order, so nothing here trusts the event payload beyond
 * "which resource".
 */
import type { z } from "zod";
import type { AuditQuery, AuditRecord, Change } from "../audit/types.js";
import type { AzureClients } from "../azure/clients.js";
import type { Logger } from "../log.js";
import type { Policy } from "../policy/schema.js";
import type { Signal, SignalTarget } from "../signals/types.js";

/** Read-only view of the audit trail, for kinds that reverse what they did (scale restore). */
export interface AuditHistory {
  /** Newest first. */
  query(q: AuditQuery): Promise<{ items: AuditRecord[]; continuationToken: string | null }>;
}

/** The client factories of `AzureClients` a kind may call. */
export type AzureService = keyof Pick<
  AzureClients,
  | "network"
  | "storage"
  | "containerService"
  | "machineLearning"
  | "keyVaultManagement"
  | "cognitiveServices"
  | "apiManagement"
  | "secrets"
>;

export interface RemediationContext<P = unknown> {
  /** The resource the signal is about (from the signal, already matched to the policy). */
  target: SignalTarget;
  signal: Signal;
  policy: Policy;
  /** The policy's `params`, parsed once with the kind's `paramsSchema` when the policy was loaded
   *  (defaults applied): kinds use them as they are. */
  params: P;
  clients: AzureClients;
  history: AuditHistory;
  now: () => Date;
  log: Logger;
  /** Progress an interrupted run of the same plan saved with `checkpoint` (a resumed run). */
  resume?: Record<string, unknown>;
  /** Saves kind-specific progress with the intent (e.g. "key2 regenerated"), so that a run resumed
   *  after an interruption does not repeat a step that must happen at most once. Never secrets. */
  checkpoint?(progress: Record<string, unknown>): Promise<void>;
}

/** Current state as read from Azure. */
export interface Current<S> {
  state: S;
  /** Tags that govern this resource (for children: the parent's, merged with its own). Used for
   *  the opt-out tag `driftguard:exclude`. */
  tags: Record<string, string>;
}

export type Plan<D = unknown> =
  | { action: "noop"; reason: string }
  | {
      action: "change";
      /** Exact changes, `{path, from, to}` — recorded in every outcome (dry-run, pending-approval, …). */
      changes: Change[];
      /** One line for people: Teams card, CLI, demo output. */
      summary: string;
      /** True when this plan reverses an earlier remediation (outcome `reverted` on success). */
      reverts?: boolean;
      /** Kind-specific data `apply`/`verify` need (never secret values). */
      data: D;
      /** Non-secret facts stored on the record for later runs (e.g. `{restoreAt}`). */
      followUp?: Record<string, unknown>;
    };

export type ChangePlan<D = unknown> = Extract<Plan<D>, { action: "change" }>;

export interface VerifyResult {
  ok: boolean;
  /** Why verification failed (read-back differs from the plan). */
  detail?: string;
}

export interface KindPermissions {
  /** ARM operations on the resources a policy of this kind governs (at its scope). */
  actions: readonly string[];
  /** Data-plane operations at the same scope (Key Vault secret values). */
  dataActions?: readonly string[];
  /** Operations needed only for some targets, granted only where those targets live (two-credential
   *  rotation: the provider accounts' keys; closing a vault; an endpoint's user-assigned identities). */
  conditionalActions?: readonly string[];
}

export interface Remediation<P = unknown, S = unknown, D = unknown> {
  /** Stable name (docs/policies.md#remediation-kinds), e.g. `disable-public-network-access`. */
  readonly kind: string;
  /** One line for people: what the kind does (`driftguard policy schema` prints it). */
  readonly description: string;
  /** A complete policy file (YAML) using this kind; a test validates it with the real loader. */
  readonly example: string;
  /** The `AzureClients` services the kind calls, so that clients can be loaded per kind. */
  readonly services: readonly AzureService[];
  /** The Azure RBAC operations the kind performs (what its role must grant; `driftguard doctor`
   *  checks them, the infra test checks the roles grant exactly these). */
  readonly permissions: KindPermissions;
  /** Validates the policy's `params` for this kind (once, when the policy file is loaded). */
  readonly paramsSchema: z.ZodType<P>;
  /** Change paths whose `to` is computed at plan time (e.g. an expiry of now + N days): an approval
   *  binds their path and `from`, not their exact `to`. */
  readonly volatileChangePaths?: readonly string[];
  /** ARM resource types (case-insensitive) this kind can act on. */
  supports(resourceType: string): boolean;
  /** Reads current state. Throws RemediationError (step `read`). */
  read(ctx: RemediationContext<P>): Promise<Current<S>>;
  /** Pure decision from current state (and, for reversals, the audit history). */
  plan(current: Current<S>, ctx: RemediationContext<P>): Promise<Plan<D>> | Plan<D>;
  /**
   * Applies the plan and returns the changes as made: the plan's, with what is only known after the
   * write filled in (e.g. the new secret version). These are recorded and handed to `verify`. Throws
   * RemediationError naming the failed step.
   */
  apply(plan: ChangePlan<D>, ctx: RemediationContext<P>): Promise<Change[]>;
  /** Reads back and checks the plan took effect; `plan.changes` are the ones `apply` returned. */
  verify(plan: ChangePlan<D>, ctx: RemediationContext<P>): Promise<VerifyResult>;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry and the pipeline drive kinds of any param/state/data type
export type AnyRemediation = Remediation<any, any, any>;
