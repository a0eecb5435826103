/**
 * The Teams stand-in's Bot Connector and Workflows webhook, driven by the real outbound client
 * (shared/teams/connector.ts): post → stored → update → history, 401 on a wrong token, and each
 * failure surfaced as a typed error that says whether a retry could help.
 */
import https from "node:https";
import type { TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CONVERSATION_ID,
  startTeamsSimulator,
  type TeamsSimulator,
} from "../../dev/teams-sim/index.js";
import { type LocalTls, loadOrCreateLocalTls } from "../../dev/tls.js";
import { workflowMessage } from "../../shared/approvals/card.js";
import { LOCAL_STACK_TOKEN, staticTokenCredential } from "../../shared/azure/clients.js";
import { BOT_FRAMEWORK_SCOPE } from "../../shared/teams/bot-framework.js";
import { BotConnectorClient, BotConnectorError } from "../../shared/teams/connector.js";

const BOT_APP_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
const REPLY_CHAIN = "19:approvals-reply@thread.tacv2;messageid=1700000000000";

let tls: LocalTls;
let sim: TeamsSimulator;
let client: BotConnectorClient;

const card = (text: string) => ({
  type: "AdaptiveCard",
  version: "1.5",
  body: [{ type: "TextBlock", text, wrap: true }],
});

/** HTTPS request trusting the local CA; resolves to status and parsed body. */
function request(
  method: string,
  url: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown }> {
  const text = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: tls.cert,
        headers: { ...(text ? { "content-type": "application/json" } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined });
        });
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

async function rejection(p: Promise<unknown>): Promise<BotConnectorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BotConnectorError);
  return err as BotConnectorError;
}

beforeAll(async () => {
  tls = await loadOrCreateLocalTls();
  sim = await startTeamsSimulator({
    tls,
    botAppId: BOT_APP_ID,
    conversations: [DEFAULT_CONVERSATION_ID, REPLY_CHAIN],
  });
  client = new BotConnectorClient({
    serviceUrl: sim.serviceUrl,
    credential: staticTokenCredential(),
    ca: tls.cert,
  });
});

afterAll(async () => {
  await sim?.close();
});

describe("Bot Connector stand-in with the outbound client", () => {
  it("post → stored → update → history (in-process view and admin routes)", async () => {
    const first = card("approval needed");
    const activityId = await client.postCard(sim.conversationId, first, { summary: "approval needed" });
    expect(activityId).toMatch(/^\d+$/);

    const stored = sim.activity(sim.conversationId, activityId)!;
    expect(stored.card).toEqual(first);
    expect(stored.activity).toMatchObject({
      type: "message",
      summary: "approval needed",
      attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", content: first }],
    });
    expect(stored.history).toHaveLength(1);

    const second = card("approved by Alex");
    await client.updateCard(sim.conversationId, activityId, second);
    const third = card("approved by Alex → remediated");
    await client.updateCard(sim.conversationId, activityId, third);

    const admin = await request(
      "GET",
      `${sim.url}/_sim/conversations/${encodeURIComponent(sim.conversationId)}/activities/${activityId}`,
    );
    expect(admin.status).toBe(200);
    const view = admin.body as typeof stored;
    expect(view.card).toEqual(third);
    expect(view.history.map((v) => [v.method, v.card])).toEqual([
      ["POST", first],
      ["PUT", second],
      ["PUT", third],
    ]);
    expect(view.activity).toMatchObject({ id: activityId });

    const list = await request(
      "GET",
      `${sim.url}/_sim/conversations/${encodeURIComponent(sim.conversationId)}/activities`,
    );
    expect((list.body as { id: string }[]).map((a) => a.id)).toContain(activityId);
  });

  it("each post is a new message with its own ID", async () => {
    const before = sim.activities(sim.conversationId).length;
    const [a, b] = await Promise.all([
      client.postCard(sim.conversationId, card("one")),
      client.postCard(sim.conversationId, card("two")),
    ]);
    expect(a).not.toBe(b);
    expect(sim.activities(sim.conversationId)).toHaveLength(before + 2);
  });

  it("conversation IDs with ':', '@' and ';' travel encoded and are stored as they are", async () => {
    const id = await client.postCard(REPLY_CHAIN, card("in a reply chain"));
    expect(sim.activity(REPLY_CHAIN, id)?.card).toEqual(card("in a reply chain"));
    expect(sim.requests({ method: "POST" }).at(-1)?.path).toContain(encodeURIComponent(REPLY_CHAIN));
  });

  it("a service URL with a region path (as Teams gives them) works", async () => {
    const regional = new BotConnectorClient({
      serviceUrl: `${sim.url}/amer/`,
      credential: staticTokenCredential(),
      ca: tls.cert,
    });
    const id = await regional.postCard(sim.conversationId, card("regional"));
    expect(sim.activity(sim.conversationId, id)).toBeDefined();
    expect(sim.requests().at(-1)?.path.startsWith("/amer/v3/conversations/")).toBe(true);
  });

  it("asks its credential for the Bot Framework scope", async () => {
    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: async (scope) => {
        scopes.push(...[scope].flat());
        return { token: LOCAL_STACK_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
      },
    };
    const c = new BotConnectorClient({ serviceUrl: sim.serviceUrl, credential, ca: tls.cert });
    await c.postCard(sim.conversationId, card("scoped"));
    expect(scopes).toEqual([BOT_FRAMEWORK_SCOPE]);
  });
});

