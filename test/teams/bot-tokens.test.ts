/**
 * The stand-in's token issuer and invokes: a signed `adaptiveCard/action` invoke verifies against
 * the published keys with the bot's checks (issuer, audience, RS256 only, 5 minutes skew, service
 * URL claim), and each bad token is refused — each for its own reason.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BAD_TOKEN_VARIANTS,
  type BadTokenVariant,
  startTeamsSimulator,
  type TeamsSimulator,
} from "../../dev/teams-sim/index.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import {
  BOT_FRAMEWORK_ISSUER,
  BotTokenError,
  SERVICE_URL_CLAIM,
  verifyBotFrameworkToken,
} from "../../shared/teams/bot-framework.js";

const BOT_APP_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
const APPROVER_OID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

let sim: TeamsSimulator;
/** A stand-in bot endpoint that records what it receives. */
let bot: http.Server;
let botUrl: string;
const received: { headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  sim = await startTeamsSimulator({ tls: await loadOrCreateLocalTls(), botAppId: BOT_APP_ID });
  bot = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ statusCode: 200, type: "application/vnd.microsoft.activity.message", value: "ok" }),
      );
    });
  });
  await new Promise<void>((r) => bot.listen(0, "127.0.0.1", () => r()));
  botUrl = `http://127.0.0.1:${(bot.address() as AddressInfo).port}/api/teams/messages`;
});

afterAll(async () => {
  await sim?.close();
  await new Promise((r) => bot?.close(r));
});

/** The same checks as the bot's messaging endpoint, written out with jose alone. */
async function verifyLikeTheBot(token: string, activityServiceUrl: string) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(sim.jwksUrl)), {
    issuer: "https://api.botframework.com",
    audience: BOT_APP_ID,
    algorithms: ["RS256"],
    clockTolerance: 300,
  });
  if (payload.serviceurl !== activityServiceUrl) throw new Error("serviceurl claim does not match");
  return payload;
}

