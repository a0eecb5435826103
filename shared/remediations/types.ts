/**
 * The remediation contract. Each kind is a module exporting `remediation` (listed in
 * `./index.ts`, which builds the registry): read the resource's *current* state → plan exact
 * changes (or nothing) → apply (with If-Match where the API offers it) → verify by reading back.
 * Events arrive at least once and out of order, so nothing here trusts the event payload beyond
 * "which resource".
 */
import type { z } from "zod";
import type { AuditQuery, AuditRecord, Change } from "../audit/types.js";
import type { AzureClients, AzureService } from "../azure/clients.js";
import type { Logger } from "../log.js";
import type { Policy } from "../policy/schema.js";
import type { Signal, SignalTarget } from "../signals/types.js";

/** Read-only view of the audit trail, for kinds that reverse what they did (scale restore). */
export interface AuditHistory {
  /** Newest first. */
  query(q: AuditQuery): Promise<{ items: AuditRecord[]; continuationToken: string | null }>;
}

/** The client factories of `AzureClients` a kind may call: the one list in shared/azure/clients.ts. */
export type { AzureService } from "../azure/clients.js";

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

/**
 * A run a kind schedules for later through its records (e.g. a throttle's cooldown restore): the
 * audit trail is the schedule, so nothing depends on a process staying up. The `runFollowUps`
 * timer asks every kind's follow-ups what is due and runs each through the pipeline, pinned to
 * its policy; the signal's dedupe key makes each happen once.
 */
export interface FollowUp {
  /** Stable name, for logs and docs (e.g. `cooldown-restore`). */
  readonly name: string;
  /** What is due at `now`, found in the trail (`kind`: the kind's name, for its queries). */
  due(ctx: { kind: string; history: AuditHistory; now: Date }): Promise<DueFollowUp[]>;
}

export interface DueFollowUp {
  /** The policy the run is pinned to (the one whose record scheduled it). */
  policy: string;
  /** A `source: "timer"` signal whose dedupe key names what it follows up (once per due item). */
  signal: Signal;
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
  /** Runs the kind schedules for later through its records (the `runFollowUps` timer runs them). */
  readonly followUps?: readonly FollowUp[];
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
  /** How the kind finds candidates in a sweep; absent: the kind does not sweep (alert-driven kinds). */
  // biome-ignore lint/suspicious/noExplicitAny: a kind's sweep state is its own
  readonly sweep?: SweepSupport<P, any>;
}

/**
 * One row of Azure Resource Graph's `resources` table, as a sweep reads it (`project id, name, type,
 * kind, subscriptionId, resourceGroup, location, tags, properties`): `properties` as ARM returns them.
 */
export interface SweepRow {
  id: string;
  name: string;
  /** Lower-case in Resource Graph (e.g. `microsoft.storage/storageaccounts`). */
  type: string;
  /** The resource's `kind` (e.g. `StorageV2`, `FileStorage`, `OpenAI`), when it has one. */
  kind?: string;
  subscriptionId: string;
  resourceGroup: string;
  location?: string;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
}

/**
 * A resource a row stands for, as the pipeline would target it: the row itself, a child held inline
 * in the row (an NSG's rule), or a child read per row (a vault's secrets).
 */
export interface SweepSubject<S = unknown> {
  resourceId: string;
  /** Full ARM type, children included: policies' `resourceTypes` and `scope` are matched on it. */
  resourceType: string;
  /** The tags `read` would report for it (the sweep decides exemptions from them, with no ARM call). */
  tags: Record<string, string>;
  /** A resource whose tags govern this one too, under its own (an online endpoint's workspace):
   *  the sweep looks them up in Resource Graph. */
  inheritTagsFrom?: string;
  /** What `finding` decides on: from the row's `properties`, or read per row. Never secret values. */
  state: S;
}

export interface SweepContext<P = unknown> {
  /** Whether some sweeping policy of this kind names `resourceType` (e.g. NSG rules, or only NSGs). */
  covers(resourceType: string): boolean;
  /**
   * The policy that governs a subject at `resourceId` of `resourceType` in this run (the first policy
   * of the kind matching type and scope) with its parsed params, or undefined when that policy does
   * not sweep: a per-row kind asks before it reads, so that only rows a sweeping policy governs cost
   * a read, and may filter on the params with no read (e.g. a required tag).
   */
  governing(resourceId: string, resourceType: string): { policy: string; params: P } | undefined;
  /** Per-row reads (kinds whose state is not in Resource Graph's `resources` table). */
  clients: AzureClients;
  now: Date;
  log: Logger;
}

/**
 * How a kind takes part in a sweep of the estate (docs/policies.md#sweep). A sweep reads Resource
 * Graph once for the union of `rowTypes` over the sweeping policies, turns each row into `subjects`,
 * picks each subject's policy (first policy of the kind whose `resourceTypes` and `scope` match it)
 * and asks `finding` whether it is non-compliant under that policy's params. Only non-compliant
 * subjects reach the pipeline (which then reads the current state as for any signal); a compliant
 * one costs no ARM request when `subjects` reads nothing (`reads: "none"`).
 */
export interface SweepSupport<P = unknown, S = unknown> {
  /** Resource Graph `resources` types (lower-case) holding what policies naming these
   *  `resourceTypes` govern: e.g. NSG rules live in their NSG's row, secrets are read per vault. */
  rowTypes(policyResourceTypes: readonly string[]): readonly string[];
  /** `none`: subjects and their state come from the row alone. `per-row`: `subjects` calls Azure
   *  for each row (state outside the `resources` table); docs/performance.md lists the cost. */
  readonly reads: "none" | "per-row";
  /** The subjects a row stands for. With `reads: "none"` it must not call Azure. */
  subjects(row: SweepRow, ctx: SweepContext<P>): SweepSubject<S>[] | Promise<SweepSubject<S>[]>;
  /** Why the subject is non-compliant under `params` (one line for the report), or undefined when
   *  it is compliant. Pure: decided from `subject.state`, never from a read. */
  finding(subject: SweepSubject<S>, params: P, now: Date): string | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry and the pipeline drive kinds of any param/state/data type
export type AnyRemediation = Remediation<any, any, any>;
