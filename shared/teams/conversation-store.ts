/** The Teams conversation store kept in process (no Cosmos DB store configured: tests, local runs). */
import type {
  CardMessage,
  ConversationReference,
  TeamsConversationStore,
} from "../ports/teams-conversations.js";

export type {
  CardMessage,
  ConversationReference,
  TeamsConversationStore,
} from "../ports/teams-conversations.js";

export class InMemoryTeamsConversationStore implements TeamsConversationStore {
  private conversation?: ConversationReference;
  private readonly cards = new Map<string, CardMessage>();

  async getConversation(): Promise<ConversationReference | undefined> {
    return this.conversation ? { ...this.conversation } : undefined;
  }

  async saveConversation(ref: ConversationReference): Promise<void> {
    this.conversation = { ...ref };
  }

  async forgetConversation(conversationId: string): Promise<void> {
    if (this.conversation?.conversationId === conversationId) this.conversation = undefined;
  }

  async saveCardMessage(message: CardMessage): Promise<void> {
    this.cards.set(message.approvalId, { ...message });
  }

  async getCardMessage(approvalId: string): Promise<CardMessage | undefined> {
    const m = this.cards.get(approvalId);
    return m ? { ...m } : undefined;
  }
}
