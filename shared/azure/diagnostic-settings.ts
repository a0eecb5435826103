/**
 * Azure Monitor diagnostic settings over ARM's REST API, through the same core-client pipeline as
 * the typed clients (endpoint, token audience, trust, retry and the throttling counter come from
 * `AzureClients`). A typed SDK is not used: only `@azure/arm-monitor` 8 knows `logs[].categoryGroup`
 * and it requires Node 22, while this app also runs on Node 20 (docs/azure.md#diagnostic-settings).
 *
 * A diagnostic setting is an extension resource: `{resourceId}/providers/Microsoft.Insights/
 * diagnosticSettings/{name}`. It has no ETag. Writes are synchronous (`200`). Failures throw the
 * pipeline's `RestError` (HTTP status, ARM error code), as the SDK clients do.
 */

import type { TokenCredential } from "@azure/core-auth";
import { type CommonClientOptions, ServiceClient } from "@azure/core-client";
import { createPipelineRequest, type PipelineResponse, RestError } from "@azure/core-rest-pipeline";

/** The first api-version with `logs[].categoryGroup` (`audit`, `allLogs`). */
export const DIAGNOSTIC_SETTINGS_API_VERSION = "2021-05-01-preview";

export interface DiagnosticLogSetting {
  category?: string | null;
  categoryGroup?: string | null;
  enabled: boolean;
  retentionPolicy?: { enabled: boolean; days: number } | null;
}

export interface DiagnosticSettingProperties {
  workspaceId?: string | null;
  storageAccountId?: string | null;
  eventHubAuthorizationRuleId?: string | null;
  eventHubName?: string | null;
  logAnalyticsDestinationType?: string | null;
  marketplacePartnerId?: string | null;
  serviceBusRuleId?: string | null;
  logs?: DiagnosticLogSetting[];
  metrics?: unknown[];
}

export interface DiagnosticSettingResource {
  id?: string;
  name?: string;
  type?: string;
  properties: DiagnosticSettingProperties;
}

export interface DiagnosticSettingsClientOptions extends CommonClientOptions {
  endpoint: string;
  credentialScopes: string[];
}

export class DiagnosticSettingsClient {
  private readonly client: ServiceClient;
  private readonly base: string;

  constructor(credential: TokenCredential, options: DiagnosticSettingsClientOptions) {
    this.client = new ServiceClient({
      ...options,
      credential,
      // Tells driftguard's own REST calls apart in request logs (the SDK clients send azsdk-js-…).
      userAgentOptions: {
        userAgentPrefix: `driftguard-diagnostic-settings/${DIAGNOSTIC_SETTINGS_API_VERSION}`,
      },
    });
    this.base = options.endpoint.replace(/\/+$/, "");
  }

  /** The setting, or a `RestError` 404 when the resource has no setting of that name. */
  async get(resourceUri: string, name: string): Promise<DiagnosticSettingResource> {
    return (await this.send("GET", settingPath(resourceUri, name))) as DiagnosticSettingResource;
  }

  /** Every diagnostic setting on the resource (one ARM read). */
  async list(resourceUri: string): Promise<DiagnosticSettingResource[]> {
    const body = (await this.send("GET", `${collectionPath(resourceUri)}`)) as {
      value?: DiagnosticSettingResource[];
    };
    return body.value ?? [];
  }

  /** Creates or replaces the setting (PUT of the whole setting). */
  async createOrUpdate(
    resourceUri: string,
    name: string,
    setting: { properties: DiagnosticSettingProperties },
  ): Promise<DiagnosticSettingResource> {
    return (await this.send("PUT", settingPath(resourceUri, name), setting)) as DiagnosticSettingResource;
  }

  private async send(method: "GET" | "PUT", path: string, body?: unknown): Promise<unknown> {
    const request = createPipelineRequest({
      url: `${this.base}${path}?api-version=${DIAGNOSTIC_SETTINGS_API_VERSION}`,
      method,
      headers: undefined,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    request.headers.set("accept", "application/json");
    if (body !== undefined) request.headers.set("content-type", "application/json");
    const response = await this.client.sendRequest(request);
    const parsed = parseBody(response);
    if (response.status >= 200 && response.status < 300) return parsed;
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new RestError(
      typeof error?.message === "string" ? error.message : `ARM answered ${response.status}`,
      {
        code: typeof error?.code === "string" ? error.code : undefined,
        statusCode: response.status,
        request,
        response,
      },
    );
  }
}

function settingPath(resourceUri: string, name: string): string {
  return `${collectionPath(resourceUri)}/${encodeURIComponent(name)}`;
}

function collectionPath(resourceUri: string): string {
  return `${resourceUri.replace(/\/+$/, "")}/providers/Microsoft.Insights/diagnosticSettings`;
}

function parseBody(response: PipelineResponse): unknown {
  const text = response.bodyAsText;
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
