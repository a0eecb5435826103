/**
 * HTTP trigger `teamsMessages` (`/api/teams/messages`): Teams bot activities. Only the Adaptive Card
 * `Action.Execute` invoke (`adaptiveCard/action`, verbs `approve` / `reject`) is acted on. Every
 * request must carry a Bot Framework JWT: issuer https://api.botframework.com, audience = our bot
 * app ID, RS256 from the Bot Framework keys, 5 minutes clock skew, `serviceUrl` claim = the
 * activity's serviceUrl.
 */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { decidedCard } from "../shared/approvals/card.js";
import { InputError } from "../shared/errors.js";
import { pseudonymize } from "../shared/redact.js";
import { getRuntime } from "../shared/runtime.js";
import { parseJsonBody } from "../shared/signals/body.js";
import { verifyBotFrameworkToken } from "../shared/teams/bot-framework.js";
import { json, readBodyText } from "./http.js";

/** An invoke activity is a few KB; Bot Framework caps activities far below 1 MB. */
const MAX_ACTIVITY_BYTES = 262_144;

interface InvokeActivity {
  type?: string;
  name?: string;
  serviceUrl?: string;
  from?: { aadObjectId?: string };
  value?: { action?: { type?: string; verb?: string; data?: { approvalId?: string } } };
}

function invokeResponse(status: number, card?: Record<string, unknown>, message?: string): HttpResponseInit {
  // Adaptive Card Universal Actions response: replace the card for everyone, or show a message.
  return json(
    200,
    card
      ? { statusCode: 200, type: "application/vnd.microsoft.card.adaptive", value: card }
      : {
          statusCode: status,
          type: "application/vnd.microsoft.error",
          value: { code: String(status), message },
        },
  );
}

export async function handleTeamsMessage(req: HttpRequest): Promise<HttpResponseInit> {
  const runtime = await getRuntime();
  const botAppId = runtime.config.teams.botAppId;
  if (!botAppId)
    return json(404, {
      error: { code: "BotNotConfigured", message: "TEAMS_BOT_APP_ID is not set", path: "" },
    });
  const auth = req.headers.get("authorization") ?? "";
  const token = /^Bearer\s+(.+)$/i.exec(auth)?.[1];
  if (!token)
    return json(401, {
      error: { code: "Unauthorized", message: "Bot Framework token required", path: "authorization" },
    });
  let activity: InvokeActivity;
  try {
    // Size and depth are bounded before the body is parsed (see shared/signals/body.ts).
    activity = parseJsonBody(await readBodyText(req, MAX_ACTIVITY_BYTES)) as InvokeActivity;
  } catch (err) {
    if (err instanceof InputError) return json(err.status, err.toBody());
    throw err;
  }
  try {
    await verifyBotFrameworkToken(token, {
      botAppId,
      keys: runtime.config.teams.botJwksUrl,
      activityServiceUrl: activity.serviceUrl,
      now: runtime.clock.now(),
    });
  } catch (err) {
    runtime.log.warn({ reason: (err as Error).message.slice(0, 200) }, "teams: rejected Bot Framework token");
    return json(401, {
      error: { code: "Unauthorized", message: "invalid Bot Framework token", path: "authorization" },
    });
  }
  if (activity.type !== "invoke" || activity.name !== "adaptiveCard/action") return json(200, {});
  const verb = activity.value?.action?.verb;
  const approvalId = activity.value?.action?.data?.approvalId;
  if (
    (verb !== "approve" && verb !== "reject") ||
    typeof approvalId !== "string" ||
    !/^[0-9a-f-]{36}$/i.test(approvalId)
  ) {
    return invokeResponse(400, undefined, "unknown action");
  }
  const oid = activity.from?.aadObjectId?.toLowerCase();
  if (!oid || !runtime.config.approvers.objectIds.map((s) => s.toLowerCase()).includes(oid)) {
    return invokeResponse(403, undefined, "you are not an authorised approver");
  }
  const result = await runtime.pipeline.decideApproval(
    approvalId,
    verb === "approve" ? "approved" : "rejected",
    {
      id: pseudonymize(oid, runtime.config.pseudonymKey),
      decidedAt: runtime.clock.now().toISOString(),
      via: "teams",
    },
  );
  if (!result.approval) return invokeResponse(404, undefined, result.error ?? "approval not found");
  const last = result.decisions[result.decisions.length - 1];
  const state = result.error
    ? result.error
    : `${verb === "approve" ? "approved" : "rejected"}${last && last.outcome !== "approved" && last.outcome !== "rejected" ? ` → ${last.outcome}` : ""}`;
  return invokeResponse(200, decidedCard(result.approval, state));
}
