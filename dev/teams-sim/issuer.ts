/**
 * Local stand-in for the Bot Framework token issuer: an RSA key pair made at start, its public key
 * published as a JWKS (with an OpenID configuration that points at it, like the real
 * `login.botframework.com/v1/.well-known/…`), and tokens shaped like the ones the Bot Framework
 * sends to a bot: RS256, `iss` https://api.botframework.com, `aud` the bot app ID, `nbf`/`exp`,
 * and the `serviceurl` claim.
 *
 * `badToken` makes the tokens a bot must refuse (forged signature, wrong audience or issuer,
 * expired, wrong or missing service URL, `alg: none`, HS256 signed with the public key, …), so tests
 * can show each is rejected.
 */
import { randomUUID } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { BOT_FRAMEWORK_ISSUER, SERVICE_URL_CLAIM } from "../../shared/teams/bot-framework.js";

export const BAD_TOKEN_VARIANTS = [
  "forged-signature",
  "unknown-key",
  "wrong-audience",
  "wrong-issuer",
  "expired",
  "not-yet-valid",
  "wrong-service-url",
  "missing-service-url",
  "alg-none",
  "hs256-public-key",
] as const;
export type BadTokenVariant = (typeof BAD_TOKEN_VARIANTS)[number];

export interface TokenRequest {
  /** The `serviceurl` claim: the service URL the activity carries. */
  serviceUrl: string;
  /** Defaults to the issuer's clock. */
  now?: Date;
  /** Lifetime in seconds (default 3600). */
  lifetimeSeconds?: number;
}

type RsaPrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

export class LocalBotIssuer {
  private constructor(
    readonly botAppId: string,
    private readonly privateKey: RsaPrivateKey,
    /** Signs the "forged" tokens: never published. */
    private readonly forgerKey: RsaPrivateKey,
    private readonly publicJwk: JWK,
    /** The public key as PEM (SPKI): what the HS256 key-confusion token is keyed with. */
    readonly publicKeyPem: string,
    private readonly clock: () => Date,
  ) {}

  static async create(botAppId: string, clock: () => Date = () => new Date()): Promise<LocalBotIssuer> {
    const [pair, forger] = await Promise.all([
      generateKeyPair("RS256", { modulusLength: 2048 }),
      generateKeyPair("RS256", { modulusLength: 2048 }),
    ]);
    const kid = `local-bot-${randomUUID().slice(0, 8)}`;
    const jwk = await exportJWK(pair.publicKey);
    // `endorsements`: the channels a Bot Framework key may sign for (Teams: msteams).
    const publicJwk = { ...jwk, kid, use: "sig", alg: "RS256", endorsements: ["msteams"] } as JWK;
    const pem = await exportSPKI(pair.publicKey);
    return new LocalBotIssuer(botAppId, pair.privateKey, forger.privateKey, publicJwk, pem, clock);
  }

  get kid(): string {
    return this.publicJwk.kid!;
  }

  /** The JWKS document served at the keys URL. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** The OpenID configuration document (issuer + keys URL). */
  openIdConfiguration(jwksUri: string): Record<string, unknown> {
    return {
      issuer: BOT_FRAMEWORK_ISSUER,
      jwks_uri: jwksUri,
      id_token_signing_alg_values_supported: ["RS256"],
      token_endpoint_auth_methods_supported: ["private_key_jwt"],
    };
  }

  /** A valid Bot Framework token for an activity with this service URL. */
  async token(req: TokenRequest): Promise<string> {
    return this.sign(this.claims(req), this.privateKey, this.kid);
  }

  /** A token that a bot must refuse, of the given kind. */
  async badToken(variant: BadTokenVariant, req: TokenRequest): Promise<string> {
    const claims = this.claims(req);
    const now = Math.floor((req.now ?? this.clock()).getTime() / 1000);
    switch (variant) {
      case "forged-signature":
        // Same kid as the published key, signed by a key nobody published.
        return this.sign(claims, this.forgerKey, this.kid);
      case "unknown-key":
        return this.sign(claims, this.forgerKey, `unknown-${randomUUID().slice(0, 8)}`);
      case "wrong-audience":
        return this.sign({ ...claims, aud: randomUUID() }, this.privateKey, this.kid);
      case "wrong-issuer":
        // A well-formed Entra issuer of some other tenant.
        return this.sign(
          { ...claims, iss: `https://sts.windows.net/${randomUUID()}/` },
          this.privateKey,
          this.kid,
        );
      case "expired":
        // Past the 5 minutes of clock skew a bot allows.
        return this.sign(
          { ...claims, nbf: now - 3900, iat: now - 3900, exp: now - 360 },
          this.privateKey,
          this.kid,
        );
      case "not-yet-valid":
        return this.sign(
          { ...claims, nbf: now + 600, iat: now + 600, exp: now + 4200 },
          this.privateKey,
          this.kid,
        );
      case "wrong-service-url":
        return this.sign(
          { ...claims, [SERVICE_URL_CLAIM]: "https://smba.trafficmanager.net/emea/" },
          this.privateKey,
          this.kid,
        );
      case "missing-service-url": {
        const { [SERVICE_URL_CLAIM]: _dropped, ...rest } = claims;
        return this.sign(rest, this.privateKey, this.kid);
      }
      case "alg-none":
        return `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`;
      case "hs256-public-key":
        // The key-confusion attack: HMAC keyed with the (public) RSA key as published.
        return new SignJWT(claims)
          .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: this.kid })
          .sign(new TextEncoder().encode(this.publicKeyPem));
    }
  }

  private claims(req: TokenRequest): JWTPayload {
    const now = Math.floor((req.now ?? this.clock()).getTime() / 1000);
    return {
      iss: BOT_FRAMEWORK_ISSUER,
      aud: this.botAppId,
      nbf: now - 5,
      iat: now - 5,
      exp: now + (req.lifetimeSeconds ?? 3600),
      [SERVICE_URL_CLAIM]: req.serviceUrl,
    };
  }

  private sign(claims: JWTPayload, key: RsaPrivateKey, kid: string): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: "RS256", typ: "JWT", kid }).sign(key);
  }
}
