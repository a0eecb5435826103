/**
 * `protect-model-storage` in a sweep: blob versioning and soft delete are properties of the
 * account's blob service `…/blobServices/default`, which is not in Resource Graph's `resources`
 * table. So each storage account row that a sweeping policy governs and that holds models costs one
 * ARM read, `GET …/blobServices/default` (the read `read` makes too). Decided from the row with no
 * read: the governing policy (type, scope, `sweep: false`), `requireTag` (an account without the tag
 * is not model storage: not a subject at all, as `plan` says), and the account's `kind` (a
 * `FileStorage` account has no blob service). The decision is `plan`'s (`protection.ts`).
 */
import { asRemediationError } from "../../errors.js";
import { parseResourceId } from "../../resource-id.js";
import { orNotFound } from "../arm-helpers.js";
import type { SweepSubject, SweepSupport } from "../types.js";
import {
  type BlobProtection,
  blobProtectionOf,
  describeProtection,
  hasRequiredTag,
  protectionChanges,
  type RequiredTag,
} from "./protection.js";

const ACCOUNT = "Microsoft.Storage/storageAccounts";
const BLOB_SERVICE = "Microsoft.Storage/storageAccounts/blobServices";
const NO_BLOB_SERVICE = new Set(["filestorage"]);

interface Params {
  retentionDays: number;
  requireTag?: RequiredTag;
}

const isType = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export const modelStorageSweep: SweepSupport<Params, BlobProtection> = {
  reads: "per-row",
  rowTypes: (types) =>
    types.some((t) => isType(t, ACCOUNT) || isType(t, BLOB_SERVICE)) ? [ACCOUNT.toLowerCase()] : [],
  async subjects(row, ctx): Promise<SweepSubject<BlobProtection>[]> {
    if (!isType(row.type, ACCOUNT)) return [];
    // The account when a sweeping policy names it, else its blob service (the two IDs events use).
    const [resourceId, resourceType] = ctx.covers(ACCOUNT)
      ? [row.id, ACCOUNT]
      : [`${row.id}/blobServices/default`, BLOB_SERVICE];
    const governing = ctx.governing(resourceId, resourceType);
    if (!governing || !hasRequiredTag(row.tags, governing.params.requireTag)) return [];
    if (row.kind && NO_BLOB_SERVICE.has(row.kind.toLowerCase())) return [];
    const id = parseResourceId(row.id);
    let blob: unknown;
    try {
      blob = await orNotFound(() =>
        ctx.clients
          .storage(id.subscriptionId)
          .blobServices.getServiceProperties(id.resourceGroup ?? "", id.name),
      );
    } catch (err) {
      throw asRemediationError(err, {
        step: "read",
        resourceId: `${row.id}/blobServices/default`,
        doing: "reading blob service properties",
      });
    }
    if (blob === undefined) return []; // deleted since the snapshot
    return [{ resourceId, resourceType, tags: row.tags, state: blobProtectionOf(blob) }];
  },
  finding(subject, params) {
    if (!hasRequiredTag(subject.tags, params.requireTag)) return undefined;
    if (protectionChanges(subject.state, params.retentionDays).length === 0) return undefined;
    return `${describeProtection(subject.state)}; wanted versioning on and both soft deletes at least ${params.retentionDays} days`;
  },
};
