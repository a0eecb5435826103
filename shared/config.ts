/**
 * Settings (docs/settings.md): app settings in Azure, env vars locally. Each is validated at start and an
 * invalid one fails fast with its name and the reason. Production identity is Managed Identity; the
 * key/CA/vault-URL settings exist only for the local stack.
 */

import { hostname } from "node:os";
import { longestGapMs, parseSchedule } from "./anchors/schedule.js";
import { OUTCOMES, type Outcome } from "./audit/types.js";
import { ConfigError } from "./errors.js";
import { DEFAULT_POLICY_FILE } from "./policy/load.js";
import { MODES, type PolicyMode } from "./policy/schema.js";
import { type TelemetrySettings, telemetrySettings } from "./telemetry/setup.js";

export interface DriftguardConfig {
  mode: PolicyMode;
  policyFile: string;
  cosmos: {
    endpoint: string;
    database: string;
    /** Local stack only; production authenticates with Managed Identity. */
    key?: string;
    /** Audit record retention (TTL) in days; 0 keeps records forever. */
    auditRetentionDays: number;
  };
  armEndpoint: string;
  /** User-assigned managed identity client ID (undefined = system-assigned / developer credential). */
  azureClientId?: string;
  selfPrincipalIds: string[];
  /** `DRIFTGUARD_FLAP_LIMIT`: fixes of one kind on one resource within 24 h after which the next
   *  change waits for approval (reason `flapping`); 0 switches the check off. */
  flapLimit: number;
  /** Vault name → data-plane URL overrides (local stack); otherwise https://{vault}.vault.azure.net. */
  vaultUrls: Record<string, string>;
  /** Extra CA certificate file to trust (local stack's generated certificate). */
  caFile?: string;
  /** Key for pseudonymous IDs (keyed hash of object IDs). */
  pseudonymKey: string;
  teams: {
    /** Teams Workflows webhook URL: cards with Action.OpenUrl to the approval page. */
    workflowUrl?: string;
    /** Bot app ID (audience of Bot Framework JWTs) for in-card Action.Execute approvals. */
    botAppId?: string;
    /** Bot Framework signing keys (JWKS). */
    botJwksUrl: string;
    /** Bot Connector service URL for proactive cards (else the one captured at installation). */
    serviceUrl?: string;
    /** Conversation (team channel) the bot posts approval cards to (else the captured one). */
    conversationId?: string;
  };
  /** The app's Entra tenant (AZURE_TENANT_ID): only a Teams conversation of this tenant is captured. */
  tenantId?: string;
  /** The function app's own ARM resource ID (DRIFTGUARD_APP_RESOURCE_ID): the resource the records of
   *  driftguard's own configuration changes (a captured Teams conversation) are chained on. */
  appResourceId?: string;
  approvers: {
    /** Entra object IDs allowed to approve. */
    objectIds: string[];
    /** Signing key for one-time approval-page tokens (HS256). */
    signingKey: string;
    ttlMinutes: number;
  };
  /** Public base URL of the function app, for links in cards. */
  publicUrl?: string;
  /** Off by default; Application Insights with APPLICATIONINSIGHTS_CONNECTION_STRING, console with
   *  DRIFTGUARD_TELEMETRY=console. */
  telemetry: TelemetrySettings;
  /** Decision events (docs/events.md): published when `endpoint` is set. */
  events: EventSettings;
  /** True when running inside Azure (App Service sets WEBSITE_SITE_NAME). */
  inAzure: boolean;
  /** Anchors of the audit trail in write-once storage (docs/audit.md#anchors). */
  anchors: AnchorSettings;
  /** Sweeps of the estate (docs/settings.md#driftguard-settings). */
  sweep: SweepSettings;
  /** True for the local stack (`DRIFTGUARD_LOCAL_STACK=1`, set by dev/stack.ts, never in Azure):
   *  only there may the public default keys be used. */
  localStack: boolean;
}

