/**
 * `rotate-secret`: writes a new version of a Key Vault secret when it is near expiry, expired, the
 * subject of an alert, or on demand.
 *
 * Two-credential alternation: when the secret's tags carry `CredentialId` (`key1`/`key2`) and
 * `ProviderAddress` (a Storage or Cognitive Services account ID), the *other* key is regenerated at
 * the provider and becomes the secret's new version. The key in use (the one the current version
 * holds) stays valid until the next rotation, so consumers that still hold it keep working while
 * they pick up the new version. Without those tags a random value is generated.
 *
 * Secret values live only in local variables of `apply`/`verify`: never in the state, the plan's
 * `changes` or `data`, log lines or error messages.
 *
 * Final changes: the new version ID is only known after the write. `apply` updates the plan's
 * `changes` entries in place (the `version` entry's `to`, and `attributes.expires` if the expiry
 * moved between plan and apply) and stores the outcome in `plan.data.applied`, so a caller that
 * records `plan.changes` after `apply` records the actual new version.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Change } from "../audit/types.js";
import type { AzureClients } from "../azure/clients.js";
import { RemediationError, type Step } from "../errors.js";
import { parseResourceId, ResourceIdError, sameType } from "../resource-id.js";
import { registerRemediation } from "./registry.js";
import type { Current, Plan, Remediation, RemediationContext, VerifyResult } from "./types.js";

export const ROTATE_SECRET_KIND = "rotate-secret";
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

export const rotateSecretParamsSchema = z.strictObject({
  validityDays: z.number().int().min(1).max(3650).default(90),
  length: z.number().int().min(16).max(256).default(32),
  /** A secret whose newest version is younger than this is not rotated again by an event or alert
   *  (simultaneous or repeated signals for one rotation); on-demand rotations are not held back.
   *  0 = no minimum (the shipped policy sets 60). */
  minAgeMinutes: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(0),
});
export type RotateSecretParams = z.infer<typeof rotateSecretParamsSchema>;

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
  /** Filled by `apply`. */
  applied?: { version: string; expiresOn: string };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Replaces every occurrence of `secret` in `text` (no-op for empty secrets). */
export function redactSecretValue(text: string, ...secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join("<redacted>");
  }
  return out;
}

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

