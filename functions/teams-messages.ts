/**
 * HTTP trigger `teamsMessages` (`/api/teams/messages`): the bot's messaging endpoint. Every request
 * must carry a Bot Framework JWT (shared/teams/bot-framework.ts `verifyBotFrameworkToken`: RS256 from
 * the Bot Framework keys, issuer https://api.botframework.com, audience = our bot app ID, 5 minutes
 * of clock skew, `serviceurl` claim = the activity's serviceUrl); anything else is 401.
 *
 * Acted on:
 * - `adaptiveCard/action` invokes from the approval card: verbs `approve` / `reject` decide (who
 *   may is the approval lifecycle's `authorize`, the same rule as on the approval page; a refused
 *   press is recorded once per approval and person),
 *   `refresh` answers the card's current state for the viewer. The answer is always a card that
 *   says what happened (or why nothing did); the bot also replaces the posted message for everyone.
 * - `conversationUpdate` / `installationUpdate`: the bot added to (removed from) a team or group
 *   chat captures (forgets) that conversation for its proactive cards — only when an approver of the
 *   app's tenant installed it, never replacing a captured one without an approver's confirmation
 *   there (`capture-confirm` / `capture-keep` invokes), every change recorded; the settings win
 *   (shared/teams/installation.ts).
 */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import {
  type BotCardState,
  botApprovalCard,
  botCardStateOf,
  type CardViewer,
} from "../shared/approvals/card.js";
import { InputError } from "../shared/errors.js";
import type { Approval } from "../shared/ports/approval-store.js";
import { redactText } from "../shared/redact.js";
import { getRuntime, type Runtime } from "../shared/runtime.js";
import { parseJsonBody } from "../shared/signals/body.js";
import { approverDirectory } from "../shared/teams/approver-directory.js";
import {
  ADAPTIVE_CARD_ACTION_INVOKE,
  ADAPTIVE_CARD_CONTENT_TYPE,
  verifyBotFrameworkToken,
} from "../shared/teams/bot-framework.js";
import {
  CAPTURE_VERBS,
  captureCardResponse,
  handleCaptureDecision,
  handleInstallation,
  type InstallationDeps,
} from "../shared/teams/installation.js";
import { json, readBodyText } from "./http.js";

/** An invoke activity is a few KB; Bot Framework caps activities far below 1 MB. */
const MAX_ACTIVITY_BYTES = 262_144;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Account {
  id?: string;
  aadObjectId?: string;
}

interface Activity {
  type?: string;
  name?: string;
  action?: string;
  serviceUrl?: string;
  from?: Account;
  recipient?: Account;
  conversation?: { id?: string; conversationType?: string; tenantId?: string };
  membersAdded?: Account[];
  membersRemoved?: Account[];
  value?: { action?: { type?: string; verb?: string; data?: { approvalId?: unknown; captureId?: unknown } } };
}

const unauthorized = () =>
  json(401, {
    error: { code: "Unauthorized", message: "invalid Bot Framework token", path: "authorization" },
  });

/** Adaptive Card Universal Actions answer: the card that replaces the viewer's, or a message. */
function cardResponse(card: Record<string, unknown>): HttpResponseInit {
  return json(200, { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: card });
}

function errorResponse(status: number, message: string): HttpResponseInit {
  return json(200, {
    statusCode: status,
    type: "application/vnd.microsoft.error",
    value: { code: String(status), message },
  });
}

export async function handleTeamsMessage(req: HttpRequest): Promise<HttpResponseInit> {
  const runtime = await getRuntime();
  const botAppId = runtime.config.teams.botAppId;
  if (!botAppId)
    return json(404, {
      error: { code: "BotNotConfigured", message: "TEAMS_BOT_APP_ID is not set", path: "" },
    });
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!token) return unauthorized();
  let activity: Activity;
  try {
    // Size and depth are bounded before the body is parsed (see shared/signals/body.ts).
    activity = parseJsonBody(await readBodyText(req, MAX_ACTIVITY_BYTES)) as Activity;
  } catch (err) {
    if (err instanceof InputError) return json(err.status, err.toBody());
    throw err;
  }
  if (typeof activity !== "object" || activity === null || Array.isArray(activity)) return unauthorized();
  try {
    await verifyBotFrameworkToken(token, {
      botAppId,
      keys: runtime.config.teams.botJwksUrl,
      activityServiceUrl: activity.serviceUrl,
      now: runtime.clock.now(),
    });
  } catch (err) {
    runtime.log.warn({ reason: (err as Error).message.slice(0, 200) }, "teams: rejected Bot Framework token");
    return unauthorized();
  }
  rememberApprover(activity, runtime);
  try {
    if (activity.type === "invoke" && activity.name === ADAPTIVE_CARD_ACTION_INVOKE) {
      if ((CAPTURE_VERBS as readonly unknown[]).includes(activity.value?.action?.verb)) {
        const deps = installationDeps(runtime);
        if (!deps) return errorResponse(404, "this request is no longer open");
        return json(200, captureCardResponse(await handleCaptureDecision(activity, deps)));
      }
      return await cardAction(activity, runtime);
    }
    if (activity.type === "conversationUpdate" || activity.type === "installationUpdate")
      await installation(activity, runtime);
    return json(200, {});
  } catch (err) {
    runtime.log.error({ err: redactText(String((err as Error).message)) }, "teams: activity failed");
    const status = (err as { statusCode?: number }).statusCode === 503 ? 503 : 500;
    if (activity.type === "invoke")
      return errorResponse(status, "driftguard could not handle this right now; try again in a minute");
    return json(status, { error: { code: "InternalError", message: "try again", path: "" } });
  }
}

