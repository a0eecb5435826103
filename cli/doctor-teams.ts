/**
 * The doctor's "teams cards" check: where approval cards go now — the conversation the settings name,
 * the one captured when an approver installed the bot (read from Cosmos DB, nothing written), the
 * Workflows webhook, or nowhere — and a move that waits for an approver's confirmation.
 */
import type { TokenCredential } from "@azure/core-auth";
import type { DriftguardConfig } from "../shared/config.js";
import { CONTAINERS, configuredCosmosClient } from "../shared/cosmos/client.js";
import { CosmosTeamsConversationStore } from "../shared/cosmos/teams-store.js";
import type { ConversationReference, PendingConversation } from "../shared/ports/teams-conversations.js";
import type { CheckResult } from "./doctor-result.js";

const check = "teams cards";

export async function checkCardDestination(
  config: DriftguardConfig,
  credential: TokenCredential,
  ca: string | undefined,
  timeoutMs: number,
): Promise<CheckResult[]> {
  const { teams } = config;
  const webhook = teams.workflowUrl ? "the Teams Workflows webhook (TEAMS_WORKFLOW_URL)" : undefined;
  if (!teams.botAppId)
    return webhook
      ? [{ status: "ok", check, detail: `approval cards go to ${webhook}` }]
      : [
          {
            status: "warn",
            check,
            detail: "approval cards go nowhere: requests are only logged",
            fix: "set TEAMS_WORKFLOW_URL, or register the bot and set TEAMS_BOT_APP_ID (README: Approvals in Teams)",
          },
        ];
  if (teams.serviceUrl && teams.conversationId)
    return [
      {
        status: "ok",
        check,
        detail: `the bot posts approval cards to conversation ${teams.conversationId} at ${teams.serviceUrl} (TEAMS_SERVICE_URL, TEAMS_CONVERSATION_ID); installations are not captured`,
      },
    ];

  const out: CheckResult[] = [];
  let captured: ConversationReference | undefined;
  let pending: PendingConversation | undefined;
  const client = configuredCosmosClient(config, credential, ca, timeoutMs);
  try {
    const store = new CosmosTeamsConversationStore(
      client.database(config.cosmos.database).container(CONTAINERS.approvals),
    );
    [captured, pending] = await Promise.all([store.getConversation(), store.getPendingConversation()]);
  } catch (err) {
    return [
      {
        status: "warn",
        check,
        detail: `the conversation captured at installation could not be read (${String((err as Error).message)
          .split("\n")[0]
          ?.slice(0, 160)})`,
        fix: "see the cosmos check above",
      },
    ];
  } finally {
    client.dispose();
  }
  if (captured)
    out.push({
      status: "ok",
      check,
      detail: `the bot posts approval cards to conversation ${captured.conversationId}, captured ${captured.capturedAt}${captured.capturedBy ? ` (approver ${captured.capturedBy})` : ""}`,
    });
  else
    out.push({
      status: webhook ? "ok" : "warn",
      check,
      detail: `the bot knows no conversation yet: approval cards go to ${webhook ?? "nowhere (requests are only logged)"} until an approver installs the bot in the approvers' team`,
      ...(webhook
        ? {}
        : {
            fix: "install the bot in the approvers' team as an approver, or set TEAMS_SERVICE_URL and TEAMS_CONVERSATION_ID",
          }),
    });
  if (pending)
    out.push({
      status: "warn",
      check,
      detail: `a move to conversation ${pending.conversationId} waits for an approver's confirmation in ${pending.askedIn.conversationId}`,
      fix: "an approver answers the bot's card in the conversation the cards go to now (or set TEAMS_CONVERSATION_ID)",
    });
  const cannotCapture = !config.tenantId
    ? "AZURE_TENANT_ID is not set"
    : !config.appResourceId
      ? "DRIFTGUARD_APP_RESOURCE_ID is not set"
      : undefined;
  if (cannotCapture)
    out.push({
      status: "warn",
      check,
      detail: `installations of the bot are never captured: ${cannotCapture}`,
      fix: "set it (infra/ does), or name the conversation with TEAMS_SERVICE_URL and TEAMS_CONVERSATION_ID",
    });
  return out;
}
