/**
 * Bot Framework wire facts shared by the outbound connector client, the inbound token check and
 * the local Teams stand-in: token issuer and audience, content types, and the shape of the
 * `adaptiveCard/action` invoke Teams posts when someone presses an `Action.Execute` button.
 *
 * `verifyBotFrameworkToken` is the inbound check: a token is accepted only when it is RS256-signed
 * by a key from the configured Bot Framework keys URL, its issuer is https://api.botframework.com,
 * its audience is our bot app ID, it has not expired (5 minutes clock skew), and its service URL
 * claim equals the activity's `serviceUrl` (so a token minted for one channel cannot be replayed
 * with a different callback URL). The claim is spelled `serviceurl`, all lower case, in Bot
 * Framework tokens (the Bot Framework SDKs read it under that name).
 */
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";

/** `iss` of the tokens the Bot Framework sends to a bot. */
export const BOT_FRAMEWORK_ISSUER = "https://api.botframework.com";
/** Token scope for calls to the Bot Connector (proactive messages, activity updates). */
export const BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default";
/** The Bot Framework's public signing keys (production). */
export const BOT_FRAMEWORK_JWKS_URL = "https://login.botframework.com/v1/.well-known/keys";
/** Accepted clock skew for inbound tokens, in seconds. */
export const BOT_TOKEN_CLOCK_SKEW_SECONDS = 300;
/** Name of the service URL claim in Bot Framework tokens. */
export const SERVICE_URL_CLAIM = "serviceurl";
export const ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive";
/** Invoke name Teams uses for `Action.Execute` (and card refresh). */
export const ADAPTIVE_CARD_ACTION_INVOKE = "adaptiveCard/action";

/** An Adaptive Card as JSON (the card builders in shared/approvals/card.ts produce these). */
export type AdaptiveCardJson = Record<string, unknown>;

/** A `message` activity carrying one Adaptive Card, as the Bot Connector expects it. */
export interface CardMessageActivity {
  type: "message";
  id?: string;
  summary?: string;
  attachments: { contentType: typeof ADAPTIVE_CARD_CONTENT_TYPE; content: AdaptiveCardJson }[];
}

export function cardMessage(card: AdaptiveCardJson, opts: { id?: string; summary?: string } = {}) {
  const activity: CardMessageActivity = {
    type: "message",
    attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, content: card }],
  };
  if (opts.id) activity.id = opts.id;
  if (opts.summary) activity.summary = opts.summary;
  return activity;
}

/** The `adaptiveCard/action` invoke activity (only the fields driftguard reads, plus routing). */
export interface AdaptiveCardActionInvoke {
  type: "invoke";
  name: typeof ADAPTIVE_CARD_ACTION_INVOKE;
  id: string;
  timestamp: string;
  channelId: "msteams";
  serviceUrl: string;
  from: { id: string; aadObjectId: string; name?: string };
  recipient: { id: string; name?: string };
  conversation: { id: string; conversationType?: string; tenantId?: string };
  /** The activity ID of the card whose button was pressed. */
  replyToId: string;
  value: {
    action: { type: "Action.Execute"; verb: string; data: Record<string, unknown> };
    trigger: "manual" | "automatic";
  };
}

export class BotTokenError extends Error {
  override readonly name = "BotTokenError";
}

const keySets = new Map<string, JWTVerifyGetKey>();

/** The remote key set for a keys URL, cached per URL (jose refetches on an unknown `kid`). */
export function botFrameworkKeys(jwksUrl: string): JWTVerifyGetKey {
  let set = keySets.get(jwksUrl);
  if (!set) {
    set = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 24 * 3600_000 });
    keySets.set(jwksUrl, set);
  }
  return set;
}

export interface BotTokenCheck {
  /** The bot's app ID: the only accepted audience. */
  botAppId: string;
  /** Keys to verify with: a keys URL, or a key set (tests). */
  keys: string | JWTVerifyGetKey;
  /** The `serviceUrl` of the activity the token came with. */
  activityServiceUrl: string | undefined;
  now?: Date;
}

/**
 * Verifies an inbound Bot Framework token; resolves to its claims or rejects with BotTokenError.
 * The message says which check failed (never the token or its claims).
 */
export async function verifyBotFrameworkToken(token: string, check: BotTokenCheck): Promise<JWTPayload> {
  const keys = typeof check.keys === "string" ? botFrameworkKeys(check.keys) : check.keys;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: BOT_FRAMEWORK_ISSUER,
      audience: check.botAppId,
      algorithms: ["RS256"],
      clockTolerance: BOT_TOKEN_CLOCK_SKEW_SECONDS,
      currentDate: check.now,
    }));
  } catch (err) {
    const code = (err as { code?: string }).code ?? "ERR_JWT_INVALID";
    throw new BotTokenError(`${code}: ${(err as Error).message.slice(0, 200)}`);
  }
  const claimed = payload[SERVICE_URL_CLAIM];
  if (typeof claimed !== "string" || claimed !== check.activityServiceUrl) {
    throw new BotTokenError("serviceurl claim does not match the activity's serviceUrl");
  }
  return payload;
}
