/**
 * Teams stand-in for the local stack and the tests. Two origins on 127.0.0.1:
 *
 * - HTTPS (the local stack's certificate): a Bot Connector that accepts proactive posts and
 *   activity updates from the bot and keeps every version of each card
 *   (`POST/PUT /v3/conversations/{id}/activities[/{activityId}]`, bearer token = the local stack's
 *   static token, anything else 401), a Teams Workflows webhook that keeps the posted cards, and
 *   `/_sim/` admin routes to read them.
 * - HTTP: the local Bot Framework token issuer's OpenID configuration and keys (JWKS). Plain HTTP
 *   because the app fetches the keys with the platform `fetch`, which cannot be told to trust the
 *   local CA; the app accepts an http keys URL only on loopback and outside Azure.
 *
 * `sendInvoke` plays the Teams client pressing an `Action.Execute` button: it posts an
 * `adaptiveCard/action` invoke, signed by the local issuer (or deliberately badly signed), to the
 * bot's messaging endpoint. See README.md beside this file.
 */

import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { LOCAL_STACK_TOKEN } from "../../shared/azure/clients.js";
import {
  ADAPTIVE_CARD_ACTION_INVOKE,
  type AdaptiveCardActionInvoke,
} from "../../shared/teams/bot-framework.js";
import { type BadTokenVariant, LocalBotIssuer } from "./issuer.js";
import { createTeamsHandler, type PressRequest, type RosterMember, teamsUserIdOf } from "./routes.js";
import {
  type StoredActivity,
  type TeamsFault,
  type TeamsRequest,
  TeamsStore,
  type WorkflowPost,
} from "./store.js";

export { BAD_TOKEN_VARIANTS, type BadTokenVariant, LocalBotIssuer } from "./issuer.js";
export { type PressRequest, type RosterMember, teamsUserIdOf } from "./routes.js";
export type { ActivityVersion, StoredActivity, TeamsFault, TeamsRequest, WorkflowPost } from "./store.js";

/** The channel conversation the bot is installed in, unless told otherwise. */
export const DEFAULT_CONVERSATION_ID = "19:driftguard-approvals@thread.tacv2";

export interface TeamsSimulatorOptions {
  /** The local stack's certificate, served by the HTTPS origin (and trusted when invoking an https bot). */
  tls: { cert: string; key: string };
  /** The bot's app ID: the audience of the tokens the issuer signs. */
  botAppId: string;
  /** HTTPS origin port (0 = any free port, the default). */
  port?: number;
  /** Issuer (HTTP) port (0 = any free port, the default). */
  issuerPort?: number;
  /** Conversations the bot is a member of; posting elsewhere gets 403. */
  conversations?: string[];
  /** The bearer token the connector accepts (default: the local stack's static token). */
  token?: string;
  /** Clock for token `nbf`/`exp` (tests with a manual clock pass theirs). */
  clock?: () => Date;
  /** The team's members (member lookups by Teams user ID or Entra object ID; `/_sim/press`). */
  members?: RosterMember[];
  /** Called after the bot posted or replaced a card. */
  onActivity?: (activity: StoredActivity, method: "POST" | "PUT") => void;
  /** The bot's messaging endpoint, for `/_sim/press` (also settable later with `setBotEndpoint`). */
  botEndpoint?: string;
}

export interface InstallationRequest {
  messagesUrl: string;
  /** Default: the stand-in's first conversation. */
  conversationId?: string;
  conversationType?: "channel" | "groupChat" | "personal";
  /** `removed`: the bot was taken out of the team. */
  removed?: boolean;
  tenantId?: string;
  /** Entra object ID of the person who added (or removed) the bot; default: the first member. */
  installer?: string;
  token?: BadTokenVariant | null;
}

export interface InvokeRequest {
  /** The bot's messaging endpoint, e.g. `${functionsUrl}/api/teams/messages`. */
  messagesUrl: string;
  /** The activity ID of the card whose button is pressed (`replyToId`). */
  activityId: string;
  verb: string;
  data: Record<string, unknown>;
  /** Entra object ID of the person pressing the button. */
  aadObjectId: string;
  userName?: string;
  conversationId?: string;
  /** A bad-token kind, a raw token string, or null for no Authorization header. Default: valid. */
  token?: BadTokenVariant | { raw: string } | null;
  /** `automatic` is what Teams sends for a card refresh. */
  trigger?: "manual" | "automatic";
  /** Overrides the activity's serviceUrl (the token still names the stand-in's). */
  activityServiceUrl?: string;
}

