/**
 * Where the bot's approval cards go, when no setting names the conversation: the team channel or
 * group chat it was installed in — but only an installation that
 * - was made by a configured approver (APPROVER_OBJECT_IDS), and
 * - is in the app's own tenant (AZURE_TENANT_ID), and
 * - can be recorded (DRIFTGUARD_APP_RESOURCE_ID names the app the records are chained on).
 * A captured conversation is never replaced silently: a later installation elsewhere waits, and the
 * bot asks in the captured conversation; an approver there confirms the move (or keeps the cards
 * where they are). The settings TEAMS_SERVICE_URL / TEAMS_CONVERSATION_ID are the other way to move
 * them. Every capture, refusal, move and removal is one audit record on the function app.
 */
import type { AuditRecordInput, Change, Outcome, RecordApprover } from "../audit/types.js";
import type { DriftguardConfig } from "../config.js";
import type { Logger } from "../log.js";
import type { AuditStore } from "../ports/audit-store.js";
import type { Clock } from "../ports/clock.js";
import type {
  ConversationReference,
  PendingConversation,
  TeamsConversationStore,
} from "../ports/teams-conversations.js";
import { pseudonymize, redactText } from "../redact.js";
import { ADAPTIVE_CARD_CONTENT_TYPE, type AdaptiveCardJson } from "./bot-framework.js";
import type { BotConnector } from "./connector.js";

/** The Action.Execute verbs of the confirmation card. */
export const CAPTURE_VERBS = ["capture-confirm", "capture-keep"] as const;
export type CaptureVerb = (typeof CAPTURE_VERBS)[number];

/** The parts of a Bot Framework activity the installation path reads. */
export interface InstallationActivity {
  type?: string;
  id?: string;
  action?: string;
  serviceUrl?: string;
  from?: { id?: string; aadObjectId?: string };
  recipient?: { id?: string };
  conversation?: { id?: string; conversationType?: string; tenantId?: string };
  membersAdded?: { id?: string }[];
  membersRemoved?: { id?: string }[];
  value?: { action?: { verb?: string; data?: { captureId?: unknown } } };
}

export interface InstallationDeps {
  store: TeamsConversationStore;
  audit: AuditStore;
  config: Pick<DriftguardConfig, "tenantId" | "appResourceId" | "approvers" | "teams" | "pseudonymKey">;
  clock: Clock;
  log: Logger;
  /** A Bot Connector client for a service URL (to ask in the captured conversation). */
  connector?: (serviceUrl: string) => Promise<BotConnector>;
}

/** What an installation activity did (for the caller's log and the tests). */
export type InstallationResult =
  | { action: "ignored"; why: string }
  | { action: "captured" | "unchanged" | "pending" | "removed" | "pending-dropped" }
  | { action: "refused"; why: string };

const KIND = "teams-conversation";
const POLICY = "teams-approval-cards";

const conversationIdOf = (a: InstallationActivity) => a.conversation?.id?.split(";")[0];
const same = (a?: string, b?: string) => !!a && !!b && a.toLowerCase() === b.toLowerCase();

function describe(ref: Pick<ConversationReference, "conversationId" | "tenantId"> | undefined) {
  return ref ? { conversationId: ref.conversationId, tenantId: ref.tenantId ?? null } : null;
}

