/**
 * Composition root: builds the pipeline and its adapters from validated settings. The function
 * triggers get everything through `getRuntime()`; the local host and tests install their own runtime
 * (pointing at the simulator and the embedded Cosmos DB) with `setRuntime()`.
 */
import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import type { NotifierDeps } from "./approvals/notifier.js";
import { AzureClients, productionVaultUrl } from "./azure/clients.js";
import type { DriftguardConfig } from "./config.js";
import { loadConfig } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { Pipeline, type PipelineDeps } from "./pipeline.js";
import { loadPolicyFile } from "./policy/load.js";
import { type Clock, systemClock } from "./ports/clock.js";
import type { Notifier } from "./ports/notifier.js";
import type { Stores } from "./ports/stores.js";
import { builtinRegistry } from "./remediations/index.js";
import type { BotConnector } from "./teams/connector.js";
import { recordDecision } from "./telemetry/api.js";
import { initTelemetry } from "./telemetry/setup.js";
import { traced } from "./telemetry/traced.js";

export interface Runtime {
  config: DriftguardConfig;
  pipeline: Pipeline;
  stores: Stores;
  clients: AzureClients;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
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
  const policies = await loadPolicyFile(config.policyFile, registry);
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
          budget: traced(untraced.budget, "budget"),
          approvals: traced(untraced.approvals, "approvals"),
        };
  const notifier =
    overrides.notifier ??
    notifierOnFirstUse(config, log, { credential, ca, teams: stores.teams, approvals: stores.approvals });
  const pipeline = new Pipeline({
    policies: policies.policies,
    registry,
    globalMode: config.mode,
    clients,
    audit: stores.audit,
    gate: stores.gate,
    budget: stores.budget,
    approvals: stores.approvals,
    notifier,
    clock,
    log,
    selfPrincipalIds: config.selfPrincipalIds,
    pseudonymKey: config.pseudonymKey,
    approvalTtlMs: config.approvers.ttlMinutes * 60_000,
    busyWaitMs: overrides.busyWaitMs,
    leaseMs: overrides.leaseMs,
    onDecision: (decision, signal) => {
      recordDecision({
        kind: decision.kind,
        outcome: decision.outcome,
        policy: decision.policy,
        durationMs: decision.record?.durationMs,
      });
      overrides.onDecision?.(decision, signal);
    },
  });
  const teamsConnector = async (serviceUrl: string) =>
    new (await import("./teams/connector.js")).BotConnectorClient({ serviceUrl, credential, ca });
  return { config, pipeline, stores, clients, notifier, clock, log, teamsConnector };
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
