/**
 * Approvals through the Teams bot, over the local stack and the Teams stand-in: the bot posts its
 * own card (Bot Connector), the stand-in presses its buttons with signed `adaptiveCard/action`
 * invokes, and the card message is replaced as the approval changes. Every case asserts on what a
 * user sees: the simulated resource (ARM writes), the audit trail, and the card.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAD_TOKEN_VARIANTS, type StoredActivity } from "../../dev/teams-sim/index.js";
import type { AdaptiveCardActionInvoke } from "../../shared/teams/bot-framework.js";
import { adaptiveCardProblems } from "../helpers/adaptive-card-schema.js";
import {
  APPROVER_OID,
  type ApprovalsStack,
  CALLER_OID,
  SECOND_APPROVER_OID,
  STRANGER_OID,
  startApprovalsStack,
  storageId,
  TTL_MINUTES,
} from "./approvals-setup.js";

const NAMES = [
  "stbotok",
  "stbotno",
  "stbotexp",
  "stbottok",
  "stbotout",
  "stbotself",
  "stbotview",
  "stbotrace",
  "stbotdrift",
  "stbotinst",
];
const [OK, NO, EXP, TOKENS, OUTSIDER, SELF, VIEW, RACE, DRIFT] = NAMES.map(storageId) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];

let t: ApprovalsStack;
let messagesUrl: string;

beforeAll(async () => {
  t = await startApprovalsStack("bot", NAMES);
  messagesUrl = `${t.stack.functionsUrl}/api/teams/messages`;
});
afterAll(async () => {
  await t?.close();
});

/** The message the bot posted for this approval, as the stand-in holds it (every version). */
async function cardMessage(approvalId: string): Promise<StoredActivity> {
  const ref = await t.stack.runtime.stores.teams!.getCardMessage(approvalId);
  expect(ref, "the bot stored the card's activity ID").toBeDefined();
  return t.teams.activity(ref!.conversationId, ref!.activityId)!;
}

const text = (card: unknown) => JSON.stringify((card as { body?: unknown }).body ?? card);

interface InvokeAnswer {
  statusCode: number;
  type: string;
  value: Record<string, unknown>;
}

async function press(approvalId: string, verb: string, oid: string, trigger?: "automatic") {
  const message = await cardMessage(approvalId);
  const res = await t.teams.sendInvoke({
    messagesUrl,
    activityId: message.id,
    verb,
    data: { approvalId },
    aadObjectId: oid,
    ...(trigger ? { trigger } : {}),
  });
  return { status: res.status, answer: res.body as InvokeAnswer, activity: res.activity };
}

/** Re-sends an activity with a given token, byte for byte what was sent before. */
function replay(activity: AdaptiveCardActionInvoke, token: string): Promise<Response> {
  return fetch(messagesUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(activity),
  });
}