export interface AnchorSettings {
  /** NCRONTAB of the `anchorDigests` timer (DRIFTGUARD_ANCHOR_SCHEDULE). */
  schedule: string;
  /** The schedule's longest gap between two runs: an anchor older than twice this is stale. */
  periodMs: number;
  /** Blob container the anchors are written to (DRIFTGUARD_ANCHOR_CONTAINER_URL); unset = no anchors. */
  containerUrl?: string;
  /** How long the container keeps each anchor immutable (DRIFTGUARD_ANCHOR_RETENTION_DAYS). */
  retentionDays: number;
}

/** Audit retention below this many days is refused: the EU AI Act keeps deployers' logs at least six months. */
export const MIN_AUDIT_RETENTION_DAYS = 180;
export const DEFAULT_ANCHOR_SCHEDULE = "0 0 * * * *";

/** A container URL: `https://<account>.blob.<suffix>/<container>`, or path-style on a loopback host
 *  (`https://127.0.0.1:10000/<account>/<container>`, Azurite). */
function containerUrl(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const url = new URL(httpsUrl(env, name));
  const segments = url.pathname.split("/").filter(Boolean);
  const pathStyle = /^(127\.0\.0\.1|localhost|\[::1\])$/.test(url.hostname);
  const container = segments[pathStyle ? 1 : 0];
  if (
    segments.length !== (pathStyle ? 2 : 1) ||
    !container ||
    !/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(container)
  )
    throw new ConfigError(
      name,
      `must name one blob container: https://<account>.blob.core.windows.net/<container>${pathStyle ? " (locally https://127.0.0.1:<port>/<account>/<container>)" : ""}; container names are 3-63 lower-case letters, digits and single hyphens`,
    );
  if (url.search || url.hash)
    throw new ConfigError(name, "must not carry a query (no SAS token: the app uses its managed identity)");
  return raw.replace(/\/+$/, "");
}

function anchorSettings(env: Env): AnchorSettings {
  const schedule = env.DRIFTGUARD_ANCHOR_SCHEDULE ?? DEFAULT_ANCHOR_SCHEDULE;
  if (!schedule.trim())
    throw new ConfigError(
      "DRIFTGUARD_ANCHOR_SCHEDULE",
      "must not be empty (NCRONTAB, default hourly: 0 0 * * * *)",
    );
  let periodMs: number | undefined;
  try {
    periodMs = longestGapMs(parseSchedule(schedule));
  } catch (err) {
    throw new ConfigError(
      "DRIFTGUARD_ANCHOR_SCHEDULE",
      `is not an NCRONTAB schedule: ${(err as Error).message}`,
    );
  }
  if (periodMs === undefined)
    throw new ConfigError("DRIFTGUARD_ANCHOR_SCHEDULE", "must run at least twice a year");
  const retentionDays = Number(env.DRIFTGUARD_ANCHOR_RETENTION_DAYS ?? "400");
  if (!Number.isInteger(retentionDays) || retentionDays < MIN_AUDIT_RETENTION_DAYS || retentionDays > 146_000)
    throw new ConfigError(
      "DRIFTGUARD_ANCHOR_RETENTION_DAYS",
      `must be an integer number of days from ${MIN_AUDIT_RETENTION_DAYS} to 146000`,
    );
  const url = containerUrl(env, "DRIFTGUARD_ANCHOR_CONTAINER_URL");
  return { schedule, periodMs, retentionDays, ...(url ? { containerUrl: url } : {}) };
}

export interface EventSettings {
  /** Event Grid custom topic endpoint (CloudEvents 1.0 input schema); unset = no events. */
  endpoint?: string;
  /** Local stack only: the topic's key, sent as `aeg-sas-key` instead of a token. */
  key?: string;
  /** Outcomes published (unset = every outcome). */
  outcomes?: Outcome[];
  /** Names this deployment in each event's `source` (`/driftguard/<instanceName>`). */
  instanceName: string;
}

/** The Cosmos DB emulator's published, well-known account key: the local stack's Cosmos stand-in
 *  uses it (it is not a secret, and no Azure account accepts it). */
export const COSMOS_EMULATOR_KEY =
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

/** Public defaults of the local stack. Anyone can read them, so they are refused anywhere else. */
export const LOCAL_STACK_PSEUDONYM_KEY = "local-stack-pseudonym-key";
export const LOCAL_STACK_SIGNING_KEY = "local-stack-approval-signing-key-0123456789";

