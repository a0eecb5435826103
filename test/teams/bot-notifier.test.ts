/**
 * The bot's notifier against the Teams stand-in (real Bot Connector client, local CA): where it
 * posts (settings win over the captured conversation), retries a throttled post, replaces the
 * message with the approval's latest state, and the stores that keep the conversation and the
 * card messages (in memory, and in Cosmos beside the approvals without showing up in their queries).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedCosmos } from "../../dev/cosmos.js";
import {
  DEFAULT_CONVERSATION_ID,
  startTeamsSimulator,
  type TeamsSimulator,
} from "../../dev/teams-sim/index.js";
import { type LocalTls, loadOrCreateLocalTls } from "../../dev/tls.js";
import { staticTokenCredential } from "../../shared/azure/clients.js";
import { CosmosApprovalStore } from "../../shared/cosmos/approval-store.js";
import { createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { CosmosTeamsConversationStore } from "../../shared/cosmos/teams-store.js";
import { InMemoryApprovalStore } from "../../shared/fakes/approval-store.js";
import { silentLogger } from "../../shared/log.js";
import type { Approval } from "../../shared/ports/approval-store.js";
import type { Notifier } from "../../shared/ports/notifier.js";
import { ApproverDirectory } from "../../shared/teams/approver-directory.js";
import { BotNotifier, TeamsConversationUnknownError } from "../../shared/teams/bot-notifier.js";
import { BotConnectorClient } from "../../shared/teams/connector.js";
import {
  InMemoryTeamsConversationStore,
  type TeamsConversationStore,
} from "../../shared/teams/conversation-store.js";
import { adaptiveCardProblems } from "../helpers/adaptive-card-schema.js";

const BOT_APP_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
const OTHER = "19:captured-team@thread.tacv2";
const APPROVER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const NOT_A_MEMBER = "1f1f1f1f-2e2e-4d4d-8c8c-3b3b3b3b3b3b";

let tls: LocalTls;
let sim: TeamsSimulator;

beforeAll(async () => {
  tls = await loadOrCreateLocalTls();
  sim = await startTeamsSimulator({
    tls,
    botAppId: BOT_APP_ID,
    conversations: [DEFAULT_CONVERSATION_ID, OTHER],
    members: [{ aadObjectId: APPROVER, name: "Alex Wilber" }],
  });
});
afterAll(async () => {
  await sim?.close();
});

function pending(id = crypto.randomUUID()): Approval {
  const now = new Date();
  return {
    id,
    state: "pending",
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 3600_000).toISOString(),
    policy: "risky-storage",
    kind: "disable-public-network-access",
    target: {
      resourceId:
        "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1",
      resourceType: "Microsoft.Storage/storageAccounts",
      subscriptionId: "00000000-0000-0000-0000-0000000000aa",
    },
    signal: { source: "eventGrid" } as unknown as Approval["signal"],
    changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
    changesHash: "h",
    summary: "Disable public network access on st1",
    reason: "policy-mode",
  };
}

function notifier(
  store: TeamsConversationStore,
  settings: { serviceUrl?: string; conversationId?: string },
  opts: { approvals?: InMemoryApprovalStore; fallback?: Notifier } = {},
) {
  return new BotNotifier({
    connector: (serviceUrl) =>
      new BotConnectorClient({ serviceUrl, credential: staticTokenCredential(), ca: tls.cert }),
    store,
    settings,
    approverObjectIds: [APPROVER, NOT_A_MEMBER],
    getApproval: (id) => opts.approvals?.get(id) ?? Promise.resolve(undefined),
    log: silentLogger,
    directory: new ApproverDirectory(),
    fallback: opts.fallback,
  });
}

describe("BotNotifier", () => {
  it("without settings or a captured installation it cannot post (or hands over to the fallback)", async () => {
    const store = new InMemoryTeamsConversationStore();
    await expect(notifier(store, {}).requestApproval(pending())).rejects.toBeInstanceOf(
      TeamsConversationUnknownError,
    );
    const handed: Approval[] = [];
    const fallback: Notifier = { requestApproval: async (a) => void handed.push(a) };
    const a = pending();
    await notifier(store, {}, { fallback }).requestApproval(a);
    expect(handed.map((x) => x.id)).toEqual([a.id]);
  });

  it("posts to the captured conversation; the settings win when set", async () => {
    const store = new InMemoryTeamsConversationStore();
    await store.saveConversation({
      serviceUrl: sim.serviceUrl,
      conversationId: OTHER,
      capturedAt: "2030-01-01T00:00:00Z",
    });
    const captured = pending();
    await notifier(store, {}).requestApproval(captured);
    expect((await store.getCardMessage(captured.id))!.conversationId).toBe(OTHER);
    expect(sim.activities(OTHER).some((m) => JSON.stringify(m.card).includes(captured.id))).toBe(true);

    const configured = pending();
    await notifier(store, {
      serviceUrl: sim.serviceUrl,
      conversationId: DEFAULT_CONVERSATION_ID,
    }).requestApproval(configured);
    const message = (await store.getCardMessage(configured.id))!;
    expect(message.conversationId).toBe(DEFAULT_CONVERSATION_ID);
    const card = sim.activity(DEFAULT_CONVERSATION_ID, message.activityId)!.card;
    expect(adaptiveCardProblems(card)).toEqual([]);
    // The approver who is a member is listed by Teams user ID; the one who is not, not at all.
    expect((card.refresh as { userIds: string[] }).userIds).toEqual([sim.teamsUserId(APPROVER)]);
  });

  it("tries a throttled post again and posts the card once", async () => {
    const store = new InMemoryTeamsConversationStore();
    sim.addFault({ method: "POST", path: "/activities", status: 429, retryAfterSeconds: 0 });
    const before = sim.activities(DEFAULT_CONVERSATION_ID).length;
    const a = pending();
    await notifier(store, {
      serviceUrl: sim.serviceUrl,
      conversationId: DEFAULT_CONVERSATION_ID,
    }).requestApproval(a);
    expect(sim.activities(DEFAULT_CONVERSATION_ID).length).toBe(before + 1);
    expect(
      sim
        .requests({ method: "POST", pathIncludes: "/activities" })
        .slice(-2)
        .map((r) => r.status),
    ).toEqual([429, 201]);
  });

  it("replaces the message with the approval's latest state, one update after the other", async () => {
    const store = new InMemoryTeamsConversationStore();
    const approvals = new InMemoryApprovalStore();
    const a = await approvals.create(pending());
    const bot = notifier(
      store,
      { serviceUrl: sim.serviceUrl, conversationId: DEFAULT_CONVERSATION_ID },
      { approvals },
    );
    await bot.requestApproval(a);
    const decided = (await approvals.closePending(a.id, "approved", "p-approver", new Date(), "teams"))!;
    const done = (await approvals.updateRun(a.id, {
      state: "done",
      attempts: 1,
      outcome: "remediated",
      updatedAt: new Date().toISOString(),
    }))!;
    // Both updates race; each shows what the store holds when it runs: the last one is final.
    await Promise.all([bot.approvalChanged(decided, "decided"), bot.approvalChanged(done, "run")]);
    const message = (await store.getCardMessage(a.id))!;
    const stored = sim.activity(DEFAULT_CONVERSATION_ID, message.activityId)!;
    expect(stored.history.map((h) => h.method)).toEqual(["POST", "PUT", "PUT"]);
    expect(JSON.stringify(stored.card.body)).toContain("Remediated");
    // Nothing posted for an approval: nothing to replace.
    await expect(bot.approvalChanged(pending(), "expired")).resolves.toBeUndefined();
  });
});

describe("Teams conversation stores", () => {
  let closeCosmos: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await closeCosmos?.();
  });

  async function cosmosStores() {
    const cosmos = await startEmbeddedCosmos({ port: 0, tls });
    const client = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
    closeCosmos = async () => {
      client.dispose();
      await cosmos.close();
    };
    const containers = await ensureContainers(client, `teams-${process.pid}`);
    return {
      store: new CosmosTeamsConversationStore(containers.approvals),
      approvals: new CosmosApprovalStore(containers.approvals),
    };
  }

  for (const kind of ["in memory", "Cosmos DB"] as const) {
    it(`${kind}: keeps the captured conversation and one card message per approval`, async () => {
      const { store, approvals } =
        kind === "in memory"
          ? { store: new InMemoryTeamsConversationStore(), approvals: undefined }
          : await cosmosStores();
      expect(await store.getConversation()).toBeUndefined();
      const ref = {
        serviceUrl: "https://smba.example/emea/",
        conversationId: OTHER,
        tenantId: "t1",
        capturedAt: "2030-01-01T00:00:00Z",
      };
      await store.saveConversation(ref);
      expect(await store.getConversation()).toEqual(ref);
      await store.forgetConversation("19:some-other@thread.tacv2"); // not the captured one: kept
      expect(await store.getConversation()).toEqual(ref);
      await store.forgetConversation(OTHER);
      expect(await store.getConversation()).toBeUndefined();

      const a = pending();
      const message = {
        approvalId: a.id,
        serviceUrl: ref.serviceUrl,
        conversationId: OTHER,
        activityId: "1700000000001",
        postedAt: "2030-01-01T00:00:01Z",
      };
      expect(await store.getCardMessage(a.id)).toBeUndefined();
      await store.saveCardMessage(message);
      expect(await store.getCardMessage(a.id)).toEqual(message);
      if (approvals) {
        // Beside an expired pending approval: the timers' queries find the approval, not the card.
        await approvals.create({
          ...a,
          expiresAt: "2020-01-01T00:00:00.000Z",
          createdAt: "2019-12-31T00:00:00.000Z",
        });
        await store.saveConversation(ref);
        const expired = await approvals.listExpired(new Date());
        expect(expired.map((x) => x.id)).toEqual([a.id]);
        expect(await approvals.listDueRuns(new Date())).toEqual([]);
        expect(await approvals.get(a.id)).toMatchObject({ id: a.id, state: "pending" });
      }
    });
  }
});
