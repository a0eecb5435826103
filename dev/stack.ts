/**
 * The local stack: generated TLS, Azure simulator (seeded), embedded Cosmos DB over HTTPS, the
 * app runtime configured *only through settings* to point at them, and the local functions host.
 * `npm start` and the integration tests both use this.
 */
import path from "node:path";
import { localStackCredential } from "../shared/azure/local-credential.js";
import { type DriftguardConfig, loadConfig } from "../shared/config.js";
import { createLogger, type Logger } from "../shared/log.js";
import type { Decision } from "../shared/pipeline.js";
import type { PolicyMode } from "../shared/policy/schema.js";
import type { Clock } from "../shared/ports/clock.js";
import type { Notifier } from "../shared/ports/notifier.js";
import { createRuntime, type Runtime, setRuntime } from "../shared/runtime.js";
import type { Signal } from "../shared/signals/types.js";
import type { AzureSimulator, Seed } from "./azure-sim/index.js";
import { loadSeedFile, startAzureSimulator } from "./azure-sim/index.js";
import { startEmbeddedCosmos } from "./cosmos.js";
import { type LocalHost, startLocalHost } from "./host.js";
import { type LocalTls, loadOrCreateLocalTls } from "./tls.js";

export const DEFAULT_SEED_FILE = path.resolve("dev", "sample-seed.json");
/** The local stack's stand-in for the function app's own resource ID (records of its own configuration). */
export const LOCAL_APP_RESOURCE_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/driftguard-local/providers/Microsoft.Web/sites/driftguard-local";

export interface LocalStackOptions {
  port?: number;
  cosmosPort?: number;
  azurePort?: number;
  seed?: Seed | string;
  policyFile?: string;
  mode?: PolicyMode;
  functionKey?: string;
  log?: Logger;
  timers?: boolean;
  /** Extra settings (names as in docs/settings.md) layered over the process environment. */
  env?: Record<string, string | undefined>;
  onDecision?: (decision: Decision, signal: Signal) => void;
  clock?: Clock;
  /** LRO poll interval for SDK calls (0 in tests). */
  lroPollIntervalMs?: number;
  /** SDK retry settings (short in tests). */
  retry?: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
  busyWaitMs?: number;
  lro?: "sync" | "async";
  /** Replaces the configured approval notifier (npm start prints approval links to its console). */
  notifier?: (config: DriftguardConfig) => Notifier;
}

export interface LocalStack {
  functionsUrl: string;
  functionKey: string;
  cosmosUrl: string;
  /** The embedded server's well-known emulator key (local stack only). */
  cosmosKey: string;
  azureUrl: string;
  seed: Seed;
  vaults: Record<string, string>;
  caCertFile: string;
  tls: LocalTls;
  sim: AzureSimulator;
  host: LocalHost;
  runtime: Runtime;
  close(): Promise<void>;
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const log = opts.log ?? createLogger({ level: "warn" });
  const tls = await loadOrCreateLocalTls();
  const seed = typeof opts.seed === "object" ? opts.seed : await loadSeedFile(opts.seed ?? DEFAULT_SEED_FILE);
  const closers: (() => Promise<void>)[] = [];
  try {
    const sim = await startAzureSimulator({ port: opts.azurePort ?? 8443, tls, seed, lro: opts.lro });
    closers.push(() => sim.close());
    const cosmos = await startEmbeddedCosmos({ port: opts.cosmosPort ?? 8081, tls });
    closers.push(() => cosmos.close());

    const host = await startLocalHost({
      port: opts.port ?? 7071,
      functionKey: opts.functionKey,
      log,
      timers: opts.timers,
    });
    closers.push(() => host.close());
    const functionsUrl = host.url;

    // Everything below is configured exactly as in Azure: by settings.
    const config = loadConfig({
      ...process.env,
      ...opts.env,
      ...(opts.mode ? { DRIFTGUARD_MODE: opts.mode } : {}),
      ...(opts.policyFile ? { DRIFTGUARD_POLICY_FILE: opts.policyFile } : {}),
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: opts.env?.COSMOS_DATABASE ?? "driftguard",
      ARM_ENDPOINT: sim.url,
      DRIFTGUARD_VAULT_URLS: JSON.stringify(sim.vaults),
      DRIFTGUARD_CA_FILE: tls.caCertFile,
      DRIFTGUARD_PUBLIC_URL: opts.env?.DRIFTGUARD_PUBLIC_URL ?? functionsUrl,
      DRIFTGUARD_APP_RESOURCE_ID:
        opts.env?.DRIFTGUARD_APP_RESOURCE_ID ??
        process.env.DRIFTGUARD_APP_RESOURCE_ID ??
        LOCAL_APP_RESOURCE_ID,
      WEBSITE_SITE_NAME: undefined,
      DRIFTGUARD_LOCAL_STACK: "1",
    });
    const runtime = await createRuntime(config, {
      credential: localStackCredential(),
      log,
      clock: opts.clock,
      lroPollIntervalMs: opts.lroPollIntervalMs,
      retry: opts.retry,
      busyWaitMs: opts.busyWaitMs,
      onDecision: opts.onDecision,
      notifier: opts.notifier?.(config),
    });
    setRuntime(runtime);
    closers.push(async () => setRuntime(undefined));
    return {
      functionsUrl,
      functionKey: host.functionKey,
      cosmosUrl: cosmos.endpoint,
      cosmosKey: cosmos.key,
      azureUrl: sim.url,
      seed,
      vaults: sim.vaults,
      caCertFile: tls.caCertFile,
      tls,
      sim,
      host,
      runtime,
      close: async () => {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}