describe("refusals", () => {
  it("a wrong token is refused with 401, permanently, and nothing is stored", async () => {
    const before = sim.activities().length;
    const wrong = new BotConnectorClient({
      serviceUrl: sim.serviceUrl,
      credential: staticTokenCredential("some-other-token"),
      ca: tls.cert,
    });
    const err = await rejection(wrong.postCard(sim.conversationId, card("x")));
    expect(err).toMatchObject({ statusCode: 401, retryable: false, step: "post-card", code: "Unauthorized" });
    expect(err.message).not.toContain("some-other-token");

    const existing = sim.activities(sim.conversationId)[0]!;
    const put = await rejection(wrong.updateCard(sim.conversationId, existing.id, card("hijack")));
    expect(put).toMatchObject({ statusCode: 401, step: "update-card", activityId: existing.id });
    expect(sim.activity(sim.conversationId, existing.id)!.history).toHaveLength(existing.history.length);
    expect(sim.activities()).toHaveLength(before);
  });

  it("no token, or another scheme, is 401 too; the request log never holds the token", async () => {
    const url = `${sim.serviceUrl}v3/conversations/${encodeURIComponent(sim.conversationId)}/activities`;
    const body = workflowMessage(card("x"));
    expect((await request("POST", url, { body })).status).toBe(401);
    expect(
      (await request("POST", url, { body, headers: { authorization: `Basic ${LOCAL_STACK_TOKEN}` } })).status,
    ).toBe(401);
    expect(
      (await request("POST", url, { body, headers: { authorization: `Bearer ${LOCAL_STACK_TOKEN}` } }))
        .status,
    ).toBe(201);
    const log = sim.requests({ pathIncludes: "/v3/conversations/" });
    expect(log.slice(-3).map((r) => [r.status, r.authorized])).toEqual([
      [401, false],
      [401, false],
      [201, true],
    ]);
    expect(JSON.stringify(log)).not.toContain(LOCAL_STACK_TOKEN);
  });

  it("a conversation the bot is not in: 403, permanent", async () => {
    const err = await rejection(client.postCard("19:elsewhere@thread.tacv2", card("x")));
    expect(err).toMatchObject({ statusCode: 403, retryable: false, code: "BotNotInConversationRoster" });
  });

  it("updating an unknown activity: 404, permanent", async () => {
    const err = await rejection(client.updateCard(sim.conversationId, "1234", card("x")));
    expect(err).toMatchObject({
      statusCode: 404,
      retryable: false,
      step: "update-card",
      code: "ActivityNotFound",
    });
  });

  it("a malformed activity is 400; a card over Teams' size limit is 413", async () => {
    const url = `${sim.serviceUrl}v3/conversations/${encodeURIComponent(sim.conversationId)}/activities`;
    const headers = { authorization: `Bearer ${LOCAL_STACK_TOKEN}` };
    const noCard = await request("POST", url, { body: { type: "message", text: "hi" }, headers });
    expect(noCard).toMatchObject({ status: 400, body: { error: { code: "BadArgument" } } });
    const wrongType = await request("POST", url, {
      body: {
        type: "message",
        attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", content: {} }],
      },
      headers,
    });
    expect(wrongType.status).toBe(400);

    const huge = card("x".repeat(30 * 1024));
    const err = await rejection(client.postCard(sim.conversationId, huge));
    expect(err).toMatchObject({ statusCode: 413, retryable: false });
  });

  it("the client refuses a plain-http service URL (bearer tokens travel over TLS only)", () => {
    expect(
      () =>
        new BotConnectorClient({ serviceUrl: "http://127.0.0.1:1/", credential: staticTokenCredential() }),
    ).toThrow(/https/);
  });
});

