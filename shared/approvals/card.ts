/**
 * The approval Adaptive Card (templated with adaptivecards-templating). Two variants:
 * `Action.OpenUrl` to the approval page (cards posted through a Teams Workflows webhook cannot call
 * back) and `Action.Execute` (cards sent by the bot; Teams posts an `adaptiveCard/action` invoke).
 */
import templating from "adaptivecards-templating";
import type { Approval } from "../ports/approval-store.js";
import { causedByPerson, type Refusal } from "./authorize.js";
import { reasonText } from "./reasons.js";

const { Template } = templating as unknown as {
  Template: new (t: unknown) => { expand(ctx: { $root: unknown }): unknown };
};

const TEMPLATE = {
  type: "AdaptiveCard",
  $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
  version: "1.5",
  body: [
    { type: "TextBlock", size: "Medium", weight: "Bolder", text: "driftguard: approval needed", wrap: true },
    { type: "TextBlock", text: "${summary}", wrap: true },
    {
      type: "FactSet",
      facts: [
        { title: "Policy", value: "${policy}" },
        { title: "Kind", value: "${kind}" },
        { title: "Resource", value: "${resourceId}" },
        { title: "Why approval", value: "${reason}" },
        { title: "Expires", value: "${expiresAt}" },
      ],
    },
    {
      type: "Container",
      items: [
        {
          $data: "${changes}",
          type: "TextBlock",
          wrap: true,
          fontType: "Monospace",
          text: "${path}: ${from} → ${to}",
        },
      ],
    },
  ],
  actions: [],
};

function display(value: unknown): string {
  if (value === null || value === undefined) return "(none)";
  if (typeof value === "object") return JSON.stringify(value).slice(0, 200);
  return String(value);
}

/** What a card shows of an approval (the fields every card variant reads). */
export type ApprovalCardSubject = Pick<
  Approval,
  "id" | "policy" | "kind" | "target" | "summary" | "reason" | "expiresAt" | "changes"
> &
  Partial<Pick<Approval, "reasonDetail" | "context">>;

function cardData(a: ApprovalCardSubject) {
  return {
    summary: a.summary,
    policy: a.policy,
    kind: a.kind,
    resourceId: a.target.resourceId,
    // Each reason reads as itself (an old `rate-limit` as the action limit).
    reason: reasonText(a),
    expiresAt: a.expiresAt,
    changes: a.changes.map((c) => ({ path: c.path, from: display(c.from), to: display(c.to) })),
  };
}

/** The card, templated, with what the other kinds did for the same signal (when there were any). */
function expand(a: ApprovalCardSubject): Record<string, unknown> {
  const card = new Template(TEMPLATE).expand({ $root: cardData(a) }) as Record<string, unknown>;
  if (a.context?.length) {
    (card.body as unknown[]).push({
      type: "Container",
      separator: true,
      items: [
        { type: "TextBlock", text: "Same change, other kinds:", wrap: true, weight: "Bolder" },
        ...a.context.map((c) => ({
          type: "TextBlock",
          wrap: true,
          text: `${c.kind} (${c.policy}): ${c.outcome}${c.detail ? ` — ${c.detail.slice(0, 200)}` : ""}`,
        })),
      ],
    });
  }
  return card;
}

export function approvalCard(
  a: Approval,
  opts: { link?: string; execute?: boolean },
): Record<string, unknown> {
  const card = expand(a);
  if (opts.execute) {
    card.actions = [
      {
        type: "Action.Execute",
        title: "Approve",
        verb: "approve",
        data: { approvalId: a.id },
        style: "positive",
      },
      {
        type: "Action.Execute",
        title: "Reject",
        verb: "reject",
        data: { approvalId: a.id },
        style: "destructive",
      },
    ];
  } else if (opts.link) {
    card.actions = [{ type: "Action.OpenUrl", title: "Review and decide", url: opts.link }];
  }
  return card;
}

/** The card that replaces the request once decided (for everyone in the conversation). */
export function decidedCard(a: Approval, outcome: string): Record<string, unknown> {
  const card = expand(a);
  (card.body as unknown[]).splice(0, 1, {
    type: "TextBlock",
    size: "Medium",
    weight: "Bolder",
    text: `driftguard: ${outcome}`,
    wrap: true,
  });
  card.actions = [];
  return card;
}

