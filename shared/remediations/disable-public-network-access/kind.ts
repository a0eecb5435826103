/**
 * `disable-public-network-access` (docs/policies.md#disable-public-network-access): sets `publicNetworkAccess` to `Disabled` on ML
 * workspaces, ML online endpoints, Storage accounts, Key Vaults and Cognitive Services / Azure
 * OpenAI accounts, plus the type's companion flags:
 *
 * - Storage: `allowBlobPublicAccess: false` (anonymous blob reads are a separate, network-independent
 *   exposure). Sent together with `publicNetworkAccess` in one PATCH.
 * - Key Vault: none. Per the ARM docs, `publicNetworkAccess: disabled` blocks all traffic except
 *   private endpoints and trusted services and "will override the set firewall rules", so
 *   `networkAcls.defaultAction` is left alone (a PATCH of `networkAcls` would also replace the
 *   vault's IP/VNet rules).
 *
 * Everything is decided from the resource's current state (GET), never from the event. An
 * already-compliant resource plans `noop` and is not written. Writes carry `If-Match` with the
 * etag read in `read` when the resource exposes one; ML online endpoints are written with a PUT of
 * the whole endpoint because the SDK's PATCH model can't carry `publicNetworkAccess`.
 */
import { z } from "zod";
import type { Change } from "../../audit/types.js";
import { RemediationError, withStep } from "../../errors.js";
import {
  captureRaw,
  classicIfMatchOnce,
  modularIfMatch,
  provisioningStateOf,
  tagsOf,
} from "../arm-helpers.js";
import {
  applyWrite,
  canonicalTypeIn,
  describeChanges,
  resolveTypedTarget,
  type TypedTarget,
  verifyReadBack,
} from "../kind-steps.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import { publicNetworkAccessSweep } from "./sweep.js";

export const KIND = "disable-public-network-access";

export const SUPPORTED_TYPES = [
  "Microsoft.MachineLearningServices/workspaces",
  "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
  "Microsoft.Storage/storageAccounts",
  "Microsoft.KeyVault/vaults",
  "Microsoft.CognitiveServices/accounts",
] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];

const DISABLED = "Disabled";

export const example = `version: 1
policies:
  - name: ai-services-private
    description: AI workspaces, endpoints, storage, vaults and Azure OpenAI are never reachable from the Internet
    resourceTypes:
      - Microsoft.MachineLearningServices/workspaces
      - Microsoft.MachineLearningServices/workspaces/onlineEndpoints
      - Microsoft.Storage/storageAccounts
      - Microsoft.KeyVault/vaults
      - Microsoft.CognitiveServices/accounts
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: ${KIND}
    params: {}                          # none
    mode: enforce
`;

export const paramsSchema = z.strictObject({});
export type Params = z.infer<typeof paramsSchema>;

/** What `read` found: only the fields this kind decides on (no keys, no secrets). */
export interface PublicNetworkAccessState {
  resourceId: string;
  resourceType: SupportedType;
  /** As read; `null` when the property is absent (ARM's default for all five types is enabled). */
  publicNetworkAccess: string | null;
  /** Storage only: as read, `null` when absent. */
  allowBlobPublicAccess?: boolean | null;
  provisioningState: string | null;
  /** The resource's etag when it exposes one (If-Match on the write). */
  etag?: string;
}

export interface PublicNetworkAccessData {
  resourceType: SupportedType;
  etag?: string;
  /** Storage only: also set `allowBlobPublicAccess: false`. */
  disableBlobPublicAccess: boolean;
}

type Ctx = RemediationContext<Params>;

function canonicalType(type: string): SupportedType | undefined {
  return canonicalTypeIn(SUPPORTED_TYPES, type);
}

interface Target extends TypedTarget<SupportedType> {
  /** The names along the ID; for endpoints: workspace then endpoint. */
  names: string[];
}

function resolveTarget(resourceId: string, step: "read" | "apply" | "verify"): Target {
  const t = resolveTypedTarget(KIND, resourceId, step, canonicalType);
  return { ...t, names: t.id.names.map(([, n]) => n) };
}

