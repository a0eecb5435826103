/**
 * Key Vault events (`Microsoft.KeyVault.SecretNearExpiry`, …) → Signal. Key Vault spells its `data`
 * keys in PascalCase (`Id`, `VaultName`, `ObjectType`, `ObjectName`, `Version`, `NBF`, `EXP`), the
 * docs show camelCase and padded keys (`"objectName "`): keys are matched case-insensitively after
 * trimming. The target is `<vault resource ID>/secrets/<name>`, the vault ID being the event's
 * `topic` (Event Grid schema) or `source` (CloudEvents).
 */
import { z } from "zod";
import { InputError } from "../errors.js";
import { sameType } from "../resource-id.js";
import { isPlainObject, joinPath, resourceIdAt, targetOf } from "./common.js";
import { formatPath } from "./errors.js";
import { compact, type GridEvent } from "./grid-event.js";
import type { Signal } from "./types.js";

type Family = "Secret" | "Key" | "Certificate" | "Vault";

const EVENTS: Record<string, Family> = {
  SecretNewVersionCreated: "Secret",
  SecretNearExpiry: "Secret",
  SecretExpired: "Secret",
  KeyNewVersionCreated: "Key",
  KeyNearExpiry: "Key",
  KeyExpired: "Key",
  CertificateNewVersionCreated: "Certificate",
  CertificateNearExpiry: "Certificate",
  CertificateExpired: "Certificate",
  VaultAccessPolicyChanged: "Vault",
};
const PREFIX = "Microsoft.KeyVault.";
const BY_LOWER = new Map(Object.keys(EVENTS).map((n) => [`${PREFIX}${n}`.toLowerCase(), n]));

/** The event name without the `Microsoft.KeyVault.` prefix (canonical casing), or undefined. */
export function keyVaultEventName(type: string): string | undefined {
  return BY_LOWER.get(type.toLowerCase());
}

const COLLECTION: Record<Exclude<Family, "Vault">, string> = {
  Secret: "secrets",
  Key: "keys",
  Certificate: "certificates",
};

/** Canonical key names, used in error paths when a key is missing. */
const CANONICAL: Record<string, string> = {
  id: "Id",
  vaultname: "VaultName",
  objecttype: "ObjectType",
  objectname: "ObjectName",
  version: "Version",
  nbf: "NBF",
  exp: "EXP",
};

const epochSeconds = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^\d{1,11}$/, "expected epoch seconds")
      .transform(Number),
  ])
  .pipe(z.number().int("expected whole epoch seconds").min(0).max(99_999_999_999));

const kvData = z.object({
  id: z.string().trim().max(2048).optional(),
  vaultname: z
    .string()
    .trim()
    .regex(/^[0-9A-Za-z-]{3,24}$/, "not a Key Vault name"),
  objecttype: z.string().trim().min(1).max(64).optional(),
  objectname: z
    .string()
    .trim()
    .regex(/^[0-9A-Za-z-]{1,127}$/, "not a Key Vault object name")
    .optional(),
  version: z
    .string()
    .trim()
    .regex(/^[0-9A-Za-z]{0,64}$/, "not a Key Vault object version")
    .optional(),
  nbf: epochSeconds.nullable().optional(),
  exp: epochSeconds.nullable().optional(),
});

/** Folds keys to trimmed lower case; two spellings of one key with different values are refused. */
function foldKeys(
  data: Record<string, unknown>,
  dataPath: string,
): { folded: Record<string, unknown>; original: Map<string, string> } {
  // A Map, not an object literal: a `__proto__` key must stay an ordinary (ignored) field.
  const folded = new Map<string, unknown>();
  const original = new Map<string, string>();
  for (const [k, v] of Object.entries(data)) {
    const nk = k.trim().toLowerCase();
    if (folded.has(nk) && JSON.stringify(folded.get(nk)) !== JSON.stringify(v)) {
      throw new InputError(
        "AmbiguousField",
        `'${original.get(nk)}' and '${k}' both name the same field with different values`,
        formatPath([k], dataPath),
      );
    }
    folded.set(nk, v);
    original.set(nk, k);
  }
  return { folded: Object.fromEntries(folded), original };
}