/** A secret setting: the local stack's public default only on the local stack. */
function secretSetting(
  env: Env,
  name: string,
  localDefault: string,
  minLength: number,
  localStack: boolean,
): string {
  const value = env[name] ?? (localStack ? localDefault : undefined);
  if (!value || value.length < minLength)
    throw new ConfigError(
      name,
      `is required (at least ${minLength} characters; use a Key Vault reference in Azure)`,
    );
  if (value === localDefault && !localStack)
    throw new ConfigError(
      name,
      "is the local stack's public default key; set a secret of your own outside the local stack",
    );
  return value;
}

type Env = Record<string, string | undefined>;

export const SWEEP_MODES = ["policy", "dry-run", "off"] as const;
export type SweepMode = (typeof SWEEP_MODES)[number];
export const DEFAULT_SWEEP_SCHEDULE = "0 0 3 * * *";

export interface SweepSettings {
  /** NCRONTAB (six fields) of the `sweep` timer. */
  schedule: string;
  /** What the timer does: each policy's own mode, report only, or nothing. Not the CLI. */
  mode: SweepMode;
  /** Changes one sweep may make; past it candidates are reported `over-limit`. */
  maxChanges: number;
  /** Subscriptions to sweep when a policy's scope is wider than one subscription (empty: tenant). */
  subscriptions: string[];
}

/** One NCRONTAB field: `*`, a number, a range, a list, a step, or (months, weekdays) a name. */
const CRON_FIELD =
  /^(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?)*$/;
const CRON_RANGES: [number, number][] = [
  [0, 59],
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
];

/** Why a six-field NCRONTAB expression is invalid, or undefined when it is valid. */
export function ncrontabProblem(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (expr.trim() === "") return "must not be empty (the Functions host cannot index an empty schedule)";
  if (fields.length !== 6)
    return `must be an NCRONTAB expression of six fields ({second} {minute} {hour} {day} {month} {day-of-week}), got ${fields.length}`;
  for (const [i, f] of fields.entries()) {
    if (!CRON_FIELD.test(f)) return `field ${i + 1} ('${f}') is not a cron field`;
    const [lo, hi] = CRON_RANGES[i]!;
    for (const n of f.match(/\d+/g) ?? []) {
      const isStep = new RegExp(`/${n}(,|$)`).test(f);
      if (!isStep && (Number(n) < lo || Number(n) > hi))
        return `field ${i + 1} ('${f}'): ${n} is outside ${lo}-${hi}`;
    }
  }
  return undefined;
}

function sweepSettings(env: Env): SweepSettings {
  const schedule = env.DRIFTGUARD_SWEEP_SCHEDULE ?? DEFAULT_SWEEP_SCHEDULE;
  const problem = ncrontabProblem(schedule);
  if (problem) throw new ConfigError("DRIFTGUARD_SWEEP_SCHEDULE", problem);
  const mode = (env.DRIFTGUARD_SWEEP_MODE ?? "policy").trim() as SweepMode;
  if (!SWEEP_MODES.includes(mode))
    throw new ConfigError(
      "DRIFTGUARD_SWEEP_MODE",
      `must be one of ${SWEEP_MODES.join(" | ")}, got '${env.DRIFTGUARD_SWEEP_MODE}'`,
    );
  const rawMax = (env.DRIFTGUARD_SWEEP_MAX_CHANGES ?? "50").trim();
  const maxChanges = /^\d{1,6}$/.test(rawMax) ? Number(rawMax) : Number.NaN;
  if (!Number.isInteger(maxChanges) || maxChanges > 100_000)
    throw new ConfigError("DRIFTGUARD_SWEEP_MAX_CHANGES", "must be an integer from 0 to 100000");
  const subscriptions = env.DRIFTGUARD_SWEEP_SUBSCRIPTIONS?.trim()
    ? env.DRIFTGUARD_SWEEP_SUBSCRIPTIONS.split(",").map((s) => s.trim())
    : [];
  const bad = subscriptions.find((s) => !GUID.test(s));
  if (bad !== undefined)
    throw new ConfigError(
      "DRIFTGUARD_SWEEP_SUBSCRIPTIONS",
      `'${bad.slice(0, 64)}' is not a subscription ID (comma-separated GUIDs expected)`,
    );
  return {
    schedule: schedule.trim(),
    mode,
    maxChanges,
    subscriptions: [...new Set(subscriptions.map((s) => s.toLowerCase()))],
  };
}