/** The bot added to or removed from a conversation. */
export async function handleInstallation(
  activity: InstallationActivity,
  deps: InstallationDeps,
): Promise<InstallationResult> {
  const conversationId = conversationIdOf(activity);
  const botId = activity.recipient?.id;
  if (!conversationId || !botId) return { action: "ignored", why: "no conversation or bot in the activity" };
  const isBot = (m: { id?: string }) => m.id === botId;
  const added =
    activity.type === "installationUpdate"
      ? activity.action === "add" || activity.action === "add-upgrade"
      : (activity.membersAdded ?? []).some(isBot);
  const removed =
    activity.type === "installationUpdate"
      ? activity.action === "remove"
      : (activity.membersRemoved ?? []).some(isBot);
  if (removed) return removal(activity, conversationId, deps);
  if (!added) return { action: "ignored", why: "not about the bot" };

  const kind = activity.conversation?.conversationType;
  if ((kind !== "channel" && kind !== "groupChat") || !activity.serviceUrl?.startsWith("https://"))
    return { action: "ignored", why: "a personal chat (or no https service URL) is never captured" };
  const { teams } = deps.config;
  if (teams.serviceUrl && teams.conversationId)
    return { action: "ignored", why: "TEAMS_SERVICE_URL and TEAMS_CONVERSATION_ID name the conversation" };

  const ref: ConversationReference = {
    serviceUrl: activity.serviceUrl,
    conversationId,
    ...(activity.conversation?.tenantId ? { tenantId: activity.conversation.tenantId } : {}),
    capturedAt: deps.clock.now().toISOString(),
  };
  const refusal = whyNotCaptured(activity, deps);
  if (refusal) {
    deps.log.warn({ conversationType: kind, reason: refusal }, "teams: installation not captured");
    if (deps.config.appResourceId)
      await record(deps, activity, "rejected", {
        changes: [{ path: "teams.conversation", from: null, to: describe(ref) }],
        reason: `Teams installation not captured: ${refusal}; approval cards still go where they went`,
      });
    return { action: "refused", why: refusal };
  }
  const installer = pseudonymize(activity.from!.aadObjectId!.toLowerCase(), deps.config.pseudonymKey);
  const current = await deps.store.getConversation();
  if (current && same(current.conversationId, conversationId)) {
    // Installed again where the cards already go (an upgrade, a re-add): nothing moves.
    if (current.serviceUrl !== ref.serviceUrl)
      await deps.store.saveConversation({ ...current, serviceUrl: ref.serviceUrl });
    return { action: "unchanged" };
  }
  if (!current) {
    const captured = { ...ref, capturedBy: installer };
    await deps.store.saveConversation(captured);
    await recordOrUndo(
      deps,
      () =>
        record(deps, activity, "remediated", {
          changes: [{ path: "teams.conversation", from: null, to: describe(ref) }],
          reason: `Teams: approval cards now go to this ${kind}, installed there by an approver`,
        }),
      () => deps.store.forgetConversation(conversationId),
    );
    deps.log.warn(
      { conversationType: kind },
      "teams: bot installed by an approver; approval cards go to this conversation",
    );
    return { action: "captured" };
  }

  // A conversation is captured already: ask there before anything moves.
  const pending: PendingConversation = {
    ...ref,
    capturedBy: installer,
    id: crypto.randomUUID(),
    askedIn: { conversationId: current.conversationId },
  };
  const asked = await ask(deps, current, pending);
  if (asked) pending.askedIn.activityId = asked;
  await deps.store.savePendingConversation(pending);
  await record(deps, activity, "pending-approval", {
    changes: [{ path: "teams.conversation", from: describe(current), to: describe(ref) }],
    reason: asked
      ? "Teams: installed in another conversation; approval cards move there only when an approver confirms in the conversation they go to now"
      : "Teams: installed in another conversation; the confirmation could not be posted where the cards go now, so they stay there (set TEAMS_CONVERSATION_ID to move them)",
  });
  return { action: "pending" };
}

/** Why this installation may not be captured, or undefined when it may. */
function whyNotCaptured(activity: InstallationActivity, deps: InstallationDeps): string | undefined {
  const { config } = deps;
  const oid = activity.from?.aadObjectId?.toLowerCase();
  if (!oid || !config.approvers.objectIds.some((a) => a.toLowerCase() === oid))
    return "the person who installed the bot is not a configured approver (APPROVER_OBJECT_IDS)";
  if (!config.tenantId) return "AZURE_TENANT_ID is not set, so the conversation's tenant cannot be checked";
  if (!same(activity.conversation?.tenantId, config.tenantId))
    return "the conversation is not in the app's tenant (AZURE_TENANT_ID)";
  if (!config.appResourceId)
    return "DRIFTGUARD_APP_RESOURCE_ID is not set, so the capture could not be recorded";
  return undefined;
}

