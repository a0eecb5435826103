/**
 * Outbound Bot Connector client: posts an Adaptive Card into a Teams conversation and replaces it
 * later (the approval card, then its outcome). Adapter only — which card to send and when is the
 * caller's business.
 *
 *   POST {serviceUrl}/v3/conversations/{conversationId}/activities               → { id }
 *   PUT  {serviceUrl}/v3/conversations/{conversationId}/activities/{activityId}  → { id }
 *   GET  {serviceUrl}/v3/conversations/{conversationId}/members/{userId}          → member
 *
 * The bearer token comes from the injected TokenCredential for the Bot Framework scope: in Azure the
 * function app's user-assigned managed identity (the bot is registered as a user-assigned-identity
 * bot, so there is no client secret); on the local stack the static token its Teams stand-in
 * accepts. Built on the Azure SDK's HTTP pipeline (already loaded by the ARM clients): token caching
 * and refresh, TLS trust of the local stack's CA, a per-request timeout.
 *
 * Nothing is retried here: a POST that timed out may still have posted the card, so the caller
 * decides. Failures are BotConnectorError: 408/429/5xx, network errors, timeouts and token
 * acquisition failures are `retryable`; other 4xx are permanent.
 */
import type { TokenCredential } from "@azure/core-auth";
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  isRestError,
  type Pipeline,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { type AdaptiveCardJson, BOT_FRAMEWORK_SCOPE, cardMessage } from "./bot-framework.js";

export type BotConnectorStep = "post-card" | "update-card" | "get-member";

