/**
 * Who is deciding. In Azure, App Service Authentication (Entra sign-in) forwards the signed-in user
 * as `x-ms-client-principal` (base64 JSON); the platform strips any client-supplied copy, so it can
 * be trusted there. Locally there is no sign-in: the header may be supplied by the developer.
 */
export const OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier";

export interface ClientPrincipal {
  objectId?: string;
  roles: string[];
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