describe("local issuer", () => {
  it("publishes an OpenID configuration pointing at its keys", async () => {
    const config = (await (await fetch(sim.openIdConfigurationUrl)).json()) as Record<string, unknown>;
    expect(config).toMatchObject({ issuer: BOT_FRAMEWORK_ISSUER, jwks_uri: sim.jwksUrl });
    const jwks = (await (await fetch(sim.jwksUrl)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toEqual([
      expect.objectContaining({
        kty: "RSA",
        kid: sim.issuer.kid,
        alg: "RS256",
        use: "sig",
        endorsements: ["msteams"],
      }),
    ]);
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });

  it("signs an invoke that verifies with the published keys", async () => {
    const res = await sim.sendInvoke({
      messagesUrl: botUrl,
      activityId: "1700000000123",
      verb: "approve",
      data: { approvalId: "6f1c2f8e-3a1b-4c5d-8e9f-0a1b2c3d4e5f" },
      aadObjectId: APPROVER_OID,
      userName: "Alex Wilber",
    });
    expect(res.status).toBe(200);
    const { headers, body } = received.at(-1)!;
    expect(body).toMatchObject({
      type: "invoke",
      name: "adaptiveCard/action",
      channelId: "msteams",
      serviceUrl: sim.serviceUrl,
      from: { aadObjectId: APPROVER_OID, name: "Alex Wilber" },
      conversation: { id: sim.conversationId },
      replyToId: "1700000000123",
      value: {
        action: {
          type: "Action.Execute",
          verb: "approve",
          data: { approvalId: "6f1c2f8e-3a1b-4c5d-8e9f-0a1b2c3d4e5f" },
        },
        trigger: "manual",
      },
    });
    const token = /^Bearer (.+)$/.exec(headers.authorization ?? "")![1]!;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", kid: sim.issuer.kid });
    const payload = await verifyLikeTheBot(token, body.serviceUrl as string);
    expect(payload).toMatchObject({
      iss: BOT_FRAMEWORK_ISSUER,
      aud: BOT_APP_ID,
      [SERVICE_URL_CLAIM]: sim.serviceUrl,
    });
    await expect(
      verifyBotFrameworkToken(token, {
        botAppId: BOT_APP_ID,
        keys: sim.jwksUrl,
        activityServiceUrl: sim.serviceUrl,
      }),
    ).resolves.toMatchObject({ aud: BOT_APP_ID });
  });

  it("sends no Authorization header when asked to, and a raw token as given", async () => {
    await sim.sendInvoke({
      messagesUrl: botUrl,
      activityId: "1",
      verb: "refresh",
      data: {},
      aadObjectId: APPROVER_OID,
      token: null,
    });
    expect(received.at(-1)!.headers.authorization).toBeUndefined();
    await sim.sendInvoke({
      messagesUrl: botUrl,
      activityId: "1",
      verb: "refresh",
      data: {},
      aadObjectId: APPROVER_OID,
      token: { raw: "abc.def.ghi" },
      trigger: "automatic",
    });
    expect(received.at(-1)!.headers.authorization).toBe("Bearer abc.def.ghi");
    expect(received.at(-1)!.body).toMatchObject({ value: { trigger: "automatic" } });
  });

  it("allows 5 minutes of clock skew and not more", async () => {
    const check = { botAppId: BOT_APP_ID, keys: sim.jwksUrl, activityServiceUrl: sim.serviceUrl };
    // Minted 64 minutes ago with a 60-minute life: expired 4 minutes ago, inside the skew.
    const late = await sim.issuer.token({
      serviceUrl: sim.serviceUrl,
      now: new Date(Date.now() - 64 * 60_000),
    });
    await expect(verifyBotFrameworkToken(late, check)).resolves.toBeDefined();
    await expect(verifyLikeTheBot(late, sim.serviceUrl)).resolves.toBeDefined();
    // The same token, checked 2 minutes later: 6 minutes past expiry.
    await expect(
      verifyBotFrameworkToken(late, { ...check, now: new Date(Date.now() + 2 * 60_000) }),
    ).rejects.toThrow(/ERR_JWT_EXPIRED/);
  });

  it("follows the given clock", async () => {
    const past = new Date("2030-06-01T12:00:00Z");
    const token = await sim.issuer.token({ serviceUrl: sim.serviceUrl, now: past });
    const check = { botAppId: BOT_APP_ID, keys: sim.jwksUrl, activityServiceUrl: sim.serviceUrl };
    await expect(verifyBotFrameworkToken(token, { ...check, now: past })).resolves.toBeDefined();
    await expect(verifyBotFrameworkToken(token, check)).rejects.toThrow(BotTokenError);
  });
});

describe("bad tokens are refused, each for its own reason", () => {
  const reasons: Record<BadTokenVariant, RegExp> = {
    "forged-signature": /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/,
    "unknown-key": /ERR_JWKS_NO_MATCHING_KEY/,
    "wrong-audience": /ERR_JWT_CLAIM_VALIDATION_FAILED.*"aud"/,
    "wrong-issuer": /ERR_JWT_CLAIM_VALIDATION_FAILED.*"iss"/,
    expired: /ERR_JWT_EXPIRED/,
    "not-yet-valid": /ERR_JWT_CLAIM_VALIDATION_FAILED.*"nbf"/,
    "wrong-service-url": /serviceurl claim does not match/,
    "missing-service-url": /serviceurl claim does not match/,
    "alg-none": /ERR_JOSE_ALG_NOT_ALLOWED/,
    "hs256-public-key": /ERR_JOSE_ALG_NOT_ALLOWED/,
  };

  it("covers every variant the stand-in makes", () => {
    expect(Object.keys(reasons).sort()).toEqual([...BAD_TOKEN_VARIANTS].sort());
  });

  it.each(BAD_TOKEN_VARIANTS)("%s", async (variant) => {
    await sim.sendInvoke({
      messagesUrl: botUrl,
      activityId: "1700000000123",
      verb: "approve",
      data: { approvalId: "6f1c2f8e-3a1b-4c5d-8e9f-0a1b2c3d4e5f" },
      aadObjectId: APPROVER_OID,
      token: variant,
    });
    const { headers, body } = received.at(-1)!;
    const token = /^Bearer (.+)$/.exec(headers.authorization ?? "")![1]!;
    const err = await verifyBotFrameworkToken(token, {
      botAppId: BOT_APP_ID,
      keys: sim.jwksUrl,
      activityServiceUrl: body.serviceUrl as string,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BotTokenError);
    expect((err as Error).message).toMatch(reasons[variant]);
    await expect(verifyLikeTheBot(token, body.serviceUrl as string)).rejects.toThrow();
  });

  it("the HS256 token is a genuine HMAC over the published public key (the key-confusion attack)", async () => {
    const token = await sim.issuer.badToken("hs256-public-key", { serviceUrl: sim.serviceUrl });
    const { payload } = await jwtVerify(token, new TextEncoder().encode(sim.issuer.publicKeyPem), {
      algorithms: ["HS256"],
      audience: BOT_APP_ID,
      issuer: BOT_FRAMEWORK_ISSUER,
    });
    expect(payload[SERVICE_URL_CLAIM]).toBe(sim.serviceUrl);
  });

  it("the forged token names the published key ID, and is otherwise a well-formed token", async () => {
    const token = await sim.issuer.badToken("forged-signature", { serviceUrl: sim.serviceUrl });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", kid: sim.issuer.kid });
  });

  it("a token for a different activity service URL is refused even when the claim is genuine", async () => {
    const res = await sim.sendInvoke({
      messagesUrl: botUrl,
      activityId: "1",
      verb: "approve",
      data: {},
      aadObjectId: APPROVER_OID,
      activityServiceUrl: "https://attacker.example/",
    });
    expect(res.activity.serviceUrl).toBe("https://attacker.example/");
    const token = /^Bearer (.+)$/.exec(received.at(-1)!.headers.authorization ?? "")![1]!;
    await expect(
      verifyBotFrameworkToken(token, {
        botAppId: BOT_APP_ID,
        keys: sim.jwksUrl,
        activityServiceUrl: res.activity.serviceUrl,
      }),
    ).rejects.toThrow(/serviceurl claim/);
  });
});
