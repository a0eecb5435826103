/**
 * Composition root: builds the pipeline, the approval lifecycle beside it, and their adapters from
 * validated settings. The function triggers get everything through `getRuntime()`; the local host
 * and tests install their own runtime (pointing at the simulator and the embedded Cosmos DB) with
 * `setRuntime()`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { TokenCredential } from "@azure/core-auth";
import { lazyBlobAnchorStore } from "./anchors/blob-store.js";
import type { ApproverRules } from "./approvals/authorize.js";
import { ApprovalLifecycle } from "./approvals/lifecycle.js";
import type { NotifierDeps } from "./approvals/notifier.js";
import { AzureClients, productionVaultUrl } from "./azure/clients.js";
import type { DriftguardConfig } from "./config.js";
import { loadConfig } from "./config.js";
import { decisionSource } from "./events/decision-event.js";
import { eventGridSink } from "./events/event-grid-sink.js";
import { DecisionPublisher, type EventSink } from "./events/publisher.js";
import { createLogger, type Logger } from "./log.js";
import { DEFAULT_BUSY_WAIT_MS, DEFAULT_LEASE_MS, Pipeline, type PipelineDeps } from "./pipeline.js";
import { loadPolicyFileSource } from "./policy/load.js";
import type { AnchorStore } from "./ports/anchor-store.js";
import type { ApprovalStore } from "./ports/approval-store.js";
import { type Clock, systemClock } from "./ports/clock.js";
import type { Notifier } from "./ports/notifier.js";
import type { Stores } from "./ports/stores.js";
import { builtinRegistry, type RemediationRegistry } from "./remediations/index.js";
import type { BotConnector } from "./teams/connector.js";
import { recordDecision } from "./telemetry/api.js";
import { initTelemetry } from "./telemetry/setup.js";
import { traced } from "./telemetry/traced.js";

export interface Runtime {
  config: DriftguardConfig;
  pipeline: Pipeline;
  /** Requests, decisions, approved runs and expiry of approvals (built beside the pipeline). */
  approvalLifecycle: ApprovalLifecycle;
  /** The kinds the policies were loaded with (follow-ups come from here). */
  registry: RemediationRegistry;
  stores: Stores;
  clients: AzureClients;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  /** The anchor container (DRIFTGUARD_ANCHOR_CONTAINER_URL); undefined when none is configured. */
  anchors?: AnchorStore;
  /** SHA-256 of the loaded policy file (records carry it as `policyFileHash`). */
  policyFileHash: string;
  /** Publishes decisions as CloudEvents (present when DRIFTGUARD_EVENTS_ENDPOINT is set). */
  events?: DecisionPublisher;
  /** A Bot Connector client with the app's identity (the bot's own messages outside approvals:
   *  asking the captured conversation to confirm a move, shared/teams/installation.ts). */
  teamsConnector?: (serviceUrl: string) => Promise<BotConnector>;
}

export interface RuntimeOverrides {
  credential?: TokenCredential;
  stores?: Stores;
  notifier?: Notifier;
  clock?: Clock;
  log?: Logger;
  /** Trusted CA (PEM) for ARM/Key Vault/Cosmos; defaults to the file named by DRIFTGUARD_CA_FILE. */
  ca?: string;
  lroPollIntervalMs?: number;
  retry?: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
  busyWaitMs?: number;
  /** Resource lease length (tests shorten it so takeovers happen within a test). */
  leaseMs?: number;
  /** Cosmos request timeout (ms); the local stack shortens it so a frozen store fails fast. */
  cosmosRequestTimeoutMs?: number;
  onDecision?: PipelineDeps["onDecision"];
  /** Replaces the configured anchor container (tests). */
  anchors?: AnchorStore;
  /** Decision events: replaces the Event Grid topic (tests), and the publisher's timings. */
  events?: { sink?: EventSink; minAgeMs?: number; pauseMs?: number };
}

/** Managed Identity in Azure (user-assigned when AZURE_CLIENT_ID is set); developer credentials elsewhere. */
async function productionCredential(config: DriftguardConfig): Promise<TokenCredential> {
  const identity = await import("@azure/identity");
  if (config.inAzure)
    return new identity.ManagedIdentityCredential(
      config.azureClientId ? { clientId: config.azureClientId } : {},
    );
  return new identity.DefaultAzureCredential(
    config.azureClientId ? { managedIdentityClientId: config.azureClientId } : {},
  );
}

