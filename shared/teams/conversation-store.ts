/** The Teams conversation store kept in process (no Cosmos DB store configured: tests, local runs). */
import type {
  CardMessage,
  ConversationReference,
  PendingConversation,
  TeamsConversationStore,
} from "../ports/teams-conversations.js";

export type {
  CardMessage,
  ConversationReference,
  PendingConversation,
  TeamsConversationStore,
} from "../ports/teams-conversations.js";

export class InMemoryTeamsConversationStore implements TeamsConversationStore {
  private conversation?: ConversationReference;
  private pending?: PendingConversation;
  private readonly cards = new Map<string, CardMessage>();

  async getConversation(): Promise<ConversationReference | undefined> {
    return this.conversation ? { ...this.conversation } : undefined;
  }

  async saveConversation(ref: ConversationReference): Promise<void> {
    this.conversation = { ...ref };
  }

  async forgetConversation(conversationId: string): Promise<boolean> {
    if (this.conversation?.conversationId !== conversationId) return false;
    this.conversation = undefined;
    return true;
  }

  async getPendingConversation(): Promise<PendingConversation | undefined> {
    return this.pending ? structuredClone(this.pending) : undefined;
  }

  async savePendingConversation(pending: PendingConversation): Promise<void> {
    this.pending = structuredClone(pending);
  }

  async clearPendingConversation(id: string): Promise<boolean> {
    if (this.pending?.id !== id) return false;
    this.pending = undefined;
    return true;
  }

  async saveCardMessage(message: CardMessage): Promise<void> {
    this.cards.set(message.approvalId, { ...message });
  }

  async getCardMessage(approvalId: string): Promise<CardMessage | undefined> {
    const m = this.cards.get(approvalId);
    return m ? { ...m } : undefined;
  }
}