describe("transient failures are retryable, with the step", () => {
  it("429 with Retry-After", async () => {
    sim.addFault({ method: "POST", path: "/activities", status: 429, retryAfterSeconds: 7 });
    const before = sim.activities().length;
    const err = await rejection(client.postCard(sim.conversationId, card("x")));
    expect(err).toMatchObject({ statusCode: 429, retryable: true, retryAfterMs: 7000, step: "post-card" });
    expect(sim.activities()).toHaveLength(before);
  });

  it("503 on an update", async () => {
    const id = await client.postCard(sim.conversationId, card("before"));
    sim.addFault({ method: "PUT", path: `/activities/${id}`, status: 503 });
    const err = await rejection(client.updateCard(sim.conversationId, id, card("after")));
    expect(err).toMatchObject({ statusCode: 503, retryable: true, step: "update-card", activityId: id });
    expect(sim.activity(sim.conversationId, id)!.card).toEqual(card("before"));
    await client.updateCard(sim.conversationId, id, card("after"));
    expect(sim.activity(sim.conversationId, id)!.card).toEqual(card("after"));
  });

  it("a dropped connection", async () => {
    sim.addFault({ method: "POST", path: "/activities", status: 0 });
    const err = await rejection(client.postCard(sim.conversationId, card("x")));
    expect(err).toMatchObject({ retryable: true, step: "post-card" });
    expect(err.statusCode).toBeUndefined();
  });

  it("a timeout", async () => {
    const impatient = new BotConnectorClient({
      serviceUrl: sim.serviceUrl,
      credential: staticTokenCredential(),
      ca: tls.cert,
      timeoutMs: 200,
    });
    sim.addFault({ method: "POST", path: "/activities", status: 503, delayMs: 2000 });
    const err = await rejection(impatient.postCard(sim.conversationId, card("x")));
    expect(err).toMatchObject({ retryable: true, step: "post-card", code: "Timeout" });
  });

  it("no token from the identity endpoint: retryable; no identity configured: permanent; nothing sent", async () => {
    const sent = sim.requests().length;
    const flaky = new BotConnectorClient({
      serviceUrl: sim.serviceUrl,
      ca: tls.cert,
      credential: {
        getToken: async () => {
          throw Object.assign(new Error("ManagedIdentityCredential: connect ECONNREFUSED"), {
            name: "AuthenticationError",
          });
        },
      },
    });
    expect(await rejection(flaky.postCard(sim.conversationId, card("x")))).toMatchObject({
      code: "TokenUnavailable",
      retryable: true,
    });
    const missing = new BotConnectorClient({
      serviceUrl: sim.serviceUrl,
      ca: tls.cert,
      credential: {
        getToken: async () => {
          throw Object.assign(new Error("no managed identity endpoint"), {
            name: "CredentialUnavailableError",
          });
        },
      },
    });
    expect(await rejection(missing.postCard(sim.conversationId, card("x")))).toMatchObject({
      code: "TokenUnavailable",
      retryable: false,
    });
    expect(sim.requests()).toHaveLength(sent);
  });
});

describe("Workflows webhook stand-in", () => {
  it("keeps the posted card (202); a wrong signature is 401 and keeps nothing", async () => {
    const message = workflowMessage(card("review and decide"));
    const ok = await request("POST", sim.workflowUrl, { body: message });
    expect(ok.status).toBe(202);
    const posts = sim.workflowPosts();
    expect(posts.at(-1)).toMatchObject({ card: card("review and decide"), message });

    const forged = sim.workflowUrl.replace(/sig=[^&]+/, "sig=forged");
    expect((await request("POST", forged, { body: message })).status).toBe(401);
    const admin = await request("GET", `${sim.url}/_sim/workflows/posts`);
    expect(admin.body).toHaveLength(posts.length);
  });

  it("a message without an Adaptive Card is 400", async () => {
    const res = await request("POST", sim.workflowUrl, { body: { type: "message", text: "hello" } });
    expect(res.status).toBe(400);
  });
});
