/**
 * The one place that builds Azure SDK clients. It owns endpoint, credential, trust and retry
 * settings, so production (Managed Identity against management.azure.com) and the local stack
 * (static token against the HTTPS simulator, trusting its generated CA) differ by configuration only.
 * Remediations get their typed clients from here and never construct one themselves.
 */
import { ApiManagementClient } from "@azure/arm-apimanagement";
import { CognitiveServicesManagementClient } from "@azure/arm-cognitiveservices";
import { ContainerServiceClient } from "@azure/arm-containerservice";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { AzureMachineLearningWorkspaces } from "@azure/arm-machinelearning";
import { NetworkManagementClient } from "@azure/arm-network";
import { StorageManagementClient } from "@azure/arm-storage";
import type { TokenCredential } from "@azure/core-auth";
import { ServiceClient } from "@azure/core-client";
import { createPipelineRequest, type PipelinePolicy } from "@azure/core-rest-pipeline";
import { SecretClient } from "@azure/keyvault-secrets";
import { recordArmThrottled } from "../telemetry/api.js";

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

  private memo<T>(key: string, make: () => T): T {
    let client = this.cache.get(key) as T | undefined;
    if (!client) {
      client = make();
      this.cache.set(key, client);
    }
    return client;
  }

  /** Options to pass to every `begin…AndWait` call. */
  get lro(): { updateIntervalInMs?: number } {
    const ms = this.settings.lroPollIntervalMs;
    return ms === undefined ? {} : { updateIntervalInMs: ms };
  }

  network(subscriptionId: string): NetworkManagementClient {
    return this.memo(
      `network:${subscriptionId}`,
      () => new NetworkManagementClient(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  storage(subscriptionId: string): StorageManagementClient {
    return this.memo(
      `storage:${subscriptionId}`,
      () => new StorageManagementClient(this.settings.credential, subscriptionId, this.modularOptions()),
    );
  }

  containerService(subscriptionId: string): ContainerServiceClient {
    return this.memo(
      `aks:${subscriptionId}`,
      () => new ContainerServiceClient(this.settings.credential, subscriptionId, this.modularOptions()),
    );
  }

  machineLearning(subscriptionId: string): AzureMachineLearningWorkspaces {
    return this.memo(
      `ml:${subscriptionId}`,
      () =>
        new AzureMachineLearningWorkspaces(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  keyVaultManagement(subscriptionId: string): KeyVaultManagementClient {
    return this.memo(
      `kvm:${subscriptionId}`,
      () => new KeyVaultManagementClient(this.settings.credential, subscriptionId, this.modularOptions()),
    );
  }

  cognitiveServices(subscriptionId: string): CognitiveServicesManagementClient {
    return this.memo(
      `cog:${subscriptionId}`,
      () =>
        new CognitiveServicesManagementClient(
          this.settings.credential,
          subscriptionId,
          this.classicOptions(),
        ),
    );
  }

  apiManagement(subscriptionId: string): ApiManagementClient {
    return this.memo(
      `apim:${subscriptionId}`,
      () => new ApiManagementClient(this.settings.credential, subscriptionId, this.classicOptions()),
    );
  }

  /** Plain ARM reads at any scope (resource groups, subscriptions, effective permissions), for
   *  `driftguard doctor`: same endpoint, identity, trust and retries as the typed clients. */
  arm(): ArmReader {
    return this.memo("arm", () => {
      const client = new ServiceClient({ ...this.classicOptions(), credential: this.settings.credential });
      return {
        get: async (path, apiVersion) => {
          const url = `${this.settings.armEndpoint.replace(/\/+$/, "")}${path}?api-version=${encodeURIComponent(apiVersion)}`;
          const res = await client.sendRequest(createPipelineRequest({ url, method: "GET" }));
          let body: unknown;
          try {
            body = res.bodyAsText ? JSON.parse(res.bodyAsText) : undefined;
          } catch {
            body = res.bodyAsText;
          }
          return { status: res.status, body };
        },
      };
    });
  }

  /** Key Vault data-plane client for one vault (by name; the URL comes from configuration). */
  secrets(vaultName: string): SecretClient {
    return this.memo(`kv:${vaultName.toLowerCase()}`, () => {
      const { ca, retry, disableChallengeResourceVerification } = this.settings;
      return new SecretClient(this.settings.vaultUrl(vaultName), this.settings.credential, {
        retryOptions: retry ?? DEFAULT_RETRY,
        disableChallengeResourceVerification: disableChallengeResourceVerification === true,
        ...(ca ? { tlsOptions: { ca } } : {}),
      });
    });
  }
}

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