/** Random value of exactly `length` URL-safe characters (base64url of CSPRNG bytes). */
export function generateSecretValue(length: number): string {
  const value = randomBytes(Math.ceil((length * 3) / 4) + 3)
    .toString("base64url")
    .slice(0, length);
  if (value.length !== length) throw new Error("generated value too short");
  return value;
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

function sameValue(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/**
 * Turns an SDK failure into a RemediationError without keeping the SDK error as `cause`: the
 * request it carries may hold the secret value (a Key Vault PUT body). Any value still in the
 * message is cut out.
 */
function stepError(
  err: unknown,
  step: Step,
  resourceId: string,
  opts: { retryable?: boolean; secrets?: (string | undefined)[]; prefix?: string } = {},
): RemediationError {
  if (err instanceof RemediationError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string } | undefined;
  const status = typeof e?.statusCode === "number" ? e.statusCode : undefined;
  const code = (typeof e?.code === "string" && e.code) || (status ? `Http${status}` : "Unexpected");
  const firstLine = String(e?.message ?? err).split("\n")[0] ?? "";
  const message = redactSecretValue(
    `${opts.prefix ? `${opts.prefix}: ` : ""}${firstLine.length > 400 ? `${firstLine.slice(0, 400)}…` : firstLine}`,
    ...(opts.secrets ?? []),
  );
  const retryable =
    opts.retryable ?? (status === undefined || status === 408 || status === 429 || status >= 500);
  return new RemediationError(code, message, { step, resourceId, retryable, statusCode: status });
}

/** `now + days`, truncated to whole seconds: Key Vault stores expiry as epoch seconds. */
function expiryAfter(now: Date, days: number): Date {
  return new Date(Math.floor((now.getTime() + days * DAY_MS) / 1000) * 1000);
}

function isoOrUndefined(d: Date | undefined): string | undefined {
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

function nearExpiry(state: SecretState, now: Date): boolean {
  if (!state.expiresOn) return false;
  return Date.parse(state.expiresOn) - now.getTime() <= NEAR_EXPIRY_DAYS * DAY_MS;
}

// ---------------------------------------------------------------------------------------------
// Decision: does this signal call for a rotation of the current version?

type Decision = { rotate: true; why: string } | { rotate: false; reason: string };

function decide(state: SecretState, ctx: RemediationContext<RotateSecretParams>): Decision {
  const { signal } = ctx;
  const now = ctx.now();
  const near = nearExpiry(state, now);
  const expiryText = state.expiresOn ? `expires ${state.expiresOn}` : "has no expiry";
  const trigger = signal.trigger;

  if ("manual" in trigger || signal.source === "manual") return { rotate: true, why: "on-demand rotation" };
  const minAgeMs = (ctx.params.minAgeMinutes ?? 0) * 60_000;
  const createdAt = state.createdOn ? Date.parse(state.createdOn) : Number.NaN;
  if (minAgeMs > 0 && !Number.isNaN(createdAt) && now.getTime() - createdAt < minAgeMs) {
    return {
      rotate: false,
      reason: `version ${state.version} was created at ${state.createdOn}, less than ${ctx.params.minAgeMinutes} minutes ago: not rotated again`,
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
// Provider keys (alternation)

async function regenerateProviderKey(
  clients: AzureClients,
  p: ProviderRef,
  key: CredentialId,
): Promise<string> {
  if (p.kind === "storage") {
    const res = await clients
      .storage(p.subscriptionId)
      .storageAccounts.regenerateKey(p.resourceGroup, p.account, {
        keyName: key,
      });
    const found = res.keys?.find((k) => k.keyName?.toLowerCase() === key)?.value;
    if (found) return found;
  } else {
    const res = await clients
      .cognitiveServices(p.subscriptionId)
      .accounts.regenerateKey(p.resourceGroup, p.account, key === "key1" ? "Key1" : "Key2");
    const found = key === "key1" ? res.key1 : res.key2;
    if (found) return found;
  }
  // Some API versions answer without the keys: read them back.
  const listed = await readProviderKey(clients, p, key);
  if (listed) return listed;
  throw new RemediationError(
    "RegeneratedKeyMissing",
    `the provider returned no value for ${key} after regenerating it`,
    {
      step: "regenerate",
      resourceId: p.id,
      retryable: true,
    },
  );
}

async function readProviderKey(
  clients: AzureClients,
  p: ProviderRef,
  key: CredentialId,
): Promise<string | undefined> {
  if (p.kind === "storage") {
    const res = await clients.storage(p.subscriptionId).storageAccounts.listKeys(p.resourceGroup, p.account);
    return res.keys?.find((k) => k.keyName?.toLowerCase() === key)?.value;
  }
  const res = await clients.cognitiveServices(p.subscriptionId).accounts.listKeys(p.resourceGroup, p.account);
  return key === "key1" ? res.key1 : res.key2;
}

// ---------------------------------------------------------------------------------------------
// The remediation

export const rotateSecret: Remediation<RotateSecretParams, SecretState, RotateSecretData> = {
  kind: ROTATE_SECRET_KIND,
  description:
    "Writes a new Key Vault secret version: alternates Storage / Cognitive Services keys (tags CredentialId, ProviderAddress, ValidityPeriodDays) or generates a random value",
  paramsSchema: rotateSecretParamsSchema,

  supports(resourceType: string): boolean {
    return sameType(resourceType, SECRET_RESOURCE_TYPE);
  },

  async read(ctx): Promise<Current<SecretState>> {
    const resourceId = ctx.target.resourceId;
    let ref: ReturnType<typeof parseSecretId>;
    try {
      ref = parseSecretId(resourceId);
    } catch (err) {
      throw new RemediationError("InvalidTarget", (err as Error).message, {
        step: "read",
        resourceId,
        retryable: false,
      });
    }
    let props: {
      version?: string;
      tags?: Record<string, string>;
      contentType?: string;
      expiresOn?: Date;
      createdOn?: Date;
      enabled?: boolean;
    };
    try {
      // getSecret returns the value too; only the properties leave this block.
      const secret = await ctx.clients.secrets(ref.vault).getSecret(ref.name);
      props = secret.properties;
    } catch (err) {
      const e = err as { statusCode?: number };
      if (e?.statusCode === 404) {
        throw new RemediationError(
          "SecretNotFound",
          `secret '${ref.name}' not found in vault '${ref.vault}'`,
          {
            step: "read",
            resourceId,
            retryable: false,
            statusCode: 404,
          },
        );
      }
      throw stepError(err, "read", resourceId);
    }
    if (!props.version) {
      throw new RemediationError("VersionMissing", "the vault returned the secret without a version", {
        step: "read",
        resourceId,
        retryable: true,
      });
    }
    const tags = { ...(props.tags ?? {}) };
    const state: SecretState = {
      secretId: ref.secretId,
      vault: ref.vault,
      name: ref.name,
      version: props.version,
      tags,
      ...(props.contentType !== undefined ? { contentType: props.contentType } : {}),
      ...(isoOrUndefined(props.expiresOn) ? { expiresOn: isoOrUndefined(props.expiresOn) } : {}),
      ...(isoOrUndefined(props.createdOn) ? { createdOn: isoOrUndefined(props.createdOn) } : {}),
      ...(props.enabled !== undefined ? { enabled: props.enabled } : {}),
    };
    return { state, tags };
  },

  plan(current, ctx): Plan<RotateSecretData> {
    const s = current.state;
    const resourceId = s.secretId;
    const decision = decide(s, ctx);
    if (!decision.rotate) return { action: "noop", reason: decision.reason };

    // Validity: tag wins, then the policy's validityDays (default 90).
    let validityDays = ctx.params.validityDays ?? 90;
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
    const length = ctx.params.length ?? 32;

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
  },

  async apply(plan, ctx): Promise<void> {
    const d = plan.data;
    const expiresOn = expiryAfter(ctx.now(), d.validityDays);
    let value: string;
    if (d.mode === "alternate") {
      const provider = d.provider;
      const key = d.regenerate;
      if (!provider || !key) {
        throw new RemediationError("InvalidPlan", "alternation plan without provider or key", {
          step: "apply",
          resourceId: d.secretId,
        });
      }
      // A provider key is regenerated at most once per rotation: a run resumed after the key was
      // regenerated (its write to the vault failed or was interrupted) reads that key back instead.
      const resumed = ctx.resume?.regenerated === key && ctx.resume?.provider === provider.id;
      try {
        if (resumed) {
          const existing = await readProviderKey(ctx.clients, provider, key);
          if (!existing)
            throw new RemediationError("RegeneratedKeyMissing", `the provider has no ${key}`, {
              step: "regenerate",
              resourceId: provider.id,
              retryable: true,
            });
          value = existing;
        } else {
          value = await regenerateProviderKey(ctx.clients, provider, key);
        }
      } catch (err) {
        throw stepError(err, "regenerate", d.secretId, { prefix: `regenerating ${key} of ${provider.id}` });
      }
      if (!resumed) await ctx.checkpoint?.({ regenerated: key, provider: provider.id });
    } else {
      value = generateSecretValue(d.length);
    }

    let newVersion: string | undefined;
    try {
      const written = await ctx.clients.secrets(d.vault).setSecret(d.name, value, {
        tags: d.tags,
        ...(d.contentType !== undefined ? { contentType: d.contentType } : {}),
        expiresOn,
      });
      newVersion = written.properties.version;
    } catch (err) {
      // The regenerated key is not the one in use (the current version still holds the other key),
      // so a redelivery that regenerates it once more breaks nothing: always worth retrying.
      throw stepError(err, "write-secret", d.secretId, {
        retryable: true,
        secrets: [value],
        prefix: `writing a new version of ${d.name}`,
      });
    }
    if (!newVersion) {
      throw new RemediationError(
        "VersionMissing",
        "the vault accepted the new value but returned no version",
        {
          step: "write-secret",
          resourceId: d.secretId,
          retryable: true,
        },
      );
    }
    const expiresIso = expiresOn.toISOString();
    d.applied = { version: newVersion, expiresOn: expiresIso };
    for (const c of plan.changes) {
      if (c.path === "version") c.to = newVersion;
      if (c.path === "attributes.expires") c.to = expiresIso;
    }
    ctx.log.info(
      {
        kind: ROTATE_SECRET_KIND,
        resourceId: d.secretId,
        fromVersion: d.fromVersion,
        toVersion: newVersion,
        mode: d.mode,
        ...(d.regenerate ? { credentialId: d.regenerate } : {}),
        expiresOn: expiresIso,
      },
      "secret rotated",
    );
  },

  async verify(plan, ctx): Promise<VerifyResult> {
    const d = plan.data;
    let latest: Awaited<ReturnType<ReturnType<AzureClients["secrets"]>["getSecret"]>>;
    try {
      latest = await ctx.clients.secrets(d.vault).getSecret(d.name);
    } catch (err) {
      throw stepError(err, "verify", d.secretId);
    }
    const p = latest.properties;
    const problems: string[] = [];
    if (!p.version || p.version === d.fromVersion) problems.push(`latest version is still ${d.fromVersion}`);
    else if (d.applied && p.version !== d.applied.version) {
      problems.push(`latest version is ${p.version}, expected ${d.applied.version}`);
    }
    const tags = p.tags ?? {};
    for (const [k, v] of Object.entries(d.tags)) {
      if (tags[k] !== v) problems.push(`tag ${k} is '${tags[k] ?? ""}', expected '${v}'`);
    }
    if ((p.contentType ?? undefined) !== d.contentType) {
      problems.push(`content type is '${p.contentType ?? ""}', expected '${d.contentType ?? ""}'`);
    }
    const gotExp = isoOrUndefined(p.expiresOn);
    if (d.applied) {
      // Key Vault stores expiry in whole seconds.
      if (!gotExp || Math.abs(Date.parse(gotExp) - Date.parse(d.applied.expiresOn)) > 1000) {
        problems.push(`expiry is ${gotExp ?? "unset"}, expected ${d.applied.expiresOn}`);
      }
    } else if (!gotExp) problems.push("new version has no expiry");

    const value = latest.value ?? "";
    if (d.mode === "alternate" && d.provider && d.regenerate) {
      let providerKey: string | undefined;
      try {
        providerKey = await readProviderKey(ctx.clients, d.provider, d.regenerate);
      } catch (err) {
        throw stepError(err, "verify", d.secretId, { prefix: `reading ${d.regenerate} of ${d.provider.id}` });
      }
      if (!providerKey) problems.push(`provider has no ${d.regenerate}`);
      else if (!sameValue(value, providerKey)) {
        problems.push(`secret value does not match ${d.regenerate} of ${d.provider.account} (hash differs)`);
      }
    } else if (value.length !== d.length) {
      problems.push(`new value has ${value.length} characters, expected ${d.length}`);
    }
    return problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join("; ") };
  },
};

registerRemediation(rotateSecret);
