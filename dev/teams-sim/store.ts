/**
 * What the Teams stand-in keeps: the activities posted into each conversation (with every version
 * an update replaced), the messages posted to the Workflows webhook, a request log without
 * credentials, and injectable faults.
 */

import { ADAPTIVE_CARD_CONTENT_TYPE, type AdaptiveCardJson } from "../../shared/teams/bot-framework.js";
import { isPlainObject } from "../azure-sim/common.js";

export interface ActivityVersion {
  at: string;
  method: "POST" | "PUT";
  activity: Record<string, unknown>;
  card: AdaptiveCardJson;
}

export interface StoredActivity {
  id: string;
  conversationId: string;
  /** The activity as last posted or replaced. */
  activity: Record<string, unknown>;
  /** Its Adaptive Card (the first card attachment). */
  card: AdaptiveCardJson;
  /** Every version, oldest (the POST) first; the last one is the current one. */
  history: ActivityVersion[];
}

export interface WorkflowPost {
  at: string;
  workflowId: string;
  message: Record<string, unknown>;
  card: AdaptiveCardJson;
}

export interface TeamsRequest {
  seq: number;
  at: string;
  method: string;
  path: string;
  status: number;
  /** Whether the request carried the accepted credential (the value itself is never kept). */
  authorized: boolean;
}

export interface TeamsFault {
  method?: string;
  /** Substring of the path (e.g. `/activities`). */
  path: string;
  /** 0 = answer nothing (the connection is dropped after `delayMs`). */
  status: number;
  retryAfterSeconds?: number;
  delayMs?: number;
  /** How many matching requests it affects (default 1; -1 = all). */
  count?: number;
}

/** Checks a posted activity; returns the error message, or the card it carries. */
export function cardOfActivity(body: unknown): { card: AdaptiveCardJson } | { error: string } {
  if (!isPlainObject(body)) return { error: "The activity must be a JSON object." };
  if (body.type !== "message") return { error: "Only 'message' activities can be posted." };
  const attachments = body.attachments;
  if (!Array.isArray(attachments) || attachments.length === 0)
    return { error: "The message has no attachments." };
  for (const [i, a] of attachments.entries()) {
    if (!isPlainObject(a) || typeof a.contentType !== "string")
      return { error: `attachments[${i}].contentType is required.` };
  }
  const cardAttachment = attachments.find(
    (a) => isPlainObject(a) && a.contentType === ADAPTIVE_CARD_CONTENT_TYPE,
  ) as Record<string, unknown> | undefined;
  if (!cardAttachment) return { error: `No attachment of type ${ADAPTIVE_CARD_CONTENT_TYPE}.` };
  const content = cardAttachment.content;
  if (!isPlainObject(content) || content.type !== "AdaptiveCard")
    return { error: "The card attachment's content must be an object with type 'AdaptiveCard'." };
  if (typeof content.version !== "string") return { error: "The Adaptive Card has no version." };
  return { card: structuredClone(content) };
}

export class TeamsStore {
  private readonly conversations = new Map<string, Map<string, StoredActivity>>();
  private readonly workflowPosts: WorkflowPost[] = [];
  private readonly log: TeamsRequest[] = [];
  private faults: (TeamsFault & { id: number; remaining: number })[] = [];
  private seq = 0;
  private lastActivityId = 0;

  constructor(conversationIds: string[]) {
    for (const id of conversationIds) this.conversations.set(id, new Map());
  }

  hasConversation(id: string): boolean {
    return this.conversations.has(id);
  }

  conversationIds(): string[] {
    return [...this.conversations.keys()];
  }

  post(conversationId: string, activity: Record<string, unknown>, card: AdaptiveCardJson): StoredActivity {
    // Teams activity IDs are millisecond timestamps as strings; keep them unique and increasing.
    this.lastActivityId = Math.max(Date.now(), this.lastActivityId + 1);
    const id = String(this.lastActivityId);
    const version: ActivityVersion = { at: new Date().toISOString(), method: "POST", activity, card };
    const stored: StoredActivity = { id, conversationId, activity, card, history: [version] };
    this.conversations.get(conversationId)!.set(id, stored);
    return stored;
  }

  update(
    conversationId: string,
    activityId: string,
    activity: Record<string, unknown>,
    card: AdaptiveCardJson,
  ): StoredActivity | undefined {
    const stored = this.conversations.get(conversationId)?.get(activityId);
    if (!stored) return undefined;
    stored.history.push({ at: new Date().toISOString(), method: "PUT", activity, card });
    stored.activity = activity;
    stored.card = card;
    return stored;
  }

  activities(conversationId?: string): StoredActivity[] {
    const lists = conversationId
      ? [this.conversations.get(conversationId)]
      : [...this.conversations.values()];
    return lists.flatMap((m) => (m ? [...m.values()] : [])).map((a) => structuredClone(a));
  }

  activity(conversationId: string, activityId: string): StoredActivity | undefined {
    const a = this.conversations.get(conversationId)?.get(activityId);
    return a ? structuredClone(a) : undefined;
  }

  addWorkflowPost(post: WorkflowPost): void {
    this.workflowPosts.push(post);
  }

  workflows(): WorkflowPost[] {
    return structuredClone(this.workflowPosts);
  }

  logRequest(method: string, path: string, authorized: boolean): TeamsRequest {
    const entry = { seq: ++this.seq, at: new Date().toISOString(), method, path, status: 0, authorized };
    this.log.push(entry);
    return entry;
  }

  requests(filter: { method?: string; pathIncludes?: string } = {}): TeamsRequest[] {
    return this.log
      .filter((r) => !filter.method || r.method === filter.method.toUpperCase())
      .filter((r) => !filter.pathIncludes || r.path.includes(filter.pathIncludes))
      .map((r) => ({ ...r }));
  }

  addFault(f: TeamsFault): number {
    const id = ++this.seq;
    const count = f.count ?? 1;
    this.faults.push({ ...f, id, remaining: count < 0 ? Number.POSITIVE_INFINITY : count });
    return id;
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** The first live fault for this request, one use of it consumed. */
  takeFault(method: string, path: string): TeamsFault | undefined {
    const fault = this.faults.find(
      (f) => f.remaining > 0 && (!f.method || f.method.toUpperCase() === method) && path.includes(f.path),
    );
    if (fault) fault.remaining -= 1;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return fault;
  }
}