function httpsUrl(env: Env, name: string, fallback?: string): string {
  const raw = env[name] ?? fallback;
  if (!raw) throw new ConfigError(name, "is required");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `'${raw}' is not a URL`);
  }
  if (url.protocol !== "https:") throw new ConfigError(name, "must be an https:// URL");
  return raw.replace(/\/+$/, "");
}

/** Bot Framework keys: https; plain http only on loopback outside Azure (local tests). */
function jwksUrl(env: Env, inAzure: boolean): string {
  const raw = env.TEAMS_BOT_JWKS_URL;
  if (raw && !inAzure && /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(raw)) return raw;
  return httpsUrl(env, "TEAMS_BOT_JWKS_URL", "https://login.botframework.com/v1/.well-known/keys");
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function guidList(env: Env, name: string): string[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  const ids = raw.split(/[,;\s]+/).filter(Boolean);
  const bad = ids.find((id) => !GUID.test(id));
  if (bad) throw new ConfigError(name, `'${bad}' is not a GUID (comma-separated object/app IDs expected)`);
  return ids;
}

/**
 * App Service leaves a Key Vault reference it could not resolve (no access yet, secret missing) as
 * the literal `@Microsoft.KeyVault(…)` text. Such a value must never serve as a key, URL or ID:
 * fail at start, naming the setting (not its value).
 */
function assertKeyVaultReferencesResolved(env: Env): void {
  for (const [name, value] of Object.entries(env)) {
    if (value?.trimStart().toLowerCase().startsWith("@microsoft.keyvault("))
      throw new ConfigError(
        name,
        "is a Key Vault reference that did not resolve: check that the secret exists and that the app's identity may read it (keyVaultReferenceIdentity, Key Vault Secrets User), then restart the app",
      );
  }
}

/** `DRIFTGUARD_FLAP_LIMIT`: an integer 0 (off) to 100, default 3. */
function flapLimit(env: Env): number {
  const raw = env.DRIFTGUARD_FLAP_LIMIT?.trim() || "3";
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n > 100)
    throw new ConfigError(
      "DRIFTGUARD_FLAP_LIMIT",
      `must be an integer from 0 (no flapping check) to 100, got '${env.DRIFTGUARD_FLAP_LIMIT}'`,
    );
  return n;
}