/** A Bot Connector call failed. Never carries the token or the card. */
export class BotConnectorError extends Error {
  override readonly name = "BotConnectorError";
  readonly step: BotConnectorStep;
  readonly retryable: boolean;
  readonly statusCode?: number;
  /** From a 429/503 Retry-After header. */
  readonly retryAfterMs?: number;
  readonly conversationId: string;
  readonly activityId?: string;
  constructor(
    readonly code: string,
    message: string,
    opts: {
      step: BotConnectorStep;
      retryable: boolean;
      conversationId: string;
      activityId?: string;
      statusCode?: number;
      retryAfterMs?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: opts.cause });
    this.step = opts.step;
    this.retryable = opts.retryable;
    this.conversationId = opts.conversationId;
    this.activityId = opts.activityId;
    this.statusCode = opts.statusCode;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export interface BotConnectorOptions {
  /** The channel's service URL (Teams: e.g. https://smba.trafficmanager.net/emea/). https only. */
  serviceUrl: string;
  credential: TokenCredential;
  /** Extra CA (PEM) to trust: the local stack's generated certificate. Undefined in Azure. */
  ca?: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Replaces the HTTP transport (tests). */
  httpClient?: HttpClient;
}

/** A conversation member as the Bot Connector returns it (only the fields driftguard reads). */
export interface ConversationMember {
  /** Teams user ID (`29:…`): what Adaptive Card `refresh.userIds` lists. */
  id: string;
  /** Entra object ID. */
  objectId?: string;
}

export interface BotConnector {
  /** Posts the card as a new message; resolves to the activity ID to update it with later. */
  postCard(conversationId: string, card: AdaptiveCardJson, opts?: { summary?: string }): Promise<string>;
  /** Replaces the message `activityId` with this card (for everyone in the conversation). */
  updateCard(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void>;
  /**
   * One member of the conversation, looked up by Teams user ID, UPN or Entra object ID
   * (`GET …/conversations/{id}/members/{userId}`); undefined when they are not a member.
   */
  getMember(conversationId: string, userId: string): Promise<ConversationMember | undefined>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class BotConnectorClient implements BotConnector {
  private readonly baseUrl: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  private readonly timeoutMs: number;

  constructor(opts: BotConnectorOptions) {
    let url: URL;
    try {
      url = new URL(opts.serviceUrl);
    } catch {
      throw new TypeError("Bot Connector serviceUrl is not a URL");
    }
    // Bearer tokens only travel over TLS (the SDK's token policy refuses anything else, too).
    if (url.protocol !== "https:") throw new TypeError("Bot Connector serviceUrl must be https://");
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.httpClient = opts.httpClient ?? createDefaultHttpClient();
    this.pipeline = createPipelineFromOptions({
      retryOptions: { maxRetries: 0 },
      redirectOptions: { maxRetries: 0 },
      tlsOptions: opts.ca ? { ca: opts.ca } : undefined,
      userAgentOptions: { userAgentPrefix: "driftguard" },
    });
    this.pipeline.addPolicy(
      bearerTokenAuthenticationPolicy({ credential: opts.credential, scopes: BOT_FRAMEWORK_SCOPE }),
    );
  }

  async postCard(conversationId: string, card: AdaptiveCardJson, opts: { summary?: string } = {}) {
    const ctx = { step: "post-card" as const, conversationId };
    const res = await this.send("POST", this.activitiesUrl(conversationId), cardMessage(card, opts), ctx);
    const id = activityIdOf(res);
    if (!id) {
      throw new BotConnectorError("InvalidResponse", `Bot Connector answered ${res.status} without an id`, {
        ...ctx,
        retryable: false,
        statusCode: res.status,
      });
    }
    return id;
  }

  async updateCard(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void> {
    const ctx = { step: "update-card" as const, conversationId, activityId };
    if (!activityId)
      throw new BotConnectorError("MissingActivityId", "no activity ID", { ...ctx, retryable: false });
    const url = `${this.activitiesUrl(conversationId)}/${encodeURIComponent(activityId)}`;
    await this.send("PUT", url, cardMessage(card, { id: activityId }), ctx);
  }

  async getMember(conversationId: string, userId: string): Promise<ConversationMember | undefined> {
    const ctx = { step: "get-member" as const, conversationId };
    if (!conversationId) throw new TypeError("conversationId is required");
    const url = `${this.baseUrl}/v3/conversations/${encodeURIComponent(conversationId)}/members/${encodeURIComponent(userId)}`;
    let res: PipelineResponse;
    try {
      res = await this.send("GET", url, undefined, ctx);
    } catch (err) {
      if (err instanceof BotConnectorError && err.statusCode === 404) return undefined;
      throw err;
    }
    try {
      const body = JSON.parse(res.bodyAsText ?? "") as {
        id?: unknown;
        objectId?: unknown;
        aadObjectId?: unknown;
      };
      if (typeof body.id !== "string" || body.id === "") return undefined;
      const objectId = typeof body.objectId === "string" ? body.objectId : body.aadObjectId;
      return { id: body.id, ...(typeof objectId === "string" ? { objectId } : {}) };
    } catch {
      throw new BotConnectorError(
        "InvalidResponse",
        `Bot Connector answered ${res.status} without a member`,
        {
          ...ctx,
          retryable: false,
          statusCode: res.status,
        },
      );
    }
  }

  private activitiesUrl(conversationId: string): string {
    if (!conversationId) throw new TypeError("conversationId is required");
    return `${this.baseUrl}/v3/conversations/${encodeURIComponent(conversationId)}/activities`;
  }

  private async send(
    method: "POST" | "PUT" | "GET",
    url: string,
    body: unknown,
    ctx: { step: BotConnectorStep; conversationId: string; activityId?: string },
  ): Promise<PipelineResponse> {
    const request = createPipelineRequest({ url, method, timeout: this.timeoutMs });
    request.headers.set("accept", "application/json");
    if (body !== undefined) {
      request.headers.set("content-type", "application/json; charset=utf-8");
      request.body = JSON.stringify(body);
    }
    let res: PipelineResponse;
    try {
      res = await this.pipeline.sendRequest(this.httpClient, request);
    } catch (err) {
      throw transportError(err, ctx);
    }
    if (res.status >= 200 && res.status < 300) return res;
    const status = res.status;
    const retryable = status === 408 || status === 429 || status >= 500;
    const code = errorCodeOf(res.bodyAsText) ?? `Http${status}`;
    throw new BotConnectorError(code, `Bot Connector ${ctx.step} answered ${status} (${code})`, {
      ...ctx,
      retryable,
      statusCode: status,
      retryAfterMs: retryAfterMs(res.headers.get("retry-after")),
    });
  }
}

/** Network failure, timeout, or no token: all worth another try (a broken setup shows as repeats). */
function transportError(
  err: unknown,
  ctx: { step: BotConnectorStep; conversationId: string; activityId?: string },
): BotConnectorError {
  const e = err as { name?: string; code?: string; message?: string };
  const message = (e.message ?? String(err)).split("\n")[0]!.slice(0, 300);
  if (isRestError(err)) {
    const timedOut = e.name === "AbortError" || /timed? ?out/i.test(message);
    const code = timedOut ? "Timeout" : (e.code ?? "RequestSendError");
    return new BotConnectorError(code, `Bot Connector ${ctx.step} failed: ${message}`, {
      ...ctx,
      retryable: true,
      cause: err,
    });
  }
  if (e.name === "AbortError") {
    return new BotConnectorError("Timeout", `Bot Connector ${ctx.step} timed out`, {
      ...ctx,
      retryable: true,
      cause: err,
    });
  }
  // Anything else comes from the credential (managed identity endpoint, misconfiguration).
  const unavailable = e.name === "CredentialUnavailableError";
  return new BotConnectorError("TokenUnavailable", `no Bot Framework token: ${message}`, {
    ...ctx,
    retryable: !unavailable,
    cause: err,
  });
}

function activityIdOf(res: PipelineResponse): string | undefined {
  try {
    const body = JSON.parse(res.bodyAsText ?? "") as { id?: unknown };
    return typeof body.id === "string" && body.id !== "" ? body.id : undefined;
  } catch {
    return undefined;
  }
}

/** Bot Connector errors: `{ error: { code, message } }`. */
function errorCodeOf(text: string | null | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

function retryAfterMs(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
