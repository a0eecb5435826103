/**
 * Pure planning for `rotate-secret` (no Azure SDK here): whether a signal calls for rotating the
 * secret's current version, and how — alternating the provider key named by the tags
 * `CredentialId`/`ProviderAddress`, or generating a value — with the expiry from the tag
 * `ValidityPeriodDays` or the policy. The kind's SDK calls are in `kind.ts`.
 */
import type { Change } from "../../audit/types.js";
import { RemediationError } from "../../errors.js";
import { parseResourceId, ResourceIdError, sameType } from "../../resource-id.js";
import type { Plan, RemediationContext } from "../types.js";

export const SECRET_RESOURCE_TYPE = "Microsoft.KeyVault/vaults/secrets";
const STORAGE_TYPE = "Microsoft.Storage/storageAccounts";
const COGNITIVE_TYPE = "Microsoft.CognitiveServices/accounts";

/** A version expiring within this window (or already expired) is due for rotation. */
export const NEAR_EXPIRY_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;
/** Placeholder for the version ID in a plan; replaced by the real ID after `apply`. */
export const NEW_VERSION_PLACEHOLDER = "(new version)";

export const TAG_CREDENTIAL_ID = "CredentialId";
export const TAG_PROVIDER_ADDRESS = "ProviderAddress";
export const TAG_VALIDITY_DAYS = "ValidityPeriodDays";

/** The policy params planning reads (validated, defaults applied, when the policy was loaded). */
export interface RotationParams {
  validityDays: number;
  length: number;
  minAgeMinutes: number;
  /** A sweep rotates versions expiring within this many days (or expired). */
  rotateWithinDays: number;
}

/** Current state of the secret's latest version — metadata only, never the value. */
export interface SecretState {
  /** Target ID `<vault resource ID>/secrets/<name>`. */
  secretId: string;
  vault: string;
  name: string;
  version: string;
  tags: Record<string, string>;
  contentType?: string;
  /** ISO 8601, when the version has an expiry. */
  expiresOn?: string;
  /** ISO 8601, when the version was created (from the vault). */
  createdOn?: string;
  enabled?: boolean;
}

export type CredentialId = "key1" | "key2";

export interface ProviderRef {
  kind: "storage" | "cognitive";
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
}

/** What `apply`/`verify` need. No secret values. */
export interface RotateSecretData {
  secretId: string;
  vault: string;
  name: string;
  fromVersion: string;
  mode: "alternate" | "generate";
  /** Alternation only: the provider account and the key to regenerate (= the new CredentialId). */
  provider?: ProviderRef;
  regenerate?: CredentialId;
  /** Tags of the new version. */
  tags: Record<string, string>;
  contentType?: string;
  validityDays: number;
  /** Planned expiry (ISO); `apply` recomputes from its own clock and records the actual one. */
  expiresOn: string;
  /** Generated value length (generate mode). */
  length: number;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Parses `<vault resource ID>/secrets/<name>`. */
export function parseSecretId(id: string): {
  secretId: string;
  vault: string;
  name: string;
  vaultId: string;
} {
  const parsed = parseResourceId(id);
  if (!sameType(parsed.type, SECRET_RESOURCE_TYPE) || parsed.names.length !== 2) {
    throw new ResourceIdError(`'${id.slice(0, 200)}' is not a Key Vault secret ID (${SECRET_RESOURCE_TYPE})`);
  }
  const vault = parsed.names[0]![1];
  const name = parsed.names[1]![1];
  return { secretId: parsed.id, vault, name, vaultId: parsed.id.split("/").slice(0, -2).join("/") };
}

/** Strict parse of the `ProviderAddress` tag: a Storage or Cognitive Services account ID, nothing else. */
export function parseProviderAddress(raw: string): ProviderRef {
  const parsed = parseResourceId(raw.trim());
  let kind: ProviderRef["kind"];
  if (sameType(parsed.type, STORAGE_TYPE)) kind = "storage";
  else if (sameType(parsed.type, COGNITIVE_TYPE)) kind = "cognitive";
  else {
    throw new ResourceIdError(`type '${parsed.type}' is neither ${STORAGE_TYPE} nor ${COGNITIVE_TYPE}`);
  }
  if (!parsed.resourceGroup) throw new ResourceIdError("provider address has no resource group");
  return {
    kind,
    id: parsed.id,
    subscriptionId: parsed.subscriptionId,
    resourceGroup: parsed.resourceGroup,
    account: parsed.name,
  };
}

/** Case-insensitive tag lookup (Azure tag names are case-insensitive). */
function tagEntry(tags: Record<string, string>, name: string): [string, string] | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === lower) return [k, v];
  return undefined;
}