async function removal(
  activity: InstallationActivity,
  conversationId: string,
  deps: InstallationDeps,
): Promise<InstallationResult> {
  const current = await deps.store.getConversation();
  if (current && same(current.conversationId, conversationId)) {
    if (!(await deps.store.forgetConversation(current.conversationId)))
      return { action: "ignored", why: "already forgotten" };
    deps.log.warn("teams: bot removed from the conversation approval cards went to");
    if (deps.config.appResourceId)
      await record(deps, activity, "reverted", {
        changes: [{ path: "teams.conversation", from: describe(current), to: null }],
        reason:
          "Teams: the bot was removed from the conversation approval cards went to; until an approver installs it again (or TEAMS_CONVERSATION_ID is set) no card is posted",
      });
    return { action: "removed" };
  }
  const pending = await deps.store.getPendingConversation();
  if (
    pending &&
    same(pending.conversationId, conversationId) &&
    (await deps.store.clearPendingConversation(pending.id))
  ) {
    if (deps.config.appResourceId)
      await record(deps, activity, "rejected", {
        changes: [{ path: "teams.conversation", from: describe(current), to: describe(pending) }],
        reason:
          "Teams: the bot was removed from the conversation waiting to receive the cards; nothing moves",
      });
    return { action: "pending-dropped" };
  }
  return { action: "ignored", why: "not the conversation approval cards go to" };
}

/** An approver's answer on the confirmation card, pressed in the conversation the cards go to now. */
export async function handleCaptureDecision(
  activity: InstallationActivity,
  deps: InstallationDeps,
): Promise<AdaptiveCardJson> {
  const verb = activity.value?.action?.verb as CaptureVerb;
  const captureId = activity.value?.action?.data?.captureId;
  const pending = await deps.store.getPendingConversation();
  if (!pending || typeof captureId !== "string" || pending.id !== captureId)
    return noticeCard("This request is no longer open: nothing changed.");
  const current = await deps.store.getConversation();
  const here = conversationIdOf(activity);
  if (!current || !same(here, current.conversationId) || !same(here, pending.askedIn.conversationId))
    return noticeCard("Only the conversation approval cards go to now can move them: nothing changed.");
  const oid = activity.from?.aadObjectId?.toLowerCase();
  if (!oid || !deps.config.approvers.objectIds.some((a) => a.toLowerCase() === oid))
    return noticeCard("Only an approver can move approval cards: nothing changed.", pending);
  const approver: RecordApprover = {
    id: pseudonymize(oid, deps.config.pseudonymKey),
    decidedAt: deps.clock.now().toISOString(),
    via: "teams",
  };
  if (!(await deps.store.clearPendingConversation(pending.id)))
    return noticeCard("This request is no longer open: nothing changed.");
  const change: Change = { path: "teams.conversation", from: describe(current), to: describe(pending) };
  if (verb === "capture-keep") {
    await record(deps, activity, "rejected", {
      changes: [change],
      approver,
      reason: "Teams: an approver kept the approval cards in the conversation they go to",
    });
    return noticeCard("Approval cards keep coming here.");
  }
  const { id: _id, askedIn: _askedIn, ...moved } = pending;
  await deps.store.saveConversation({ ...moved, capturedAt: approver.decidedAt, capturedBy: approver.id });
  await recordOrUndo(
    deps,
    () =>
      record(deps, activity, "remediated", {
        changes: [change],
        approver,
        reason: "Teams: an approver moved the approval cards to the conversation the bot was installed in",
      }),
    () => deps.store.saveConversation(current),
  );
  return noticeCard("Approval cards now go to the other conversation; this one gets no more.");
}

