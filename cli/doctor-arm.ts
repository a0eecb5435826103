/**
 * The doctor's checks against ARM: every policy's scope can be read, and the identity's effective
 * permissions there (as ARM reports them) grant each operation its kind declares.
 */
import type { ArmReader } from "../shared/azure/clients.js";
import type { Policy } from "../shared/policy/schema.js";
import type { RemediationRegistry } from "../shared/remediations/registry.js";
import { parseResourceId } from "../shared/resource-id.js";
import type { CheckResult } from "./doctor-result.js";

const PERMISSIONS_API = "2022-04-01";

/** Where a policy acts: its scope prefixes, else the subscriptions given. */
function scopesOf(policy: Policy, subscriptions: string[]): string[] {
  if (policy.scope.length) return policy.scope;
  return subscriptions.map((s) => `/subscriptions/${s}`);
}

export async function checkPolicyScopes(
  arm: ArmReader,
  policies: Policy[],
  registry: RemediationRegistry,
  subscriptions: string[],
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const policy of policies) {
    const kind = registry.get(policy.kind);
    if (!kind) continue; // reported by the policy check
    const scopes = scopesOf(policy, subscriptions);
    if (scopes.length === 0) {
      out.push({
        status: "warn",
        check: `policy ${policy.name}`,
        detail: "no scope: acts wherever its events come from, so permissions cannot be checked here",
        fix: "give the policy a scope, or run doctor with --subscription <id> (or AZURE_SUBSCRIPTION_ID)",
      });
      continue;
    }
    for (const scope of scopes) {
      const readable = await readScope(arm, scope);
      if (readable) {
        out.push({
          status: "fail",
          check: `scope ${policy.name}`,
          detail: `${scope}: ${readable.detail}`,
          fix: readable.fix,
        });
        continue;
      }
      out.push({ status: "ok", check: `scope ${policy.name}`, detail: `${scope} readable` });
      out.push(await checkPermissions(arm, policy, scope, kind.permissions));
    }
  }
  return out;
}

/** undefined when the scope can be read; else why not and the fix. */
async function readScope(
  arm: ArmReader,
  scope: string,
): Promise<{ detail: string; fix: string } | undefined> {
  let path = scope;
  let apiVersion = "2022-12-01";
  try {
    const id = parseResourceId(scope);
    if (id.resourceGroup && id.type.toLowerCase() === "microsoft.resources/resourcegroups")
      apiVersion = "2021-04-01";
    else if (id.resourceGroup || id.type.toLowerCase() !== "microsoft.resources/subscriptions") {
      // A resource-level scope: its permissions answer says whether it exists and is visible.
      path = `${scope}/providers/Microsoft.Authorization/permissions`;
      apiVersion = PERMISSIONS_API;
    }
  } catch {
    // a bare subscription prefix such as /subscriptions/<id>
  }
  try {
    const res = await arm.get(path, apiVersion);
    if (res.status === 200) return undefined;
    return {
      detail: `not readable (HTTP ${res.status}${errorCode(res.body)})`,
      fix:
        res.status === 403 || res.status === 401
          ? "assign the driftguard remediator role at this scope or above (infra/)"
          : "check the policy's scope: it names a subscription or resource group that does not exist",
    };
  } catch (err) {
    return {
      detail: `ARM not reachable (${reason(err)})`,
      fix: "check ARM_ENDPOINT and the identity's sign-in",
    };
  }
}

function errorCode(body: unknown): string {
  const code = (body as { error?: { code?: unknown } })?.error?.code;
  return typeof code === "string" ? ` ${code}` : "";
}

interface PermissionEntry {
  actions?: string[];
  notActions?: string[];
  dataActions?: string[];
  notDataActions?: string[];
}

/** ARM's wildcard rule: `*` matches any run of characters; comparisons ignore case. */
function grants(patterns: string[] | undefined, operation: string): boolean {
  return (patterns ?? []).some((p) =>
    new RegExp(
      `^${p
        .split("*")
        .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
        .join(".*")}$`,
      "i",
    ).test(operation),
  );
}

function allowed(entries: PermissionEntry[], operation: string, data: boolean): boolean {
  return entries.some((e) =>
    data
      ? grants(e.dataActions, operation) && !grants(e.notDataActions, operation)
      : grants(e.actions, operation) && !grants(e.notActions, operation),
  );
}

async function checkPermissions(
  arm: ArmReader,
  policy: Policy,
  scope: string,
  needed: {
    actions: readonly string[];
    dataActions?: readonly string[];
    conditionalActions?: readonly string[];
  },
): Promise<CheckResult> {
  const check = `permissions ${policy.name}`;
  let entries: PermissionEntry[];
  try {
    const res = await arm.get(`${scope}/providers/Microsoft.Authorization/permissions`, PERMISSIONS_API);
    if (res.status !== 200)
      return {
        status: "fail",
        check,
        detail: `${scope}: the identity's permissions could not be read (HTTP ${res.status}${errorCode(res.body)})`,
        fix: "assign the driftguard roles at this scope (infra/)",
      };
    entries = ((res.body as { value?: PermissionEntry[] })?.value ?? []) as PermissionEntry[];
  } catch (err) {
    return { status: "fail", check, detail: `${scope}: ${reason(err)}`, fix: "check ARM_ENDPOINT" };
  }
  const missing = [
    ...needed.actions.filter((a) => !allowed(entries, a, false)),
    ...(needed.dataActions ?? []).filter((a) => !allowed(entries, a, true)),
  ];
  if (missing.length)
    return {
      status: "fail",
      check,
      detail: `${scope}: ${policy.kind} needs ${missing.join(", ")}`,
      fix: needed.dataActions?.some((a) => missing.includes(a))
        ? "assign the driftguard secret rotation role on the vaults this policy governs (infra/ targetKeyVaults)"
        : "assign the driftguard remediator role at this scope (infra/)",
    };
  const conditional = (needed.conditionalActions ?? []).filter((a) => !allowed(entries, a, false));
  if (conditional.length) {
    const roles = [...new Set(conditional.map(conditionalRole))];
    return {
      status: "warn",
      check,
      detail: `${scope}: granted, but not ${conditional.join(", ")} (needed only for ${roles.map((r) => r.what).join("; ")})`,
      fix: roles.map((r) => r.fix).join("; "),
    };
  }
  return { status: "ok", check, detail: `${scope}: every operation of ${policy.kind} is granted` };
}

/** Which of infra/'s per-resource-group roles grants an operation needed only for some targets. */
function conditionalRole(action: string): { what: string; fix: string } {
  if (/^Microsoft\.KeyVault\/vaults\/write$/i.test(action))
    return {
      what: "Key Vaults",
      fix: "assign the driftguard vault network role in the vaults' resource groups (infra/ vaultWriteResourceGroups)",
    };
  if (/userAssignedIdentities\/assign\/action$/i.test(action))
    return {
      what: "ML online endpoints with a user-assigned identity",
      fix: "assign the driftguard identity assign role in those identities' resource groups (infra/ identityAssignResourceGroups)",
    };
  return {
    what: "two-credential rotation of provider keys",
    fix: "assign the driftguard key rotation role in the provider accounts' resource groups (infra/ keyRotationResourceGroups)",
  };
}

function reason(err: unknown): string {
  const e = err as { message?: string };
  return (
    String(e?.message ?? err)
      .split("\n")[0]
      ?.slice(0, 160) ?? ""
  );
}
