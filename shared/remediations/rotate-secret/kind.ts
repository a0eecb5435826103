/**
 * `rotate-secret`: writes a new version of a Key Vault secret when it is near expiry, expired, the
 * subject of an alert, or on demand.
 *
 * Two-credential alternation: when the secret's tags carry `CredentialId` (`key1`/`key2`) and
 * `ProviderAddress` (a Storage or Cognitive Services account ID), the *other* key is regenerated at
 * the provider and becomes the secret's new version. The key in use (the one the current version
 * holds) stays valid until the next rotation, so consumers that still hold it keep working while
 * they pick up the new version. Without those tags a random value is generated. Deciding whether
 * and how is pure (`plan.ts`); this file holds the SDK calls.
 *
 * Secret values live only in local variables of `apply`/`verify`: never in the state, the plan's
 * `changes` or `data`, log lines or error messages (errors of calls that carry them keep no
 * `cause`, see `asRemediationError`'s `secrets`).
 *
 * Final changes: the new version ID is only known after the write. `apply` returns the plan's
 * changes with the `version` entry's `to` (and `attributes.expires`, recomputed from its own clock)
 * filled in; `verify` checks against them.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Change } from "../../audit/types.js";
import type { AzureClients } from "../../azure/clients.js";
import { asRemediationError, RemediationError } from "../../errors.js";
import { sameType } from "../../resource-id.js";
import type { Current, Remediation, VerifyResult } from "../types.js";
import {
  type CredentialId,
  expiryAfter,
  isoOrUndefined,
  NEW_VERSION_PLACEHOLDER,
  type ProviderRef,
  parseSecretId,
  planRotation,
  type RotateSecretData,
  SECRET_RESOURCE_TYPE,
  type SecretState,
} from "./plan.js";
import { secretSweep } from "./sweep.js";

export const KIND = "rotate-secret";

export const example = `version: 1
policies:
  - name: rotate-expiring-secrets
    description: Secrets are rotated before they expire
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers:
      - keyVault: SecretNearExpiry
      - keyVault: SecretExpired
      - manual: rotate                  # driftguard rotate <vault> <secret>
    kind: ${KIND}
    params:
      validityDays: 90                  # default 90; the secret's tag ValidityPeriodDays wins
      length: 32                        # generated values only; default 32
      minAgeMinutes: 60                 # a younger version is not rotated again by an event; default 0
    mode: enforce
`;

export const paramsSchema = z.strictObject({
  validityDays: z
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(90)
    .describe("Days until the new version expires (the secret's tag ValidityPeriodDays wins)"),
  length: z
    .number()
    .int()
    .min(16)
    .max(256)
    .default(32)
    .describe("Length of a generated value (secrets without provider tags)"),
  // Simultaneous or repeated signals for one rotation must not rotate twice.
  minAgeMinutes: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(0)
    .describe(
      "A newest version younger than this is not rotated again by an event or alert (on-demand rotations are not held back); 0 = no minimum",
    ),
  rotateWithinDays: z
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(30)
    .describe(
      "A sweep rotates secrets whose current version expires within this many days, or has expired (Key Vault's own near-expiry notice is 30 days before)",
    ),
});
export type Params = z.infer<typeof paramsSchema>;

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

/** The new version and expiry `apply` returned, or undefined for changes as planned. */
function appliedOf(changes: readonly Change[]): { version: string; expiresOn: string } | undefined {
  const version = changes.find((c) => c.path === "version")?.to;
  const expiresOn = changes.find((c) => c.path === "attributes.expires")?.to;
  if (typeof version !== "string" || version === NEW_VERSION_PLACEHOLDER || typeof expiresOn !== "string")
    return undefined;
  return { version, expiresOn };
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
    { step: "regenerate", resourceId: p.id, retryable: true },
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

export const remediation: Remediation<Params, SecretState, RotateSecretData> = {
  kind: KIND,
  description:
    "Writes a new Key Vault secret version: alternates Storage / Cognitive Services keys (tags CredentialId, ProviderAddress, ValidityPeriodDays) or generates a random value",
  example,
  services: ["secrets", "storage", "cognitiveServices"],
  permissions: {
    actions: [],
    dataActions: [
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "Microsoft.KeyVault/vaults/secrets/setSecret/action",
      // A sweep lists the vault's secret properties (no values): sweep.ts.
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ],
    conditionalActions: [
      "Microsoft.Storage/storageAccounts/listKeys/action",
      "Microsoft.Storage/storageAccounts/regenerateKey/action",
      "Microsoft.CognitiveServices/accounts/listKeys/action",
      "Microsoft.CognitiveServices/accounts/regenerateKey/action",
    ],
  },
  // The new expiry is now + validity: an approval binds that the expiry changes, not the second.
  volatileChangePaths: ["attributes.expires"],
  paramsSchema,
  sweep: secretSweep,

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
      throw asRemediationError(err, {
        step: "read",
        resourceId,
        secrets: [],
        statuses: {
          404: {
            code: "SecretNotFound",
            message: `secret '${ref.name}' not found in vault '${ref.vault}'`,
            retryable: false,
          },
        },
      });
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

  plan(current, ctx) {
    return planRotation(current.state, ctx);
  },

  async apply(plan, ctx) {
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
        throw asRemediationError(err, {
          step: "regenerate",
          resourceId: d.secretId,
          secrets: [],
          doing: `regenerating ${key} of ${provider.id}`,
        });
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
      throw asRemediationError(err, {
        step: "write-secret",
        resourceId: d.secretId,
        retryable: true,
        secrets: [value],
        doing: `writing a new version of ${d.name}`,
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
    ctx.log.info(
      {
        kind: KIND,
        resourceId: d.secretId,
        fromVersion: d.fromVersion,
        toVersion: newVersion,
        mode: d.mode,
        ...(d.regenerate ? { credentialId: d.regenerate } : {}),
        expiresOn: expiresIso,
      },
      "secret rotated",
    );
    return plan.changes.map((c) =>
      c.path === "version"
        ? { ...c, to: newVersion }
        : c.path === "attributes.expires"
          ? { ...c, to: expiresIso }
          : c,
    );
  },

  async verify(plan, ctx): Promise<VerifyResult> {
    const d = plan.data;
    const applied = appliedOf(plan.changes);
    let latest: Awaited<ReturnType<ReturnType<AzureClients["secrets"]>["getSecret"]>>;
    try {
      latest = await ctx.clients.secrets(d.vault).getSecret(d.name);
    } catch (err) {
      throw asRemediationError(err, { step: "verify", resourceId: d.secretId, secrets: [] });
    }
    const p = latest.properties;
    const problems: string[] = [];
    if (!p.version || p.version === d.fromVersion) problems.push(`latest version is still ${d.fromVersion}`);
    else if (applied && p.version !== applied.version) {
      problems.push(`latest version is ${p.version}, expected ${applied.version}`);
    }
    const tags = p.tags ?? {};
    for (const [k, v] of Object.entries(d.tags)) {
      if (tags[k] !== v) problems.push(`tag ${k} is '${tags[k] ?? ""}', expected '${v}'`);
    }
    if ((p.contentType ?? undefined) !== d.contentType) {
      problems.push(`content type is '${p.contentType ?? ""}', expected '${d.contentType ?? ""}'`);
    }
    const gotExp = isoOrUndefined(p.expiresOn);
    if (applied) {
      // Key Vault stores expiry in whole seconds.
      if (!gotExp || Math.abs(Date.parse(gotExp) - Date.parse(applied.expiresOn)) > 1000) {
        problems.push(`expiry is ${gotExp ?? "unset"}, expected ${applied.expiresOn}`);
      }
    } else if (!gotExp) problems.push("new version has no expiry");

    const value = latest.value ?? "";
    if (d.mode === "alternate" && d.provider && d.regenerate) {
      let providerKey: string | undefined;
      try {
        providerKey = await readProviderKey(ctx.clients, d.provider, d.regenerate);
      } catch (err) {
        throw asRemediationError(err, {
          step: "verify",
          resourceId: d.secretId,
          secrets: [],
          doing: `reading ${d.regenerate} of ${d.provider.id}`,
        });
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