export interface InvokeResult {
  status: number;
  body: unknown;
  activity: AdaptiveCardActionInvoke;
}

export interface TeamsSimulator {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The Bot Connector service URL to configure (TEAMS_SERVICE_URL), with Teams' trailing slash. */
  serviceUrl: string;
  /** The Workflows webhook URL (TEAMS_WORKFLOW_URL), signature included. */
  workflowUrl: string;
  /** http://127.0.0.1:PORT — the token issuer. */
  issuerUrl: string;
  /** The issuer's keys (TEAMS_BOT_JWKS_URL). */
  jwksUrl: string;
  openIdConfigurationUrl: string;
  conversationId: string;
  botAppId: string;
  issuer: LocalBotIssuer;
  activities(conversationId?: string): StoredActivity[];
  activity(conversationId: string, activityId: string): StoredActivity | undefined;
  workflowPosts(): WorkflowPost[];
  requests(filter?: { method?: string; pathIncludes?: string }): TeamsRequest[];
  addFault(fault: TeamsFault): number;
  clearFaults(): void;
  /** The invoke activity Teams would send for this button press (not sent). */
  invokeActivity(req: Omit<InvokeRequest, "messagesUrl" | "token">): AdaptiveCardActionInvoke;
  sendInvoke(req: InvokeRequest): Promise<InvokeResult>;
  /** Sends the `conversationUpdate` Teams sends when the bot is added to (or removed from) a team. */
  sendInstallation(req: InstallationRequest): Promise<{ status: number; body: unknown }>;
  /** The Teams user ID (`29:…`) the stand-in gives this person. */
  teamsUserId(aadObjectId: string): string;
  addMember(member: RosterMember): void;
  setBotEndpoint(url: string): void;
  close(): Promise<void>;
}