/**
 * The configured notifier, loaded when the first approval is requested: its card templating is the
 * largest package driftguard has, and most decisions never need it (see docs/performance.md).
 */
function notifierOnFirstUse(config: DriftguardConfig, log: Logger, deps: NotifierDeps): Notifier {
  let notifier: Promise<Notifier> | undefined;
  const load = () => {
    notifier ??= import("./approvals/notifier.js")
      .then((m) => m.createNotifier(config, log, deps))
      .catch((err: unknown) => {
        notifier = undefined; // the next approval tries again
        throw err;
      });
    return notifier;
  };
  return {
    requestApproval: async (approval) => (await load()).requestApproval(approval),
    approvalChanged: async (approval, change) => (await load()).approvalChanged?.(approval, change),
  };
}

export async function createRuntime(
  config: DriftguardConfig,
  overrides: RuntimeOverrides = {},
): Promise<Runtime> {
  const credential = overrides.credential ?? (await productionCredential(config));
  // Telemetry first, so that the logger and every store and SDK call below are covered.
  const telemetry = await initTelemetry(config.telemetry, { credential });
  const log = overrides.log ?? createLogger();
  const clock = overrides.clock ?? systemClock;
  const ca = overrides.ca ?? (config.caFile ? readFileSync(config.caFile, "utf8") : undefined);
  const registry = builtinRegistry();
  const policies = await loadPolicyFileSource(config.policyFile, registry);
  const clients = new AzureClients({
    armEndpoint: config.armEndpoint,
    credential,
    ca,
    vaultUrl: (name) =>
      config.vaultUrls[name] ?? config.vaultUrls[name.toLowerCase()] ?? productionVaultUrl(name),
    // Only stand-in vaults (explicit URLs, local stack) skip the vault.azure.net resource check.
    disableChallengeResourceVerification: !config.inAzure && Object.keys(config.vaultUrls).length > 0,
    retry: overrides.retry,
    lroPollIntervalMs: overrides.lroPollIntervalMs,
  });
  const untraced =
    overrides.stores ??
    (await (
      await import("./cosmos/stores.js")
    ).createCosmosStores(config, credential, ca, {
      requestTimeoutMs: overrides.cosmosRequestTimeoutMs,
    }));
  const stores: Stores =
    telemetry.mode === "off"
      ? untraced
      : {
          ...untraced,
          audit: traced(untraced.audit, "audit"),
          gate: traced(untraced.gate, "gate"),
          actionLimit: traced(untraced.actionLimit, "actionLimit"),
          approvals: traced(untraced.approvals, "approvals"),
        };
  const events = decisionPublisher(config, stores, { credential, ca, log, clock, overrides });
  const notifier =
    overrides.notifier ??
    notifierOnFirstUse(config, log, { credential, ca, teams: stores.teams, approvals: stores.approvals });
  const { pipeline, approvalLifecycle } = createCore(
    {
      policies: policies.policies.policies,
      registry,
      globalMode: config.mode,
      clients,
      audit: stores.audit,
      gate: stores.gate,
      actionLimit: stores.actionLimit,
      clock,
      log,
      selfPrincipalIds: config.selfPrincipalIds,
      pseudonymKey: config.pseudonymKey,
      busyWaitMs: overrides.busyWaitMs,
      leaseMs: overrides.leaseMs,
      flapLimit: config.flapLimit,
      policyFileHash: policies.sha256,
      onDecision: (decision, signal) => {
        recordDecision({
          kind: decision.kind,
          outcome: decision.outcome,
          policy: decision.policy,
          durationMs: decision.record?.durationMs,
        });
        overrides.onDecision?.(decision, signal);
      },
    },
    {
      approvals: stores.approvals,
      notifier,
      approvalTtlMs: config.approvers.ttlMinutes * 60_000,
      approvers: {
        objectIds: config.approvers.objectIds,
        requireSignIn: config.inAzure,
        localDeveloper: process.env.USER ?? "developer",
        pseudonymKey: config.pseudonymKey,
      },
    },
  );
  await storePolicyFile(stores, policies, config.policyFile, clock, log);
  const anchors =
    overrides.anchors ??
    (config.anchors.containerUrl
      ? lazyBlobAnchorStore(config.anchors.containerUrl, () =>
          clients.blobContainer(config.anchors.containerUrl!),
        )
      : undefined);
  const teamsConnector = async (serviceUrl: string) =>
    new (await import("./teams/connector.js")).BotConnectorClient({ serviceUrl, credential, ca });
  return {
    config,
    pipeline,
    approvalLifecycle,
    registry,
    stores,
    clients,
    notifier,
    clock,
    log,
    teamsConnector,
    policyFileHash: policies.sha256,
    ...(anchors ? { anchors } : {}),
    ...(events ? { events } : {}),
  };
}

