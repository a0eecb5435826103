/**
 * `disable-local-auth` (docs/policies.md#disable-local-auth): turns key (local) authentication off,
 * so that only Microsoft Entra ID identities can call the resource:
 *
 * - Cognitive Services accounts (Azure OpenAI included): `properties.disableLocalAuth: true`.
 *   PATCH (long-running) with `If-Match` on the account's etag.
 * - Storage accounts: `properties.allowSharedKeyAccess: false` (account keys, and SAS signed with
 *   them). PATCH, synchronous. **No ETag**: the account is read again right before the write and the
 *   run fails retryably (`ResourceChanged`) when the field changed since the plan.
 * - Cosmos DB accounts: `properties.disableLocalAuth: true` (primary/secondary keys and resource
 *   tokens). PATCH, long-running (Azure-AsyncOperation, polled to the end). **No ETag**: read again
 *   right before the write, as for Storage.
 *
 * Clients that still use keys stop working the moment this applies, so the shipped policy runs in
 * `approval` mode and every plan's summary (card, approval page, CLI) says so. Decisions come from
 * the resource's current state (`compliance.ts`), never from the event.
 */
import { z } from "zod";
import type { Change } from "../../audit/types.js";
import { withStep } from "../../errors.js";
import {
  assertUnchanged,
  captureRaw,
  classicIfMatchOnce,
  provisioningStateOf,
  tagsOf,
} from "../arm-helpers.js";
import {
  applyWrite,
  describeChanges,
  resolveTypedTarget,
  type TypedTarget,
  verifyReadBack,
} from "../kind-steps.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import { canonicalType, LOCAL_AUTH_PROPERTY, localAuthChanges, type SupportedType } from "./compliance.js";
import { localAuthSweep } from "./sweep.js";

export const KIND = "disable-local-auth";
export { SUPPORTED_TYPES } from "./compliance.js";

export const example = `version: 1
policies:
  - name: no-local-auth
    description: AI services, storage and Cosmos DB accept Microsoft Entra ID only, never account keys
    resourceTypes:
      - Microsoft.CognitiveServices/accounts
      - Microsoft.Storage/storageAccounts
      - Microsoft.DocumentDB/databaseAccounts
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: ${KIND}
    params: {}                          # none
    mode: approval                      # clients still using keys break: a person confirms
`;

export const paramsSchema = z.strictObject({});
export type Params = z.infer<typeof paramsSchema>;

/** What `read` found: the one deciding property (as ARM names it), never a key. */
export interface LocalAuthState {
  resourceId: string;
  resourceType: SupportedType;
  /** `{disableLocalAuth}` or `{allowSharedKeyAccess}` as read; an absent property is left out. */
  properties: Record<string, boolean>;
  provisioningState: string | null;
  /** Cognitive Services only: the account's etag (If-Match on the write). */
  etag?: string;
}

export interface LocalAuthData {
  resourceType: SupportedType;
  etag?: string;
  /** The deciding properties as planned (compared with a fresh read for types without an ETag). */
  planned: Record<string, boolean>;
}

type Ctx = RemediationContext<Params>;

type Target = TypedTarget<SupportedType>;

const resolveTarget = (resourceId: string, step: "read" | "apply" | "verify"): Target =>
  resolveTypedTarget(KIND, resourceId, step, canonicalType);

/** The deciding property as ARM's `properties` would carry it (absent when the model has none). */
function propertiesOf(type: SupportedType, value: unknown): Record<string, boolean> {
  return typeof value === "boolean" ? { [LOCAL_AUTH_PROPERTY[type].name]: value } : {};
}

async function readResource(
  t: Target,
  ctx: Ctx,
): Promise<{ state: LocalAuthState; tags: Record<string, string> }> {
  const sub = t.id.subscriptionId;
  const base = { resourceId: t.id.id, resourceType: t.type };
  switch (t.type) {
    case "Microsoft.CognitiveServices/accounts": {
      const raw = captureRaw();
      const acct = await ctx.clients
        .cognitiveServices(sub)
        .accounts.get(t.resourceGroup, t.name, { onResponse: raw.onResponse });
      const etag = acct.etag ?? raw.etag;
      return {
        state: {
          ...base,
          properties: propertiesOf(t.type, acct.properties?.disableLocalAuth),
          provisioningState: provisioningStateOf(acct) ?? null,
          ...(etag ? { etag } : {}),
        },
        tags: tagsOf(acct),
      };
    }
    case "Microsoft.Storage/storageAccounts": {
      const acct = await ctx.clients.storage(sub).storageAccounts.getProperties(t.resourceGroup, t.name);
      return {
        state: {
          ...base,
          properties: propertiesOf(t.type, acct.allowSharedKeyAccess),
          provisioningState: provisioningStateOf(acct) ?? null,
        },
        tags: tagsOf(acct),
      };
    }
    case "Microsoft.DocumentDB/databaseAccounts": {
      const acct = await ctx.clients.cosmosDb(sub).databaseAccounts.get(t.resourceGroup, t.name);
      return {
        state: {
          ...base,
          properties: propertiesOf(t.type, acct.disableLocalAuth),
          provisioningState: provisioningStateOf(acct) ?? null,
        },
        tags: tagsOf(acct),
      };
    }
  }
}

