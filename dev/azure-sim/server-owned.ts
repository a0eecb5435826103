/**
 * Fields ARM owns, not the client: what the simulator removes from a request body before storing it,
 * and what a write keeps from the stored resource because a client cannot (re)send it. The SDKs never
 * serialise read-only fields, so a GET + PUT round trip (online endpoints, agent pools) sends a body
 * without them; ARM still answers with them afterwards.
 */
import { type ArmResource, isPlainObject } from "./common.js";
import { lower } from "./store.js";

/**
 * Read-only fields a PUT keeps from the stored resource when its body omits them (paths under the
 * resource; `*` applies to every type). From the read-only flags of the API definitions of the
 * versions the pinned SDKs call; add a type's here when driftguard starts to PUT it.
 */
const READ_ONLY_KEPT: Record<string, readonly string[]> = {
  "*": ["systemData", "identity.principalId", "identity.tenantId"],
  "microsoft.machinelearningservices/workspaces/onlineendpoints": [
    "properties.scoringUri",
    "properties.swaggerUri",
  ],
  "microsoft.containerservice/managedclusters/agentpools": ["properties.currentOrchestratorVersion"],
  // The account's sku, shown on its blob service; the SDK never sends it back.
  "microsoft.storage/storageaccounts/blobservices": ["sku"],
};

/** Removes what a client cannot set (identity of the resource, ETags, provisioning states) from a body. */
export function stripReadOnly(body: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(body);
  delete out.id;
  delete out.name;
  delete out.type;
  delete out.etag;
  delete out.eTag;
  if (isPlainObject(out.properties)) {
    delete out.properties.provisioningState;
    delete out.properties.eTag;
    for (const key of ["securityRules", "agentPoolProfiles"]) {
      const arr = out.properties[key];
      if (!Array.isArray(arr)) continue;
      for (const it of arr) {
        if (!isPlainObject(it)) continue;
        delete it.etag;
        delete it.eTag;
        delete it.provisioningState;
        if (isPlainObject(it.properties)) delete it.properties.provisioningState;
      }
    }
  }
  return out;
}

/**
 * Puts back into `next` (the resource a write is about to store) what only ARM may set: an NSG's
 * default rules always come from the stored NSG, and the read-only fields above come from `current`
 * when `next` omits them (only where their parent object exists in `next`).
 */
export function keepServerOwned(next: ArmResource, current: ArmResource | undefined): void {
  if (lower(next.type) === "microsoft.network/networksecuritygroups") {
    const props = isPlainObject(next.properties) ? next.properties : {};
    next.properties = props;
    const existing = current?.properties?.defaultSecurityRules;
    if (existing !== undefined) props.defaultSecurityRules = structuredClone(existing);
    else delete props.defaultSecurityRules;
  }
  if (!current) return;
  // A new identity type gets new principal/tenant IDs from ARM: keep them only for the same type.
  const sameIdentity =
    lower(String(walk(next, ["identity"])?.type ?? "")) ===
    lower(String(walk(current, ["identity"])?.type ?? ""));
  for (const path of [...(READ_ONLY_KEPT["*"] ?? []), ...(READ_ONLY_KEPT[lower(next.type)] ?? [])]) {
    if (path.startsWith("identity.") && !sameIdentity) continue;
    const keys = path.split(".");
    const leaf = keys.pop()!;
    const target = walk(next, keys);
    const source = walk(current, keys);
    if (target && source && target[leaf] === undefined && source[leaf] !== undefined) {
      target[leaf] = structuredClone(source[leaf]);
    }
  }
}

function walk(node: unknown, keys: string[]): Record<string, unknown> | undefined {
  let at = node;
  for (const k of keys) at = isPlainObject(at) ? at[k] : undefined;
  return isPlainObject(at) ? at : undefined;
}
