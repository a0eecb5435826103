/**
 * `enable-diagnostic-logs` (docs/policies.md#enable-diagnostic-logs): a diagnostic setting named
 * `params.settingName` sends `params.categoryGroups` (default `audit`) of the resource's logs to the
 * Log Analytics workspace `params.workspaceId`. Key Vaults, Cognitive Services / Azure OpenAI, ML
 * workspaces, API Management, Cosmos DB accounts and Storage, whose logs live on its blob service
 * (`…/blobServices/default`; an event about the blob service itself works too).
 *
 * - Read: the resource (its tags decide opt-out; the blob service has none, so the account's do)
 *   and its diagnostic settings (one list). A resource that no longer exists is a noop: a delete
 *   event of the resource also matches the policy's delete trigger.
 * - Plan (`compliance.ts`): nothing when our setting, or another one, already sends the groups to
 *   the workspace; else create our setting, or correct its workspace / enable the missing groups.
 *   Other settings are never written.
 * - Apply: diagnostic settings **have no ETag**: the setting is read again right before the PUT and
 *   the run fails retryably (`ResourceChanged`) when it changed since the plan; the PUT keeps what
 *   else our setting had (other destinations, metrics). Synchronous.
 * - Verify: read the setting back.
 *
 * Triggers: the resource's write events and the write/delete events of its diagnostic settings,
 * whose resource ID (`<resource>/providers/Microsoft.Insights/diagnosticSettings/<name>`) the
 * parser maps to the resource (shared/resource-id.ts): a deleted setting is back within one event.
 */
import { z } from "zod";
import type { Change } from "../../audit/types.js";
import type { DiagnosticSettingResource } from "../../azure/diagnostic-settings.js";
import { withStep } from "../../errors.js";
import { parseResourceId, type ResourceId, ResourceIdError } from "../../resource-id.js";
import { assertUnchanged, orNotFound, parseTargetId, tagsOf } from "../arm-helpers.js";
import { describeMismatches, unsupportedTarget } from "../kind-steps.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import {
  CATEGORY_GROUPS,
  canonicalType,
  decideLogs,
  desiredProperties,
  type SettingView,
  type SupportedType,
  settingView,
} from "./compliance.js";
import { logsSweep } from "./sweep.js";

export const KIND = "enable-diagnostic-logs";
export { SUPPORTED_TYPES } from "./compliance.js";

export const example = `version: 1
policies:
  - name: audit-logs-on
    description: Access (audit) logs of AI services, vaults, APIM, Cosmos DB and storage go to the security workspace
    resourceTypes:
      - Microsoft.KeyVault/vaults
      - Microsoft.CognitiveServices/accounts
      - Microsoft.MachineLearningServices/workspaces
      - Microsoft.ApiManagement/service
      - Microsoft.DocumentDB/databaseAccounts
      - Microsoft.Storage/storageAccounts
      - Microsoft.Storage/storageAccounts/blobServices
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess    # the resource or one of its settings written
      - eventGrid: Microsoft.Resources.ResourceDeleteSuccess   # a diagnostic setting deleted
    kind: ${KIND}
    params:
      workspaceId: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-security/providers/Microsoft.OperationalInsights/workspaces/law-security
      categoryGroups: [audit]           # or [allLogs]
      settingName: driftguard
    mode: enforce
`;

const workspaceId = z
  .string()
  .superRefine((v, ctx) => {
    try {
      const id = parseResourceId(v);
      if (id.type.toLowerCase() !== "microsoft.operationalinsights/workspaces" || id.extension)
        ctx.addIssue({
          code: "custom",
          message: `'${id.type}' is not a Log Analytics workspace (Microsoft.OperationalInsights/workspaces)`,
        });
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        message: err instanceof ResourceIdError ? err.message : "not a resource ID",
      });
    }
  })
  .describe(
    "Resource ID of the Log Analytics workspace the logs go to (Microsoft.OperationalInsights/workspaces)",
  );