/** Posts the confirmation card where the cards go now; its activity ID, or undefined if it failed. */
async function ask(
  deps: InstallationDeps,
  current: ConversationReference,
  pending: PendingConversation,
): Promise<string | undefined> {
  if (!deps.connector) return undefined;
  try {
    const connector = await deps.connector(current.serviceUrl);
    return await connector.postCard(current.conversationId, confirmationCard(pending), {
      summary: "driftguard: move approval cards?",
    });
  } catch (err) {
    deps.log.warn(
      { err: redactText(String((err as Error).message)).slice(0, 200) },
      "teams: could not ask the captured conversation to confirm a move",
    );
    return undefined;
  }
}

/** The card asking the approvers to confirm a move (no personal data: a pseudonym and IDs). */
export function confirmationCard(pending: PendingConversation): AdaptiveCardJson {
  return {
    type: "AdaptiveCard",
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    version: "1.5",
    body: [
      {
        type: "TextBlock",
        text: "driftguard was installed in another conversation",
        weight: "Bolder",
        wrap: true,
      },
      {
        type: "TextBlock",
        wrap: true,
        text: "An approver added the bot to another team or group chat. Approval cards keep coming here unless an approver moves them.",
      },
      {
        type: "FactSet",
        facts: [
          { title: "Conversation", value: pending.conversationId },
          { title: "Installed by", value: pending.capturedBy ?? "unknown" },
          { title: "At", value: pending.capturedAt },
        ],
      },
    ],
    actions: [
      {
        type: "Action.Execute",
        title: "Move approval cards there",
        verb: "capture-confirm",
        data: { captureId: pending.id },
      },
      {
        type: "Action.Execute",
        title: "Keep them here",
        verb: "capture-keep",
        data: { captureId: pending.id },
      },
    ],
  };
}

function noticeCard(text: string, pending?: PendingConversation): AdaptiveCardJson {
  const card = confirmationCard(
    pending ?? {
      id: "",
      serviceUrl: "",
      conversationId: "",
      capturedAt: "",
      askedIn: { conversationId: "" },
    },
  );
  return {
    ...card,
    body: [
      { type: "TextBlock", text, wrap: true, weight: "Bolder" },
      ...(pending ? (card.body as unknown[]).slice(1) : []),
    ],
    actions: pending ? card.actions : [],
  };
}

/** Adaptive Card Universal Actions answer for a capture decision. */
export function captureCardResponse(card: AdaptiveCardJson) {
  return { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: card };
}

/** A capture that cannot be recorded is undone: no change without its record. */
async function recordOrUndo(
  deps: InstallationDeps,
  write: () => Promise<unknown>,
  undo: () => Promise<unknown>,
) {
  try {
    await write();
  } catch (err) {
    await undo().catch((e: unknown) =>
      deps.log.error(
        { err: redactText(String((e as Error).message)) },
        "teams: undoing an unrecorded capture failed",
      ),
    );
    throw err;
  }
}

async function record(
  deps: InstallationDeps,
  activity: InstallationActivity,
  outcome: Outcome,
  details: { changes: Change[]; reason: string; approver?: RecordApprover },
): Promise<void> {
  const appResourceId = deps.config.appResourceId!;
  const oid = activity.from?.aadObjectId?.toLowerCase();
  const input: AuditRecordInput = {
    time: deps.clock.now().toISOString(),
    subscriptionId: appResourceId.split("/")[2]!,
    resourceId: appResourceId,
    resourceType: "Microsoft.Web/sites",
    signal: {
      source: "manual",
      type: `Teams.${activity.type === "invoke" ? "CaptureDecision" : activity.type === "installationUpdate" ? "InstallationUpdate" : "ConversationUpdate"}`,
      id: activity.id ?? crypto.randomUUID(),
      correlationId: null,
      caller: oid ? { id: pseudonymize(oid, deps.config.pseudonymKey), appId: null } : null,
    },
    policy: POLICY,
    kind: KIND,
    mode: "enforce",
    outcome,
    changes: details.changes,
    actor: "driftguard",
    approver: details.approver ?? null,
    error: null,
    durationMs: 0,
    reason: details.reason,
  };
  await deps.audit.append(input);
}
