/**
 * Teams user IDs of the approvers, for the card's `refresh.userIds`. Teams identifies people in a
 * conversation by their Teams user ID (`29:…`), which differs from their Entra object ID (the
 * approvers are configured by object ID in APPROVER_OBJECT_IDS). Two sources, both without storing
 * anything: the Bot Connector's member lookup, which accepts an Entra object ID
 * (`GET …/conversations/{id}/members/{objectId}` → `{ id: "29:…", objectId }`), done when a card is
 * posted; and the activities Teams sends (each carries `from.id` and `from.aadObjectId`). Kept in
 * memory for an hour per conversation, so a lookup is not repeated for every card.
 */
import type { BotConnector } from "./connector.js";

const TTL_MS = 3600_000;

interface Entry {
  teamsUserId?: string;
  at: number;
}

export class ApproverDirectory {
  private readonly entries = new Map<string, Entry>();

  private key(conversationId: string, objectId: string): string {
    return `${conversationId}\u0000${objectId.toLowerCase()}`;
  }

  /** A Teams user ID seen on an activity from this person. */
  remember(conversationId: string, objectId: string, teamsUserId: string, now = Date.now()): void {
    this.entries.set(this.key(conversationId, objectId), { teamsUserId, at: now });
  }

  /** The Teams user IDs known for these object IDs (no lookups). */
  known(conversationId: string, objectIds: readonly string[], now = Date.now()): string[] {
    return objectIds.flatMap((oid) => {
      const e = this.entries.get(this.key(conversationId, oid));
      return e?.teamsUserId && now - e.at < TTL_MS ? [e.teamsUserId] : [];
    });
  }

  /**
   * Resolves the approvers' Teams user IDs in a conversation, looking up the ones not known yet.
   * Approvers who are not members are left out; a lookup that fails is skipped this time
   * (`onError`), so a card is never held back for it.
   */
  async resolve(
    connector: BotConnector,
    conversationId: string,
    objectIds: readonly string[],
    onError: (err: unknown) => void,
    now = Date.now(),
  ): Promise<string[]> {
    await Promise.all(
      objectIds.map(async (oid) => {
        const e = this.entries.get(this.key(conversationId, oid));
        if (e && now - e.at < TTL_MS) return;
        try {
          const member = await connector.getMember(conversationId, oid);
          this.entries.set(this.key(conversationId, oid), { teamsUserId: member?.id, at: now });
        } catch (err) {
          onError(err);
        }
      }),
    );
    return this.known(conversationId, objectIds, now);
  }
}

/** The process's directory (the notifier fills it; the messages endpoint reads and adds to it). */
export const approverDirectory = new ApproverDirectory();