export const paramsSchema = z.strictObject({
  workspaceId,
  categoryGroups: z
    .array(z.enum(CATEGORY_GROUPS))
    .min(1)
    .refine((g) => new Set(g).size === g.length, { message: "each category group at most once" })
    .default(["audit"])
    .describe(
      'Log category groups to send: "audit" (access and changes) and/or "allLogs" (every resource log)',
    ),
  settingName: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
      "1-128 letters, digits, '_', '.', '-', starting with a letter or digit",
    )
    .default("driftguard")
    .describe("Name of driftguard's diagnostic setting on each resource (other settings are left alone)"),
});
export type Params = z.infer<typeof paramsSchema>;

/** What `read` found: the deciding fields of every setting (no secrets: settings hold none). */
export interface DiagnosticLogsState {
  resourceId: string;
  resourceType: SupportedType;
  /** Where the settings live: the resource, or a storage account's `…/blobServices/default`. */
  logScope: string;
  /** False when the resource is gone (nothing to log). */
  exists: boolean;
  settings: SettingView[];
}

export interface DiagnosticLogsData {
  logScope: string;
  settingName: string;
  /** Our setting's deciding fields as planned (null: absent), compared before the PUT. */
  planned: SettingView | null;
}

type Ctx = RemediationContext<Params>;

interface Target {
  id: ResourceId;
  type: SupportedType;
  resourceGroup: string;
  /** The storage account of a storage target (account or blob service). */
  account?: string;
  logScope: string;
}

function resolveTarget(resourceId: string, step: "read" | "apply" | "verify"): Target {
  const id = parseTargetId(resourceId, step);
  const type = canonicalType(id.type);
  const blobService = type === "Microsoft.Storage/storageAccounts/blobServices";
  if (!type || !id.resourceGroup || (blobService && id.name.toLowerCase() !== "default")) {
    throw unsupportedTarget(`${KIND} does not support resource '${id.type}/${id.name}'`, resourceId, step);
  }
  const storage = type.startsWith("Microsoft.Storage/");
  return {
    id,
    type,
    resourceGroup: id.resourceGroup,
    ...(storage ? { account: id.names[0]![1] } : {}),
    logScope: type === "Microsoft.Storage/storageAccounts" ? `${id.id}/blobServices/default` : id.id,
  };
}

/** The resource's tags (the account's for a blob service), or undefined when it does not exist. */
async function resourceTags(t: Target, ctx: Ctx): Promise<Record<string, string> | undefined> {
  const sub = t.id.subscriptionId;
  const rg = t.resourceGroup;
  const name = t.id.names[0]![1];
  const found = await orNotFound<unknown>(async () => {
    switch (t.type) {
      case "Microsoft.KeyVault/vaults":
        return ctx.clients.keyVaultManagement(sub).vaults.get(rg, name);
      case "Microsoft.CognitiveServices/accounts":
        return ctx.clients.cognitiveServices(sub).accounts.get(rg, name);
      case "Microsoft.MachineLearningServices/workspaces":
        return ctx.clients.machineLearning(sub).workspaces.get(rg, name);
      case "Microsoft.ApiManagement/service":
        return ctx.clients.apiManagement(sub).apiManagementService.get(rg, name);
      case "Microsoft.DocumentDB/databaseAccounts":
        return ctx.clients.cosmosDb(sub).databaseAccounts.get(rg, name);
      case "Microsoft.Storage/storageAccounts":
      case "Microsoft.Storage/storageAccounts/blobServices":
        return ctx.clients.storage(sub).storageAccounts.getProperties(rg, t.account!);
    }
  });
  return found === undefined ? undefined : tagsOf(found);
}

function prefixOf(t: Target): string {
  return t.type === "Microsoft.Storage/storageAccounts" ? "blobServices/default/" : "";
}

async function ownSetting(t: Target, name: string, ctx: Ctx): Promise<DiagnosticSettingResource | undefined> {
  return orNotFound(() => ctx.clients.monitor().get(t.logScope, name));
}

