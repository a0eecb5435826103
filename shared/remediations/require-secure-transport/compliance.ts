/**
 * What `require-secure-transport` requires of each resource type, as pure functions of ARM
 * `properties` (the JSON ARM and Resource Graph return), shared by read, verify and a sweep.
 *
 * TLS versions are ordered per type; a version is only ever raised to the target, never lowered (a
 * `TLS1_3` storage account stays `TLS1_3` under a 1.2 policy). A value this code does not know is
 * left alone: it can only be a version newer than the ones listed. An absent value is raised (ARM
 * then applies the type's old default, which for older resources allows TLS 1.0).
 */
import type { Change } from "../../audit/types.js";
import { canonicalTypeIn } from "../kind-steps.js";

export const SUPPORTED_TYPES = [
  "Microsoft.Storage/storageAccounts",
  "Microsoft.DocumentDB/databaseAccounts",
  "Microsoft.Web/sites",
] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];

/** The policy's floor: `"1.2"` or `"1.3"`. */
export type TlsFloor = "1.2" | "1.3";

export function canonicalType(type: string): SupportedType | undefined {
  return canonicalTypeIn(SUPPORTED_TYPES, type);
}

/** Each type's TLS values, oldest first, and the value for each floor. */
const TLS_SCALES = {
  storage: { values: ["TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"], floor: { "1.2": "TLS1_2", "1.3": "TLS1_3" } },
  // Cosmos DB has no TLS 1.3 setting: a 1.3 floor is Tls12 there.
  cosmos: { values: ["Tls", "Tls11", "Tls12"], floor: { "1.2": "Tls12", "1.3": "Tls12" } },
  site: { values: ["1.0", "1.1", "1.2", "1.3"], floor: { "1.2": "1.2", "1.3": "1.3" } },
} as const satisfies Record<string, { values: readonly string[]; floor: Record<TlsFloor, string> }>;

type Scale = (typeof TLS_SCALES)[keyof typeof TLS_SCALES];

/** The change raising `value` to the floor on `scale`, or undefined when it already meets it. */
function raiseTls(path: string, value: unknown, scale: Scale, floor: TlsFloor): Change | undefined {
  const target = scale.floor[floor];
  if (typeof value !== "string" || value === "") return { path, from: null, to: target };
  const rank = scale.values.findIndex((v) => v.toLowerCase() === value.toLowerCase());
  if (rank < 0) return undefined; // not a version we know: newer than ours, never lowered
  const targetRank = scale.values.indexOf(target as never);
  return rank < targetRank ? { path, from: value, to: target } : undefined;
}

function requireTrue(path: string, value: unknown): Change | undefined {
  return value === true ? undefined : { path, from: typeof value === "boolean" ? value : null, to: true };
}

const defined = (c: Change | undefined): c is Change => c !== undefined;

/** Storage account: HTTPS only, and `minimumTlsVersion` at least the floor. */
export function storageTransportChanges(
  properties: Record<string, unknown> | undefined,
  floor: TlsFloor,
): Change[] {
  return [
    requireTrue("properties.supportsHttpsTrafficOnly", properties?.supportsHttpsTrafficOnly),
    raiseTls("properties.minimumTlsVersion", properties?.minimumTlsVersion, TLS_SCALES.storage, floor),
  ].filter(defined);
}

/** Cosmos DB account: `minimalTlsVersion` at least Tls12 (its highest). */
export function cosmosTransportChanges(
  properties: Record<string, unknown> | undefined,
  floor: TlsFloor,
): Change[] {
  return [
    raiseTls("properties.minimalTlsVersion", properties?.minimalTlsVersion, TLS_SCALES.cosmos, floor),
  ].filter(defined);
}

/**
 * Web or function app: `httpsOnly` on the site, `minTlsVersion` in its web configuration
 * (`…/config/web`, given as `webConfig`; without it, the site's `siteConfig` is used, which a
 * site GET or a Resource Graph row may or may not fill in).
 */
export function siteTransportChanges(
  properties: Record<string, unknown> | undefined,
  webConfig: Record<string, unknown> | undefined,
  floor: TlsFloor,
): Change[] {
  const siteConfig = properties?.siteConfig as Record<string, unknown> | null | undefined;
  const minTls = (webConfig ?? siteConfig)?.minTlsVersion;
  return [
    requireTrue("properties.httpsOnly", properties?.httpsOnly),
    raiseTls("properties.siteConfig.minTlsVersion", minTls, TLS_SCALES.site, floor),
  ].filter(defined);
}

/** The changes for any supported type (sites: `webConfig` is their `…/config/web` properties). */
export function transportChanges(
  type: SupportedType,
  properties: Record<string, unknown> | undefined,
  floor: TlsFloor,
  webConfig?: Record<string, unknown>,
): Change[] {
  switch (type) {
    case "Microsoft.Storage/storageAccounts":
      return storageTransportChanges(properties, floor);
    case "Microsoft.DocumentDB/databaseAccounts":
      return cosmosTransportChanges(properties, floor);
    case "Microsoft.Web/sites":
      return siteTransportChanges(properties, webConfig, floor);
  }
}
