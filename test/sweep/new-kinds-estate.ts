/**
 * Estates for the sweep tests of the five kinds added this round (new-kinds.test.ts): per kind, a
 * subscription of its own with one drifted and one or more compliant resources in the policy's
 * scope, and resources its per-row reads must never touch (out of scope, not tagged, no blob service).
 */
import type { ArmResource } from "../../dev/azure-sim/index.js";
import { armResource } from "../helpers/seed.js";
import {
  cognitive,
  cosmos,
  diagnosticSetting,
  ids,
  site,
  storage,
  webConfig,
} from "../remediations/resource-fixtures.js";

export const SUBS = {
  localAuth: "00000000-0000-0000-0000-0000000005a1",
  transport: "00000000-0000-0000-0000-0000000005a2",
  logs: "00000000-0000-0000-0000-0000000005a3",
  models: "00000000-0000-0000-0000-0000000005a4",
  apis: "00000000-0000-0000-0000-0000000005a5",
  exempt: "00000000-0000-0000-0000-0000000005a6",
};

const rgOf = (sub: string, rg = "rg-sweep") => `/subscriptions/${sub}/resourceGroups/${rg}`;
const at = (sub: string, rg = "rg-sweep") => ids(sub, rg);

export const WORKSPACE = `${rgOf(SUBS.logs, "rg-security")}/providers/Microsoft.OperationalInsights/workspaces/law-security`;

const trigger = "    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]";
const policy = (body: string, mode: string) => `version: 1
policies:
${body}
${trigger}
    mode: ${mode}
    maxActionsPerHour: 100
`;

// --- disable-local-auth: every state in the row (reads: none) ---------------------------------
const la = at(SUBS.localAuth);
export const LOCAL_AUTH = {
  drifted: la.st("stlakeys"),
  compliant: [la.st("stlanokeys"), la.cog("oailanokeys"), la.cosmos("cosmoslanokeys")],
  policies: (mode = "enforce") =>
    policy(
      `  - name: no-local-auth
    resourceTypes: [Microsoft.CognitiveServices/accounts, Microsoft.Storage/storageAccounts, Microsoft.DocumentDB/databaseAccounts]
    kind: disable-local-auth`,
      mode,
    ),
  seed: (): ArmResource[] => [
    storage(la.st("stlakeys"), { allowSharedKeyAccess: true }),
    storage(la.st("stlanokeys"), { allowSharedKeyAccess: false }),
    cognitive(la.cog("oailanokeys"), { disableLocalAuth: true }),
    cosmos(la.cosmos("cosmoslanokeys"), { disableLocalAuth: true }),
  ],
};