export const remediation: Remediation<Params, DiagnosticLogsState, DiagnosticLogsData> = {
  kind: KIND,
  description:
    "Keeps a diagnostic setting that sends the resource's audit (or all) logs to a Log Analytics workspace on Key Vaults, Cognitive Services / Azure OpenAI, ML workspaces, API Management, Cosmos DB and Storage (blob service); re-creates it when deleted",
  example,
  services: [
    "keyVaultManagement",
    "cognitiveServices",
    "machineLearning",
    "apiManagement",
    "cosmosDb",
    "storage",
    "monitor",
  ],
  permissions: {
    actions: [
      "Microsoft.KeyVault/vaults/read",
      "Microsoft.CognitiveServices/accounts/read",
      "Microsoft.MachineLearningServices/workspaces/read",
      "Microsoft.ApiManagement/service/read",
      "Microsoft.DocumentDB/databaseAccounts/read",
      "Microsoft.Storage/storageAccounts/read",
      "Microsoft.Insights/diagnosticSettings/read",
      "Microsoft.Insights/diagnosticSettings/write",
      // ARM's linked check on the destination when a setting names a Log Analytics workspace.
      "Microsoft.OperationalInsights/workspaces/sharedKeys/action",
    ],
  },
  paramsSchema,
  sweep: logsSweep,

  supports(resourceType: string): boolean {
    return canonicalType(resourceType) !== undefined;
  },

  async read(ctx: Ctx): Promise<Current<DiagnosticLogsState>> {
    const t = resolveTarget(ctx.target.resourceId, "read");
    return withStep({ step: "read", resourceId: t.id.id }, async () => {
      const base = { resourceId: t.id.id, resourceType: t.type, logScope: t.logScope };
      const tags = await resourceTags(t, ctx);
      if (tags === undefined) return { state: { ...base, exists: false, settings: [] }, tags: {} };
      const settings = await ctx.clients.monitor().list(t.logScope);
      return { state: { ...base, exists: true, settings: settings.map(settingView) }, tags };
    });
  },

  plan(current: Current<DiagnosticLogsState>, ctx: Ctx): Plan<DiagnosticLogsData> {
    const state = current.state;
    if (!state.exists) return { action: "noop", reason: "the resource no longer exists: no logs to send" };
    const t = resolveTarget(state.resourceId, "read");
    const decision = decideLogs(state.settings, ctx.params, prefixOf(t));
    const groups = ctx.params.categoryGroups.join(", ");
    if (decision.compliant)
      return {
        action: "noop",
        reason: `diagnostic setting '${decision.by}' already sends ${groups} logs to the workspace`,
      };
    const where = t.logScope === t.id.id ? "" : " (on its blob service)";
    return {
      action: "change",
      changes: decision.changes,
      summary: `${decision.own ? "Correct" : "Create"} diagnostic setting '${ctx.params.settingName}' on ${state.resourceType} '${t.id.name}'${where}: ${groups} logs to workspace '${ctx.params.workspaceId.split("/").pop()}'`,
      data: { logScope: t.logScope, settingName: ctx.params.settingName, planned: decision.own ?? null },
    };
  },

  async apply(plan: ChangePlan<DiagnosticLogsData>, ctx: Ctx): Promise<Change[]> {
    const t = resolveTarget(ctx.target.resourceId, "apply");
    const { settingName, planned } = plan.data;
    await withStep({ step: "apply", resourceId: t.id.id }, async () => {
      // No ETag on diagnostic settings: read ours again and write only if it is as planned.
      const fresh = await ownSetting(t, settingName, ctx);
      assertUnchanged({ setting: planned }, { setting: fresh ? settingView(fresh) : null }, t.id.id);
      await ctx.clients.monitor().createOrUpdate(t.logScope, settingName, {
        properties: desiredProperties(fresh?.properties as Record<string, unknown> | undefined, ctx.params),
      });
    });
    ctx.log.info({ kind: KIND, resourceId: t.id.id, changes: plan.changes }, "diagnostic setting written");
    return plan.changes;
  },

  async verify(plan: ChangePlan<DiagnosticLogsData>, ctx: Ctx): Promise<VerifyResult> {
    const t = resolveTarget(ctx.target.resourceId, "verify");
    const setting = await withStep({ step: "verify", resourceId: t.id.id }, () =>
      ownSetting(t, plan.data.settingName, ctx),
    );
    if (!setting) return { ok: false, detail: `diagnostic setting '${plan.data.settingName}' is missing` };
    const decision = decideLogs([settingView(setting)], ctx.params, prefixOf(t));
    if (decision.compliant) return { ok: true };
    return { ok: false, detail: describeMismatches(decision.changes) };
  },
};
