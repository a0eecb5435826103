/**
 * `protect-model-storage` (docs/policies.md#protect-model-storage): storage accounts that hold
 * models and data sets keep what is overwritten or deleted — blob versioning on, blob soft delete
 * and container soft delete on for at least `retentionDays` (raised, never lowered) — on the
 * account's blob service `…/storageAccounts/{a}/blobServices/default`. Which accounts: the
 * policy's scope, and with `requireTag` only those carrying that tag.
 *
 * Targets: the account (`Microsoft.Storage/storageAccounts`) or its blob service
 * (`…/storageAccounts/blobServices`, the ID of a "set blob service properties" event). The
 * account's tags govern both (opt-out, `requireTag`).
 *
 * Blob service properties have no ETag, so a write cannot carry `If-Match`: right before the PUT
 * the blob service is read again, and when any of this kind's fields differs from what the plan
 * was made from, nothing is written and the run fails with the retryable `ConcurrentChange` (a
 * redelivery re-plans). The PUT sends the properties just read with only this kind's fields
 * changed, so CORS, change feed, restore policy and the rest stay as they were.
 */
import type { BlobServiceProperties } from "@azure/arm-storage";
import { z } from "zod";
import { RemediationError, type Step, withStep } from "../../errors.js";
import { sameType } from "../../resource-id.js";
import { orNotFound, parseTargetId, tagsOf } from "../arm-helpers.js";
import { describeMismatches, unsupportedTarget, unsupportedType } from "../kind-steps.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import {
  applyChanges,
  type BlobProtection,
  blobProtectionOf,
  describeProtection,
  hasRequiredTag,
  protectionChanges,
  sameProtection,
  valueAt,
} from "./protection.js";
import { modelStorageSweep } from "./sweep.js";

export const KIND = "protect-model-storage";

export const ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts";
export const BLOB_SERVICE_TYPE = "Microsoft.Storage/storageAccounts/blobServices";

export const example = `version: 1
policies:
  - name: model-storage-recoverable
    description: Model and data set storage keeps overwritten and deleted blobs for 30 days
    resourceTypes:
      - Microsoft.Storage/storageAccounts
      - Microsoft.Storage/storageAccounts/blobServices   # "set blob service properties" events
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: ${KIND}
    params:
      retentionDays: 30                 # default 30, 1..365; a longer retention is kept
      requireTag: { name: data-class, value: models }   # optional: only accounts with this tag
    mode: enforce
`;

export const paramsSchema = z.strictObject({
  retentionDays: z
    .number()
    .int()
    .min(1)
    .max(365)
    .default(30)
    .describe(
      "Days deleted blobs and containers are kept (blob and container soft delete): a shorter retention is raised to this, a longer one is kept",
    ),
  requireTag: z
    .strictObject({
      name: z.string().trim().min(1, "tag name must not be empty").max(512),
      value: z.string().max(256),
    })
    .optional()
    .describe(
      "Only accounts carrying this tag ({name, value}; name and value compared case-insensitively) hold models; leave out to govern every account in the policy's scope",
    ),
});
export type Params = z.infer<typeof paramsSchema>;

type Ctx = RemediationContext<Params>;

export interface ModelStorageState {
  accountId: string;
  resourceGroup: string;
  accountName: string;
  /** False when the account no longer exists (nothing else is read then). */
  exists: boolean;
  /** The account's `kind` (`StorageV2`, `BlockBlobStorage`, `FileStorage`, …). */
  accountKind: string | null;
  blobServiceId: string;
  protection: BlobProtection;
}

export interface ModelStorageData {
  accountId: string;
  resourceGroup: string;
  accountName: string;
  /** The fields as read when planning: the write goes ahead only while they still hold. */
  planned: BlobProtection;
}

interface Target {
  accountId: string;
  resourceGroup: string;
  accountName: string;
  subscriptionId: string;
}

function resolveTarget(resourceId: string, step: Step): Target {
  const id = parseTargetId(resourceId, step);
  const isAccount = sameType(id.type, ACCOUNT_TYPE);
  const isBlobService = sameType(id.type, BLOB_SERVICE_TYPE);
  if (!id.resourceGroup || (!isAccount && !isBlobService))
    throw unsupportedType(KIND, id.type, resourceId, step);
  if (isBlobService && id.name.toLowerCase() !== "default")
    throw unsupportedTarget("a storage account has only the blob service 'default'", resourceId, step);
  const accountName = id.names[0]![1];
  return {
    accountId: `/subscriptions/${id.subscriptionId}/resourceGroups/${id.resourceGroup}/providers/${id.namespace}/${id.names[0]![0]}/${accountName}`,
    resourceGroup: id.resourceGroup,
    accountName,
    subscriptionId: id.subscriptionId,
  };
}

function readBlobService(t: Target, ctx: Ctx): Promise<BlobServiceProperties> {
  return ctx.clients
    .storage(t.subscriptionId)
    .blobServices.getServiceProperties(t.resourceGroup, t.accountName);
}

/** Kinds without a blob service. */
const NO_BLOB_SERVICE = new Set(["filestorage"]);

