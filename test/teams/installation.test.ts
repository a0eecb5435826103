/**
 * Where the bot's approval cards go when no setting names the conversation, over the local stack and
 * the Teams stand-in (signed Bot Framework activities): only an approver of the app's tenant captures
 * a conversation by installing the bot; a second installation never replaces the captured one
 * without an approver's confirmation in it; every capture, refusal, move and removal is recorded on
 * the function app; `doctor` says where cards go.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runDoctor } from "../../cli/doctor.js";
import { type LocalStack, startLocalStack } from "../../dev/stack.js";
import { startTeamsSimulator, type TeamsSimulator } from "../../dev/teams-sim/index.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { staticTokenCredential } from "../../shared/azure/clients.js";
import { silentLogger } from "../../shared/log.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import { recordsInStore } from "../helpers/store-records.js";

const TENANT = "11111111-2222-3333-4444-555555555555";
const OTHER_TENANT = "99999999-2222-3333-4444-555555555555";
const APPROVER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const SECOND_APPROVER = "4b5c6d7e-8f90-4a1b-9c2d-3e4f5a6b7c8d";
const MEMBER = "22222222-2222-4222-8222-222222222222"; // in the tenant, not an approver
const BOT_APP_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
const APP_ID =
  "/subscriptions/00000000-0000-0000-0000-0000000000e1/resourceGroups/rg-driftguard/providers/Microsoft.Web/sites/func-driftguard";
const APPROVERS_TEAM = "19:approvers@thread.tacv2";
const OTHER_TEAM = "19:someone-elses-team@thread.tacv2";

let teams: TeamsSimulator;
let stack: LocalStack;
let messagesUrl: string;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  const tls = await loadOrCreateLocalTls();
  teams = await startTeamsSimulator({
    tls,
    botAppId: BOT_APP_ID,
    conversations: [APPROVERS_TEAM, OTHER_TEAM],
    members: [
      { aadObjectId: APPROVER, name: "Alex Wilber" },
      { aadObjectId: SECOND_APPROVER, name: "Megan Bowen" },
      { aadObjectId: MEMBER, name: "Guest" },
    ],
  });
  const dir = await mkdtemp(path.join(tmpdir(), "driftguard-install-"));
  const policyFile = path.join(dir, "p.yaml");
  await writeFile(
    policyFile,
    "version: 1\npolicies:\n  - name: storage\n    resourceTypes: [Microsoft.Storage/storageAccounts]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n",
  );
  env = {
    APPROVER_OBJECT_IDS: `${APPROVER},${SECOND_APPROVER}`,
    TEAMS_BOT_APP_ID: BOT_APP_ID,
    TEAMS_BOT_JWKS_URL: teams.jwksUrl,
    TEAMS_SERVICE_URL: undefined,
    TEAMS_CONVERSATION_ID: undefined,
    TEAMS_WORKFLOW_URL: undefined,
    AZURE_TENANT_ID: TENANT,
    DRIFTGUARD_APP_RESOURCE_ID: APP_ID,
  };
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: { resources: [] },
    policyFile,
    log: silentLogger,
    env,
  });
  messagesUrl = `${stack.functionsUrl}/api/teams/messages`;
  teams.setBotEndpoint(messagesUrl);
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await teams?.close();
});

const store = () => stack.runtime.stores.teams!;
/** The records of the app's own configuration, oldest first, read from the store itself. */
const trail = async () =>
  (await recordsInStore(stack))
    .filter((r) => r.resourceId === APP_ID)
    .sort((a, b) => a.seq - b.seq)
    .map((r) => ({ outcome: r.outcome, reason: r.reason ?? "", approver: r.approver?.id ?? null }));

async function install(conversationId: string, installer: string, extra: { tenantId?: string } = {}) {
  const res = await teams.sendInstallation({ messagesUrl, conversationId, installer, ...extra });
  expect(res.status).toBe(200);
}

/** Presses a button of the confirmation card posted to `conversationId`. */
async function press(
  conversationId: string,
  verb: string,
  aadObjectId: string,
  inConversation = conversationId,
) {
  const card = teams
    .activities(conversationId)
    .findLast((a) => JSON.stringify(a.card).includes("capture-confirm"));
  expect(card, "a confirmation card in the captured conversation").toBeDefined();
  const action = (card!.card.actions as { verb: string; data: Record<string, unknown> }[]).find(
    (a) => a.verb === verb,
  )!;
  const res = await teams.sendInvoke({
    messagesUrl,
    activityId: card!.id,
    verb,
    data: action.data,
    aadObjectId,
    conversationId: inConversation,
  });
  expect(res.status).toBe(200);
  return JSON.stringify(res.body);
}

