/**
 * `npm start`'s Teams settings: the user's own TEAMS_* values are kept, the stand-in fills only what
 * is unset, and it is not started at all for a bot or a Workflows webhook of the user's.
 */
import { describe, expect, it } from "vitest";
import { needsTeamsStandIn, teamsSettings } from "../../dev/teams-sim/demo.js";

const standIn = {
  botAppId: "5d0f7e0a-9a43-4d8e-b2f1-2a6c3b9d8e71",
  serviceUrl: "https://127.0.0.1:5555/",
  conversationId: "19:stand-in@thread.tacv2",
  jwksUrl: "http://127.0.0.1:5556/keys",
};

describe("npm start's Teams settings", () => {
  it("nothing set: the stand-in provides the bot, its conversation and its keys", () => {
    expect(needsTeamsStandIn({})).toBe(true);
    const { env, line } = teamsSettings({}, standIn);
    expect(env).toEqual({
      TEAMS_BOT_APP_ID: standIn.botAppId,
      TEAMS_SERVICE_URL: standIn.serviceUrl,
      TEAMS_CONVERSATION_ID: standIn.conversationId,
      TEAMS_BOT_JWKS_URL: standIn.jwksUrl,
    });
    expect(line).toBe(
      "Teams settings — the stand-in: TEAMS_BOT_APP_ID, TEAMS_SERVICE_URL, TEAMS_CONVERSATION_ID, TEAMS_BOT_JWKS_URL",
    );
  });

  it("a value the user set is kept; the stand-in fills the rest", () => {
    // Mutation: let the stand-in's values win (spread them last) → the user's conversation is lost, this fails.
    const { env, line } = teamsSettings({ TEAMS_CONVERSATION_ID: "19:mine@thread.tacv2" }, standIn);
    expect(env.TEAMS_CONVERSATION_ID).toBe("19:mine@thread.tacv2");
    expect(env.TEAMS_SERVICE_URL).toBe(standIn.serviceUrl);
    expect(line).toBe(
      "Teams settings — yours: TEAMS_CONVERSATION_ID; the stand-in: TEAMS_BOT_APP_ID, TEAMS_SERVICE_URL, TEAMS_BOT_JWKS_URL",
    );
  });

  it("a bot or a Workflows webhook of the user's: no stand-in, every setting theirs", () => {
    const user = {
      TEAMS_BOT_APP_ID: "7e0c2f1a-3b4d-4c5e-8f90-a1b2c3d4e5f6",
      TEAMS_SERVICE_URL: "https://smba.trafficmanager.net/emea/",
      TEAMS_BOT_JWKS_URL: "https://login.botframework.com/v1/.well-known/keys",
    };
    expect(needsTeamsStandIn(user)).toBe(false);
    expect(needsTeamsStandIn({ TEAMS_WORKFLOW_URL: "https://example.invalid/workflows/1" })).toBe(false);
    const { env, line } = teamsSettings(user);
    expect(env).toEqual(user);
    expect(line).toBe(
      "Teams settings — yours: TEAMS_BOT_APP_ID, TEAMS_SERVICE_URL, TEAMS_BOT_JWKS_URL; the Teams stand-in is not started",
    );
  });
});