/** Teams Workflows webhook envelope ("Post card in a chat or channel" trigger). */
export function workflowMessage(card: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "message",
    attachments: [
      { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The bot's card: posted by the bot itself (Bot Connector), with in-card buttons and a refresh, and
// re-rendered for every state the approval goes through.

/** Adaptive Card version of the bot card: `Action.Execute` and `refresh` need 1.4+; Teams renders 1.5. */
export const BOT_CARD_VERSION = "1.5";
/** `Action.Execute` verbs of the bot card; each action's data is `{ approvalId }`. */
export const APPROVAL_VERBS = { approve: "approve", reject: "reject", refresh: "refresh" } as const;
/** Teams refreshes a card automatically for at most this many listed users. */
export const MAX_REFRESH_USERS = 60;

/** What became of an approved request's remediation run. */
export interface RunOutcome {
  outcome: "running" | "remediated" | "compliant" | "failed" | "superseded" | "not-applied";
  /** One line for people (e.g. the failure's step, or the ID of the new approval). */
  detail?: string;
}

export type BotCardState =
  /** `canDecide: false`: the viewer is not an approver (no buttons). `notes`: e.g. refused decisions. */
  | { state: "pending"; canDecide?: boolean; notes?: string[] }
  | { state: "approved"; by: string; at: string; run?: RunOutcome }
  | { state: "rejected"; by: string; at: string }
  /** `supersededBy`: closed early because a newer approval for the same resource and kind replaced it. */
  | { state: "expired"; at: string; supersededBy?: string }
  /** Shown to the person whose press was refused; the request stays pending for the others. */
  | { state: "refused"; reason: Refusal };

export interface BotCardOptions {
  /**
   * Teams user IDs (as Teams gives them in activities) for whom the card refreshes automatically:
   * the approvers. Omitted when empty: Teams then refreshes for everyone in conversations of up to
   * 60 members (an empty list would switch automatic refresh off).
   */
  refreshUserIds?: readonly string[];
  /** One line about the viewer's own action, shown first (e.g. why their click changed nothing). */
  notice?: string;
}

const RUN_TEXT: Record<RunOutcome["outcome"], string> = {
  running: "Remediation is running.",
  remediated: "Remediated: the change was applied and verified.",
  compliant: "Nothing to do: the resource was already compliant when the approval arrived.",
  failed: "The remediation failed.",
  superseded:
    "Not applied: the resource changed since the request, so the approved change no longer fits. A new approval was requested for the new plan.",
  "not-applied": "The change was not applied.",
};

const REFUSED_TEXT: Record<Refusal, string> = {
  "self-approval":
    "You cannot approve this: the change being remediated was made by you. Another approver has to decide.",
  "not-an-approver":
    "You are not one of the approvers for driftguard changes, so your decision was not applied.",
  "sign-in":
    "Your Teams account carries no Entra object ID, so driftguard cannot check that you are an approver.",
};

function statusBlock(s: BotCardState): { title: string; style: string; lines: string[] } {
  switch (s.state) {
    case "pending":
      return {
        title: "approval needed",
        style: "emphasis",
        lines: [
          s.canDecide === false
            ? "Waiting for an approver. Only driftguard's configured approvers can decide."
            : "Waiting for an approver.",
          ...(s.notes ?? []),
        ],
      };
    case "approved": {
      const lines = [`Approved by ${s.by} at ${s.at}.`];
      if (s.run) lines.push(RUN_TEXT[s.run.outcome] + (s.run.detail ? ` ${s.run.detail}` : ""));
      const style =
        s.run?.outcome === "failed"
          ? "attention"
          : s.run?.outcome === "superseded" || s.run?.outcome === "not-applied"
            ? "warning"
            : "good";
      return { title: "approved", style, lines };
    }
    case "rejected":
      return {
        title: "rejected",
        style: "attention",
        lines: [`Rejected by ${s.by} at ${s.at}. Nothing was changed.`],
      };
    case "expired":
      return {
        title: "expired",
        style: "warning",
        lines: [
          s.supersededBy
            ? `Closed at ${s.at}: superseded by approval ${s.supersededBy}, a newer request for this resource and kind. Nothing was changed.`
            : `Expired at ${s.at} without a decision. Nothing was changed.`,
        ],
      };
    case "refused":
      return {
        title: "approval needed",
        style: "attention",
        lines: [REFUSED_TEXT[s.reason]],
      };
  }
}

/**
 * The approval card the bot posts and updates. Pending (and a refused person's view) carries the
 * Approve/Reject `Action.Execute` buttons and a `refresh` (verb `refresh`), so every approver who
 * looks at it sees the current state; decided, expired and finished cards carry neither.
 */
export function botApprovalCard(
  a: ApprovalCardSubject,
  status: BotCardState,
  opts: BotCardOptions = {},
): Record<string, unknown> {
  const card = expand(a);
  card.version = BOT_CARD_VERSION;
  const view = statusBlock(status);
  const body = card.body as Record<string, unknown>[];
  body.splice(0, 1, {
    type: "TextBlock",
    size: "Medium",
    weight: "Bolder",
    text: `driftguard: ${view.title}`,
    wrap: true,
  });
  const lines = opts.notice ? [opts.notice, ...view.lines] : view.lines;
  body.splice(1, 0, {
    type: "Container",
    style: view.style,
    items: lines.map((text, i) =>
      opts.notice && i === 0
        ? { type: "TextBlock", text, wrap: true, weight: "Bolder" }
        : { type: "TextBlock", text, wrap: true },
    ),
  });
  // An empty change list would leave an empty container behind.
  const empty = body.findIndex((b) => Array.isArray(b.items) && b.items.length === 0);
  if (empty >= 0) body.splice(empty, 1);

  const data = { approvalId: a.id };
  const live = status.state === "pending" || status.state === "refused";
  if (live) {
    const refresh: Record<string, unknown> = {
      action: { type: "Action.Execute", title: "Refresh", verb: APPROVAL_VERBS.refresh, data },
    };
    const userIds = [...new Set(opts.refreshUserIds ?? [])].slice(0, MAX_REFRESH_USERS);
    if (userIds.length > 0) refresh.userIds = userIds;
    card.refresh = refresh;
  }
  if (status.state === "pending" && status.canDecide !== false) {
    card.actions = [
      { type: "Action.Execute", title: "Approve", verb: APPROVAL_VERBS.approve, data, style: "positive" },
      { type: "Action.Execute", title: "Reject", verb: APPROVAL_VERBS.reject, data, style: "destructive" },
    ];
  } else {
    delete card.actions;
  }
  return card;
}

// ---------------------------------------------------------------------------------------------
// From a stored approval to what a person sees on the card.

/** How the card names a decider: the pseudonym the trail uses (the bot keeps no names), or "you". */
function deciderLabel(a: Pick<Approval, "decidedBy" | "decidedVia">, viewerId?: string): string {
  if (viewerId && a.decidedBy === viewerId) return "you";
  const via =
    a.decidedVia === "teams" ? "in Teams" : a.decidedVia === "cli" ? "with the CLI" : "on the approval page";
  return `approver ${a.decidedBy ?? "(unknown)"} ${via}`;
}

/** What became of the approved change, for the card. */
export function runOutcomeOf(a: Pick<Approval, "run">): RunOutcome {
  const run = a.run;
  if (!run || (run.state === "due" && !run.lastError)) return { outcome: "running" };
  if (run.state === "due") {
    const e = run.lastError!;
    return {
      outcome: "running",
      detail: `The last attempt failed (${e.code} at ${e.step}); it is retried automatically${run.nextAttemptAt ? ` at ${run.nextAttemptAt}` : ""}.`,
    };
  }
  if (run.state === "gave-up") return { outcome: "failed", detail: run.reason };
  switch (run.outcome) {
    case "remediated":
      return { outcome: "remediated" };
    case "compliant":
      return { outcome: "compliant" };
    case "pending-approval":
      return { outcome: "superseded", detail: run.reason };
    case "failed":
      return { outcome: "failed", detail: run.reason };
    default:
      return {
        outcome: "not-applied",
        detail: `Outcome: ${run.outcome ?? "unknown"}. ${run.reason ?? ""}`.trim(),
      };
  }
}

/** Lines about refused decision attempts, for the pending card everyone sees. */
function refusalNotes(a: Pick<Approval, "refusals">): string[] {
  return (a.refusals ?? []).slice(-3).map((r) => `Refused at ${r.at}: ${r.reason}.`);
}

export interface CardViewer {
  /** Pseudonym of the person viewing (the one who pressed a button or whose card refreshes). */
  id: string;
  /** Whether they are one of the configured approvers. */
  approver: boolean;
}

/**
 * The card state of an approval: for everyone (no viewer: the message the bot updates) or for one
 * viewer (the card a refresh or a button press answers with), who may not decide (not an approver,
 * or the person whose change is being remediated).
 */
export function botCardStateOf(a: Approval, viewer?: CardViewer): BotCardState {
  switch (a.state) {
    case "pending":
      if (viewer && causedByPerson(a, viewer.id)) return { state: "refused", reason: "self-approval" };
      return {
        state: "pending",
        ...(viewer && !viewer.approver ? { canDecide: false } : {}),
        notes: refusalNotes(a),
      };
    case "approved":
      return {
        state: "approved",
        by: deciderLabel(a, viewer?.id),
        at: a.decidedAt ?? a.createdAt,
        run: runOutcomeOf(a),
      };
    case "rejected":
      return { state: "rejected", by: deciderLabel(a, viewer?.id), at: a.decidedAt ?? a.createdAt };
    case "expired":
      return a.supersededBy
        ? { state: "expired", at: a.decidedAt ?? a.expiresAt, supersededBy: a.supersededBy }
        : { state: "expired", at: a.expiresAt };
  }
}