export function loadConfig(env: Env = process.env): DriftguardConfig {
  assertKeyVaultReferencesResolved(env);
  const inAzure = !!env.WEBSITE_SITE_NAME;
  // The local stack: marked by dev/stack.ts, or recognised by its Cosmos stand-in (the emulator's
  // public key on a loopback endpoint), e.g. when the CLI is pointed at it by settings.
  const localStack =
    !inAzure &&
    (env.DRIFTGUARD_LOCAL_STACK === "1" ||
      (env.COSMOS_KEY === COSMOS_EMULATOR_KEY &&
        /^https:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/.test(env.COSMOS_ENDPOINT ?? "")));
  const mode = (env.DRIFTGUARD_MODE ?? "enforce").trim() as PolicyMode;
  if (!MODES.includes(mode))
    throw new ConfigError(
      "DRIFTGUARD_MODE",
      `must be one of ${MODES.join(" | ")}, got '${env.DRIFTGUARD_MODE}'`,
    );

  const database = env.COSMOS_DATABASE ?? "driftguard";
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(database))
    throw new ConfigError("COSMOS_DATABASE", "letters, digits, '-' and '_' only");
  const key = env.COSMOS_KEY || undefined;
  const retention = Number(env.DRIFTGUARD_AUDIT_RETENTION_DAYS ?? "400");
  if (
    !Number.isInteger(retention) ||
    (retention !== 0 && retention < MIN_AUDIT_RETENTION_DAYS) ||
    retention < 0 ||
    retention > 36_500
  ) {
    throw new ConfigError(
      "DRIFTGUARD_AUDIT_RETENTION_DAYS",
      `must be 0 (keep forever) or an integer number of days from ${MIN_AUDIT_RETENTION_DAYS} (the EU AI Act's six months for deployers' logs) to 36500`,
    );
  }
  if (inAzure && key)
    throw new ConfigError("COSMOS_KEY", "must not be set in Azure: the app uses its Managed Identity");

  let vaultUrls: Record<string, string> = {};
  if (env.DRIFTGUARD_VAULT_URLS) {
    try {
      vaultUrls = JSON.parse(env.DRIFTGUARD_VAULT_URLS) as Record<string, string>;
      if (typeof vaultUrls !== "object" || vaultUrls === null || Array.isArray(vaultUrls))
        throw new Error("not an object");
      for (const [name, url] of Object.entries(vaultUrls)) httpsUrl({ [name]: url }, name);
    } catch (err) {
      throw new ConfigError(
        "DRIFTGUARD_VAULT_URLS",
        `must be a JSON object of vault name → https URL (${(err as Error).message})`,
      );
    }
  }

  const pseudonymKey = secretSetting(
    env,
    "DRIFTGUARD_PSEUDONYM_KEY",
    LOCAL_STACK_PSEUDONYM_KEY,
    16,
    localStack,
  );
  const signingKey = secretSetting(env, "APPROVER_SIGNING_KEY", LOCAL_STACK_SIGNING_KEY, 32, localStack);
  const ttl = Number(env.APPROVER_TTL_MINUTES ?? "1440");
  if (!Number.isInteger(ttl) || ttl < 5 || ttl > 7 * 1440)
    throw new ConfigError("APPROVER_TTL_MINUTES", "must be an integer between 5 and 10080");

  const azureClientId = env.AZURE_CLIENT_ID || undefined;
  if (azureClientId && !GUID.test(azureClientId))
    throw new ConfigError("AZURE_CLIENT_ID", "must be the GUID client ID of the user-assigned identity");
  const botAppId = env.TEAMS_BOT_APP_ID || undefined;
  if (botAppId && !GUID.test(botAppId))
    throw new ConfigError("TEAMS_BOT_APP_ID", "must be the bot's Entra app ID (GUID)");

  const teamsServiceUrl = env.TEAMS_SERVICE_URL ? httpsUrl(env, "TEAMS_SERVICE_URL") : undefined;
  const conversationId = env.TEAMS_CONVERSATION_ID?.trim() || undefined;
  // Teams conversation IDs look like `19:…@thread.tacv2` (channels) or `a:…`/`19:…` (chats).
  if (conversationId && !/^[\x21-\x7e]{1,512}$/.test(conversationId))
    throw new ConfigError(
      "TEAMS_CONVERSATION_ID",
      "must be a Teams conversation ID (e.g. 19:…@thread.tacv2)",
    );
  if ((teamsServiceUrl || conversationId) && !botAppId)
    throw new ConfigError(
      "TEAMS_BOT_APP_ID",
      "is required when TEAMS_SERVICE_URL or TEAMS_CONVERSATION_ID is set (the bot posts the cards)",
    );

  const events = eventSettings(env, inAzure, localStack);
  const tenantId = env.AZURE_TENANT_ID?.trim() || undefined;
  if (tenantId && !GUID.test(tenantId))
    throw new ConfigError("AZURE_TENANT_ID", "must be the Entra tenant ID (GUID) of the app's tenant");
  const appResourceId = env.DRIFTGUARD_APP_RESOURCE_ID?.trim() || undefined;
  if (
    appResourceId &&
    !/^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+\/providers\/Microsoft\.Web\/sites\/[^/]+$/i.test(
      appResourceId,
    )
  )
    throw new ConfigError(
      "DRIFTGUARD_APP_RESOURCE_ID",
      "must be the function app's resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Web/sites/<name>)",
    );

  return {
    mode,
    policyFile: env.DRIFTGUARD_POLICY_FILE || DEFAULT_POLICY_FILE,
    cosmos: {
      endpoint: httpsUrl(env, "COSMOS_ENDPOINT", inAzure ? undefined : "https://127.0.0.1:8081"),
      database,
      key,
      auditRetentionDays: retention,
    },
    armEndpoint: httpsUrl(env, "ARM_ENDPOINT", "https://management.azure.com"),
    azureClientId,
    selfPrincipalIds: guidList(env, "DRIFTGUARD_SELF_PRINCIPAL_IDS"),
    flapLimit: flapLimit(env),
    vaultUrls,
    caFile: env.DRIFTGUARD_CA_FILE || undefined,
    pseudonymKey,
    teams: {
      workflowUrl: env.TEAMS_WORKFLOW_URL ? httpsUrl(env, "TEAMS_WORKFLOW_URL") : undefined,
      botAppId,
      botJwksUrl: jwksUrl(env, inAzure),
      ...(teamsServiceUrl ? { serviceUrl: `${teamsServiceUrl}/` } : {}),
      ...(conversationId ? { conversationId } : {}),
    },
    approvers: { objectIds: guidList(env, "APPROVER_OBJECT_IDS"), signingKey, ttlMinutes: ttl },
    ...(tenantId ? { tenantId } : {}),
    ...(appResourceId ? { appResourceId } : {}),
    publicUrl: env.DRIFTGUARD_PUBLIC_URL ? env.DRIFTGUARD_PUBLIC_URL.replace(/\/+$/, "") : undefined,
    telemetry: telemetrySettings(env),
    anchors: anchorSettings(env),
    events,
    sweep: sweepSettings(env),
    inAzure,
    localStack,
  };
}

