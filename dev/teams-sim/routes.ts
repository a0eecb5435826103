/**
 * Request handling of the Teams stand-in's HTTPS origin: the Bot Connector routes a bot calls, the
 * Teams Workflows webhook, and the `/_sim/` admin routes that read what was posted.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { audienceOf, readTokenClaims } from "../../shared/azure/local-credential.js";
import { BOT_FRAMEWORK_SCOPE } from "../../shared/teams/bot-framework.js";
import { parseUrl, readBody, sendJson, sleep } from "../azure-sim/common.js";
import { sameSecret } from "../request.js";
import { cardOfActivity, type StoredActivity, type TeamsStore } from "./store.js";

/** What `POST /_sim/press` takes: which card, which button, who presses (default: the first roster member). */
export interface PressRequest {
  activityId: string;
  verb: string;
  conversationId?: string;
  aadObjectId?: string;
}

/** Teams refuses bot messages over about 28 KB with 413. */
export const MAX_ACTIVITY_BYTES = 28 * 1024;

/** A person in the team: the roster answers member lookups with their Teams user ID. */
export interface RosterMember {
  aadObjectId: string;
  name?: string;
}

/** The Teams user ID (`29:…`) the stand-in gives a person: opaque, stable, not their object ID. */
export function teamsUserIdOf(aadObjectId: string): string {
  return `29:1${createHash("sha256").update(aadObjectId.toLowerCase()).digest("base64url").slice(0, 40)}`;
}

export interface RouteOptions {
  store: TeamsStore;
  /** Members of every conversation (member lookups). */
  roster: () => readonly RosterMember[];
  /** Called after a card was posted or replaced (the demo prints it). */
  onActivity?: (activity: StoredActivity, method: "POST" | "PUT") => void;
  /** `POST /_sim/press`: presses a card button (sends the signed invoke to the bot). */
  press?: (req: PressRequest) => Promise<{ status: number; body: unknown }>;
  /** The bearer token the connector accepts. */
  token: string;
  /** The `sig` query value of the Workflows webhook URL. */
  workflowSignature: string;
}

const connectorError = (code: string, message: string) => ({ error: { code, message } });

/** `/v3/conversations/{id}/activities[/{activityId}]`, optionally under one region segment (`/amer`). */
const ACTIVITIES = /^(?:\/[A-Za-z0-9-]+)?\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?\/?$/;
const MEMBER = /^(?:\/[A-Za-z0-9-]+)?\/v3\/conversations\/([^/]+)\/members\/([^/]+)\/?$/;
const WORKFLOW = /^\/workflows\/([A-Za-z0-9-]+)\/triggers\/manual\/paths\/invoke\/?$/;

function segment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * The local stack's managed-identity stand-in issues unsigned JWTs per scope
 * (shared/azure/local-credential.ts): one for the Bot Connector's audience is accepted like the
 * static token.
 */
const BOT_CONNECTOR_AUDIENCE = audienceOf(BOT_FRAMEWORK_SCOPE);

function isLocalBotConnectorToken(bearer: string | undefined): boolean {
  const claims = bearer ? readTokenClaims(bearer) : undefined;
  return claims?.aud === BOT_CONNECTOR_AUDIENCE && typeof claims.oid === "string";
}

