/**
 * Maps a request the Azure simulator logged to the Azure RBAC operation(s) real Azure authorises it
 * with, so the custom roles in infra/ can be compared with what driftguard actually does.
 *
 * ARM: `{provider}/{type}[/{childType}…]/{read|write|delete}` by HTTP method, `…/{action}/action` for a
 * POST to an action segment, plus the linked check ARM makes when a PUT/PATCH body names user-assigned
 * identities (`Microsoft.ManagedIdentity/userAssignedIdentities/assign/action`). Key Vault data plane:
 * the secrets data actions. An unknown request shape throws, so a new kind of call cannot slip past.
 */

export interface Operation {
  /** `action` (control plane, role `actions`) or `data` (data plane, role `dataActions`). */
  plane: "action" | "data";
  name: string;
}

export interface RecordedRequest {
  origin: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

const ASSIGN_IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";
/** ARM's linked check on the destination when a diagnostic setting names a Log Analytics workspace. */
const WORKSPACE_LINK = "Microsoft.OperationalInsights/workspaces/sharedKeys/action";

function verbOf(method: string, where: string): "read" | "write" | "delete" {
  switch (method) {
    case "GET":
    case "HEAD":
      return "read";
    case "PUT":
    case "PATCH":
      return "write";
    case "DELETE":
      return "delete";
    default:
      throw new Error(`no RBAC verb for ${method} ${where}`);
  }
}

function namesUserAssignedIdentities(body: unknown): boolean {
  const identity = (body as { identity?: { userAssignedIdentities?: unknown } } | null)?.identity;
  const uami = identity?.userAssignedIdentities;
  return typeof uami === "object" && uami !== null && Object.keys(uami).length > 0;
}

function armOperations(method: string, path: string, body: unknown): Operation[] {
  const seg = path.split("/").filter(Boolean);
  if (seg[0]?.toLowerCase() !== "subscriptions" || !seg[1]) throw new Error(`not an ARM path: ${path}`);
  // The last `providers`: an extension resource (a diagnostic setting on a vault) is its own provider's.
  let p = -1;
  for (let i = 0; i < seg.length; i++) if (seg[i]!.toLowerCase() === "providers") p = i;
  if (p < 0) {
    // /subscriptions/{s}/resources, /resourceGroups[/{rg}[/resources]]
    const rest = seg.slice(2).map((s) => s.toLowerCase());
    let name: string | undefined;
    if (rest.length === 1 && rest[0] === "resources")
      name = "Microsoft.Resources/subscriptions/resources/read";
    else if (rest[0] === "resourcegroups" && rest.length <= 2)
      name = "Microsoft.Resources/subscriptions/resourceGroups/read";
    else if (rest[0] === "resourcegroups" && rest.length === 3 && rest[2] === "resources")
      name = "Microsoft.Resources/subscriptions/resourceGroups/resources/read";
    if (!name || method !== "GET") throw new Error(`unmapped ARM request ${method} ${path}`);
    return [{ plane: "action", name }];
  }
  const provider = seg[p + 1];
  const rest = seg.slice(p + 2);
  if (!provider || rest.length === 0) throw new Error(`unmapped ARM request ${method} ${path}`);
  const types = rest.filter((_, i) => i % 2 === 0);
  const ops: Operation[] = [];
  if (rest.length % 2 === 0) {
    ops.push({ plane: "action", name: `${provider}/${types.join("/")}/${verbOf(method, path)}` });
  } else if (method === "POST") {
    // …/{type}/{name}/{action}: the last segment is an action on the resource.
    const action = types.pop()!;
    ops.push({ plane: "action", name: `${provider}/${types.join("/")}/${action}/action` });
  } else if (method === "GET") {
    // A collection: listing needs the read of the listed type.
    ops.push({ plane: "action", name: `${provider}/${types.join("/")}/read` });
  } else {
    throw new Error(`unmapped ARM request ${method} ${path}`);
  }
  if ((method === "PUT" || method === "PATCH") && namesUserAssignedIdentities(body))
    ops.push({ plane: "action", name: ASSIGN_IDENTITY });
  const workspaceId = (body as { properties?: { workspaceId?: unknown } } | null)?.properties?.workspaceId;
  if (
    method === "PUT" &&
    `${provider}/${types.join("/")}`.toLowerCase() === "microsoft.insights/diagnosticsettings" &&
    typeof workspaceId === "string" &&
    workspaceId !== ""
  )
    ops.push({ plane: "action", name: WORKSPACE_LINK });
  return ops;
}

function vaultOperations(method: string, path: string): Operation[] {
  const seg = path.split("/").filter(Boolean);
  const data = (name: string): Operation[] => [
    { plane: "data", name: `Microsoft.KeyVault/vaults/secrets/${name}` },
  ];
  if (seg[0]?.toLowerCase() !== "secrets") throw new Error(`unmapped Key Vault request ${method} ${path}`);
  if (method === "GET" && (seg.length === 1 || seg[2]?.toLowerCase() === "versions"))
    return data("readMetadata/action");
  if (method === "GET" && (seg.length === 2 || seg.length === 3)) return data("getSecret/action");
  if (method === "PUT" && seg.length === 2) return data("setSecret/action");
  if (method === "PATCH" && seg.length === 3) return data("update/action");
  if (method === "DELETE" && seg.length === 2) return data("delete");
  throw new Error(`unmapped Key Vault request ${method} ${path}`);
}

/** The RBAC operations one logged request needs. */
export function operationsOf(r: RecordedRequest): Operation[] {
  if (r.origin === "arm") return armOperations(r.method, r.path, r.body);
  if (r.origin.startsWith("vault:")) return vaultOperations(r.method, r.path);
  throw new Error(`unknown origin ${r.origin}`);
}

/** Azure RBAC matching: case-insensitive, `*` matches any run of characters (slashes included). */
export function permits(pattern: string, operation: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
      .join(".*")}$`,
    "i",
  );
  return re.test(operation);
}