describe("the bot's approval card", () => {
  it("is posted by the bot with Approve/Reject Action.Execute buttons and a refresh for the approvers' Teams IDs", async () => {
    const approval = await t.requestApproval(OK);
    const message = await cardMessage(approval.id);
    expect(message.history.map((h) => h.method)).toEqual(["POST"]);
    const card = message.card;
    expect(adaptiveCardProblems(card)).toEqual([]);
    expect(card.actions).toEqual([
      expect.objectContaining({ type: "Action.Execute", verb: "approve", data: { approvalId: approval.id } }),
      expect.objectContaining({ type: "Action.Execute", verb: "reject", data: { approvalId: approval.id } }),
    ]);
    const refresh = card.refresh as { action: { verb: string }; userIds: string[] };
    expect(refresh.action.verb).toBe("refresh");
    // Teams user IDs of the approvers who are members, found by Entra object ID; not the object IDs.
    expect([...refresh.userIds].sort()).toEqual(
      [APPROVER_OID, SECOND_APPROVER_OID, CALLER_OID].map((o) => t.teams.teamsUserId(o)).sort(),
    );
    expect(JSON.stringify(card)).not.toContain(APPROVER_OID);
    expect(text(card)).toContain("properties.publicNetworkAccess: Enabled → Disabled");
    expect(t.teams.requests({ method: "GET", pathIncludes: "/members/" }).every((r) => r.authorized)).toBe(
      true,
    );
  });

  it("approve → the resource changes once; the card turns approved, then remediated, for everyone; later clicks and replays change nothing and say why", async () => {
    const approval = await t.requestApproval(OK);
    const token = await t.teams.issuer.token({ serviceUrl: t.teams.serviceUrl });
    const activity = t.teams.invokeActivity({
      activityId: (await cardMessage(approval.id)).id,
      verb: "approve",
      data: { approvalId: approval.id },
      aadObjectId: APPROVER_OID,
    });
    const first = await replay(activity, token);
    expect(first.status).toBe(200);
    const answer = (await first.json()) as InvokeAnswer;
    expect(answer.type).toBe("application/vnd.microsoft.card.adaptive");
    expect(text(answer.value)).toContain("Approved by you");
    expect(text(answer.value)).toContain("Remediated: the change was applied and verified.");

    expect(t.writes(OK)).toHaveLength(1);
    expect(t.stack.sim.getResource(OK)!.properties!.publicNetworkAccess).toBe("Disabled");
    const trail = await t.records(OK);
    expect(trail.slice(0, 3).map((r) => r.outcome)).toEqual(["remediated", "approved", "pending-approval"]);
    expect(trail[1]!.approver).toMatchObject({ via: "teams", id: expect.stringMatching(/^p-/) });

    const message = await cardMessage(approval.id);
    expect(message.history.map((h) => h.method)).toEqual(["POST", "PUT", "PUT"]);
    expect(text(message.history[1]!.card)).toContain("Remediation is running.");
    expect(text(message.card)).toContain("driftguard: approved");
    expect(text(message.card)).toContain("Remediated");
    expect(message.card.actions).toBeUndefined();
    expect(message.card.refresh).toBeUndefined();
    expect(adaptiveCardProblems(message.card)).toEqual([]);

    // A second approver clicks the same card later.
    const second = await press(approval.id, "approve", SECOND_APPROVER_OID);
    expect(text(second.answer.value)).toContain("Your approve changed nothing: approval already approved");
    // The very same request (token and activity) sent again.
    const replayed = await replay(activity, token);
    expect(replayed.status).toBe(200);
    expect(text(((await replayed.json()) as InvokeAnswer).value)).toContain(
      "changed nothing: approval already approved",
    );
    expect(t.writes(OK)).toHaveLength(1);
    expect(await t.records(OK)).toHaveLength(trail.length);
    expect((await cardMessage(approval.id)).history).toHaveLength(3);
  });

  it("reject → nothing changes; the card says rejected, for everyone", async () => {
    const approval = await t.requestApproval(NO);
    const { answer } = await press(approval.id, "reject", APPROVER_OID);
    expect(text(answer.value)).toContain("Rejected by you");
    expect(t.writes(NO)).toHaveLength(0);
    expect((await t.records(NO)).map((r) => r.outcome)).toEqual(["rejected", "pending-approval"]);
    const message = await cardMessage(approval.id);
    expect(text(message.card)).toContain("Rejected by approver p-");
    expect(text(message.card)).toContain("Nothing was changed.");
    expect(message.card.actions).toBeUndefined();
  });

  it("a decision after the approval expired changes nothing; the card says it expired, for everyone", async () => {
    const approval = await t.requestApproval(EXP);
    t.clock.advance((TTL_MINUTES + 1) * 60_000);
    const { status, answer } = await press(approval.id, "approve", APPROVER_OID);
    expect(status).toBe(200);
    expect(text(answer.value)).toContain("Your approve changed nothing: approval expired");
    expect(text(answer.value)).toContain("Expired at");
    expect(t.writes(EXP)).toHaveLength(0);
    expect((await t.records(EXP)).map((r) => r.outcome)).toEqual(["expired", "pending-approval"]);
    const message = await cardMessage(approval.id);
    expect(text(message.card)).toContain("driftguard: expired");
    expect(message.card.actions).toBeUndefined();
    // The timer finds it already expired: no second record, no second update.
    await t.stack.host.runTimer("expireApprovals");
    expect(await t.records(EXP)).toHaveLength(2);
    expect((await cardMessage(approval.id)).history).toHaveLength(2);
  });

  it("refuses every bad Bot Framework token with 401, and nothing changes", async () => {
    const approval = await t.requestApproval(TOKENS);
    const message = await cardMessage(approval.id);
    const invoke = (token: Parameters<typeof t.teams.sendInvoke>[0]["token"], activityServiceUrl?: string) =>
      t.teams.sendInvoke({
        messagesUrl,
        activityId: message.id,
        verb: "approve",
        data: { approvalId: approval.id },
        aadObjectId: APPROVER_OID,
        token,
        ...(activityServiceUrl ? { activityServiceUrl } : {}),
      });
    expect(BAD_TOKEN_VARIANTS).toEqual(
      expect.arrayContaining([
        "forged-signature",
        "wrong-audience",
        "wrong-issuer",
        "expired",
        "wrong-service-url",
        "alg-none",
        "hs256-public-key",
      ]),
    );
    for (const variant of BAD_TOKEN_VARIANTS) {
      const res = await invoke(variant);
      expect(res.status, variant).toBe(401);
    }
    expect((await invoke(null)).status).toBe(401);
    expect((await invoke({ raw: "not.a.jwt" })).status).toBe(401);
    // A valid token, but the activity names another service URL than the token was minted for.
    expect((await invoke(undefined, "https://smba.trafficmanager.net/emea/")).status).toBe(401);

    expect((await t.approval(approval.id))!.state).toBe("pending");
    expect(t.writes(TOKENS)).toHaveLength(0);
    expect((await t.records(TOKENS)).map((r) => r.outcome)).toEqual(["pending-approval"]);
    expect((await cardMessage(approval.id)).history).toHaveLength(1);
  });

  it("someone who is not an approver is refused: the card tells them, nothing changes, the refusal is recorded once", async () => {
    const approval = await t.requestApproval(OUTSIDER);
    const { answer } = await press(approval.id, "approve", STRANGER_OID);
    expect(text(answer.value)).toContain("You are not one of the approvers");
    expect(answer.value.actions).toBeUndefined();
    await press(approval.id, "reject", STRANGER_OID); // a second try: refused again, not recorded again
    const stored = (await t.approval(approval.id))!;
    expect(stored.state).toBe("pending");
    expect(stored.refusals?.map((r) => r.reason)).toEqual([
      "you are not an authorised approver",
      "you are not an authorised approver",
    ]);
    expect(t.writes(OUTSIDER)).toHaveLength(0);
    const trail = await t.records(OUTSIDER);
    expect(trail.map((r) => r.outcome)).toEqual(["pending-approval", "pending-approval"]);
    expect(trail[0]!.reason).toBe("you are not an authorised approver");
    expect(trail[0]!.actor).toMatch(/^approver:p-[0-9a-f]{24}$/);
  });

  it("the person whose change drifted cannot approve its fix: refused, recorded once, shown to them and on the card", async () => {
    const approval = await t.requestApproval(SELF);
    const { answer } = await press(approval.id, "approve", CALLER_OID);
    expect(text(answer.value)).toContain("the change being remediated was made by you");
    expect(answer.value.actions).toBeUndefined();
    await press(approval.id, "approve", CALLER_OID); // a second try: refused again, not recorded again
    const stored = (await t.approval(approval.id))!;
    expect(stored.state).toBe("pending");
    expect(stored.refusals).toHaveLength(2);
    const trail = await t.records(SELF);
    expect(trail.map((r) => r.outcome)).toEqual(["pending-approval", "pending-approval"]);
    expect(trail[0]!.reason).toContain("self-approval refused");
    expect(t.writes(SELF)).toHaveLength(0);
    // Everyone's card says a decision was refused and still offers the buttons to the others.
    const message = await cardMessage(approval.id);
    expect(text(message.card)).toContain("self-approval refused");
    expect(message.card.actions).toHaveLength(2);
    // Another approver can still approve.
    const { answer: approved } = await press(approval.id, "approve", APPROVER_OID);
    expect(text(approved.value)).toContain("Remediated");
    expect(t.writes(SELF)).toHaveLength(1);
  });

  it("refresh answers the current state for each viewer", async () => {
    const approval = await t.requestApproval(VIEW);
    const approver = await press(approval.id, "refresh", APPROVER_OID, "automatic");
    expect(approver.answer.value.actions).toHaveLength(2);
    const stranger = await press(approval.id, "refresh", STRANGER_OID, "automatic");
    expect(stranger.answer.value.actions).toBeUndefined();
    expect(text(stranger.answer.value)).toContain("Only driftguard's configured approvers can decide");
    const caller = await press(approval.id, "refresh", CALLER_OID, "automatic");
    expect(text(caller.answer.value)).toContain("made by you");
    await press(approval.id, "approve", APPROVER_OID);
    const after = await press(approval.id, "refresh", SECOND_APPROVER_OID, "automatic");
    expect(text(after.answer.value)).toContain("Approved by approver p-");
    expect(after.answer.value.actions).toBeUndefined();
    expect(t.writes(VIEW)).toHaveLength(1);
  });

  it("20 concurrent approves of one approval → exactly one decision record and one ARM write", async () => {
    const approval = await t.requestApproval(RACE);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        press(approval.id, "approve", i % 2 === 0 ? APPROVER_OID : SECOND_APPROVER_OID),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    for (const a of answers) expect(text(a.answer.value)).toContain("driftguard: approved");
    const trail = await t.records(RACE);
    expect(trail.filter((r) => r.outcome === "approved")).toHaveLength(1);
    expect(trail.filter((r) => r.outcome === "remediated")).toHaveLength(1);
    expect(t.writes(RACE)).toHaveLength(1);
  });

  it("a resource that drifted between request and approval is not changed: a new approval gets its own card", async () => {
    const approval = await t.requestApproval(DRIFT);
    // Someone else already turned blob public access off: the fix is no longer the approved one.
    const resource = t.stack.sim.getResource(DRIFT)!;
    t.stack.sim.putResource({
      ...resource,
      properties: { ...resource.properties, allowBlobPublicAccess: false },
    });
    const { answer } = await press(approval.id, "approve", APPROVER_OID);
    expect(text(answer.value)).toContain("Not applied: the resource changed since the request");
    expect(t.writes(DRIFT)).toHaveLength(0);
    const trail = await t.records(DRIFT);
    expect(trail.map((r) => r.outcome)).toEqual(["pending-approval", "approved", "pending-approval"]);
    const next = trail[0]!.approvalId!;
    expect(next).not.toBe(approval.id);
    expect(text((await cardMessage(approval.id)).card)).toContain(`New approval ${next}`);
    const nextCard = await cardMessage(next);
    expect(nextCard.history.map((h) => h.method)).toEqual(["POST"]);
    expect(text(nextCard.card)).not.toContain("allowBlobPublicAccess");
    const { answer: approved } = await press(next, "approve", SECOND_APPROVER_OID);
    expect(text(approved.value)).toContain("Remediated");
    expect(t.writes(DRIFT)).toHaveLength(1);
  });
});