async function write(t: Target, data: LocalAuthData, ctx: Ctx): Promise<unknown> {
  const sub = t.id.subscriptionId;
  switch (t.type) {
    case "Microsoft.CognitiveServices/accounts":
      return ctx.clients
        .cognitiveServices(sub)
        .accounts.beginUpdateAndWait(
          t.resourceGroup,
          t.name,
          { properties: { disableLocalAuth: true } },
          { ...ctx.clients.lro, ...classicIfMatchOnce(data.etag) },
        );
    case "Microsoft.Storage/storageAccounts": {
      // No ETag on storage accounts: compare a fresh read with what the plan saw.
      const fresh = await readResource(t, ctx);
      assertUnchanged(data.planned, fresh.state.properties, t.id.id);
      return ctx.clients
        .storage(sub)
        .storageAccounts.update(t.resourceGroup, t.name, { allowSharedKeyAccess: false });
    }
    case "Microsoft.DocumentDB/databaseAccounts": {
      const fresh = await readResource(t, ctx);
      assertUnchanged(data.planned, fresh.state.properties, t.id.id);
      return ctx.clients
        .cosmosDb(sub)
        .databaseAccounts.beginUpdateAndWait(
          t.resourceGroup,
          t.name,
          { disableLocalAuth: true },
          ctx.clients.lro,
        );
    }
  }
}

/** Why a person confirms: the clients that break (shown on the approval card and page). */
const BREAKS: Record<SupportedType, string> = {
  "Microsoft.CognitiveServices/accounts":
    "clients that still send an api-key (Azure OpenAI keys included) get 401 from then on",
  "Microsoft.Storage/storageAccounts":
    "clients that still use an account key, a connection string with a key, or a SAS signed with a key get 403 from then on",
  "Microsoft.DocumentDB/databaseAccounts":
    "clients that still use a primary/secondary key, a connection string with a key or resource tokens are refused from then on",
};

export const remediation: Remediation<Params, LocalAuthState, LocalAuthData> = {
  kind: KIND,
  description:
    "Turns key (local) authentication off: Cognitive Services / Azure OpenAI and Cosmos DB disableLocalAuth: true, Storage allowSharedKeyAccess: false (clients still using keys break)",
  example,
  services: ["cognitiveServices", "storage", "cosmosDb"],
  permissions: {
    actions: [
      "Microsoft.CognitiveServices/accounts/read",
      "Microsoft.CognitiveServices/accounts/write",
      "Microsoft.CognitiveServices/locations/*/read",
      "Microsoft.Storage/storageAccounts/read",
      "Microsoft.Storage/storageAccounts/write",
      "Microsoft.DocumentDB/databaseAccounts/read",
      "Microsoft.DocumentDB/databaseAccounts/write",
      "Microsoft.DocumentDB/locations/*/read",
    ],
  },
  paramsSchema,
  sweep: localAuthSweep,

  supports(resourceType: string): boolean {
    return canonicalType(resourceType) !== undefined;
  },

  async read(ctx: Ctx): Promise<Current<LocalAuthState>> {
    const t = resolveTarget(ctx.target.resourceId, "read");
    return withStep({ step: "read", resourceId: t.id.id }, () => readResource(t, ctx));
  },

  plan(current: Current<LocalAuthState>): Plan<LocalAuthData> {
    const state = current.state;
    const changes = localAuthChanges(state.resourceType, state.properties);
    if (changes.length === 0)
      return { action: "noop", reason: "key (local) authentication already disabled" };
    const what = describeChanges(changes);
    return {
      action: "change",
      changes,
      summary: `Disable key authentication on ${state.resourceType} '${state.resourceId.split("/").pop()}' (${what}): ${BREAKS[state.resourceType]}; only Microsoft Entra ID identities can call it`,
      data: {
        resourceType: state.resourceType,
        ...(state.etag ? { etag: state.etag } : {}),
        planned: state.properties,
      },
    };
  },

  async apply(plan: ChangePlan<LocalAuthData>, ctx: Ctx): Promise<Change[]> {
    const t = resolveTarget(ctx.target.resourceId, "apply");
    return applyWrite(
      KIND,
      t.id.id,
      plan,
      ctx,
      () => write(t, plan.data, ctx),
      "key authentication disabled",
    );
  },

  async verify(plan: ChangePlan<LocalAuthData>, ctx: Ctx): Promise<VerifyResult> {
    const t = resolveTarget(ctx.target.resourceId, "verify");
    return verifyReadBack(
      t.id.id,
      plan.changes,
      async () => (await readResource(t, ctx)).state,
      (state) => localAuthChanges(state.resourceType, state.properties),
    );
  },
};
