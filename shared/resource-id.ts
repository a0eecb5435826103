/**
 * Strict ARM resource ID parsing. IDs come from untrusted payloads and end up in SDK URLs and
 * Cosmos queries, so anything not shaped like an ARM ID is rejected: no empty segments, no `.`/`..`,
 * no query/fragment characters, balanced type/name pairs after the provider namespace.
 */

export interface ResourceId {
  /** The ID as given, with a leading slash and no trailing slash. Casing preserved. */
  id: string;
  subscriptionId: string;
  resourceGroup?: string;
  /** Provider namespace, e.g. `Microsoft.Network`; undefined for subscription / resource group IDs. */
  namespace?: string;
  /** Full ARM type, e.g. `Microsoft.Network/networkSecurityGroups/securityRules`,
   *  `Microsoft.Resources/resourceGroups`, `Microsoft.Resources/subscriptions`. */
  type: string;
  /** Last name segment. */
  name: string;
  /** `[typeSegment, name]` pairs after the namespace, e.g. `[["networkSecurityGroups","nsg"],["securityRules","r"]]`. */
  names: [string, string][];
  /**
   * Set when the ID given was an extension resource on this resource:
   * `<this resource>/providers/<namespace>/<type>/<name>`, e.g. a diagnostic setting
   * (`…/vaults/kv/providers/Microsoft.Insights/diagnosticSettings/audit`). The other fields then
   * describe the resource the extension is on (its type is what policies list, its tags decide
   * opt-out); this keeps the extension's own ID and type.
   */
  extension?: { id: string; type: string; name: string };
}

export class ResourceIdError extends Error {
  override readonly name = "ResourceIdError";
}

const SEGMENT = /^[A-Za-z0-9_\-.()~ ]+$/;

function assertSegment(seg: string | undefined, what: string): string {
  if (seg === undefined || seg.length === 0) throw new ResourceIdError(`empty ${what} segment`);
  if (seg === "." || seg === "..") throw new ResourceIdError(`'${seg}' is not allowed in a resource ID`);
  if (!SEGMENT.test(seg))
    throw new ResourceIdError(`invalid characters in ${what} segment '${seg.slice(0, 80)}'`);
  if (seg.length > 260) throw new ResourceIdError(`${what} segment too long`);
  return seg;
}

/** Parses an ARM resource ID or throws ResourceIdError with the reason. */
export function parseResourceId(raw: string): ResourceId {
  if (typeof raw !== "string") throw new ResourceIdError("resource ID must be a string");
  if (raw.length > 2048) throw new ResourceIdError("resource ID too long");
  if (!raw.startsWith("/")) throw new ResourceIdError("resource ID must start with '/'");
  const trimmed = raw.endsWith("/") ? raw.slice(0, -1) : raw;
  const parts = trimmed.slice(1).split("/");
  if (parts[0]?.toLowerCase() !== "subscriptions")
    throw new ResourceIdError("resource ID must start with /subscriptions/");
  const subscriptionId = assertSegment(parts[1], "subscription");
  if (!/^[0-9a-fA-F-]{1,64}$/.test(subscriptionId))
    throw new ResourceIdError("subscription ID is not a GUID");
  if (parts.length === 2) {
    return {
      id: trimmed,
      subscriptionId,
      type: "Microsoft.Resources/subscriptions",
      name: subscriptionId,
      names: [],
    };
  }
  const atSubscription = parts[2]?.toLowerCase() === "providers";
  if (!atSubscription && parts[2]?.toLowerCase() !== "resourcegroups") {
    throw new ResourceIdError("expected 'resourceGroups' or 'providers' after the subscription");
  }
  if (atSubscription) {
    // Subscription-level provider resources (role assignments, deployments, …).
    return providerResource(trimmed, subscriptionId, undefined, parts.slice(3));
  }
  const resourceGroup = assertSegment(parts[3], "resource group");
  if (parts.length === 4) {
    return {
      id: trimmed,
      subscriptionId,
      resourceGroup,
      type: "Microsoft.Resources/resourceGroups",
      name: resourceGroup,
      names: [],
    };
  }
  if (parts[4]?.toLowerCase() !== "providers")
    throw new ResourceIdError("expected 'providers' after the resource group");
  return providerResource(trimmed, subscriptionId, resourceGroup, parts.slice(5));
}

function providerResource(
  trimmed: string,
  subscriptionId: string,
  resourceGroup: string | undefined,
  parts: string[],
): ResourceId {
  // `…/{type}/{name}/providers/{namespace}/{type}/{name}`: an extension resource on the resource
  // before it. Only `providers` in a type position counts (a resource may be *named* "providers").
  const ext = parts.findIndex((p, i) => i > 1 && i % 2 === 1 && p.toLowerCase() === "providers");
  if (ext > 0) {
    const baseParts = parts.slice(0, ext);
    const baseId = trimmed
      .split("/")
      .slice(0, trimmed.split("/").length - (parts.length - ext))
      .join("/");
    const base = providerResource(baseId, subscriptionId, resourceGroup, baseParts);
    const own = providerResource(trimmed, subscriptionId, resourceGroup, parts.slice(ext + 1));
    if (own.extension) throw new ResourceIdError("an extension of an extension resource is not supported");
    return { ...base, extension: { id: trimmed, type: own.type, name: own.name } };
  }
  const namespace = assertSegment(parts[0], "provider namespace");
  if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+$/.test(namespace)) {
    throw new ResourceIdError(`'${namespace}' is not a provider namespace`);
  }
  const rest = parts.slice(1);
  if (rest.length === 0 || rest.length % 2 !== 0) {
    throw new ResourceIdError("resource type and name segments must come in pairs");
  }
  const names: [string, string][] = [];
  for (let i = 0; i < rest.length; i += 2) {
    const typeSeg = assertSegment(rest[i], "resource type");
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(typeSeg))
      throw new ResourceIdError(`'${typeSeg}' is not a resource type`);
    names.push([typeSeg, assertSegment(rest[i + 1], "resource name")]);
  }
  const last = names[names.length - 1]!;
  return {
    id: trimmed,
    subscriptionId,
    resourceGroup,
    namespace,
    type: `${namespace}/${names.map(([t]) => t).join("/")}`,
    name: last[1],
    names,
  };
}

/** True when the ID parses. */
export function isResourceId(raw: unknown): raw is string {
  if (typeof raw !== "string") return false;
  try {
    parseResourceId(raw);
    return true;
  } catch {
    return false;
  }
}

/** Case-insensitive prefix test on whole segments (`/a/b` is a prefix of `/a/b/c`, not of `/a/bc`). */
export function isUnderScope(resourceId: string, scope: string): boolean {
  const id = resourceId.toLowerCase().replace(/\/+$/, "");
  const prefix = scope.toLowerCase().replace(/\/+$/, "");
  return id === prefix || id.startsWith(`${prefix}/`);
}

/** ID of the parent resource (one type/name pair up), or undefined at the top level. */
export function parentResourceId(id: ResourceId): string | undefined {
  if (id.names.length < 2) return undefined;
  const parts = id.id.split("/");
  return parts.slice(0, -2).join("/");
}

/** Case-insensitive type comparison (ARM types are case-insensitive). */
export function sameType(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