function isDisabled(value: string | null | undefined): boolean {
  return typeof value === "string" && value.toLowerCase() === DISABLED.toLowerCase();
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** GETs the resource and extracts its state and own tags. */
async function readResource(
  t: Target,
  ctx: Ctx,
): Promise<{ state: PublicNetworkAccessState; tags: Record<string, string> }> {
  const sub = t.id.subscriptionId;
  const raw = captureRaw();
  const base = { resourceId: t.id.id, resourceType: t.type };
  switch (t.type) {
    case "Microsoft.MachineLearningServices/workspaces": {
      const ws = await ctx.clients
        .machineLearning(sub)
        .workspaces.get(t.resourceGroup, t.names[0]!, { onResponse: raw.onResponse });
      return {
        state: {
          ...base,
          publicNetworkAccess: str(ws.publicNetworkAccess),
          provisioningState: provisioningStateOf(ws) ?? null,
          etag: raw.etag,
        },
        tags: tagsOf(ws),
      };
    }
    case "Microsoft.MachineLearningServices/workspaces/onlineEndpoints": {
      const ep = await ctx.clients
        .machineLearning(sub)
        .onlineEndpoints.get(t.resourceGroup, t.names[0]!, t.names[1]!, { onResponse: raw.onResponse });
      return {
        state: {
          ...base,
          publicNetworkAccess: str(ep.properties?.publicNetworkAccess),
          provisioningState: provisioningStateOf(ep) ?? null,
          etag: raw.etag,
        },
        tags: tagsOf(ep),
      };
    }
    case "Microsoft.Storage/storageAccounts": {
      const acct = await ctx.clients
        .storage(sub)
        .storageAccounts.getProperties(t.resourceGroup, t.names[0]!, { onResponse: raw.onResponse });
      return {
        state: {
          ...base,
          publicNetworkAccess: str(acct.publicNetworkAccess),
          allowBlobPublicAccess:
            typeof acct.allowBlobPublicAccess === "boolean" ? acct.allowBlobPublicAccess : null,
          provisioningState: provisioningStateOf(acct) ?? null,
          etag: raw.etag,
        },
        tags: tagsOf(acct),
      };
    }
    case "Microsoft.KeyVault/vaults": {
      const vault = await ctx.clients
        .keyVaultManagement(sub)
        .vaults.get(t.resourceGroup, t.names[0]!, { onResponse: raw.onResponse });
      return {
        state: {
          ...base,
          publicNetworkAccess: str(vault.properties?.publicNetworkAccess),
          provisioningState: provisioningStateOf(vault) ?? null,
          etag: raw.etag,
        },
        tags: tagsOf(vault),
      };
    }
    case "Microsoft.CognitiveServices/accounts": {
      const acct = await ctx.clients
        .cognitiveServices(sub)
        .accounts.get(t.resourceGroup, t.names[0]!, { onResponse: raw.onResponse });
      return {
        state: {
          ...base,
          publicNetworkAccess: str(acct.properties?.publicNetworkAccess),
          provisioningState: provisioningStateOf(acct) ?? null,
          etag: acct.etag ?? raw.etag,
        },
        tags: tagsOf(acct),
      };
    }
  }
}

/** Tags that govern an online endpoint: its workspace's, overridden by its own. */
async function parentTags(t: Target, ctx: Ctx): Promise<Record<string, string>> {
  if (t.type !== "Microsoft.MachineLearningServices/workspaces/onlineEndpoints") return {};
  const ws = await ctx.clients
    .machineLearning(t.id.subscriptionId)
    .workspaces.get(t.resourceGroup, t.names[0]!);
  return tagsOf(ws);
}

/** Changes needed to make `state` compliant (empty when it already is). */
export function changesFor(state: PublicNetworkAccessState): Change[] {
  const changes: Change[] = [];
  if (!isDisabled(state.publicNetworkAccess)) {
    changes.push({ path: "properties.publicNetworkAccess", from: state.publicNetworkAccess, to: DISABLED });
  }
  if (state.resourceType === "Microsoft.Storage/storageAccounts" && state.allowBlobPublicAccess !== false) {
    changes.push({
      path: "properties.allowBlobPublicAccess",
      from: state.allowBlobPublicAccess ?? null,
      to: false,
    });
  }
  return changes;
}

async function write(t: Target, data: PublicNetworkAccessData, ctx: Ctx): Promise<unknown> {
  const sub = t.id.subscriptionId;
  switch (t.type) {
    case "Microsoft.MachineLearningServices/workspaces":
      return ctx.clients
        .machineLearning(sub)
        .workspaces.beginUpdateAndWait(
          t.resourceGroup,
          t.names[0]!,
          { publicNetworkAccess: DISABLED },
          { ...ctx.clients.lro, ...classicIfMatchOnce(data.etag) },
        );
    case "Microsoft.MachineLearningServices/workspaces/onlineEndpoints": {
      // The SDK's PATCH model (tags/identity only) silently drops publicNetworkAccess: GET the
      // whole endpoint now and PUT it back with only that field changed.
      const client = ctx.clients.machineLearning(sub).onlineEndpoints;
      const raw = captureRaw();
      const endpoint = await client.get(t.resourceGroup, t.names[0]!, t.names[1]!, {
        onResponse: raw.onResponse,
      });
      if (data.etag && raw.etag && raw.etag !== data.etag) {
        throw new RemediationError("PreconditionFailed", "the endpoint changed since it was read", {
          step: "apply",
          resourceId: t.id.id,
          retryable: true,
          statusCode: 412,
        });
      }
      const body = { ...endpoint, properties: { ...endpoint.properties, publicNetworkAccess: DISABLED } };
      return client.beginCreateOrUpdateAndWait(t.resourceGroup, t.names[0]!, t.names[1]!, body, {
        ...ctx.clients.lro,
        ...classicIfMatchOnce(raw.etag ?? data.etag),
      });
    }
    case "Microsoft.Storage/storageAccounts":
      // Both fields always go together: arm-storage 20's serializer only emits `properties` when
      // one of its listed names is set, and it lists `AllowBlobPublicAccess` with a capital A.
      return ctx.clients.storage(sub).storageAccounts.update(
        t.resourceGroup,
        t.names[0]!,
        {
          publicNetworkAccess: DISABLED,
          ...(data.disableBlobPublicAccess ? { allowBlobPublicAccess: false } : {}),
        },
        modularIfMatch(data.etag),
      );
    case "Microsoft.KeyVault/vaults":
      return ctx.clients
        .keyVaultManagement(sub)
        .vaults.update(
          t.resourceGroup,
          t.names[0]!,
          { properties: { publicNetworkAccess: DISABLED } },
          modularIfMatch(data.etag),
        );
    case "Microsoft.CognitiveServices/accounts":
      return ctx.clients
        .cognitiveServices(sub)
        .accounts.beginUpdateAndWait(
          t.resourceGroup,
          t.names[0]!,
          { properties: { publicNetworkAccess: DISABLED } },
          { ...ctx.clients.lro, ...classicIfMatchOnce(data.etag) },
        );
  }
}

export const remediation: Remediation<Params, PublicNetworkAccessState, PublicNetworkAccessData> = {
  kind: KIND,
  description:
    "Sets publicNetworkAccess to Disabled on ML workspaces and online endpoints, Storage accounts (plus allowBlobPublicAccess: false), Key Vaults and Cognitive Services / Azure OpenAI accounts",
  example,
  services: ["machineLearning", "storage", "keyVaultManagement", "cognitiveServices"],
  permissions: {
    actions: [
      "Microsoft.MachineLearningServices/workspaces/read",
      "Microsoft.MachineLearningServices/workspaces/write",
      "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read",
      "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write",
      "Microsoft.MachineLearningServices/locations/*/read",
      "Microsoft.Storage/storageAccounts/read",
      "Microsoft.Storage/storageAccounts/write",
      "Microsoft.KeyVault/vaults/read",
      "Microsoft.CognitiveServices/accounts/read",
      "Microsoft.CognitiveServices/accounts/write",
      "Microsoft.CognitiveServices/locations/*/read",
    ],
    // Granted only where the resources they act on are governed (infra/: vaultWriteResourceGroups,
    // identityAssignResourceGroups): a vault write could add driftguard to an access-policy vault's
    // policies; an endpoint's PUT names its user-assigned identities again, and ARM checks assigning
    // each of them.
    conditionalActions: [
      "Microsoft.KeyVault/vaults/write",
      "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    ],
  },
  paramsSchema,
  sweep: publicNetworkAccessSweep({ canonicalType, changesFor }),

  supports(resourceType: string): boolean {
    return canonicalType(resourceType) !== undefined;
  },

  async read(ctx: Ctx): Promise<Current<PublicNetworkAccessState>> {
    const resourceId = ctx.target.resourceId;
    const t = resolveTarget(resourceId, "read");
    return withStep({ step: "read", resourceId: t.id.id }, async () => {
      const [own, inherited] = await Promise.all([readResource(t, ctx), parentTags(t, ctx)]);
      return { state: own.state, tags: { ...inherited, ...own.tags } };
    });
  },

  plan(current: Current<PublicNetworkAccessState>): Plan<PublicNetworkAccessData> {
    const state = current.state;
    const changes = changesFor(state);
    if (changes.length === 0) return { action: "noop", reason: "public network access already disabled" };
    const name = state.resourceId.split("/").pop();
    const what = describeChanges(changes);
    return {
      action: "change",
      changes,
      summary: `Disable public network access on ${state.resourceType} '${name}' (${what})`,
      data: {
        resourceType: state.resourceType,
        ...(state.etag ? { etag: state.etag } : {}),
        disableBlobPublicAccess: changes.some((c) => c.path === "properties.allowBlobPublicAccess"),
      },
    };
  },

  async apply(plan: ChangePlan<PublicNetworkAccessData>, ctx: Ctx) {
    const t = resolveTarget(ctx.target.resourceId, "apply");
    return applyWrite(
      KIND,
      t.id.id,
      plan,
      ctx,
      () => write(t, plan.data, ctx),
      "public network access disabled",
    );
  },

  async verify(plan: ChangePlan<PublicNetworkAccessData>, ctx: Ctx): Promise<VerifyResult> {
    const t = resolveTarget(ctx.target.resourceId, "verify");
    return verifyReadBack(t.id.id, plan.changes, async () => (await readResource(t, ctx)).state, changesFor);
  },
};