describe("capturing the conversation for approval cards", () => {
  beforeEach(async () => {
    const current = await store().getConversation();
    if (current) await store().forgetConversation(current.conversationId);
    const pending = await store().getPendingConversation();
    if (pending) await store().clearPendingConversation(pending.id);
  });

  it("a member who is not an approver installs the bot: nothing is captured, the refusal is recorded", async () => {
    // Mutation: drop the approver check in shared/teams/installation.ts `whyNotCaptured` → captured, this fails.
    const before = (await trail()).length;
    await install(OTHER_TEAM, MEMBER);
    expect(await store().getConversation()).toBeUndefined();
    const [refused] = (await trail()).slice(before);
    expect(refused).toMatchObject({ outcome: "rejected" });
    expect(refused!.reason).toContain("not a configured approver");
  });

  it("an approver's installation in another tenant is not captured", async () => {
    // Mutation: drop the tenant check in `whyNotCaptured` → captured, this fails.
    const before = (await trail()).length;
    await install(OTHER_TEAM, APPROVER, { tenantId: OTHER_TENANT });
    expect(await store().getConversation()).toBeUndefined();
    expect((await trail()).slice(before)[0]!.reason).toContain("not in the app's tenant");
  });

  it("an approver's installation in the app's tenant is captured and recorded; the removal too", async () => {
    const before = (await trail()).length;
    await install(APPROVERS_TEAM, APPROVER);
    expect(await store().getConversation()).toMatchObject({
      conversationId: APPROVERS_TEAM,
      tenantId: TENANT,
    });
    await teams.sendInstallation({
      messagesUrl,
      conversationId: APPROVERS_TEAM,
      removed: true,
      installer: MEMBER,
    });
    expect(await store().getConversation()).toBeUndefined();
    expect((await trail()).slice(before).map((r) => r.outcome)).toEqual(["remediated", "reverted"]);
  });

  it("a second installation waits: the captured conversation is asked, and only an approver there moves the cards", async () => {
    await install(APPROVERS_TEAM, APPROVER);
    const before = (await trail()).length;
    // Another approver adds the bot to another team: the cards do not move by themselves.
    // Mutation: in `handleInstallation` save the new conversation when one is captured → this fails.
    await install(OTHER_TEAM, SECOND_APPROVER);
    expect((await store().getConversation())!.conversationId).toBe(APPROVERS_TEAM);
    expect((await store().getPendingConversation())!.conversationId).toBe(OTHER_TEAM);
    expect(teams.activities(APPROVERS_TEAM).some((a) => JSON.stringify(a.card).includes(OTHER_TEAM))).toBe(
      true,
    );

    // Pressed by a member who is not an approver, or from the other team: nothing moves.
    expect(await press(APPROVERS_TEAM, "capture-confirm", MEMBER)).toContain("Only an approver");
    expect(await press(APPROVERS_TEAM, "capture-confirm", SECOND_APPROVER, OTHER_TEAM)).toContain(
      "Only the conversation approval cards go to now",
    );
    expect((await store().getConversation())!.conversationId).toBe(APPROVERS_TEAM);

    // An approver in the captured conversation confirms: the cards move, recorded with the approver.
    expect(await press(APPROVERS_TEAM, "capture-confirm", APPROVER)).toContain(
      "now go to the other conversation",
    );
    expect((await store().getConversation())!.conversationId).toBe(OTHER_TEAM);
    expect(await store().getPendingConversation()).toBeUndefined();
    const records = (await trail()).slice(before);
    expect(records.map((r) => r.outcome)).toEqual(["pending-approval", "remediated"]);
    expect(records[1]!.approver).toMatch(/^p-[0-9a-f]{24}$/);
    // The same card pressed again changes nothing.
    expect(await press(APPROVERS_TEAM, "capture-confirm", APPROVER, OTHER_TEAM)).toContain("no longer open");
  });

  it("an approver may keep the cards where they are", async () => {
    await install(APPROVERS_TEAM, APPROVER);
    await install(OTHER_TEAM, SECOND_APPROVER);
    const before = (await trail()).length;
    expect(await press(APPROVERS_TEAM, "capture-keep", SECOND_APPROVER)).toContain("keep coming here");
    expect((await store().getConversation())!.conversationId).toBe(APPROVERS_TEAM);
    expect(await store().getPendingConversation()).toBeUndefined();
    expect((await trail()).slice(before).map((r) => r.outcome)).toEqual(["rejected"]);
  });

  it("doctor says where cards go, and what waits for confirmation", async () => {
    await install(APPROVERS_TEAM, APPROVER);
    await install(OTHER_TEAM, SECOND_APPROVER);
    const results = await runDoctor({
      env: {
        ...env,
        DRIFTGUARD_LOCAL_STACK: "1",
        DRIFTGUARD_POLICY_FILE: stack.runtime.config.policyFile,
        COSMOS_ENDPOINT: stack.cosmosUrl,
        COSMOS_KEY: stack.cosmosKey,
        ARM_ENDPOINT: stack.azureUrl,
        DRIFTGUARD_CA_FILE: stack.caCertFile,
      },
      registry: builtinRegistry(),
      credential: staticTokenCredential(),
      subscriptions: [],
      timeoutMs: 3_000,
    });
    const cards = results.filter((r) => r.check === "teams cards");
    expect(cards.map((r) => r.detail).join("\n")).toContain(`conversation ${APPROVERS_TEAM}`);
    expect(cards.find((r) => r.status === "warn")?.detail).toContain(
      `${OTHER_TEAM} waits for an approver's confirmation`,
    );
  });
});