describe("installation", () => {
  it("with TEAMS_SERVICE_URL and TEAMS_CONVERSATION_ID set, nothing is captured (signed activity only); cards go where the settings say", async () => {
    const store = t.stack.runtime.stores.teams!;
    const forged = await t.teams.sendInstallation({
      messagesUrl,
      conversationId: "19:elsewhere@thread.tacv2",
      token: "forged-signature",
    });
    expect(forged.status).toBe(401);
    expect(await store.getConversation()).toBeUndefined();
    const personal = await t.teams.sendInstallation({
      messagesUrl,
      conversationId: "a:1personal-chat",
      conversationType: "personal",
    });
    expect(personal.status).toBe(200);
    expect(await store.getConversation()).toBeUndefined();

    // An approver installs the bot in another team: the settings name the conversation, so it is not captured
    // (capturing is covered by test/teams/installation.test.ts).
    const installed = await t.teams.sendInstallation({
      messagesUrl,
      conversationId: "19:elsewhere@thread.tacv2",
      installer: APPROVER_OID,
    });
    expect(installed.status).toBe(200);
    expect(await store.getConversation()).toBeUndefined();
    const approval = await t.requestApproval(storageId("stbotinst"));
    expect((await store.getCardMessage(approval.id))!.conversationId).toBe(t.teams.conversationId);

    const removed = await t.teams.sendInstallation({
      messagesUrl,
      conversationId: "19:elsewhere@thread.tacv2",
      removed: true,
    });
    expect(removed.status).toBe(200);
    expect(await store.getConversation()).toBeUndefined();
  });
});
