/**
 * Who may read the audit trail. The HTTP route is protected by a function key everywhere; in Azure
 * it additionally needs an Entra ID principal with the app role `Audit.Read`, as asserted by App
 * Service Authentication (Easy Auth) in the `x-ms-client-principal` header (base64 JSON
 * `{auth_typ, claims:[{typ,val}], name_typ, role_typ}`). Only while App Service Authentication is
 * enabled (`WEBSITE_AUTH_ENABLED=True`) does the platform strip a client-supplied header, so in
 * Azure without it every call is refused; locally (no `WEBSITE_SITE_NAME`) the function key suffices.
 */
import { AUTHENTICATION_NOT_ENABLED, principalSource } from "../approvals/principal.js";

export const AUDIT_READER_ROLE = "Audit.Read";
const MAX_PRINCIPAL_HEADER = 16 * 1024;

/** Refused caller: answered with 403 and `{"error":{"code","message","path"}}`. */
export class AuthzError extends Error {
  override readonly name = "AuthzError";
  constructor(
    readonly code: "AuthenticationNotEnabled" | "MissingPrincipal" | "InvalidPrincipal" | "MissingRole",
    message: string,
    readonly status: 403 = 403,
  ) {
    super(message);
  }
  toBody(): { error: { code: string; message: string; path: string } } {
    return { error: { code: this.code, message: this.message, path: "" } };
  }
}

interface ClientPrincipal {
  auth_typ?: unknown;
  name_typ?: unknown;
  role_typ?: unknown;
  claims?: unknown;
}

export type HeaderBag = Record<string, string | string[] | undefined> | { get(name: string): string | null };

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function")
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  for (const [k, v] of Object.entries(bag)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

/** Roles of an App Service Authentication principal (claims of type `roles` or its `role_typ`). */
export function principalRoles(encoded: string): string[] {
  if (encoded.length > MAX_PRINCIPAL_HEADER)
    throw new AuthzError("InvalidPrincipal", "client principal header too large");
  let parsed: ClientPrincipal;
  try {
    parsed = JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as ClientPrincipal;
  } catch {
    throw new AuthzError("InvalidPrincipal", "client principal header is not base64 JSON");
  }
  if (!parsed || typeof parsed !== "object" || !Array.isArray(parsed.claims)) {
    throw new AuthzError("InvalidPrincipal", "client principal has no claims");
  }
  const roleTypes = new Set([
    "roles",
    "role",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
  ]);
  if (typeof parsed.role_typ === "string" && parsed.role_typ) roleTypes.add(parsed.role_typ);
  const roles: string[] = [];
  for (const c of parsed.claims as unknown[]) {
    const claim = c as { typ?: unknown; val?: unknown } | null;
    if (claim && typeof claim.typ === "string" && roleTypes.has(claim.typ) && typeof claim.val === "string")
      roles.push(claim.val);
  }
  return roles;
}

/**
 * Throws AuthzError unless the caller may read the audit trail. Principal required when running in
 * Azure (`WEBSITE_SITE_NAME` set) or when `requirePrincipal` is true; in Azure it is believed only
 * with App Service Authentication enabled. Never returns personal data.
 */
export function checkAuditReader(
  headers: HeaderBag,
  opts: { requirePrincipal?: boolean; env?: NodeJS.ProcessEnv } = {},
): { principalChecked: boolean } {
  const env = opts.env ?? process.env;
  const required = opts.requirePrincipal === true || Boolean(env.WEBSITE_SITE_NAME);
  if (!required) return { principalChecked: false };
  if (principalSource(env) === "untrusted")
    throw new AuthzError("AuthenticationNotEnabled", AUTHENTICATION_NOT_ENABLED);
  const encoded = header(headers, "x-ms-client-principal");
  if (!encoded) {
    throw new AuthzError(
      "MissingPrincipal",
      `no signed-in principal with the app role ${AUDIT_READER_ROLE} on the request`,
    );
  }
  const roles = principalRoles(encoded.trim());
  if (!roles.includes(AUDIT_READER_ROLE)) {
    throw new AuthzError("MissingRole", `the signed-in principal lacks the app role ${AUDIT_READER_ROLE}`);
  }
  return { principalChecked: true };
}
