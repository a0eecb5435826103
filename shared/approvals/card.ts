/**
 * The approval Adaptive Card (templated with adaptivecards-templating). Two variants:
 * `Action.OpenUrl` to the approval page (cards posted through a Teams Workflows webhook cannot call
 * back) and `Action.Execute` (cards sent by the bot; Teams posts an `adaptiveCard/action` invoke).
 */
import templating from "adaptivecards-templating";
import type { Approval } from "../ports.js";

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

function cardData(a: Approval) {
  return {
    summary: a.summary,
    policy: a.policy,
    kind: a.kind,
    resourceId: a.target.resourceId,
    reason: a.reason === "rate-limit" ? "blast-radius limit reached" : "policy requires approval",
    expiresAt: a.expiresAt,
    changes: a.changes.map((c) => ({ path: c.path, from: display(c.from), to: display(c.to) })),
  };
}

export function approvalCard(
  a: Approval,
  opts: { link?: string; execute?: boolean },
): Record<string, unknown> {
  const card = new Template(TEMPLATE).expand({ $root: cardData(a) }) as Record<string, unknown>;
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
  const card = new Template(TEMPLATE).expand({ $root: cardData(a) }) as Record<string, unknown>;
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