function planError(code: string, message: string, resourceId: string): RemediationError {
  return new RemediationError(code, message, { step: "plan", resourceId, retryable: false });
}

/** `now + days`, truncated to whole seconds: Key Vault stores expiry as epoch seconds. */
export function expiryAfter(now: Date, days: number): Date {
  return new Date(Math.floor((now.getTime() + days * DAY_MS) / 1000) * 1000);
}

export function isoOrUndefined(d: Date | undefined): string | undefined {
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

function nearExpiry(state: SecretState, now: Date): boolean {
  if (!state.expiresOn) return false;
  return Date.parse(state.expiresOn) - now.getTime() <= NEAR_EXPIRY_DAYS * DAY_MS;
}

// ---------------------------------------------------------------------------------------------
// Does this signal call for a rotation of the current version?

/** Whether a signal calls for rotating the current version, and why (not). */
type RotationVerdict = { rotate: true; why: string } | { rotate: false; reason: string };

function rotationVerdict(state: SecretState, ctx: RemediationContext<RotationParams>): RotationVerdict {
  const { signal } = ctx;
  const now = ctx.now();
  const near = nearExpiry(state, now);
  const expiryText = state.expiresOn ? `expires ${state.expiresOn}` : "has no expiry";
  const trigger = signal.trigger;

  if ("manual" in trigger || signal.source === "manual") return { rotate: true, why: "on-demand rotation" };
  const minAgeMs = ctx.params.minAgeMinutes * 60_000;
  const createdAt = state.createdOn ? Date.parse(state.createdOn) : Number.NaN;
  if (minAgeMs > 0 && !Number.isNaN(createdAt) && now.getTime() - createdAt < minAgeMs) {
    return {
      rotate: false,
      reason: `version ${state.version} was created at ${state.createdOn}, less than ${ctx.params.minAgeMinutes} minutes ago: not rotated again`,
    };
  }

  if ("sweep" in trigger || signal.source === "sweep") {
    // The sweep found the secret near expiry in its listing; decide again from the version read now.
    const within = ctx.params.rotateWithinDays;
    if (state.expiresOn && Date.parse(state.expiresOn) - now.getTime() <= within * DAY_MS)
      return { rotate: true, why: `sweep: current version ${state.version} ${expiryText}` };
    return {
      rotate: false,
      reason: `the current version ${state.version} ${expiryText}, not within ${within} days`,
    };
  }

  if ("keyVault" in trigger) {
    const event = trigger.keyVault.replace(/^Microsoft\.KeyVault\./i, "").toLowerCase();
    if (event !== "secretnearexpiry" && event !== "secretexpired") {
      return { rotate: false, reason: `Key Vault event '${trigger.keyVault}' does not call for a rotation` };
    }
    const kv = signal.keyVault;
    if (kv?.objectType && kv.objectType.toLowerCase() !== "secret") {
      return { rotate: false, reason: `event is about a ${kv.objectType}, not a secret` };
    }
    const eventVersion = kv?.version?.trim();
    if (eventVersion && eventVersion.toLowerCase() === state.version.toLowerCase()) {
      return { rotate: true, why: `${trigger.keyVault} for the current version ${state.version}` };
    }
    if (near) return { rotate: true, why: `current version ${state.version} ${expiryText}` };
    return {
      rotate: false,
      reason: eventVersion
        ? `already rotated: the event is about version ${eventVersion}, the current version ${state.version} ${expiryText}`
        : `the current version ${state.version} ${expiryText}, not within ${NEAR_EXPIRY_DAYS} days`,
    };
  }

  if ("alert" in trigger) {
    if (trigger.condition === "Resolved")
      return { rotate: false, reason: "alert resolved: a rotation is not reversed" };
    if (near) return { rotate: true, why: `alert '${trigger.alert}'; current version ${expiryText}` };
    // The alert is about the version current when it fired; a newer one means someone rotated since.
    const firedAt = Date.parse(signal.alert?.firedAt ?? signal.time);
    const createdAt = state.createdOn ? Date.parse(state.createdOn) : Number.NaN;
    if (!Number.isNaN(firedAt) && !Number.isNaN(createdAt) && createdAt > firedAt) {
      return {
        rotate: false,
        reason: `already rotated: version ${state.version} was created at ${state.createdOn}, after the alert fired`,
      };
    }
    return { rotate: true, why: `alert '${trigger.alert}' fired for the current version ${state.version}` };
  }

  return { rotate: false, reason: `signal ${signal.type} does not call for a secret rotation` };
}

// ---------------------------------------------------------------------------------------------
// The plan

/** The plan for the secret's current state: noop, or the exact rotation. */
export function planRotation(
  s: SecretState,
  ctx: RemediationContext<RotationParams>,
): Plan<RotateSecretData> {
  const resourceId = s.secretId;
  const decision = rotationVerdict(s, ctx);
  if (!decision.rotate) return { action: "noop", reason: decision.reason };

  // Validity: tag wins, then the policy's validityDays.
  let validityDays = ctx.params.validityDays;
  const validityTag = tagEntry(s.tags, TAG_VALIDITY_DAYS);
  if (validityTag) {
    const raw = validityTag[1].trim();
    const n = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > 3650) {
      throw planError(
        "InvalidTag",
        `tags.${TAG_VALIDITY_DAYS}: expected an integer number of days 1..3650, got '${raw.slice(0, 40)}'`,
        resourceId,
      );
    }
    validityDays = n;
  }
  const expiresOn = expiryAfter(ctx.now(), validityDays).toISOString();
  const { length } = ctx.params;

  const credTag = tagEntry(s.tags, TAG_CREDENTIAL_ID);
  const providerTag = tagEntry(s.tags, TAG_PROVIDER_ADDRESS);
  const changes: Change[] = [{ path: "version", from: s.version, to: NEW_VERSION_PLACEHOLDER }];
  const newTags = { ...s.tags };
  let mode: RotateSecretData["mode"] = "generate";
  let provider: ProviderRef | undefined;
  let regenerate: CredentialId | undefined;

  if (credTag || providerTag) {
    // Either tag alone is a misconfiguration: a random value would break the link to the provider.
    if (!credTag) {
      throw planError(
        "InvalidTag",
        `tags.${TAG_CREDENTIAL_ID}: missing (required with ${TAG_PROVIDER_ADDRESS})`,
        resourceId,
      );
    }
    if (!providerTag) {
      throw planError(
        "InvalidTag",
        `tags.${TAG_PROVIDER_ADDRESS}: missing (required with ${TAG_CREDENTIAL_ID})`,
        resourceId,
      );
    }
    const cred = credTag[1].trim().toLowerCase();
    if (cred !== "key1" && cred !== "key2") {
      throw planError(
        "InvalidTag",
        `tags.${TAG_CREDENTIAL_ID}: expected 'key1' or 'key2', got '${credTag[1].slice(0, 40)}'`,
        resourceId,
      );
    }
    try {
      provider = parseProviderAddress(providerTag[1]);
    } catch (err) {
      throw planError("InvalidTag", `tags.${TAG_PROVIDER_ADDRESS}: ${(err as Error).message}`, resourceId);
    }
    mode = "alternate";
    regenerate = cred === "key1" ? "key2" : "key1";
    newTags[credTag[0]] = regenerate;
    changes.push({ path: `tags.${credTag[0]}`, from: credTag[1], to: regenerate });
    changes.push({ path: "provider.regeneratedKey", from: null, to: `${provider.id}#${regenerate}` });
  }
  changes.push({ path: "attributes.expires", from: s.expiresOn ?? null, to: expiresOn });

  const data: RotateSecretData = {
    secretId: resourceId,
    vault: s.vault,
    name: s.name,
    fromVersion: s.version,
    mode,
    ...(provider ? { provider } : {}),
    ...(regenerate ? { regenerate } : {}),
    tags: newTags,
    ...(s.contentType !== undefined ? { contentType: s.contentType } : {}),
    validityDays,
    expiresOn,
    length,
  };
  const how =
    mode === "alternate"
      ? `regenerate ${regenerate} of ${provider!.account} and store it (CredentialId ${credTag![1]} → ${regenerate})`
      : `store a new random ${length}-character value`;
  return {
    action: "change",
    changes,
    summary: `Rotate secret ${s.name} in ${s.vault} (${decision.why}): ${how}, expires ${expiresOn.slice(0, 10)}`,
    data,
  };
}
