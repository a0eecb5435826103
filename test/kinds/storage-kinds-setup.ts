/**
 * Shared by the "several real kinds per resource" tests: the shipped policies (policies/default.yaml,
 * optionally with every mode set to enforce), a storage account that drifts on every storage kind in
 * one write, a Cosmos DB account with key auth and TLS 1.0, and which kind an ARM write to the
 * simulator belongs to (by its path and the properties it carries).
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { ArmResource, LoggedRequest, Seed } from "../../dev/azure-sim/index.js";
import type { Signal } from "../../shared/signals/types.js";
import { CORS, cosmos, diagnosticSetting, storage } from "../remediations/resource-fixtures.js";

export const KINDS = {
  publicAccess: "disable-public-network-access",
  localAuth: "disable-local-auth",
  transport: "require-secure-transport",
  logs: "enable-diagnostic-logs",
  models: "protect-model-storage",
} as const;

/** The storage kinds in the order the shipped policy file lists them. */
export const STORAGE_KINDS = [
  KINDS.publicAccess,
  KINDS.localAuth,
  KINDS.transport,
  KINDS.logs,
  KINDS.models,
] as const;

/** The workspace `policies/default.yaml` sends audit logs to. */
export const SHIPPED_LAW =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-security/providers/Microsoft.OperationalInsights/workspaces/law-security";
export const FOREIGN_LAW =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-team/providers/Microsoft.OperationalInsights/workspaces/law-team";

interface PolicyFileObject {
  version: 1;
  policies: { name: string; kind: string; mode?: string; maxActionsPerHour?: number }[];
}

/** `policies/default.yaml` as shipped, optionally changed per policy (e.g. every mode `enforce`). */
export function shippedPolicies(
  change: (p: PolicyFileObject["policies"][number]) => void = () => {},
): PolicyFileObject {
  const file = parse(readFileSync("policies/default.yaml", "utf8")) as PolicyFileObject;
  for (const p of file.policies) change(p);
  return file;
}

export const allEnforce = () =>
  shippedPolicies((p) => {
    p.mode = "enforce";
  });

export const storageIds = (sub: string) => {
  const prov = `/subscriptions/${sub}/resourceGroups/rg-model-data/providers`;
  return {
    account: (n: string) => `${prov}/Microsoft.Storage/storageAccounts/${n}`,
    blob: (n: string) => `${prov}/Microsoft.Storage/storageAccounts/${n}/blobServices/default`,
    cosmos: (n: string) => `${prov}/Microsoft.DocumentDB/databaseAccounts/${n}`,
  };
};

/**
 * A storage account that one write opened to the Internet and to shared keys, with TLS 1.0, whose
 * blob service has versioning off (7-day blob soft delete, container soft delete off) and only a
 * team's own diagnostic setting (to another workspace), plus fields no kind governs (network ACLs,
 * access tier, CORS, change feed) that must stay as they are.
 */
export function driftedStorage(accountId: string, tags: Record<string, string> = {}): ArmResource[] {
  const blobId = `${accountId}/blobServices/default`;
  return [
    storage(
      accountId,
      {
        publicNetworkAccess: "Enabled",
        allowBlobPublicAccess: true,
        allowSharedKeyAccess: true,
        minimumTlsVersion: "TLS1_0",
        supportsHttpsTrafficOnly: true,
        accessTier: "Hot",
        isHnsEnabled: false,
        networkAcls: {
          bypass: "AzureServices",
          defaultAction: "Allow",
          ipRules: [],
          virtualNetworkRules: [],
        },
      },
      tags,
    ),
    {
      id: blobId,
      name: "default",
      type: "Microsoft.Storage/storageAccounts/blobServices",
      sku: { name: "Standard_LRS", tier: "Standard" },
      properties: {
        cors: CORS,
        isVersioningEnabled: false,
        changeFeed: { enabled: true, retentionInDays: 14 },
        deleteRetentionPolicy: { allowPermanentDelete: false, enabled: true, days: 7 },
        containerDeleteRetentionPolicy: { enabled: false },
      },
    },
    diagnosticSetting(blobId, "team-logs", {
      workspaceId: FOREIGN_LAW,
      logs: [{ categoryGroup: "allLogs", enabled: true }],
    }),
  ];
}

/** A Cosmos DB account that accepts keys and TLS 1.0, whose audit logs already go to the shipped workspace. */
export function driftedCosmos(accountId: string, tags: Record<string, string> = {}): ArmResource[] {
  return [
    cosmos(accountId, { disableLocalAuth: false, minimalTlsVersion: "Tls" }, tags),
    diagnosticSetting(accountId, "driftguard", {
      workspaceId: SHIPPED_LAW,
      logs: [{ categoryGroup: "audit", enabled: true }],
    }),
  ];
}

export function seedOf(...resources: ArmResource[][]): Seed {
  return { resources: resources.flat() };
}

/** The Event Grid ARM write event of a resource, as the parser gives it (one target). */
export function writeEvent(resourceId: string, resourceType: string, subscriptionId: string): Signal {
  const id = crypto.randomUUID();
  return {
    source: "eventgrid",
    type: "Microsoft.Resources.ResourceWriteSuccess",
    id,
    dedupeKey: `eg:${id}`,
    time: new Date().toISOString(),
    subscriptionId,
    trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
    targets: [{ resourceId, resourceType, subscriptionId }],
    caller: { objectId: "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d" },
  };
}

/** The properties each kind may write on a storage or Cosmos DB account (ARM's wire names). */
const ACCOUNT_FIELDS: Record<string, string[]> = {
  [KINDS.publicAccess]: ["publicNetworkAccess", "allowBlobPublicAccess"],
  [KINDS.localAuth]: ["allowSharedKeyAccess", "disableLocalAuth"],
  [KINDS.transport]: ["supportsHttpsTrafficOnly", "minimumTlsVersion", "minimalTlsVersion"],
};

/**
 * Which kind a write belongs to: a PUT of a diagnostic setting is `enable-diagnostic-logs`, a PUT of
 * the blob service `protect-model-storage`, a PATCH of the account the kind whose fields it carries
 * — `mixed` when its fields belong to more than one kind (a kind writing another kind's fields).
 */
export function kindOfWrite(w: LoggedRequest): string {
  const path = w.path.toLowerCase();
  if (path.includes("/providers/microsoft.insights/diagnosticsettings/")) return KINDS.logs;
  if (path.endsWith("/blobservices/default")) return KINDS.models;
  const props = Object.keys((w.body as { properties?: object } | undefined)?.properties ?? {});
  const kinds = new Set(
    props.map((p) => Object.entries(ACCOUNT_FIELDS).find(([, fields]) => fields.includes(p))?.[0] ?? "?"),
  );
  return kinds.size === 1 ? [...kinds][0]! : `mixed(${props.join(",")})`;
}

/** The fields a write sets (an account PATCH's `properties` keys), sorted. */
export function fieldsOf(w: LoggedRequest): string[] {
  return Object.keys((w.body as { properties?: object } | undefined)?.properties ?? {}).sort();
}

/** Paths (dotted) whose values differ between two JSON values. */
export function changedPaths(before: unknown, after: unknown, prefix = ""): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObj(before) || !isObj(after)) return [prefix || "(root)"];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((k) => changedPaths(before[k], after[k], prefix ? `${prefix}.${k}` : k));
}
