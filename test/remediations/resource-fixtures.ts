/**
 * Resources as ARM shows them, for the simulator's seeds in the tests of `disable-local-auth`,
 * `require-secure-transport` and `enable-diagnostic-logs`, and the signals that name them.
 */
import type { ArmResource, AzureSimulator } from "../../dev/azure-sim/index.js";
import type { Signal } from "../../shared/signals/types.js";

export const T = {
  cog: "Microsoft.CognitiveServices/accounts",
  st: "Microsoft.Storage/storageAccounts",
  blob: "Microsoft.Storage/storageAccounts/blobServices",
  cosmos: "Microsoft.DocumentDB/databaseAccounts",
  site: "Microsoft.Web/sites",
  kv: "Microsoft.KeyVault/vaults",
  ws: "Microsoft.MachineLearningServices/workspaces",
  apim: "Microsoft.ApiManagement/service",
} as const;

export function ids(sub: string, rg: string) {
  const prov = `/subscriptions/${sub}/resourceGroups/${rg}/providers`;
  return {
    cog: (n: string) => `${prov}/Microsoft.CognitiveServices/accounts/${n}`,
    st: (n: string) => `${prov}/Microsoft.Storage/storageAccounts/${n}`,
    cosmos: (n: string) => `${prov}/Microsoft.DocumentDB/databaseAccounts/${n}`,
    site: (n: string) => `${prov}/Microsoft.Web/sites/${n}`,
    kv: (n: string) => `${prov}/Microsoft.KeyVault/vaults/${n}`,
    ws: (n: string) => `${prov}/Microsoft.MachineLearningServices/workspaces/${n}`,
    apim: (n: string) => `${prov}/Microsoft.ApiManagement/service/${n}`,
    workspace: (n: string) => `${prov}/Microsoft.OperationalInsights/workspaces/${n}`,
  };
}

const omitUndefined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * A builder of one type's fixtures: `(id, props, tags)` → the resource as ARM shows it, its name the
 * ID's last segment, `tags` over the type's default tags and `props` over its default properties
 * (a property given as `undefined` is left out).
 */
function fixture(
  type: string,
  shape: Omit<ArmResource, "id" | "name" | "type" | "tags" | "properties">,
  defaultTags: Record<string, string>,
  defaultProps: (name: string) => Record<string, unknown>,
) {
  return (
    id: string,
    props: Record<string, unknown> = {},
    tags: Record<string, string> = {},
  ): ArmResource => {
    const name = id.split("/").pop()!;
    return {
      id,
      name,
      type,
      ...shape,
      tags: { ...defaultTags, ...tags },
      properties: omitUndefined({ ...defaultProps(name), ...props }),
    };
  };
}

export const cognitive = fixture(
  T.cog,
  { location: "swedencentral", kind: "OpenAI", sku: { name: "S0" } },
  { model: "gpt-4o" },
  (name) => ({
    customSubDomainName: name,
    endpoint: `https://${name}.openai.azure.com/`,
    publicNetworkAccess: "Disabled",
  }),
);

export const storage = fixture(
  T.st,
  { location: "westeurope", kind: "StorageV2", sku: { name: "Standard_LRS", tier: "Standard" } },
  { data: "training" },
  () => ({
    publicNetworkAccess: "Disabled",
    allowBlobPublicAccess: false,
    networkAcls: { bypass: "AzureServices", defaultAction: "Deny", ipRules: [], virtualNetworkRules: [] },
  }),
);

export const cosmos = fixture(
  T.cosmos,
  { location: "westeurope", kind: "GlobalDocumentDB" },
  { app: "chat-history" },
  (name) => ({
    documentEndpoint: `https://${name}.documents.azure.com:443/`,
    databaseAccountOfferType: "Standard",
    consistencyPolicy: {
      defaultConsistencyLevel: "Session",
      maxIntervalInSeconds: 5,
      maxStalenessPrefix: 100,
    },
    locations: [{ locationName: "West Europe", failoverPriority: 0, isZoneRedundant: false }],
    publicNetworkAccess: "Disabled",
  }),
);

