/**
 * The one place that builds Azure SDK clients. It owns endpoint, credential, trust and retry
 * settings, so production (Managed Identity against management.azure.com) and the local stack
 * (static token against the HTTPS simulator, trusting its generated CA) differ by configuration only.
 * Remediations get their typed clients from here and never construct one themselves.
 *
 * Each SDK package is loaded on first use, not when the app starts: a cold instance loads only what
 * the kinds it runs need (see docs/performance.md). The getters stay synchronous: before its package
 * is loaded a getter returns a stand-in that loads it on the first operation call
 * (shared/azure/deferred-client.ts); `preload()` loads packages ahead of time.
 */
import type { ApiManagementClient } from "@azure/arm-apimanagement";
import type { WebSiteManagementClient } from "@azure/arm-appservice";
import type { CognitiveServicesManagementClient } from "@azure/arm-cognitiveservices";
import type { ContainerServiceClient } from "@azure/arm-containerservice";
import type { CosmosDBManagementClient } from "@azure/arm-cosmosdb";
import type { KeyVaultManagementClient } from "@azure/arm-keyvault";
import type { AzureMachineLearningWorkspaces } from "@azure/arm-machinelearning";
import type { NetworkManagementClient } from "@azure/arm-network";
import type { StorageManagementClient } from "@azure/arm-storage";
import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import type { SecretClient } from "@azure/keyvault-secrets";
import type { ContainerClient, StoragePipelineOptions } from "@azure/storage-blob";
import { recordArmThrottled } from "../telemetry/api.js";
import { deferredClient } from "./deferred-client.js";
import type { DiagnosticSettingsClient } from "./diagnostic-settings.js";
import {
  type GraphSender,
  RESOURCE_GRAPH_API_VERSION,
  ResourceGraphClient,
  type ResourceGraphOptions,
} from "./resource-graph.js";

/**
 * The Azure services remediation kinds use: the one list (kinds declare theirs in `services`, the
 * tests hold kinds to it). Each is one SDK package, loaded on first use, and one getter below.
 */
export const AZURE_SERVICES = [
  "network",
  "storage",
  "containerService",
  "machineLearning",
  "keyVaultManagement",
  "cognitiveServices",
  "apiManagement",
  "secrets",
  "cosmosDb",
  "appService",
  "monitor",
] as const;
export type AzureService = (typeof AZURE_SERVICES)[number];

interface ServiceConstructors {
  network: typeof NetworkManagementClient;
  storage: typeof StorageManagementClient;
  containerService: typeof ContainerServiceClient;
  machineLearning: typeof AzureMachineLearningWorkspaces;
  keyVaultManagement: typeof KeyVaultManagementClient;
  cognitiveServices: typeof CognitiveServicesManagementClient;
  apiManagement: typeof ApiManagementClient;
  secrets: typeof SecretClient;
  cosmosDb: typeof CosmosDBManagementClient;
  appService: typeof WebSiteManagementClient;
  monitor: typeof DiagnosticSettingsClient;
}

/** String-literal `import()`s, so the bundler puts each package in a chunk of its own. */
const SDK_LOADERS: { [S in AzureService]: () => Promise<ServiceConstructors[S]> } = {
  network: async () => (await import("@azure/arm-network")).NetworkManagementClient,
  storage: async () => (await import("@azure/arm-storage")).StorageManagementClient,
  containerService: async () => (await import("@azure/arm-containerservice")).ContainerServiceClient,
  // A CommonJS-only package: its exports may arrive as named exports or on `default`.
  machineLearning: async () => {
    const m = (await import("@azure/arm-machinelearning")) as typeof import("@azure/arm-machinelearning") & {
      default?: typeof import("@azure/arm-machinelearning");
    };
    return m.AzureMachineLearningWorkspaces ?? m.default!.AzureMachineLearningWorkspaces;
  },
  keyVaultManagement: async () => (await import("@azure/arm-keyvault")).KeyVaultManagementClient,
  cognitiveServices: async () =>
    (await import("@azure/arm-cognitiveservices")).CognitiveServicesManagementClient,
  apiManagement: async () => (await import("@azure/arm-apimanagement")).ApiManagementClient,
  secrets: async () => (await import("@azure/keyvault-secrets")).SecretClient,
  cosmosDb: async () => (await import("@azure/arm-cosmosdb")).CosmosDBManagementClient,
  appService: async () => (await import("@azure/arm-appservice")).WebSiteManagementClient,
  // Diagnostic settings over REST at the api-version with categoryGroup (./diagnostic-settings.ts).
  monitor: async () => (await import("./diagnostic-settings.js")).DiagnosticSettingsClient,
};

