/**
 * The local stack: generated TLS, Azure simulator (seeded), embedded Cosmos DB over HTTPS, the
 * app runtime configured *only through settings* to point at them, and the local functions host.
 * `npm start` and the integration tests both use this.
 */
import path from "node:path";
import { LOCAL_PRINCIPAL_ID, localStackCredential } from "../shared/azure/local-credential.js";
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
import { type LocalBlob, startLocalBlob } from "./blob.js";
import { startEmbeddedCosmos } from "./cosmos.js";
import { EventGridAdminClient } from "./event-grid/admin-client.js";
import { DECISIONS_TOPIC, driftguardSubscriptions, webhookUrl } from "./event-grid/driftguard.js";
import { SYSTEM_TOPICS, startLocalEventGrid } from "./event-grid/index.js";
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
  /** Run Azurite (blob storage, its own process) for the anchors: npm start does; tests opt in. */
  blob?: boolean;
  /** Azurite's port (default 10000; 0 = any free port). */
  blobPort?: number;
  /** The local Event Grid's port (default: any free port). */
  eventGridPort?: number;
  /** Event Grid both ways (docs/local-stack.md#the-local-event-grid). */
  events?: LocalEventsOptions;
  /** Timer intervals (ms) by function name, instead of the table's (tests). */
  timerEveryMs?: Record<string, number>;
}

/**
 * The simulator always sends its events to the local Event Grid; what is wired beyond that is
 * chosen here. `npm start` turns both on; tests opt in, so a test that posts its own events sees no
 * second delivery of the same change.
 */
export interface LocalEventsOptions {
  /** Deliver the simulated subscription's system topics to the host, as driftguard's Event Grid subscriptions do. */
  deliver?: boolean;
  /** Publish decisions to the local topic when DRIFTGUARD_EVENTS_ENDPOINT is unset. */
  publish?: boolean;
  /** Compresses Event Grid's retry schedule and time to live (1 = real time). */
  timeScale?: number;
  /** The publisher's timings (see shared/events/publisher.ts). */
  minAgeMs?: number;
  pauseMs?: number;
}

/** The environment's settings with driftguard's local principal among its own (echoes are recognised). */
export function localStackEventSettings(
  env: Record<string, string | undefined>,
  localTopicEndpoint: string | undefined,
): Record<string, string | undefined> {
  const self = (env.DRIFTGUARD_SELF_PRINCIPAL_IDS ?? "").split(/[,;\s]+/).filter(Boolean);
  if (!self.map((s) => s.toLowerCase()).includes(LOCAL_PRINCIPAL_ID)) self.push(LOCAL_PRINCIPAL_ID);
  return {
    DRIFTGUARD_SELF_PRINCIPAL_IDS: self.join(","),
    // A value the user set wins over the local topic.
    DRIFTGUARD_EVENTS_ENDPOINT: env.DRIFTGUARD_EVENTS_ENDPOINT || localTopicEndpoint,
  };
}

export interface LocalStack {
  functionsUrl: string;
  /** The local Event Grid (admin API: topics' events, subscriptions, deliveries, dead letters, faults). */
  eventGridUrl: string;
  eventGrid: EventGridAdminClient;
  /** The local decisions topic's publish endpoint. */
  decisionsEndpoint: string;
  functionKey: string;
  cosmosUrl: string;
  /** The embedded server's well-known emulator key (local stack only). */
  cosmosKey: string;
  azureUrl: string;
  seed: Seed;
  vaults: Record<string, string>;
  caCertFile: string;
  tls: LocalTls;
  /** Azurite's blob endpoint (`https://127.0.0.1:<port>/devstoreaccount1`), with `blob: true`. */
  blobUrl?: string;
  /** The anchor container (DRIFTGUARD_ANCHOR_CONTAINER_URL), with `blob: true`. */
  anchorContainerUrl?: string;
  blob?: LocalBlob;
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
    const grid = await startLocalEventGrid({
      port: opts.eventGridPort ?? 0,
      tls,
      timeScale: opts.events?.timeScale,
      topics: [{ name: DECISIONS_TOPIC }],
    });
    closers.push(() => grid.close());
    const sim = await startAzureSimulator({
      port: opts.azurePort ?? 8443,
      tls,
      seed,
      lro: opts.lro,
      events: { url: grid.url, ca: tls.cert, topics: SYSTEM_TOPICS },
    });
    closers.push(() => sim.close());
    const cosmos = await startEmbeddedCosmos({ port: opts.cosmosPort ?? 8081, tls });
    closers.push(() => cosmos.close());
    const blob = opts.blob ? await startLocalBlob({ port: opts.blobPort ?? 10000, tls }) : undefined;
    if (blob) closers.push(() => blob.close());

    const host = await startLocalHost({
      port: opts.port ?? 7071,
      functionKey: opts.functionKey,
      log,
      timers: opts.timers,
      timerEveryMs: opts.timerEveryMs,
    });
    closers.push(() => host.close());
    const functionsUrl = host.url;
    const eventGrid = new EventGridAdminClient(grid.url, tls.cert);
    closers.push(async () => eventGrid.close());
    const userEnv = { ...process.env, ...opts.env };

    // Everything below is configured exactly as in Azure: by settings.
    const config = loadConfig({
      ...userEnv,
      ...localStackEventSettings(
        userEnv,
        opts.events?.publish ? grid.topicEndpoint(DECISIONS_TOPIC) : undefined,
      ),
      ...(opts.mode ? { DRIFTGUARD_MODE: opts.mode } : {}),
      ...(opts.policyFile ? { DRIFTGUARD_POLICY_FILE: opts.policyFile } : {}),
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: opts.env?.COSMOS_DATABASE ?? "driftguard",
      ARM_ENDPOINT: sim.url,
      DRIFTGUARD_VAULT_URLS: JSON.stringify(sim.vaults),
      DRIFTGUARD_CA_FILE: tls.caCertFile,
      DRIFTGUARD_PUBLIC_URL: opts.env?.DRIFTGUARD_PUBLIC_URL ?? functionsUrl,
      ...(blob ? { DRIFTGUARD_ANCHOR_CONTAINER_URL: blob.anchorContainerUrl } : {}),
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
      events: { minAgeMs: opts.events?.minAgeMs, pauseMs: opts.events?.pauseMs },
    });
    setRuntime(runtime);
    closers.push(async () => setRuntime(undefined));
    // Last: the host must answer the handshake. Closed first, so no delivery hits a closed host.
    if (opts.events?.deliver)
      for (const sub of driftguardSubscriptions(webhookUrl(functionsUrl, host.functionKey)))
        await grid.subscribe(sub.name, sub.def);
    closers.push(async () => {
      for (const sub of driftguardSubscriptions("")) grid.unsubscribe(sub.name);
    });
    return {
      functionsUrl,
      eventGridUrl: grid.url,
      eventGrid,
      decisionsEndpoint: grid.topicEndpoint(DECISIONS_TOPIC),
      functionKey: host.functionKey,
      cosmosUrl: cosmos.endpoint,
      cosmosKey: cosmos.key,
      azureUrl: sim.url,
      seed,
      vaults: sim.vaults,
      caCertFile: tls.caCertFile,
      tls,
      ...(blob ? { blob, blobUrl: blob.url, anchorContainerUrl: blob.anchorContainerUrl } : {}),
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
