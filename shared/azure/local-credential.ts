/**
 * The local stack's identity. In Azure every token driftguard sends comes from its managed identity:
 * a JWT whose `aud` is the service it calls, `iss` the tenant's STS and `oid` driftguard's own
 * principal. The local stand-ins (Azure simulator, Teams stand-in, Azurite with `--oauth basic`)
 * read those claims but check no signature, so the local credential issues the same claims unsigned
 * (`alg: none`), one token per requested scope: the simulator can tell driftguard's own writes by
 * `oid`, and Azurite accepts a Storage audience. Never used outside the local stack.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";

/** Tenant of the local stack (the simulator's Key Vault challenge names the same). */
export const LOCAL_TENANT_ID = "00000000-0000-0000-0000-000000000000";
/** Object ID of driftguard's own principal on the local stack. */
export const LOCAL_PRINCIPAL_ID = "0d6e1f3a-9d2b-4c55-8e1a-00000000d6d6";
/** How long a local token is valid. */
const LOCAL_TOKEN_TTL_S = 3600;

export interface LocalTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  sub: string;
  appid?: string;
  nbf: number;
  iat: number;
  exp: number;
}

export interface LocalCredentialOptions {
  /** The principal the tokens name (default: driftguard's own, `LOCAL_PRINCIPAL_ID`). */
  objectId?: string;
  /** An application ID (`appid` claim), when the principal is an app. */
  appId?: string;
  tenantId?: string;
  now?: () => Date;
}

/** The audience a scope asks for: `https://storage.azure.com/.default` → `https://storage.azure.com`. */
export function audienceOf(scope: string): string {
  return scope.replace(/\/\.default$/, "");
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** An unsigned JWT with the claims a managed identity's token for `scope` carries. */
export function localToken(scope: string, opts: LocalCredentialOptions = {}): string {
  const nowS = Math.floor((opts.now?.() ?? new Date()).getTime() / 1000);
  const tenantId = opts.tenantId ?? LOCAL_TENANT_ID;
  const objectId = opts.objectId ?? LOCAL_PRINCIPAL_ID;
  const claims: LocalTokenClaims = {
    aud: audienceOf(scope),
    iss: `https://sts.windows.net/${tenantId}/`,
    tid: tenantId,
    oid: objectId,
    sub: objectId,
    ...(opts.appId ? { appid: opts.appId } : {}),
    nbf: nowS - 60,
    iat: nowS,
    exp: nowS + LOCAL_TOKEN_TTL_S,
  };
  return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`;
}

/**
 * The claims of a JWT, without checking any signature (stand-ins only); undefined when `token` is
 * not a JWT with a JSON payload.
 */
export function readTokenClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return typeof claims === "object" && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The local stack's credential: an unsigned JWT per requested scope (see the module comment). */
export function localStackCredential(opts: LocalCredentialOptions = {}): TokenCredential {
  return {
    async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
      const scope = Array.isArray(scopes) ? (scopes[0] ?? "") : scopes;
      const token = localToken(scope, opts);
      const exp = readTokenClaims(token)?.exp as number;
      return { token, expiresOnTimestamp: exp * 1000 };
    },
  };
}
