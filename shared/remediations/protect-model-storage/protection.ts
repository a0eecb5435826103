/**
 * Pure rules of `protect-model-storage` (no Azure SDK here): what a storage account's blob service
 * must have so that a model or data set that is overwritten or deleted can be got back — blob
 * versioning, blob soft delete and container soft delete, both kept at least `retentionDays` — and
 * the exact changes from a blob service's `properties` (as ARM or Resource Graph return them).
 * Retention is only ever raised: 7 days become 30, 90 days stay 90.
 */
import type { Change } from "../../audit/types.js";

/** A soft-delete policy as read; `null` where the field is absent. */
export interface RetentionPolicy {
  enabled: boolean | null;
  days: number | null;
}

/** The fields of `…/blobServices/default` this kind decides on. */
export interface BlobProtection {
  isVersioningEnabled: boolean | null;
  deleteRetentionPolicy: RetentionPolicy;
  containerDeleteRetentionPolicy: RetentionPolicy;
}

/** The tag an account must carry to be governed (`requireTag`). */
export interface RequiredTag {
  name: string;
  value: string;
}

export const POLICY_FIELDS = ["deleteRetentionPolicy", "containerDeleteRetentionPolicy"] as const;
export type PolicyField = (typeof POLICY_FIELDS)[number];

function policyOf(raw: unknown): RetentionPolicy {
  const p = raw && typeof raw === "object" ? (raw as { enabled?: unknown; days?: unknown }) : {};
  return {
    enabled: typeof p.enabled === "boolean" ? p.enabled : null,
    days: typeof p.days === "number" && Number.isFinite(p.days) ? p.days : null,
  };
}

/**
 * The protection fields of a blob service. Accepts ARM's `properties` object, a Resource Graph
 * row's `properties`, or the SDK's flattened model (the fields at the top level).
 */
export function blobProtectionOf(properties: unknown): BlobProtection {
  const p = (properties && typeof properties === "object" ? properties : {}) as Record<string, unknown>;
  return {
    isVersioningEnabled: typeof p.isVersioningEnabled === "boolean" ? p.isVersioningEnabled : null,
    deleteRetentionPolicy: policyOf(p.deleteRetentionPolicy),
    containerDeleteRetentionPolicy: policyOf(p.containerDeleteRetentionPolicy),
  };
}

/** The retention a policy ends up with: never below `retentionDays`, never lower than it was. */
function targetDays(policy: RetentionPolicy, retentionDays: number): number {
  return Math.max(policy.days ?? 0, retentionDays);
}

/**
 * The changes that make `state` protected (empty when it is): `properties.isVersioningEnabled`,
 * `properties.<policy>.enabled` and `properties.<policy>.days`, each only when it differs.
 */
export function protectionChanges(state: BlobProtection, retentionDays: number): Change[] {
  const changes: Change[] = [];
  if (state.isVersioningEnabled !== true) {
    changes.push({ path: "properties.isVersioningEnabled", from: state.isVersioningEnabled, to: true });
  }
  for (const field of POLICY_FIELDS) {
    const policy = state[field];
    const ok = policy.enabled === true && policy.days !== null && policy.days >= retentionDays;
    if (ok) continue;
    if (policy.enabled !== true) {
      changes.push({ path: `properties.${field}.enabled`, from: policy.enabled, to: true });
    }
    const days = targetDays(policy, retentionDays);
    if (policy.days !== days) changes.push({ path: `properties.${field}.days`, from: policy.days, to: days });
  }
  return changes;
}

/** True when the blob service `properties` already protect models for `retentionDays` (a sweep's filter). */
export function isProtected(properties: unknown, retentionDays: number): boolean {
  return protectionChanges(blobProtectionOf(properties), retentionDays).length === 0;
}

/** The state after `changes` are made (what a write sends for these fields). */
export function applyChanges(state: BlobProtection, changes: readonly Change[]): BlobProtection {
  const next: BlobProtection = structuredClone(state);
  for (const c of changes) {
    if (c.path === "properties.isVersioningEnabled") next.isVersioningEnabled = c.to as boolean;
    for (const field of POLICY_FIELDS) {
      if (c.path === `properties.${field}.enabled`) next[field].enabled = c.to as boolean;
      if (c.path === `properties.${field}.days`) next[field].days = c.to as number;
    }
  }
  return next;
}

/** The value `state` holds at a change path of this kind. */
export function valueAt(state: BlobProtection, path: string): unknown {
  if (path === "properties.isVersioningEnabled") return state.isVersioningEnabled;
  for (const field of POLICY_FIELDS) {
    if (path === `properties.${field}.enabled`) return state[field].enabled;
    if (path === `properties.${field}.days`) return state[field].days;
  }
  return undefined;
}

/** True when two states agree on every field this kind decides on. */
export function sameProtection(a: BlobProtection, b: BlobProtection): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Whether the account carries the required tag: the name matched case-insensitively (as ARM
 * treats tag names), the value trimmed and case-insensitively. No `requireTag` = every account.
 */
export function hasRequiredTag(tags: Readonly<Record<string, string>>, required?: RequiredTag): boolean {
  if (!required) return true;
  const entry = Object.entries(tags).find(([k]) => k.toLowerCase() === required.name.toLowerCase());
  return entry !== undefined && entry[1].trim().toLowerCase() === required.value.trim().toLowerCase();
}

/** One line for people: `versioning on, blob soft delete 30 days, container soft delete 30 days`. */
export function describeProtection(s: BlobProtection): string {
  const policy = (p: RetentionPolicy) => (p.enabled === true ? `${p.days ?? "?"} days` : "off");
  return `versioning ${s.isVersioningEnabled === true ? "on" : "off"}, blob soft delete ${policy(s.deleteRetentionPolicy)}, container soft delete ${policy(s.containerDeleteRetentionPolicy)}`;
}