const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/i;

/** DRIFTGUARD_EVENTS_* and DRIFTGUARD_INSTANCE_NAME (docs/settings.md#decision-events). */
function eventSettings(env: Env, inAzure: boolean, localStack: boolean): EventSettings {
  const key = env.DRIFTGUARD_EVENTS_KEY || undefined;
  if (key && inAzure)
    throw new ConfigError(
      "DRIFTGUARD_EVENTS_KEY",
      "must not be set in Azure: the app publishes with its managed identity (role EventGrid Data Sender on the topic)",
    );
  if (key && !localStack)
    throw new ConfigError("DRIFTGUARD_EVENTS_KEY", "is accepted on the local stack only");
  let endpoint: string | undefined;
  const raw = env.DRIFTGUARD_EVENTS_ENDPOINT?.trim();
  if (raw) {
    if (localStack && LOOPBACK_HTTP.test(raw)) {
      if (!key)
        throw new ConfigError(
          "DRIFTGUARD_EVENTS_KEY",
          "is required with a loopback http:// DRIFTGUARD_EVENTS_ENDPOINT (tokens are never sent over plain HTTP)",
        );
      endpoint = raw;
    } else {
      endpoint = httpsUrl({ DRIFTGUARD_EVENTS_ENDPOINT: raw }, "DRIFTGUARD_EVENTS_ENDPOINT");
    }
  }
  let outcomes: Outcome[] | undefined;
  const list = env.DRIFTGUARD_EVENTS_OUTCOMES?.trim();
  if (list) {
    outcomes = [];
    for (const item of list.split(/[,;\s]+/).filter(Boolean)) {
      const outcome = item.toLowerCase() as Outcome;
      if (!OUTCOMES.includes(outcome))
        throw new ConfigError(
          "DRIFTGUARD_EVENTS_OUTCOMES",
          `'${item}' is not a record outcome (one of ${OUTCOMES.join(", ")})`,
        );
      if (!outcomes.includes(outcome)) outcomes.push(outcome);
    }
  }
  const instanceName =
    (env.DRIFTGUARD_INSTANCE_NAME?.trim() || undefined) ?? defaultInstanceName(env, localStack);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(instanceName))
    throw new ConfigError(
      "DRIFTGUARD_INSTANCE_NAME",
      "must be 1-128 letters, digits, '.', '_' or '-' (it names the deployment in each event's source)",
    );
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(key ? { key } : {}),
    ...(outcomes ? { outcomes } : {}),
    instanceName,
  };
}

/** The function app's name in Azure; `local-stack` there; else this machine's host name. */
function defaultInstanceName(env: Env, localStack: boolean): string {
  if (env.WEBSITE_SITE_NAME) return env.WEBSITE_SITE_NAME;
  if (localStack) return "local-stack";
  return (
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, "-")
      .slice(0, 128) || "driftguard"
  );
}