export function createTeamsHandler(opts: RouteOptions) {
  const { store } = opts;

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? "GET").toUpperCase();
    const { rawPath, query } = parseUrl(req);
    if (rawPath === "/_sim/press" && method === "POST") return press(req, res);
    if (rawPath.startsWith("/_sim/")) return admin(method, rawPath, res);

    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const workflow = WORKFLOW.exec(rawPath);
    const authorized = workflow
      ? sameSecret(query.sig, opts.workflowSignature)
      : sameSecret(bearer, opts.token) || isLocalBotConnectorToken(bearer);
    const entry = store.logRequest(method, rawPath, authorized);
    res.on("finish", () => {
      entry.status = res.statusCode;
    });

    let raw: string;
    try {
      raw = await readBody(req, 1024 * 1024);
    } catch {
      return sendJson(res, 413, connectorError("RequestEntityTooLarge", "The request body is too large."));
    }

    if (workflow) {
      if (!authorized)
        return sendJson(
          res,
          401,
          connectorError("DirectApiInvalidAuthorizationSignature", "The request has an invalid signature."),
        );
      if (method !== "POST") return sendJson(res, 405, connectorError("MethodNotAllowed", "POST only."));
      const parsed = parseActivity(raw);
      if ("error" in parsed) return sendJson(res, 400, connectorError("BadRequest", parsed.error));
      store.addWorkflowPost({
        at: new Date().toISOString(),
        workflowId: workflow[1]!,
        message: parsed.activity,
        card: parsed.card,
      });
      return sendJson(res, 202);
    }

    const member = MEMBER.exec(rawPath);
    if (member) {
      if (!authorized)
        return sendJson(
          res,
          401,
          connectorError("Unauthorized", "Authorization has been denied for this request."),
        );
      if (method !== "GET") return sendJson(res, 405, connectorError("MethodNotAllowed", "GET only."));
      const conversationId = segment(member[1]!);
      const userId = segment(member[2]!)?.toLowerCase();
      if (!conversationId || !store.hasConversation(conversationId))
        return sendJson(
          res,
          403,
          connectorError("BotNotInConversationRoster", "The bot is not part of the conversation roster."),
        );
      // Looked up by Teams user ID or Entra object ID, like the real endpoint.
      const found = opts
        .roster()
        .find(
          (m) =>
            m.aadObjectId.toLowerCase() === userId || teamsUserIdOf(m.aadObjectId).toLowerCase() === userId,
        );
      if (!found)
        return sendJson(
          res,
          404,
          connectorError("MemberNotFoundInConversation", "The member is not in the conversation."),
        );
      return sendJson(res, 200, {
        id: teamsUserIdOf(found.aadObjectId),
        objectId: found.aadObjectId,
        name: found.name ?? "Team member",
        userRole: "user",
      });
    }

    const route = ACTIVITIES.exec(rawPath);
    if (!route) return sendJson(res, 404, connectorError("NotFound", "No such Bot Connector route."));
    if (!authorized)
      return sendJson(
        res,
        401,
        connectorError("Unauthorized", "Authorization has been denied for this request."),
        { "www-authenticate": 'Bearer realm="api.botframework.com"' },
      );

    const fault = store.takeFault(method, rawPath);
    if (fault) {
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.status === 0) {
        res.destroy();
        return;
      }
      const headers: Record<string, string> =
        fault.retryAfterSeconds !== undefined ? { "retry-after": String(fault.retryAfterSeconds) } : {};
      return sendJson(
        res,
        fault.status,
        connectorError(`Simulated${fault.status}`, "Simulated fault."),
        headers,
      );
    }

    const conversationId = segment(route[1]!);
    const activityId = route[2] !== undefined ? segment(route[2]) : undefined;
    if (conversationId === undefined || (route[2] !== undefined && activityId === undefined))
      return sendJson(res, 400, connectorError("BadArgument", "Malformed conversation or activity ID."));
    if (!store.hasConversation(conversationId))
      return sendJson(
        res,
        403,
        connectorError("BotNotInConversationRoster", "The bot is not part of the conversation roster."),
      );
    if (Buffer.byteLength(raw) > MAX_ACTIVITY_BYTES)
      return sendJson(res, 413, connectorError("MessageSizeTooBig", "Message size too big."));
    const parsed = parseActivity(raw);

    if (method === "POST" && activityId === undefined) {
      if ("error" in parsed) return sendJson(res, 400, connectorError("BadArgument", parsed.error));
      const stored = store.post(conversationId, parsed.activity, parsed.card);
      opts.onActivity?.(structuredClone(stored), "POST");
      return sendJson(res, 201, { id: stored.id });
    }
    if (method === "PUT" && activityId !== undefined) {
      if ("error" in parsed) return sendJson(res, 400, connectorError("BadArgument", parsed.error));
      if (parsed.activity.id !== undefined && parsed.activity.id !== activityId)
        return sendJson(res, 400, connectorError("BadArgument", "The activity's id differs from the URL's."));
      const stored = store.update(conversationId, activityId, parsed.activity, parsed.card);
      if (!stored) return sendJson(res, 404, connectorError("ActivityNotFound", "Unknown activity ID."));
      opts.onActivity?.(structuredClone(stored), "PUT");
      return sendJson(res, 200, { id: stored.id });
    }
    return sendJson(res, 405, connectorError("MethodNotAllowed", `${method} is not supported here.`));
  };

  /** Local only (the stand-in listens on 127.0.0.1): press a button as a roster member would. */
  async function press(req: IncomingMessage, res: ServerResponse) {
    if (!opts.press) return sendJson(res, 404, connectorError("NotFound", "No bot endpoint to press to."));
    let body: PressRequest;
    try {
      body = JSON.parse(await readBody(req, 65_536)) as PressRequest;
    } catch {
      return sendJson(res, 400, connectorError("BadArgument", "The body must be JSON: {activityId, verb}."));
    }
    if (typeof body?.activityId !== "string" || typeof body.verb !== "string")
      return sendJson(res, 400, connectorError("BadArgument", "activityId and verb are required."));
    const answer = await opts.press(body);
    return sendJson(res, 200, answer);
  }

  function admin(method: string, rawPath: string, res: ServerResponse) {
    if (method !== "GET") return sendJson(res, 405, connectorError("MethodNotAllowed", "GET only."));
    const parts = rawPath.split("/").filter(Boolean).map(segment);
    if (parts.some((p) => p === undefined))
      return sendJson(res, 400, connectorError("BadArgument", "bad path"));
    const [, a, b, c, d] = parts as string[];
    if (a === "health" && !b) return sendJson(res, 200, { status: "ok" });
    if (a === "requests" && !b) return sendJson(res, 200, store.requests());
    if (a === "workflows" && b === "posts" && !c) return sendJson(res, 200, store.workflows());
    if (a === "conversations" && !b)
      return sendJson(
        res,
        200,
        store.conversationIds().map((id) => ({ id, activities: store.activities(id).length })),
      );
    if (a === "conversations" && b && c === "activities") {
      if (!store.hasConversation(b))
        return sendJson(res, 404, connectorError("NotFound", "Unknown conversation."));
      if (!d) return sendJson(res, 200, store.activities(b));
      const activity = store.activity(b, d);
      return activity
        ? sendJson(res, 200, activity)
        : sendJson(res, 404, connectorError("ActivityNotFound", "Unknown activity ID."));
    }
    return sendJson(res, 404, connectorError("NotFound", "No such admin route."));
  }
}

function parseActivity(
  raw: string,
): { activity: Record<string, unknown>; card: Record<string, unknown> } | { error: string } {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { error: "The body is not JSON." };
  }
  const checked = cardOfActivity(body);
  if ("error" in checked) return checked;
  return { activity: body as Record<string, unknown>, card: checked.card };
}