export const site = fixture(
  T.site,
  { location: "westeurope", kind: "functionapp,linux" },
  { app: "inference-gateway" },
  (name) => ({
    state: "Running",
    hostNames: [`${name}.azurewebsites.net`],
    enabled: true,
    reserved: true,
    clientAffinityEnabled: false,
  }),
);

/** A site's `…/config/web` with the given TLS floor. */
export function webConfig(siteId: string, minTlsVersion: string | undefined): ArmResource {
  return {
    id: `${siteId}/config/web`,
    name: "web",
    type: "Microsoft.Web/sites/config",
    properties: omitUndefined({
      numberOfWorkers: 1,
      ftpsState: "FtpsOnly",
      http20Enabled: true,
      minTlsVersion,
    }),
  };
}

export function vault(id: string, tags: Record<string, string> = {}): ArmResource {
  return {
    id,
    name: id.split("/").pop()!,
    type: T.kv,
    location: "westeurope",
    tags: { secrets: "ml", ...tags },
    properties: {
      tenantId: "11111111-1111-1111-1111-111111111111",
      sku: { family: "A", name: "standard" },
      enableRbacAuthorization: true,
      publicNetworkAccess: "Disabled",
    },
  };
}

export function mlWorkspace(id: string): ArmResource {
  return {
    id,
    name: id.split("/").pop()!,
    type: T.ws,
    location: "westeurope",
    tags: { env: "prod" },
    identity: { type: "SystemAssigned" },
    sku: { name: "Basic", tier: "Basic" },
    properties: { friendlyName: "ML", publicNetworkAccess: "Disabled" },
  };
}

export function apimService(id: string): ArmResource {
  const name = id.split("/").pop()!;
  return {
    id,
    name,
    type: T.apim,
    location: "westeurope",
    tags: { env: "prod" },
    sku: { name: "Developer", capacity: 1 },
    properties: {
      publisherEmail: "platform@contoso.example",
      publisherName: "Contoso",
      gatewayUrl: `https://${name}.azure-api.net`,
    },
  };
}

/** A diagnostic setting on `scopeId` (`logs` as category groups unless an entry says otherwise). */
export function diagnosticSetting(
  scopeId: string,
  name: string,
  properties: Record<string, unknown>,
): ArmResource {
  return {
    id: `${scopeId}/providers/Microsoft.Insights/diagnosticSettings/${name}`,
    name,
    type: "Microsoft.Insights/diagnosticSettings",
    properties,
  };
}

let seq = 0;

/** An Event Grid ARM event's Signal for `resourceId` (its type as the parser gives it). */
export function armSignal(
  resourceId: string,
  resourceType: string,
  subscriptionId: string,
  eventType = "Microsoft.Resources.ResourceWriteSuccess",
): Signal {
  seq++;
  return {
    source: "eventgrid",
    type: eventType,
    id: `evt-${seq}`,
    dedupeKey: `eg:evt-${seq}-${Math.random()}`,
    time: new Date().toISOString(),
    subscriptionId,
    trigger: { eventGrid: eventType },
    targets: [{ resourceId, resourceType, subscriptionId }],
  };
}

/** Requests the simulator logged for exactly this path (not children), optionally by method. */
export function requestsTo(sim: AzureSimulator, path: string, method?: string) {
  return sim
    .requests()
    .filter((r) => r.path.toLowerCase() === path.toLowerCase() && (!method || r.method === method));
}

/** Writes that reached the simulator's handler for exactly this path. */
export function writesTo(sim: AzureSimulator, path: string) {
  return sim.writes().filter((w) => w.path.toLowerCase() === path.toLowerCase());
}

/** A blob service's CORS rules: a setting the storage kinds must leave as it is. */
export const CORS = {
  corsRules: [
    {
      allowedOrigins: ["https://studio.example"],
      allowedMethods: ["GET"],
      maxAgeInSeconds: 60,
      exposedHeaders: ["*"],
      allowedHeaders: ["*"],
    },
  ],
};
