/**
 * Approval notifiers. With `TEAMS_BOT_APP_ID` the bot posts its own card (Action.Execute buttons,
 * updated as the approval changes; shared/teams/bot-notifier.ts). With `TEAMS_WORKFLOW_URL` the card
 * goes to a Teams Workflows webhook, its button opening the approval page with a signed one-time
 * link (with a bot too: until the bot knows a conversation). Without either, the request is logged.
 */
import type { TokenCredential } from "@azure/core-auth";
import {
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
} from "@azure/core-rest-pipeline";
import type { DriftguardConfig } from "../config.js";
import type { Logger } from "../log.js";
import type { Approval, ApprovalStore } from "../ports/approval-store.js";
import type { Notifier } from "../ports/notifier.js";
import { BotNotifier } from "../teams/bot-notifier.js";
import { BotConnectorClient } from "../teams/connector.js";
import { InMemoryTeamsConversationStore, type TeamsConversationStore } from "../teams/conversation-store.js";
import { approvalCard, workflowMessage } from "./card.js";
import { approvalLink, signApprovalToken } from "./tokens.js";

export class WorkflowWebhookNotifier implements Notifier {
  private readonly pipeline: Pipeline;
  private readonly client: HttpClient = createDefaultHttpClient();

  constructor(
    private readonly url: string,
    private readonly baseUrl: string,
    private readonly signingKey: string,
    /** Extra CA (PEM) to trust: the local stack's Teams stand-in. */
    ca?: string,
  ) {
    this.pipeline = createPipelineFromOptions({
      retryOptions: { maxRetries: 2 },
      redirectOptions: { maxRetries: 0 },
      tlsOptions: ca ? { ca } : undefined,
      userAgentOptions: { userAgentPrefix: "driftguard" },
    });
  }

  async requestApproval(approval: Approval): Promise<void> {
    const token = await signApprovalToken(approval.id, this.signingKey, new Date(approval.expiresAt));
    const card = approvalCard(approval, { link: approvalLink(this.baseUrl, approval.id, token) });
    const request = createPipelineRequest({ url: this.url, method: "POST", timeout: 10_000 });
    request.headers.set("content-type", "application/json");
    request.body = JSON.stringify(workflowMessage(card));
    // The URL carries the webhook's signature: never in an error message.
    const res = await this.pipeline.sendRequest(this.client, request);
    if (res.status < 200 || res.status >= 300)
      throw new Error(`Teams workflow webhook answered ${res.status}`);
  }
}

/**
 * No Teams configured: the request is logged without the link. The link carries a signed token
 * (a capability), and tokens never go to logs; the local stack prints it to its own console instead.
 */
export class LogNotifier implements Notifier {
  constructor(private readonly log: Logger) {}

  async requestApproval(approval: Approval): Promise<void> {
    this.log.warn(
      { approvalId: approval.id, policy: approval.policy, resourceId: approval.target.resourceId },
      "approval requested (no TEAMS_WORKFLOW_URL configured: nothing posted)",
    );
  }
}

/** Builds the signed approval-page link for an approval (for notifiers that hand it to a person). */
export async function approvalPageLink(
  approval: Approval,
  baseUrl: string,
  signingKey: string,
): Promise<string> {
  const token = await signApprovalToken(approval.id, signingKey, new Date(approval.expiresAt));
  return approvalLink(baseUrl, approval.id, token);
}

export interface NotifierDeps {
  /** The app's identity: the token for the Bot Connector (a user-assigned-identity bot). */
  credential?: TokenCredential;
  /** Extra CA to trust (the local stack's Teams stand-in). */
  ca?: string;
  /** Where the bot keeps the captured conversation and its card messages. */
  teams?: TeamsConversationStore;
  approvals?: Pick<ApprovalStore, "get">;
}

export async function createNotifier(
  config: DriftguardConfig,
  log: Logger,
  deps: NotifierDeps = {},
): Promise<Notifier> {
  const base = config.publicUrl ?? "http://localhost:7071";
  const workflow = config.teams.workflowUrl
    ? new WorkflowWebhookNotifier(config.teams.workflowUrl, base, config.approvers.signingKey, deps.ca)
    : undefined;
  const botAppId = config.teams.botAppId;
  if (botAppId && deps.credential) {
    const credential = deps.credential;
    if (config.inAzure && config.azureClientId?.toLowerCase() !== botAppId.toLowerCase())
      log.warn(
        "TEAMS_BOT_APP_ID differs from AZURE_CLIENT_ID: the bot's cards are posted with the app's user-assigned identity, so the bot must be registered with that identity (its client ID is the bot's app ID)",
      );
    if (!deps.teams)
      log.warn("teams: no store for the captured conversation; it is kept in memory until restart");
    return new BotNotifier({
      connector: (serviceUrl) => new BotConnectorClient({ serviceUrl, credential, ca: deps.ca }),
      store: deps.teams ?? new InMemoryTeamsConversationStore(),
      settings: { serviceUrl: config.teams.serviceUrl, conversationId: config.teams.conversationId },
      approverObjectIds: config.approvers.objectIds,
      getApproval: (id) => deps.approvals?.get(id) ?? Promise.resolve(undefined),
      log,
      fallback: workflow,
    });
  }
  return workflow ?? new LogNotifier(log);
}
