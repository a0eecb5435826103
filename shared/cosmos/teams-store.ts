/**
 * The bot's Teams references in Cosmos DB, as documents in the `approvals` container (no container
 * of their own to provision): the captured conversation (`id` = `pk` = `teams-conversation`), an
 * installation waiting for confirmation (`id` = `teams-conversation-pending`, same partition) and one
 * card message per approval in the approval's own partition (`pk` = approval ID,
 * `id` = `teams-card-<approval ID>`), kept as long as a decided approval. Neither has a `state`, so
 * the approval queries never see them.
 */
import type { Container } from "@azure/cosmos";
import type {
  CardMessage,
  ConversationReference,
  PendingConversation,
  TeamsConversationStore,
} from "../teams/conversation-store.js";
import { APPROVAL_DECIDED_TTL_SECONDS } from "./client.js";
import { isNotFound, isPreconditionFailed } from "./errors.js";

const CONVERSATION_ID = "teams-conversation";
/** The installation waiting for confirmation, in the same partition as the captured conversation. */
const PENDING_ID = "teams-conversation-pending";
/** Longer than any approval lives (at most 7 days) plus the time a decided one is kept. */
const CARD_TTL_SECONDS = APPROVAL_DECIDED_TTL_SECONDS + 8 * 24 * 3600;

const cardId = (approvalId: string) => `teams-card-${approvalId}`;
const validApprovalId = (id: string) => /^[A-Za-z0-9_-]{1,128}$/.test(id);

export class CosmosTeamsConversationStore implements TeamsConversationStore {
  constructor(private readonly container: Container) {}

  async getConversation(): Promise<ConversationReference | undefined> {
    const { resource } = await this.container
      .item(CONVERSATION_ID, CONVERSATION_ID)
      .read<ConversationReference>();
    if (!resource) return undefined;
    return {
      serviceUrl: resource.serviceUrl,
      conversationId: resource.conversationId,
      ...(resource.tenantId ? { tenantId: resource.tenantId } : {}),
      capturedAt: resource.capturedAt,
      ...(resource.capturedBy ? { capturedBy: resource.capturedBy } : {}),
    };
  }

  async saveConversation(ref: ConversationReference): Promise<void> {
    await this.container.items.upsert({
      ...ref,
      id: CONVERSATION_ID,
      pk: CONVERSATION_ID,
      docType: CONVERSATION_ID,
    });
  }

  async forgetConversation(conversationId: string): Promise<boolean> {
    const { resource, etag } = await this.container
      .item(CONVERSATION_ID, CONVERSATION_ID)
      .read<ConversationReference>();
    if (!resource || resource.conversationId !== conversationId) return false;
    try {
      // Only the reference that was read: a newer installation captured meanwhile stays.
      await this.container
        .item(CONVERSATION_ID, CONVERSATION_ID)
        .delete({ accessCondition: { type: "IfMatch", condition: etag ?? "" } });
      return true;
    } catch (err) {
      if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
      return false;
    }
  }

  async getPendingConversation(): Promise<PendingConversation | undefined> {
    const { resource } = await this.container
      .item(PENDING_ID, CONVERSATION_ID)
      .read<PendingConversation & { requestId: string }>();
    if (!resource) return undefined;
    return {
      id: resource.requestId,
      serviceUrl: resource.serviceUrl,
      conversationId: resource.conversationId,
      ...(resource.tenantId ? { tenantId: resource.tenantId } : {}),
      capturedAt: resource.capturedAt,
      ...(resource.capturedBy ? { capturedBy: resource.capturedBy } : {}),
      askedIn: resource.askedIn,
    };
  }

  async savePendingConversation(pending: PendingConversation): Promise<void> {
    const { id, ...rest } = pending;
    await this.container.items.upsert({
      ...rest,
      requestId: id,
      id: PENDING_ID,
      pk: CONVERSATION_ID,
      docType: PENDING_ID,
    });
  }

  async clearPendingConversation(id: string): Promise<boolean> {
    const { resource, etag } = await this.container
      .item(PENDING_ID, CONVERSATION_ID)
      .read<{ requestId?: string }>();
    if (!resource || resource.requestId !== id) return false;
    try {
      // Only the request that was read: a newer installation waiting meanwhile stays.
      await this.container
        .item(PENDING_ID, CONVERSATION_ID)
        .delete({ accessCondition: { type: "IfMatch", condition: etag ?? "" } });
      return true;
    } catch (err) {
      if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
      return false;
    }
  }

  async saveCardMessage(message: CardMessage): Promise<void> {
    if (!validApprovalId(message.approvalId)) throw new TypeError("invalid approval ID");
    await this.container.items.upsert({
      ...message,
      id: cardId(message.approvalId),
      pk: message.approvalId,
      docType: "teams-card",
      ttl: CARD_TTL_SECONDS,
    });
  }

  async getCardMessage(approvalId: string): Promise<CardMessage | undefined> {
    if (!validApprovalId(approvalId)) return undefined;
    const { resource } = await this.container.item(cardId(approvalId), approvalId).read<CardMessage>();
    if (!resource) return undefined;
    return {
      approvalId: resource.approvalId,
      serviceUrl: resource.serviceUrl,
      conversationId: resource.conversationId,
      activityId: resource.activityId,
      postedAt: resource.postedAt,
    };
  }
}