// --- require-secure-transport: Storage / Cosmos in the row, a site's TLS floor on config/web ----
const tr = at(SUBS.transport);
const trOut = at(SUBS.transport, "rg-elsewhere");
export const TRANSPORT = {
  drifted: tr.site("func-trold"),
  compliantSite: tr.site("func-trok"),
  compliantRows: [tr.st("sttrok"), tr.cosmos("cosmostrok")],
  outOfScope: trOut.site("func-trout"),
  policies: () =>
    policy(
      `  - name: secure-transport
    resourceTypes: [Microsoft.Storage/storageAccounts, Microsoft.DocumentDB/databaseAccounts, Microsoft.Web/sites]
    kind: require-secure-transport
    scope: ["${rgOf(SUBS.transport)}"]`,
      "enforce",
    ),
  seed: (): ArmResource[] => [
    site(tr.site("func-trold"), { httpsOnly: true }),
    webConfig(tr.site("func-trold"), "1.0"),
    site(tr.site("func-trok"), { httpsOnly: true }),
    webConfig(tr.site("func-trok"), "1.3"),
    storage(tr.st("sttrok"), { supportsHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_2" }),
    cosmos(tr.cosmos("cosmostrok"), { minimalTlsVersion: "Tls12" }),
    site(trOut.site("func-trout"), { httpsOnly: false }),
    webConfig(trOut.site("func-trout"), "1.0"),
  ],
};

// --- enable-diagnostic-logs: one diagnostic-settings list per governed row -------------------
const lg = at(SUBS.logs);
const lgOut = at(SUBS.logs, "rg-elsewhere");
export const LOGS = {
  drifted: lg.cog("oailogsnone"),
  compliant: [lg.st("stlogsown"), lg.cog("oailogsforeign")],
  outOfScope: lgOut.cog("oailogsout"),
  policies: () =>
    policy(
      // rg-elsewhere's first policy of the kind does not sweep: its rows are not read.
      `  - name: audit-logs-elsewhere
    resourceTypes: [Microsoft.CognitiveServices/accounts, Microsoft.Storage/storageAccounts]
    kind: enable-diagnostic-logs
    params: { workspaceId: "${WORKSPACE}" }
    scope: ["${rgOf(SUBS.logs, "rg-elsewhere")}"]
    sweep: false
${trigger}
  - name: audit-logs-on
    resourceTypes: [Microsoft.CognitiveServices/accounts, Microsoft.Storage/storageAccounts]
    kind: enable-diagnostic-logs
    params: { workspaceId: "${WORKSPACE}" }`,
      "enforce",
    ),
  seed: (): ArmResource[] => [
    cognitive(lg.cog("oailogsnone")),
    storage(lg.st("stlogsown")),
    diagnosticSetting(`${lg.st("stlogsown")}/blobServices/default`, "driftguard", {
      workspaceId: WORKSPACE,
      logs: [{ categoryGroup: "audit", enabled: true }],
    }),
    cognitive(lg.cog("oailogsforeign")),
    diagnosticSetting(lg.cog("oailogsforeign"), "security-team", {
      workspaceId: WORKSPACE,
      logs: [{ categoryGroup: "allLogs", enabled: true }],
    }),
    cognitive(lgOut.cog("oailogsout")),
  ],
};

// --- protect-model-storage: one blob-service read per governed, tagged account -----------------
const md = at(SUBS.models);
const mdOut = at(SUBS.models, "rg-elsewhere");
const MODELS_TAG = { "data-class": "models" };
const blobService = (account: string, properties: Record<string, unknown>) =>
  armResource(`${account}/blobServices/default`, { properties });
const unprotected = { isVersioningEnabled: false, deleteRetentionPolicy: { enabled: true, days: 7 } };
export const MODELS = {
  drifted: md.st("stmdrift"),
  compliant: md.st("stmdok"),
  untagged: md.st("stmduntagged"),
  fileStorage: md.st("stmdfiles"),
  outOfScope: mdOut.st("stmdout"),
  policies: () =>
    policy(
      `  - name: model-storage-recoverable
    resourceTypes: [Microsoft.Storage/storageAccounts, Microsoft.Storage/storageAccounts/blobServices]
    kind: protect-model-storage
    params: { retentionDays: 30, requireTag: { name: data-class, value: models } }
    scope: ["${rgOf(SUBS.models)}"]`,
      "enforce",
    ),
  seed: (): ArmResource[] => [
    storage(md.st("stmdrift"), {}, MODELS_TAG),
    blobService(md.st("stmdrift"), unprotected),
    storage(md.st("stmdok"), {}, MODELS_TAG),
    blobService(md.st("stmdok"), {
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 30 },
      containerDeleteRetentionPolicy: { enabled: true, days: 90 },
    }),
    storage(md.st("stmduntagged")),
    blobService(md.st("stmduntagged"), unprotected),
    { ...storage(md.st("stmdfiles"), {}, MODELS_TAG), kind: "FileStorage" },
    storage(mdOut.st("stmdout"), {}, MODELS_TAG),
    blobService(mdOut.st("stmdout"), unprotected),
  ],
};

// --- require-api-subscription: one API list per APIM service in scope --------------------------
const ap = at(SUBS.apis);
const apOut = at(SUBS.apis, "rg-elsewhere");
const api = (service: string, name: string, subscriptionRequired: boolean) =>
  armResource(`${service}/apis/${name}`, {
    properties: {
      displayName: `${name} API`,
      path: name,
      protocols: ["https"],
      apiRevision: "1",
      isCurrent: true,
      subscriptionRequired,
    },
  });
const apimService = (id: string) =>
  armResource(id, {
    tags: { team: "ai-platform" },
    sku: { name: "Developer", capacity: 1 },
    properties: { publisherEmail: "ops@example.com", publisherName: "ops" },
  });
export const APIS = {
  service: ap.apim("apim-sweep"),
  drifted: `${ap.apim("apim-sweep")}/apis/chat`,
  compliant: [`${ap.apim("apim-sweep")}/apis/embeddings`, `${ap.apim("apim-sweep")}/apis/health`],
  outOfScope: apOut.apim("apim-out"),
  policies: (mode = "enforce") =>
    policy(
      `  - name: inference-apis-need-keys
    resourceTypes: [Microsoft.ApiManagement/service/apis]
    kind: require-api-subscription
    params: { allowApis: [health] }
    scope: ["${rgOf(SUBS.apis)}"]`,
      mode,
    ),
  seed: (): ArmResource[] => [
    apimService(ap.apim("apim-sweep")),
    api(ap.apim("apim-sweep"), "chat", false),
    api(ap.apim("apim-sweep"), "embeddings", true),
    api(ap.apim("apim-sweep"), "health", false),
    apimService(apOut.apim("apim-out")),
    api(apOut.apim("apim-out"), "open", false),
  ],
};

// --- exemptions that expire, for two kinds on the same accounts --------------------------------
const ex = at(SUBS.exempt);
export const EXEMPT = {
  future: ex.st("stexfuture"),
  past: ex.st("stexpast"),
  policies: () =>
    policy(
      `  - name: no-local-auth
    resourceTypes: [Microsoft.Storage/storageAccounts]
    kind: disable-local-auth
${trigger}
    mode: enforce
    maxActionsPerHour: 100
  - name: audit-logs-on
    resourceTypes: [Microsoft.Storage/storageAccounts]
    kind: enable-diagnostic-logs
    params: { workspaceId: "${WORKSPACE}" }`,
      "enforce",
    ),
  seed: (): ArmResource[] => [
    storage(
      ex.st("stexfuture"),
      { allowSharedKeyAccess: true },
      { "driftguard:exclude-until": "2999-12-31" },
    ),
    storage(ex.st("stexpast"), { allowSharedKeyAccess: true }, { "driftguard:exclude-until": "2020-01-31" }),
  ],
};
