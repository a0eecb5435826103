/**
 * Who is deciding. In Azure, App Service Authentication (Entra sign-in) forwards the signed-in user
 * as `x-ms-client-principal` (base64 JSON) and strips any copy a client sent — but only while
 * authentication is enabled on the app (the platform then sets `WEBSITE_AUTH_ENABLED=True`). Without
 * it the header is whatever the caller wrote, so in Azure it is believed only with authentication on.
 * Locally there is no sign-in: the header may be supplied by the developer.
 */
export const OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier";

export interface ClientPrincipal {
  objectId?: string;
  roles: string[];
}

/**
 * Where `x-ms-client-principal` comes from: `local` (not in Azure: taken as the developer sent it),
 * `app-service-auth` (in Azure, set by App Service Authentication), `untrusted` (in Azure without
 * authentication: anyone could have written it).
 */
export type PrincipalSource = "local" | "app-service-auth" | "untrusted";

/** Why a signed-in principal cannot be believed in Azure (403 message of the audit API and approval page). */
export const AUTHENTICATION_NOT_ENABLED =
  "App Service Authentication is not enabled on this app, so a signed-in user cannot be verified " +
  "(set DRIFTGUARD_AUTH_CLIENT_ID and provision; see infra/README.md, Sign-in)";

type Env = Record<string, string | undefined>;

/** App Service sets WEBSITE_AUTH_ENABLED=True while authentication is on (compared case-insensitively). */
export function appServiceAuthEnabled(env: Env = process.env): boolean {
  return env.WEBSITE_AUTH_ENABLED?.trim().toLowerCase() === "true";
}

export function principalSource(env: Env = process.env): PrincipalSource {
  if (!env.WEBSITE_SITE_NAME) return "local";
  return appServiceAuthEnabled(env) ? "app-service-auth" : "untrusted";
}

export function parseClientPrincipal(header: string | null | undefined): ClientPrincipal | undefined {
  if (!header) return undefined;
  try {
    const json = JSON.parse(Buffer.from(header, "base64").toString("utf8")) as {
      claims?: { typ?: string; val?: string }[];
      role_typ?: string;
    };
    const claims = Array.isArray(json.claims) ? json.claims : [];
    const roleTyp = json.role_typ ?? "roles";
    const objectId = claims.find((c) => c.typ === OBJECT_ID_CLAIM || c.typ === "oid")?.val;
    const roles = claims.filter((c) => c.typ === roleTyp || c.typ === "roles").map((c) => String(c.val));
    return { objectId, roles };
  } catch {
    return undefined;
  }
}

/**
 * The request's principal when its header can be believed; `refused` (with the reason) in Azure
 * without App Service Authentication, whatever the header says.
 */
export function trustedClientPrincipal(
  header: string | null | undefined,
  env: Env = process.env,
): { principal: ClientPrincipal | undefined } | { refused: string } {
  if (principalSource(env) === "untrusted") return { refused: AUTHENTICATION_NOT_ENABLED };
  return { principal: parseClientPrincipal(header) };
}