/** Loaded constructors, process-wide (a module is loaded once per process anyway). */
const loadedSdks: Partial<{ [S in AzureService]: ServiceConstructors[S] }> = {};
const loadingSdks: Partial<Record<AzureService, Promise<unknown>>> = {};

/** Loads one service's SDK package (once per process). */
export function loadSdk<S extends AzureService>(service: S): Promise<ServiceConstructors[S]> {
  const loaded = loadedSdks[service];
  if (loaded) return Promise.resolve(loaded);
  let loading = loadingSdks[service] as Promise<ServiceConstructors[S]> | undefined;
  if (!loading) {
    loading = SDK_LOADERS[service]().then(
      (ctor) => {
        loadedSdks[service] = ctor;
        return ctor;
      },
      (err: unknown) => {
        delete loadingSdks[service]; // a later use tries again
        throw err;
      },
    );
    loadingSdks[service] = loading;
  }
  return loading;
}

/** The services whose SDK package this process has loaded so far. */
export function loadedServices(): AzureService[] {
  return AZURE_SERVICES.filter((s) => loadedSdks[s] !== undefined);
}

/** ARM's token audience: the same in production and against the simulator. */
export const ARM_SCOPE = "https://management.azure.com/.default";

/** Counts every ARM answer 429 (each try, before the SDK waits and retries): `driftguard.arm.throttled`. */
const throttleCounter: PipelinePolicy = {
  name: "driftguardThrottleCounter",
  async sendRequest(request, next) {
    const response = await next(request);
    if (response.status === 429) recordArmThrottled({ "http.request.method": request.method });
    return response;
  },
};

export interface RetrySettings {
  maxRetries: number;
  retryDelayInMs: number;
  maxRetryDelayInMs: number;
}

export interface AzureClientSettings {
  /** `https://management.azure.com` in Azure; the simulator's origin locally. */
  armEndpoint: string;
  credential: TokenCredential;
  /** Extra CA (PEM) to trust — the local stack's generated certificate. Undefined in Azure. */
  ca?: string;
  /** Maps a vault name to its data-plane origin (production: `https://{vault}.vault.azure.net`). */
  vaultUrl: (vaultName: string) => string;
  /** Only for stand-in vaults not under vault.azure.net. Off in production. */
  disableChallengeResourceVerification?: boolean;
  /** SDK retry policy (429/503 honour Retry-After; 408/5xx back off exponentially). */
  retry?: RetrySettings;
  /** Long-running-operation poll interval; 0 in tests. Undefined = the SDK's default / Retry-After. */
  lroPollIntervalMs?: number;
}

/** Default retry: the SDK's own policy, a little longer than its default for ARM throttling. */
export const DEFAULT_RETRY: RetrySettings = {
  maxRetries: 4,
  retryDelayInMs: 1000,
  maxRetryDelayInMs: 30_000,
};

export function productionVaultUrl(vaultName: string): string {
  if (!/^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(vaultName))
    throw new Error(`invalid vault name '${vaultName}'`);
  return `https://${vaultName}.vault.azure.net`;
}

export class AzureClients {
  private readonly cache = new Map<string, unknown>();

  constructor(readonly settings: AzureClientSettings) {}

  /** Options every classic (core-client) ARM client takes. */
  private classicOptions() {
    const { armEndpoint, ca, retry } = this.settings;
    return {
      endpoint: armEndpoint,
      // Classic clients would ask for `<endpoint>/.default`; production audience is ARM's.
      credentialScopes: [ARM_SCOPE],
      retryOptions: retry ?? DEFAULT_RETRY,
      additionalPolicies: [{ policy: throttleCounter, position: "perRetry" as const }],
      ...(ca ? { tlsOptions: { ca } } : {}),
    };
  }

  /** Options every modular (rest-core-client) ARM client takes. They ignore `baseUri`. */
  private modularOptions() {
    const { armEndpoint, ca, retry } = this.settings;
    return {
      endpoint: armEndpoint,
      credentials: { scopes: [ARM_SCOPE] },
      retryOptions: retry ?? DEFAULT_RETRY,
      additionalPolicies: [{ policy: throttleCounter, position: "perRetry" as const }],
      ...(ca ? { tlsOptions: { ca } } : {}),
    };
  }

