/**
 * What `enable-diagnostic-logs` requires, as pure functions of a resource's diagnostic settings as
 * ARM lists them (`{name, properties: {workspaceId, logs[]}}`), shared by read, verify and a sweep.
 *
 * A category group is sent when a setting has it (or `allLogs`, which holds every group) enabled. The
 * resource complies when the setting named `settingName` sends every wanted group to the workspace,
 * or when another setting already does: Azure refuses a second setting sending the same logs to the
 * same workspace, and the logs flow either way. Other settings are never changed.
 */
import type { Change } from "../../audit/types.js";
import { canonicalTypeIn } from "../kind-steps.js";

export const SUPPORTED_TYPES = [
  "Microsoft.KeyVault/vaults",
  "Microsoft.CognitiveServices/accounts",
  "Microsoft.MachineLearningServices/workspaces",
  "Microsoft.ApiManagement/service",
  "Microsoft.DocumentDB/databaseAccounts",
  "Microsoft.Storage/storageAccounts",
  "Microsoft.Storage/storageAccounts/blobServices",
] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];

export const CATEGORY_GROUPS = ["audit", "allLogs"] as const;
export type CategoryGroup = (typeof CATEGORY_GROUPS)[number];

export function canonicalType(type: string): SupportedType | undefined {
  return canonicalTypeIn(SUPPORTED_TYPES, type);
}

/** The deciding part of a diagnostic setting. */
export interface SettingView {
  name: string;
  workspaceId: string | null;
  logs: { category?: string; categoryGroup?: string; enabled: boolean }[];
}

export interface WantedLogs {
  workspaceId: string;
  categoryGroups: readonly CategoryGroup[];
  settingName: string;
}

/** The deciding fields of an ARM diagnostic setting (`{name, properties}`). */
export function settingView(setting: { name?: string; properties?: object | null }): SettingView {
  const p = (setting.properties ?? {}) as Record<string, unknown>;
  const logs = Array.isArray(p.logs) ? (p.logs as Record<string, unknown>[]) : [];
  return {
    name: setting.name ?? "",
    workspaceId: typeof p.workspaceId === "string" && p.workspaceId ? p.workspaceId : null,
    logs: logs.map((l) => ({
      ...(typeof l.category === "string" && l.category ? { category: l.category } : {}),
      ...(typeof l.categoryGroup === "string" && l.categoryGroup ? { categoryGroup: l.categoryGroup } : {}),
      enabled: l.enabled === true,
    })),
  };
}

const same = (a: string | null | undefined, b: string | null | undefined) =>
  (a ?? "").toLowerCase() === (b ?? "").toLowerCase();

/** The wanted groups `setting` does not send (enabled) to `workspaceId`. */
export function missingGroups(
  setting: SettingView,
  want: Pick<WantedLogs, "workspaceId" | "categoryGroups">,
) {
  const enabled = (g: string) => setting.logs.some((l) => l.enabled && same(l.categoryGroup, g));
  return want.categoryGroups.filter((g) => !enabled(g) && !enabled("allLogs"));
}

function sends(setting: SettingView, want: WantedLogs): boolean {
  return same(setting.workspaceId, want.workspaceId) && missingGroups(setting, want).length === 0;
}

export type LogsDecision =
  | { compliant: true; by: string }
  | { compliant: false; own: SettingView | undefined; changes: Change[] };

/**
 * Whether the resource's `settings` send the wanted logs, and otherwise the changes to the setting
 * named `want.settingName` (paths start with `pathPrefix`, e.g. `blobServices/default/`).
 */
export function decideLogs(
  settings: readonly SettingView[],
  want: WantedLogs,
  pathPrefix = "",
): LogsDecision {
  const own = settings.find((s) => same(s.name, want.settingName));
  if (own && sends(own, want)) return { compliant: true, by: own.name };
  const other = settings.find((s) => s !== own && sends(s, want));
  if (other) return { compliant: true, by: other.name };
  const at = `${pathPrefix}diagnosticSettings[${want.settingName}]`;
  if (!own)
    return {
      compliant: false,
      own,
      changes: [
        {
          path: at,
          from: null,
          to: { workspaceId: want.workspaceId, categoryGroups: [...want.categoryGroups] },
        },
      ],
    };
  const changes: Change[] = [];
  if (!same(own.workspaceId, want.workspaceId))
    changes.push({ path: `${at}.properties.workspaceId`, from: own.workspaceId, to: want.workspaceId });
  for (const g of missingGroups(own, want)) {
    const entry = own.logs.find((l) => same(l.categoryGroup, g));
    changes.push({
      path: `${at}.properties.logs[${g}].enabled`,
      from: entry ? entry.enabled : null,
      to: true,
    });
  }
  return { compliant: false, own, changes };
}

/**
 * The properties to PUT for the setting: what it has now (other destinations, metrics, other log
 * entries kept), pointed at the workspace, with every wanted group enabled.
 */
export function desiredProperties(
  current: Record<string, unknown> | undefined,
  want: Pick<WantedLogs, "workspaceId" | "categoryGroups">,
): Record<string, unknown> {
  const logs = (Array.isArray(current?.logs) ? (current.logs as Record<string, unknown>[]) : []).map((l) => ({
    ...l,
  }));
  for (const g of want.categoryGroups) {
    const entry = logs.find((l) => typeof l.categoryGroup === "string" && same(l.categoryGroup, g));
    if (entry) entry.enabled = true;
    else logs.push({ categoryGroup: g, enabled: true });
  }
  return { ...(current ?? {}), workspaceId: want.workspaceId, logs };
}