export function parseKeyVaultEvent(e: GridEvent, name: string): Signal {
  const family = EVENTS[name];
  if (!family)
    throw new InputError(
      "UnsupportedEventType",
      `unknown Key Vault event '${name}'`,
      joinPath(e.path, e.fields.type),
    );
  const dataPath = joinPath(e.path, "data");
  if (!isPlainObject(e.data))
    throw new InputError("InvalidEvent", "expected an object with the Key Vault event data", dataPath);
  const { folded, original } = foldKeys(e.data, dataPath);
  const keyPath = (k: string) => formatPath([original.get(k) ?? CANONICAL[k] ?? k], dataPath);

  const parsed = kvData.safeParse(folded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [first, ...rest] = issue.path;
    const path = typeof first === "string" ? formatPath(rest, keyPath(first)) : dataPath;
    throw new InputError("InvalidEvent", issue.message, path);
  }
  const data = parsed.data;

  const topicPath = joinPath(e.path, e.fields.topic);
  if (e.topic === undefined) {
    throw new InputError("InvalidEvent", `${e.fields.topic} (the vault resource ID) is required`, topicPath);
  }
  const vault = resourceIdAt(e.topic, topicPath);
  if (!sameType(vault.type, "Microsoft.KeyVault/vaults")) {
    throw new InputError(
      "InvalidEvent",
      `${e.fields.topic} must be a Microsoft.KeyVault/vaults resource ID`,
      topicPath,
    );
  }
  if (data.vaultname.toLowerCase() !== vault.name.toLowerCase()) {
    throw new InputError(
      "InconsistentEvent",
      `VaultName does not match the vault in ${e.fields.topic}`,
      keyPath("vaultname"),
    );
  }

  let targetId = vault;
  let objectType = data.objecttype ?? family;
  let objectName = data.objectname ?? vault.name;
  if (family !== "Vault") {
    if (data.objectname === undefined)
      throw new InputError("InvalidEvent", "ObjectName is required", keyPath("objectname"));
    if (data.objecttype !== undefined && data.objecttype.toLowerCase() !== family.toLowerCase()) {
      throw new InputError(
        "InconsistentEvent",
        `ObjectType must be '${family}' for Microsoft.KeyVault.${name}`,
        keyPath("objecttype"),
      );
    }
    objectType = family;
    objectName = data.objectname;
    if (
      e.subject !== undefined &&
      e.subject !== "" &&
      e.subject.trim().toLowerCase() !== objectName.toLowerCase()
    ) {
      throw new InputError(
        "InconsistentEvent",
        "subject does not match ObjectName",
        joinPath(e.path, "subject"),
      );
    }
    if (data.id !== undefined && data.id !== "")
      checkObjectUrl(data.id, COLLECTION[family], objectName, data.version, keyPath("id"));
    targetId = resourceIdAt(`${vault.id}/${COLLECTION[family]}/${objectName}`, keyPath("objectname"));
  }

  return compact<Signal>({
    source: "eventgrid",
    type: `${PREFIX}${name}`,
    id: e.id,
    dedupeKey: `eg:${e.id}`,
    time: e.time,
    subscriptionId: vault.subscriptionId,
    trigger: { keyVault: name },
    targets: [targetOf(targetId)],
    keyVault: compact({
      vaultName: vault.name,
      objectType,
      objectName,
      version: data.version || undefined,
      exp: data.exp ?? undefined,
      nbf: data.nbf ?? undefined,
    }),
  });
}

/** `Id` is the data-plane URL `https://<vault>.vault.azure.net/secrets/<name>/<version>`. */
function checkObjectUrl(
  raw: string,
  collection: string,
  objectName: string,
  version: string | undefined,
  path: string,
): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError("InvalidEvent", "Id is not a URL", path);
  }
  if (url.protocol !== "https:") throw new InputError("InvalidEvent", "Id must be an https URL", path);
  const [coll, objName, ver, ...extra] = url.pathname.split("/").filter((s) => s !== "");
  if (
    coll?.toLowerCase() !== collection ||
    objName?.toLowerCase() !== objectName.toLowerCase() ||
    extra.length > 0 ||
    (ver !== undefined &&
      version !== undefined &&
      version !== "" &&
      ver.toLowerCase() !== version.toLowerCase())
  ) {
    throw new InputError("InconsistentEvent", `Id does not name ${collection}/${objectName}`, path);
  }
}