  /**
   * The client cached under `key`, built by `make` once its SDK package is loaded; before that, a
   * stand-in that loads the package on its first operation call (and then caches the real client).
   */
  private client<S extends AzureService, T extends object>(
    service: S,
    key: string,
    make: (ctor: ServiceConstructors[S]) => T,
  ): T {
    const built = () => {
      let client = this.cache.get(key) as T | undefined;
      const ctor = loadedSdks[service] as ServiceConstructors[S] | undefined;
      if (!client && ctor) {
        client = make(ctor);
        this.cache.set(key, client);
      }
      return client;
    };
    return (
      built() ??
      deferredClient(built, async () => {
        await loadSdk(service);
        return built()!;
      })
    );
  }

  /** Loads the SDK packages of `services` now (e.g. before a kind that uses them runs). */
  async preload(services: readonly AzureService[]): Promise<void> {
    await Promise.all(services.map((s) => loadSdk(s)));
  }

  /** Options to pass to every `begin…AndWait` call. */
  get lro(): { updateIntervalInMs?: number } {
    const ms = this.settings.lroPollIntervalMs;
    return ms === undefined ? {} : { updateIntervalInMs: ms };
  }

  network(subscriptionId: string): NetworkManagementClient {
    return this.client(
      "network",
      `network:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  storage(subscriptionId: string): StorageManagementClient {
    return this.client(
      "storage",
      `storage:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.modularOptions()),
    );
  }

  containerService(subscriptionId: string): ContainerServiceClient {
    return this.client(
      "containerService",
      `aks:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.modularOptions()),
    );
  }

  machineLearning(subscriptionId: string): AzureMachineLearningWorkspaces {
    return this.client(
      "machineLearning",
      `ml:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  keyVaultManagement(subscriptionId: string): KeyVaultManagementClient {
    return this.client(
      "keyVaultManagement",
      `kvm:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.modularOptions()),
    );
  }

  cognitiveServices(subscriptionId: string): CognitiveServicesManagementClient {
    return this.client(
      "cognitiveServices",
      `cog:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  apiManagement(subscriptionId: string): ApiManagementClient {
    return this.client(
      "apiManagement",
      `apim:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  /** Cosmos DB accounts (classic client; account PATCH is a long-running operation). */
  cosmosDb(subscriptionId: string): CosmosDBManagementClient {
    return this.client(
      "cosmosDb",
      `cosmos:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  /** App Service (web and function apps; modular client). */
  appService(subscriptionId: string): WebSiteManagementClient {
    return this.client(
      "appService",
      `web:${subscriptionId}`,
      (C) => new C(this.settings.credential, subscriptionId, this.modularOptions()),
    );
  }

  /** Azure Monitor diagnostic settings on any resource (not per subscription: the resource ID says). */
  monitor(): DiagnosticSettingsClient {
    return this.client("monitor", "monitor", (C) => new C(this.settings.credential, this.classicOptions()));
  }

  /** Plain ARM reads at any scope (resource groups, subscriptions, effective permissions), for
   *  `driftguard doctor`: same endpoint, identity, trust and retries as the typed clients. */
  arm(): ArmReader {
    let client:
      | Promise<{ send(url: string): Promise<{ status: number; bodyAsText?: string | null }> }>
      | undefined;
    // Loaded on first use, like the typed clients: the doctor needs it, a remediation never does.
    const load = async () => {
      const [{ ServiceClient }, { createPipelineRequest }] = await Promise.all([
        import("@azure/core-client"),
        import("@azure/core-rest-pipeline"),
      ]);
      const c = new ServiceClient({ ...this.classicOptions(), credential: this.settings.credential });
      return { send: (url: string) => c.sendRequest(createPipelineRequest({ url, method: "GET" })) };
    };
    return {
      get: async (path, apiVersion) => {
        client ??= load();
        const base = this.settings.armEndpoint.replace(/\/+$/, "");
        const res = await (await client).send(`${base}${path}?api-version=${encodeURIComponent(apiVersion)}`);
        let body: unknown;
        try {
          body = res.bodyAsText ? JSON.parse(res.bodyAsText) : undefined;
        } catch {
          body = res.bodyAsText;
        }
        return { status: res.status, body };
      },
    };
  }

  /**
   * Azure Resource Graph (sweeps), over REST with the same endpoint, identity and trust as the
   * typed clients; retries and throttling are handled by the Resource Graph client itself.
   */
  resourceGraph(opts: ResourceGraphOptions = {}): ResourceGraphClient {
    let client: Promise<(path: string, body: unknown) => ReturnType<GraphSender>> | undefined;
    const load = async () => {
      const [{ ServiceClient }, { createPipelineRequest, createHttpHeaders }] = await Promise.all([
        import("@azure/core-client"),
        import("@azure/core-rest-pipeline"),
      ]);
      const c = new ServiceClient({
        ...this.classicOptions(),
        retryOptions: { maxRetries: 0 },
        credential: this.settings.credential,
      });
      const base = this.settings.armEndpoint.replace(/\/+$/, "");
      return async (path: string, body: unknown) => {
        const res = await c.sendRequest(
          createPipelineRequest({
            url: `${base}${path}?api-version=${RESOURCE_GRAPH_API_VERSION}`,
            method: "POST",
            body: JSON.stringify(body),
            headers: createHttpHeaders({ "content-type": "application/json" }),
          }),
        );
        return { status: res.status, headers: res.headers.toJSON(), bodyText: res.bodyAsText ?? "" };
      };
    };
    const retry = this.settings.retry ?? DEFAULT_RETRY;
    return new ResourceGraphClient(
      async (path, body) => {
        client ??= load();
        return (await client)(path, body);
      },
      { maxRetries: retry.maxRetries, retryDelayInMs: retry.retryDelayInMs, ...opts },
    );
  }

  /** Key Vault data-plane client for one vault (by name; the URL comes from configuration). */
  secrets(vaultName: string): SecretClient {
    return this.client("secrets", `kv:${vaultName.toLowerCase()}`, (C) => {
      const { ca, retry, disableChallengeResourceVerification } = this.settings;
      return new C(this.settings.vaultUrl(vaultName), this.settings.credential, {
        retryOptions: retry ?? DEFAULT_RETRY,
        disableChallengeResourceVerification: disableChallengeResourceVerification === true,
        ...(ca ? { tlsOptions: { ca } } : {}),
      });
    });
  }
  /**
   * Blob container client for the anchor container (`DRIFTGUARD_ANCHOR_CONTAINER_URL`), with the app's
   * identity (a bearer token for Storage; never an account key), the same trust and retries. The
   * package is loaded on first use: only the anchor timer and the audit CLI need it.
   */
  async blobContainer(containerUrl: string): Promise<ContainerClient> {
    const key = `blob:${containerUrl}`;
    const cached = this.cache.get(key) as ContainerClient | undefined;
    if (cached) return cached;
    const { ContainerClient: Client } = await import("@azure/storage-blob");
    const { ca, retry } = this.settings;
    const client = new Client(containerUrl, this.settings.credential, {
      retryOptions: {
        maxTries: (retry ?? DEFAULT_RETRY).maxRetries + 1,
        retryDelayInMs: (retry ?? DEFAULT_RETRY).retryDelayInMs,
        maxRetryDelayInMs: (retry ?? DEFAULT_RETRY).maxRetryDelayInMs,
      },
      // Not in StoragePipelineOptions' type, but passed through to the core pipeline, which adds
      // its TLS policy: the local stack's CA is trusted, verification stays on.
      ...(ca ? { tlsOptions: { ca } } : {}),
    } as StoragePipelineOptions);
    this.cache.set(key, client);
    return client;
  }
}

/** Each service of `AZURE_SERVICES` is a client getter of `AzureClients` (the compiler checks it). */
export type AzureServiceClients = Pick<AzureClients, AzureService>;

export interface ArmReader {
  /** GET `path` (starting with `/subscriptions/…`) at `apiVersion`; any status is returned, not thrown. */
  get(path: string, apiVersion: string): Promise<{ status: number; body: unknown }>;
}

/** The fixed bearer token of the local stack: its stand-ins (Azure, Teams) accept exactly this. */
export const LOCAL_STACK_TOKEN = "local-stack-token";

/** A credential that hands out a fixed token: only for the local stack's stand-ins. */
export function staticTokenCredential(token = LOCAL_STACK_TOKEN): TokenCredential {
  return {
    getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }),
  };
}
