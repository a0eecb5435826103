/**
 * What `disable-local-auth` requires of each resource type, as pure functions of the resource's ARM
 * `properties` (the JSON ARM and Resource Graph return, not an SDK model), so that a read, a verify
 * and a sweep over Resource Graph rows all decide the same way.
 */
import type { Change } from "../../audit/types.js";
import { canonicalTypeIn } from "../kind-steps.js";

export const SUPPORTED_TYPES = [
  "Microsoft.CognitiveServices/accounts",
  "Microsoft.Storage/storageAccounts",
  "Microsoft.DocumentDB/databaseAccounts",
] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];

export function canonicalType(type: string): SupportedType | undefined {
  return canonicalTypeIn(SUPPORTED_TYPES, type);
}

/** The one property per type that turns key (local) authentication off, and its compliant value. */
export const LOCAL_AUTH_PROPERTY: Record<SupportedType, { name: string; compliant: boolean }> = {
  // Azure OpenAI is a Cognitive Services account of kind OpenAI: the same property.
  "Microsoft.CognitiveServices/accounts": { name: "disableLocalAuth", compliant: true },
  // Shared Key also covers account SAS and service SAS signed with the key.
  "Microsoft.Storage/storageAccounts": { name: "allowSharedKeyAccess", compliant: false },
  "Microsoft.DocumentDB/databaseAccounts": { name: "disableLocalAuth", compliant: true },
};

/**
 * The changes that make a resource of `type` with these ARM `properties` compliant (empty when it
 * is). An absent property counts as keys allowed: ARM's default for all three types.
 */
export function localAuthChanges(
  type: SupportedType,
  properties: Record<string, unknown> | undefined,
): Change[] {
  const { name, compliant } = LOCAL_AUTH_PROPERTY[type];
  const value = properties?.[name];
  if (value === compliant) return [];
  return [{ path: `properties.${name}`, from: typeof value === "boolean" ? value : null, to: compliant }];
}

/** True when the resource allows no key (local) authentication. */
export function isLocalAuthDisabled(
  type: SupportedType,
  properties: Record<string, unknown> | undefined,
): boolean {
  return localAuthChanges(type, properties).length === 0;
}