export const remediation: Remediation<Params, ModelStorageState, ModelStorageData> = {
  kind: KIND,
  description:
    "Turns on blob versioning, blob soft delete and container soft delete (at least retentionDays, never lowered) on the blob service of storage accounts holding models and data sets (optionally only accounts with a given tag)",
  example,
  services: ["storage"],
  permissions: {
    actions: [
      "Microsoft.Storage/storageAccounts/read",
      "Microsoft.Storage/storageAccounts/blobServices/read",
      "Microsoft.Storage/storageAccounts/blobServices/write",
    ],
  },
  paramsSchema,
  sweep: modelStorageSweep,

  supports(resourceType: string): boolean {
    return sameType(resourceType, ACCOUNT_TYPE) || sameType(resourceType, BLOB_SERVICE_TYPE);
  },

  async read(ctx): Promise<Current<ModelStorageState>> {
    const t = resolveTarget(ctx.target.resourceId, "read");
    return withStep({ step: "read", resourceId: ctx.target.resourceId }, async () => {
      const account = await orNotFound(() =>
        ctx.clients.storage(t.subscriptionId).storageAccounts.getProperties(t.resourceGroup, t.accountName),
      );
      const noBlobService = account?.kind !== undefined && NO_BLOB_SERVICE.has(account.kind.toLowerCase());
      const blob = account && !noBlobService ? await readBlobService(t, ctx) : undefined;
      return {
        state: {
          accountId: t.accountId,
          resourceGroup: t.resourceGroup,
          accountName: t.accountName,
          exists: account !== undefined,
          accountKind: typeof account?.kind === "string" ? account.kind : null,
          blobServiceId: `${t.accountId}/blobServices/default`,
          protection: blobProtectionOf(blob),
        },
        tags: tagsOf(account),
      };
    });
  },

  plan(current, ctx): Plan<ModelStorageData> {
    const s = current.state;
    const { requireTag, retentionDays } = ctx.params;
    if (!s.exists) return { action: "noop", reason: `storage account '${s.accountName}' no longer exists` };
    if (!hasRequiredTag(current.tags, requireTag)) {
      return {
        action: "noop",
        reason: `storage account '${s.accountName}' does not carry the tag ${requireTag!.name}=${requireTag!.value}: not model storage`,
      };
    }
    if (s.accountKind && NO_BLOB_SERVICE.has(s.accountKind.toLowerCase())) {
      return {
        action: "noop",
        reason: `storage account '${s.accountName}' is ${s.accountKind}: no blob service`,
      };
    }
    const changes = protectionChanges(s.protection, retentionDays);
    if (changes.length === 0) {
      return {
        action: "noop",
        reason: `blob service of '${s.accountName}' already protected (${describeProtection(s.protection)})`,
      };
    }
    const after = applyChanges(s.protection, changes);
    return {
      action: "change",
      changes,
      summary: `Protect model storage '${s.accountName}': ${describeProtection(after)} (was ${describeProtection(s.protection)})`,
      data: {
        accountId: s.accountId,
        resourceGroup: s.resourceGroup,
        accountName: s.accountName,
        planned: s.protection,
      },
    };
  },

  async apply(plan: ChangePlan<ModelStorageData>, ctx) {
    const d = plan.data;
    const t = resolveTarget(d.accountId, "apply");
    const blobServiceId = `${d.accountId}/blobServices/default`;
    // No ETag on blob service properties: read again right before the write instead.
    const fresh = await withStep({ step: "apply", resourceId: blobServiceId }, () => readBlobService(t, ctx));
    const now = blobProtectionOf(fresh);
    if (!sameProtection(now, d.planned)) {
      throw new RemediationError(
        "ConcurrentChange",
        `the blob service changed since it was read (now ${describeProtection(now)}, planned from ${describeProtection(d.planned)}); nothing was written — re-plan from the current state`,
        { step: "apply", resourceId: blobServiceId, retryable: true, statusCode: 412 },
      );
    }
    const target = applyChanges(now, plan.changes);
    const { id: _id, name: _name, type: _type, sku: _sku, systemData: _sys, ...properties } = fresh;
    const body: BlobServiceProperties = {
      ...properties,
      isVersioningEnabled: target.isVersioningEnabled ?? undefined,
      deleteRetentionPolicy: {
        ...fresh.deleteRetentionPolicy,
        enabled: target.deleteRetentionPolicy.enabled ?? undefined,
        days: target.deleteRetentionPolicy.days ?? undefined,
      },
      containerDeleteRetentionPolicy: {
        ...fresh.containerDeleteRetentionPolicy,
        enabled: target.containerDeleteRetentionPolicy.enabled ?? undefined,
        days: target.containerDeleteRetentionPolicy.days ?? undefined,
      },
    };
    await withStep({ step: "apply", resourceId: blobServiceId }, () =>
      ctx.clients
        .storage(t.subscriptionId)
        .blobServices.setServiceProperties(t.resourceGroup, t.accountName, body),
    );
    ctx.log.info({ kind: KIND, resourceId: blobServiceId, changes: plan.changes }, "model storage protected");
    return plan.changes;
  },

  async verify(plan: ChangePlan<ModelStorageData>, ctx): Promise<VerifyResult> {
    const t = resolveTarget(plan.data.accountId, "verify");
    const blob = await withStep({ step: "verify", resourceId: `${t.accountId}/blobServices/default` }, () =>
      readBlobService(t, ctx),
    );
    const state = blobProtectionOf(blob);
    const wrong = plan.changes.filter((c) => valueAt(state, c.path) !== c.to);
    if (wrong.length > 0)
      return {
        ok: false,
        detail: describeMismatches(wrong.map((c) => ({ ...c, from: valueAt(state, c.path) }))),
      };
    return { ok: true };
  },
};
