/**
 * The bot's approval notifier: posts each approval request as an Adaptive Card with `Action.Execute`
 * buttons into the team's conversation (Bot Connector, proactive message), remembers the message,
 * and replaces it whenever the approval changes (decided, expired, the approved run's outcome, a
 * refused decision), so everyone in the channel sees the current state.
 *
 * Where it posts: TEAMS_SERVICE_URL / TEAMS_CONVERSATION_ID when set (each setting wins over its
 * captured counterpart), else the conversation captured when the bot was installed in a team.
 */
import { type BotCardOptions, botApprovalCard, botCardStateOf } from "../approvals/card.js";
import type { Logger } from "../log.js";
import type { Approval } from "../ports/approval-store.js";
import type { ApprovalChange, Notifier } from "../ports/notifier.js";
import { redactText } from "../redact.js";
import { type ApproverDirectory, approverDirectory } from "./approver-directory.js";
import { type BotConnector, BotConnectorError } from "./connector.js";
import type { ConversationReference, TeamsConversationStore } from "./conversation-store.js";

/** No conversation to post to: neither settings nor a captured installation. */
export class TeamsConversationUnknownError extends Error {
  override readonly name = "TeamsConversationUnknownError";
  readonly step = "notify";
  constructor(readonly approvalId: string) {
    super(
      "no Teams conversation to post the approval card to: install the bot in a team (the installation is captured) or set TEAMS_SERVICE_URL and TEAMS_CONVERSATION_ID",
    );
  }
}

export interface BotNotifierOptions {
  /** A Bot Connector client for a service URL (the captured one may differ from the setting). */
  connector: (serviceUrl: string) => BotConnector;
  store: TeamsConversationStore;
  settings: { serviceUrl?: string; conversationId?: string };
  /** Entra object IDs of the approvers (APPROVER_OBJECT_IDS). */
  approverObjectIds: readonly string[];
  /** Reads the approval's latest state right before a card is replaced. */
  getApproval: (id: string) => Promise<Approval | undefined>;
  log: Logger;
  directory?: ApproverDirectory;
  /** Attempts for a post that failed transiently (default 3). */
  postAttempts?: number;
  /** Used while no conversation is known (e.g. the Workflows webhook until the bot is installed). */
  fallback?: Notifier;
}

const MAX_RETRY_WAIT_MS = 5_000;

export class BotNotifier implements Notifier {
  private readonly connectors = new Map<string, BotConnector>();
  /** Card updates per approval run one after the other, each showing the latest state. */
  private readonly updates = new Map<string, Promise<void>>();
  private readonly directory: ApproverDirectory;

  constructor(private readonly opts: BotNotifierOptions) {
    this.directory = opts.directory ?? approverDirectory;
  }

  /** Where cards go now: settings first, the captured installation otherwise. */
  async conversation(): Promise<Omit<ConversationReference, "capturedAt"> | undefined> {
    const { serviceUrl, conversationId } = this.opts.settings;
    const captured = serviceUrl && conversationId ? undefined : await this.opts.store.getConversation();
    const url = serviceUrl ?? captured?.serviceUrl;
    const id = conversationId ?? captured?.conversationId;
    return url && id ? { serviceUrl: url, conversationId: id } : undefined;
  }

  async requestApproval(approval: Approval): Promise<void> {
    const target = await this.conversation();
    if (!target) {
      if (this.opts.fallback) return this.opts.fallback.requestApproval(approval);
      throw new TeamsConversationUnknownError(approval.id);
    }
    const connector = this.connectorFor(target.serviceUrl);
    const card = botApprovalCard(approval, botCardStateOf(approval), {
      refreshUserIds: await this.refreshUserIds(connector, target.conversationId),
    });
    const activityId = await this.postWithRetry(connector, target.conversationId, card, approval);
    await this.opts.store.saveCardMessage({
      approvalId: approval.id,
      serviceUrl: target.serviceUrl,
      conversationId: target.conversationId,
      activityId,
      postedAt: new Date().toISOString(),
    });
  }

  approvalChanged(approval: Approval, change: ApprovalChange): Promise<void> {
    const previous = this.updates.get(approval.id) ?? Promise.resolve();
    const next = previous.then(() => this.update(approval, change));
    const settled = next.catch(() => undefined);
    this.updates.set(approval.id, settled);
    void settled.then(() => {
      if (this.updates.get(approval.id) === settled) this.updates.delete(approval.id);
    });
    return next;
  }

  /** The card for one approval as everyone sees it now, with the refresh for the approvers. */
  async cardFor(approval: Approval, conversationId: string, extra: BotCardOptions = {}) {
    return botApprovalCard(approval, botCardStateOf(approval), {
      refreshUserIds: this.directory.known(conversationId, this.opts.approverObjectIds),
      ...extra,
    });
  }

  private async update(approval: Approval, change: ApprovalChange): Promise<void> {
    const message = await this.opts.store.getCardMessage(approval.id);
    if (!message) return; // posted elsewhere (or the post failed): nothing to replace
    const latest = (await this.opts.getApproval(approval.id)) ?? approval;
    const connector = this.connectorFor(message.serviceUrl);
    const card = await this.cardFor(latest, message.conversationId);
    await connector.updateCard(message.conversationId, message.activityId, card);
    this.opts.log.info(
      { approvalId: approval.id, change, state: latest.state },
      "teams: approval card updated",
    );
  }

  private async refreshUserIds(connector: BotConnector, conversationId: string): Promise<string[]> {
    return this.directory.resolve(connector, conversationId, this.opts.approverObjectIds, (err) =>
      this.opts.log.warn(
        { err: redactText(String((err as Error).message)) },
        "teams: approver lookup failed; the card refreshes for them once they act on it",
      ),
    );
  }

  /**
   * A transient failure (throttled, unavailable, timed out) is tried again a few times: a lost card
   * means nobody is asked, while a repeated post after a timeout at worst shows the card twice.
   */
  private async postWithRetry(
    connector: BotConnector,
    conversationId: string,
    card: Record<string, unknown>,
    approval: Approval,
  ): Promise<string> {
    const attempts = this.opts.postAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await connector.postCard(conversationId, card, { summary: `driftguard: ${approval.summary}` });
      } catch (err) {
        if (!(err instanceof BotConnectorError) || !err.retryable || attempt >= attempts) throw err;
        const wait = Math.min(MAX_RETRY_WAIT_MS, err.retryAfterMs ?? 250 * 2 ** (attempt - 1));
        this.opts.log.warn(
          { approvalId: approval.id, code: err.code, attempt },
          "teams: posting the approval card failed; trying again",
        );
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private connectorFor(serviceUrl: string): BotConnector {
    let c = this.connectors.get(serviceUrl);
    if (!c) {
      c = this.opts.connector(serviceUrl);
      this.connectors.set(serviceUrl, c);
    }
    return c;
  }
}