function listen(server: http.Server | https.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export async function startTeamsSimulator(opts: TeamsSimulatorOptions): Promise<TeamsSimulator> {
  const clock = opts.clock ?? (() => new Date());
  const conversations = opts.conversations ?? [DEFAULT_CONVERSATION_ID];
  const store = new TeamsStore(conversations);
  const issuer = await LocalBotIssuer.create(opts.botAppId, clock);
  const workflowSignature = randomBytes(24).toString("base64url");

  const members = [...(opts.members ?? [])];
  let botEndpoint = opts.botEndpoint;
  let sendInvoke: (req: InvokeRequest) => Promise<InvokeResult> = async () => {
    throw new Error("not started");
  };
  const press = async (req: PressRequest) => {
    const aadObjectId = req.aadObjectId ?? members[0]?.aadObjectId;
    if (!botEndpoint || !aadObjectId) return { status: 404, body: { error: "no bot endpoint or no member" } };
    const conversationId = req.conversationId ?? conversations[0]!;
    const card = store.activity(conversationId, req.activityId)?.card;
    // The button's data, as Teams takes it from the card (the approval ID).
    const actions = [...((card?.actions as Record<string, unknown>[]) ?? [])];
    const refresh = (card?.refresh as { action?: Record<string, unknown> } | undefined)?.action;
    if (refresh) actions.push(refresh);
    const action = actions.find((a) => a.verb === req.verb);
    const res = await sendInvoke({
      messagesUrl: botEndpoint,
      activityId: req.activityId,
      verb: req.verb,
      data: (action?.data as Record<string, unknown>) ?? {},
      aadObjectId,
      userName: members.find((m) => m.aadObjectId === aadObjectId)?.name,
      conversationId,
    });
    return { status: res.status, body: res.body };
  };
  const handler = createTeamsHandler({
    store,
    token: opts.token ?? LOCAL_STACK_TOKEN,
    workflowSignature,
    roster: () => members,
    onActivity: opts.onActivity,
    press,
  });
  const connector = https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  let jwksUrl = "";
  const issuerServer = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://issuer.invalid").pathname;
    const body =
      path === "/v1/.well-known/keys" || path === "/keys"
        ? issuer.jwks()
        : path === "/v1/.well-known/openidconfiguration"
          ? issuer.openIdConfiguration(jwksUrl)
          : undefined;
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { error: "not found" }));
  });

  const port = await listen(connector, opts.port ?? 0);
  const issuerPort = await listen(issuerServer, opts.issuerPort ?? 0).catch(async (err) => {
    await close(connector);
    throw err;
  });
  const url = `https://127.0.0.1:${port}`;
  const issuerUrl = `http://127.0.0.1:${issuerPort}`;
  jwksUrl = `${issuerUrl}/v1/.well-known/keys`;
  const serviceUrl = `${url}/`;
  const workflowId = randomUUID().replaceAll("-", "");

  const invokeActivity = (req: Omit<InvokeRequest, "messagesUrl" | "token">): AdaptiveCardActionInvoke => ({
    type: "invoke",
    name: ADAPTIVE_CARD_ACTION_INVOKE,
    id: `f:${randomUUID()}`,
    timestamp: clock().toISOString(),
    channelId: "msteams",
    serviceUrl: req.activityServiceUrl ?? serviceUrl,
    from: { id: teamsUserIdOf(req.aadObjectId), aadObjectId: req.aadObjectId, name: req.userName },
    recipient: { id: `28:${opts.botAppId}`, name: "driftguard" },
    conversation: { id: req.conversationId ?? conversations[0]!, conversationType: "channel" },
    replyToId: req.activityId,
    value: {
      action: { type: "Action.Execute", verb: req.verb, data: req.data },
      trigger: req.trigger ?? "manual",
    },
  });

  sendInvoke = async (req) => {
    const activity = invokeActivity(req);
    const claims = { serviceUrl };
    const token =
      req.token === null
        ? undefined
        : req.token === undefined
          ? await issuer.token(claims)
          : typeof req.token === "object"
            ? req.token.raw
            : await issuer.badToken(req.token, claims);
    const res = await postJson(req.messagesUrl, activity, token, opts.tls.cert);
    return { ...res, activity };
  };

  return {
    url,
    serviceUrl,
    workflowUrl: `${url}/workflows/${workflowId}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${workflowSignature}`,
    issuerUrl,
    jwksUrl,
    openIdConfigurationUrl: `${issuerUrl}/v1/.well-known/openidconfiguration`,
    conversationId: conversations[0]!,
    botAppId: opts.botAppId,
    issuer,
    activities: (conversationId) => store.activities(conversationId),
    activity: (conversationId, activityId) => store.activity(conversationId, activityId),
    workflowPosts: () => store.workflows(),
    requests: (filter) => store.requests(filter),
    addFault: (fault) => store.addFault(fault),
    clearFaults: () => store.clearFaults(),
    invokeActivity,
    sendInvoke: (req) => sendInvoke(req),
    async sendInstallation(req) {
      const conversationId = req.conversationId ?? conversations[0]!;
      const bot = { id: `28:${opts.botAppId}`, name: "driftguard" };
      const activity = {
        type: "conversationUpdate",
        id: `f:${randomUUID()}`,
        timestamp: clock().toISOString(),
        channelId: "msteams",
        serviceUrl,
        from: {
          id: teamsUserIdOf(req.installer ?? members[0]?.aadObjectId ?? randomUUID()),
          aadObjectId: req.installer ?? members[0]?.aadObjectId,
        },
        recipient: bot,
        conversation: {
          id: conversationId,
          conversationType: req.conversationType ?? "channel",
          tenantId: req.tenantId ?? "11111111-2222-3333-4444-555555555555",
          isGroup: true,
        },
        ...(req.removed ? { membersRemoved: [bot] } : { membersAdded: [bot] }),
        channelData: {
          team: { id: conversationId },
          eventType: req.removed ? "teamMemberRemoved" : "teamMemberAdded",
          tenant: { id: req.tenantId ?? "11111111-2222-3333-4444-555555555555" },
        },
      };
      const token =
        req.token === null
          ? undefined
          : req.token === undefined
            ? await issuer.token({ serviceUrl })
            : await issuer.badToken(req.token, { serviceUrl });
      return postJson(req.messagesUrl, activity, token, opts.tls.cert);
    },
    teamsUserId: teamsUserIdOf,
    addMember: (m) => {
      members.push(m);
    },
    setBotEndpoint: (url) => {
      botEndpoint = url;
    },
    async close() {
      await Promise.all([close(connector), close(issuerServer)]);
    },
  };
}

/** POSTs JSON over http or https (trusting `ca`); resolves to the status and the parsed body. */
function postJson(
  target: string,
  body: unknown,
  token: string | undefined,
  ca: string,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(target);
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = raw;
        try {
          parsed = raw ? JSON.parse(raw) : undefined;
        } catch {
          /* not JSON: keep the text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on("error", reject);
    };
    const request =
      url.protocol === "https:"
        ? https.request(url, { method: "POST", headers, ca, timeout: 30_000 }, onResponse)
        : http.request(url, { method: "POST", headers, timeout: 30_000 }, onResponse);
    request.on("timeout", () => request.destroy(new Error("invoke timed out")));
    request.on("error", reject);
    request.end(text);
  });
}