/** An approver's Teams user ID, seen on their activity, lets their card refresh automatically. */
function rememberApprover(activity: Activity, runtime: Runtime): void {
  const oid = activity.from?.aadObjectId?.toLowerCase();
  const teamsId = activity.from?.id;
  const conversationId = activity.conversation?.id?.split(";")[0];
  if (!oid || !teamsId?.startsWith("29:") || !conversationId) return;
  if (runtime.config.approvers.objectIds.some((a) => a.toLowerCase() === oid))
    approverDirectory.remember(conversationId, oid, teamsId);
}

async function cardAction(activity: Activity, runtime: Runtime): Promise<HttpResponseInit> {
  const verb = activity.value?.action?.verb;
  const approvalId = activity.value?.action?.data?.approvalId;
  if (
    (verb !== "approve" && verb !== "reject" && verb !== "refresh") ||
    typeof approvalId !== "string" ||
    !UUID.test(approvalId)
  )
    return errorResponse(400, "unknown action");
  const approval = await runtime.stores.approvals.get(approvalId);
  if (!approval) return errorResponse(404, "this approval request no longer exists");

  const oid = activity.from?.aadObjectId?.toLowerCase();
  const principal = oid ? { objectId: oid } : {};
  // Who may decide is one rule for the page and the bot (shared/approvals/authorize.ts).
  const auth = runtime.approvalLifecycle.authorize(approval, principal);
  const viewer: CardViewer = auth.allowed
    ? { id: auth.approverId, approver: true }
    : { id: auth.personId ?? "", approver: auth.refusal === "self-approval" };
  const conversationId = activity.conversation?.id?.split(";")[0] ?? "";
  const card = (a: Approval, state: BotCardState, notice?: string) =>
    cardResponse(
      botApprovalCard(a, state, {
        refreshUserIds: approverDirectory.known(conversationId, runtime.config.approvers.objectIds),
        ...(notice ? { notice } : {}),
      }),
    );

  if (verb === "refresh") return card(approval, botCardStateOf(approval, viewer));
  const result = await runtime.approvalLifecycle.decide(
    approvalId,
    verb === "approve" ? "approved" : "rejected",
    { principal, via: "teams" },
  );
  const now = result.approval ?? approval;
  if (result.refused) return card(now, { state: "refused", reason: result.refused });
  if (result.busy)
    return errorResponse(503, "the resource is busy with another change; try again in a minute");
  if (result.error)
    return card(now, botCardStateOf(now, viewer), `Your ${verb} changed nothing: ${result.error}.`);
  return card(now, botCardStateOf(now, viewer));
}

/** What the installation path needs (undefined without a store for the captured conversation). */
function installationDeps(runtime: Runtime): InstallationDeps | undefined {
  const store = runtime.stores.teams;
  if (!store) return undefined;
  return {
    store,
    audit: runtime.stores.audit,
    config: runtime.config,
    clock: runtime.clock,
    log: runtime.log,
    ...(runtime.teamsConnector ? { connector: runtime.teamsConnector } : {}),
  };
}

/**
 * The bot was added to or removed from a conversation. Team channels and group chats installed by an
 * approver of the app's tenant are captured; a personal chat never is (shared/teams/installation.ts).
 */
async function installation(activity: Activity, runtime: Runtime): Promise<void> {
  const deps = installationDeps(runtime);
  if (!deps) return;
  const result = await handleInstallation(activity, deps);
  runtime.log.info(
    { conversationType: activity.conversation?.conversationType, ...result },
    "teams: installation activity",
  );
}
