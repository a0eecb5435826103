/**
 * What the Teams bot keeps: the conversation it posts approval cards to when it was captured at
 * installation (the settings TEAMS_SERVICE_URL / TEAMS_CONVERSATION_ID win over it), a second
 * installation waiting for an approver's confirmation in that conversation, and, per approval, the
 * message its card was posted as, so later states replace that message.
 * No personal data: conversation and activity IDs only. Implementations: Cosmos DB
 * (shared/cosmos/teams-store.ts, documents beside the approvals) and in process
 * (shared/teams/conversation-store.ts, when no store is configured).
 */

/** Where proactive messages go: a Bot Connector service URL and a conversation in it. */
export interface ConversationReference {
  serviceUrl: string;
  conversationId: string;
  /** Entra tenant of the team, as Teams reported it. */
  tenantId?: string;
  capturedAt: string;
  /** Pseudonymous ID of the approver who installed the bot there (or confirmed the move). */
  capturedBy?: string;
}

/** An installation in another conversation while one is captured: moved only once confirmed. */
export interface PendingConversation extends ConversationReference {
  /** Names this request on the confirmation card (a random ID). */
  id: string;
  /** The captured conversation the confirmation card was posted to, and its message. */
  askedIn: { conversationId: string; activityId?: string };
}

/** The message an approval's card was posted as. */
export interface CardMessage {
  approvalId: string;
  serviceUrl: string;
  conversationId: string;
  activityId: string;
  postedAt: string;
}

export interface TeamsConversationStore {
  /** The conversation captured when the bot was installed (undefined before that). */
  getConversation(): Promise<ConversationReference | undefined>;
  saveConversation(ref: ConversationReference): Promise<void>;
  /** Forgets the captured conversation if it is `conversationId` (the bot was removed from it);
   *  true when it was the captured one. */
  forgetConversation(conversationId: string): Promise<boolean>;
  /** The installation waiting for confirmation (at most one: a newer one replaces it). */
  getPendingConversation(): Promise<PendingConversation | undefined>;
  savePendingConversation(pending: PendingConversation): Promise<void>;
  /** Drops the waiting installation if it is `id`; true when it was. */
  clearPendingConversation(id: string): Promise<boolean>;
  saveCardMessage(message: CardMessage): Promise<void>;
  getCardMessage(approvalId: string): Promise<CardMessage | undefined>;
}