/** What the approval lifecycle needs besides what it shares with the pipeline. */
export interface ApprovalSettings {
  approvals: ApprovalStore;
  notifier: Notifier;
  approvalTtlMs: number;
  approvers: ApproverRules;
}

/**
 * The pipeline and, beside it, the approval lifecycle: the pipeline asks the lifecycle for
 * approvals; the lifecycle asks the pipeline to run approved changes. Tests build theirs here too.
 */
export function createCore(
  deps: Omit<PipelineDeps, "approvals">,
  settings: ApprovalSettings,
): { pipeline: Pipeline; approvalLifecycle: ApprovalLifecycle } {
  let pipeline: Pipeline | undefined;
  const approvalLifecycle = new ApprovalLifecycle({
    approvals: settings.approvals,
    gate: deps.gate,
    notifier: settings.notifier,
    clock: deps.clock,
    log: deps.log,
    policies: deps.policies,
    pseudonymKey: deps.pseudonymKey,
    approvers: settings.approvers,
    approvalTtlMs: settings.approvalTtlMs,
    leaseMs: deps.leaseMs ?? DEFAULT_LEASE_MS,
    busyWaitMs: deps.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS,
    ...(deps.policyFileHash ? { policyFileHash: deps.policyFileHash } : {}),
    runApproved: (approval, approver) => pipeline!.runApproved(approval, approver),
    onDecision: (d, a) => deps.onDecision?.(d, a.signal),
  });
  pipeline = new Pipeline({ ...deps, approvals: approvalLifecycle });
  return { pipeline, approvalLifecycle };
}

/**
 * Stores the loaded policy file once, by its hash, so an evidence pack can show the policies every
 * record was decided under. A reader without write access (an operator's CLI in Azure) cannot store
 * it: that is logged, not fatal — the function app stores it at its own start.
 */
async function storePolicyFile(
  stores: Stores,
  source: { text: string; sha256: string },
  file: string,
  clock: Clock,
  log: Logger,
): Promise<void> {
  if (!stores.evidence) return;
  try {
    await stores.evidence.putPolicyFile(
      { sha256: source.sha256, name: path.basename(file), text: source.text },
      clock.now(),
    );
  } catch (err) {
    log.warn(
      { err: (err as Error).message, policyFileHash: source.sha256 },
      "could not store the policy file",
    );
  }
}

/** The decision publisher, when events are on and the stores queue them (docs/events.md). */
function decisionPublisher(
  config: DriftguardConfig,
  stores: Stores,
  deps: { credential: TokenCredential; ca?: string; log: Logger; clock: Clock; overrides: RuntimeOverrides },
): DecisionPublisher | undefined {
  if (!config.events.endpoint || !stores.outbox) return undefined;
  const { overrides } = deps;
  const sink =
    overrides.events?.sink ??
    eventGridSink({
      endpoint: config.events.endpoint,
      credential: deps.credential,
      key: config.events.key,
      ca: deps.ca,
      retry: overrides.retry,
    });
  return new DecisionPublisher({
    outbox: stores.outbox,
    sink,
    source: decisionSource(config.events.instanceName),
    log: deps.log,
    clock: () => deps.clock.now(),
    minAgeMs: overrides.events?.minAgeMs,
    pauseMs: overrides.events?.pauseMs,
  });
}

let current: Promise<Runtime> | undefined;

/** The process-wide runtime, created on first use from the environment (fails fast on bad settings). */
export function getRuntime(): Promise<Runtime> {
  if (!current) {
    current = createRuntime(loadConfig()).catch((err) => {
      current = undefined; // let the next invocation retry (e.g. Cosmos not reachable yet)
      throw err;
    });
  }
  return current;
}

export function setRuntime(runtime: Runtime | undefined): void {
  current = runtime ? Promise.resolve(runtime) : undefined;
}
