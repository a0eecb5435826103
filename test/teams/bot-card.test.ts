/**
 * The bot's approval card: buttons, refresh and state rendering, and every variant validates
 * against the Adaptive Card schema of the version it declares (offline, see the helper).
 */
import { describe, expect, it } from "vitest";
import {
  APPROVAL_VERBS,
  approvalCard,
  BOT_CARD_VERSION,
  type BotCardState,
  botApprovalCard,
  decidedCard,
  MAX_REFRESH_USERS,
} from "../../shared/approvals/card.js";
import type { Approval } from "../../shared/ports/approval-store.js";
import { adaptiveCardProblems } from "../helpers/adaptive-card-schema.js";

const approval = {
  id: "6f1c2f8e-3a1b-4c5d-8e9f-0a1b2c3d4e5f",
  state: "pending",
  createdAt: "2030-01-01T10:00:00.000Z",
  expiresAt: "2030-01-02T10:00:00.000Z",
  policy: "storage-no-public-access",
  kind: "disable-public-network-access",
  target: {
    resourceId:
      "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1",
  },
  summary: "Disable public network access on st1",
  reason: "policy-mode",
  changes: [
    { path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" },
    { path: "properties.allowBlobPublicAccess", from: true, to: false },
  ],
} as unknown as Approval;

const approvers = ["29:1a2b3c", "29:4d5e6f"];

const states: Record<string, BotCardState> = {
  pending: { state: "pending" },
  approvedRunning: {
    state: "approved",
    by: "Alex Wilber",
    at: "2030-01-01T11:00:00.000Z",
    run: { outcome: "running" },
  },
  remediated: {
    state: "approved",
    by: "Alex Wilber",
    at: "2030-01-01T11:00:00.000Z",
    run: { outcome: "remediated" },
  },
  compliant: {
    state: "approved",
    by: "Alex Wilber",
    at: "2030-01-01T11:00:00.000Z",
    run: { outcome: "compliant" },
  },
  failed: {
    state: "approved",
    by: "Alex Wilber",
    at: "2030-01-01T11:00:00.000Z",
    run: { outcome: "failed", detail: "Step apply: ARM answered 409." },
  },
  superseded: {
    state: "approved",
    by: "Alex Wilber",
    at: "2030-01-01T11:00:00.000Z",
    run: { outcome: "superseded" },
  },
  rejected: { state: "rejected", by: "Megan Bowen", at: "2030-01-01T11:00:00.000Z" },
  expired: { state: "expired", at: "2030-01-02T10:00:00.000Z" },
  selfApproval: { state: "refused", reason: "self-approval" },
  notApprover: { state: "refused", reason: "not-an-approver" },
};

const texts = (card: Record<string, unknown>): string => JSON.stringify(card.body);

describe("bot approval card", () => {
  it.each(Object.entries(states))(
    "%s validates against the schema of its declared version",
    (_name, state) => {
      const card = botApprovalCard(approval, state, { refreshUserIds: approvers });
      expect(card.version).toBe(BOT_CARD_VERSION);
      expect(adaptiveCardProblems(card)).toEqual([]);
    },
  );

  it("pending: Approve/Reject Action.Execute with the approval ID, and a refresh for the approvers", () => {
    const card = botApprovalCard(approval, states.pending!, { refreshUserIds: approvers });
    expect(card.actions).toEqual([
      expect.objectContaining({ type: "Action.Execute", verb: "approve", data: { approvalId: approval.id } }),
      expect.objectContaining({ type: "Action.Execute", verb: "reject", data: { approvalId: approval.id } }),
    ]);
    expect(card.refresh).toEqual({
      action: {
        type: "Action.Execute",
        title: "Refresh",
        verb: APPROVAL_VERBS.refresh,
        data: { approvalId: approval.id },
      },
      userIds: approvers,
    });
    const body = texts(card);
    expect(body).toContain("driftguard: approval needed");
    expect(body).toContain("properties.publicNetworkAccess: Enabled → Disabled");
    expect(body).toContain(approval.target.resourceId);
  });

  it("without approver IDs the refresh has no userIds (an empty list would switch refresh off)", () => {
    const card = botApprovalCard(approval, states.pending!, { refreshUserIds: [] });
    expect(card.refresh).toEqual({ action: expect.objectContaining({ verb: "refresh" }) });
    expect(adaptiveCardProblems(card)).toEqual([]);
  });

  it("refresh userIds are de-duplicated and capped at Teams' limit", () => {
    const many = Array.from({ length: 75 }, (_, i) => `29:user-${i}`);
    const card = botApprovalCard(approval, states.pending!, { refreshUserIds: [...many, many[0]!] });
    const userIds = (card.refresh as { userIds: string[] }).userIds;
    expect(userIds).toHaveLength(MAX_REFRESH_USERS);
    expect(new Set(userIds).size).toBe(MAX_REFRESH_USERS);
  });

  it.each([
    ["approvedRunning", "approved", "Approved by Alex Wilber", "Remediation is running."],
    ["remediated", "approved", "Approved by Alex Wilber", "Remediated: the change was applied"],
    ["compliant", "approved", "Approved by Alex Wilber", "already compliant"],
    ["failed", "approved", "The remediation failed", "Step apply: ARM answered 409."],
    ["superseded", "approved", "Not applied: the resource changed", "A new approval was requested"],
    ["rejected", "rejected", "Rejected by Megan Bowen", "Nothing was changed."],
    ["expired", "expired", "Expired at 2030-01-02T10:00:00.000Z", "Nothing was changed."],
  ])("%s: final state shown, no buttons, no refresh", (name, title, line1, line2) => {
    const card = botApprovalCard(approval, states[name]!, { refreshUserIds: approvers });
    const body = texts(card);
    expect(body).toContain(`driftguard: ${title}`);
    expect(body).toContain(line1);
    expect(body).toContain(line2);
    expect(card.actions).toBeUndefined();
    expect(card.refresh).toBeUndefined();
  });

  it("refused: the refused person sees why, without buttons; the card keeps refreshing", () => {
    const self = botApprovalCard(approval, states.selfApproval!, { refreshUserIds: approvers });
    expect(texts(self)).toContain("the change being remediated was made by you");
    expect(self.actions).toBeUndefined();
    expect(self.refresh).toBeDefined();
    const stranger = botApprovalCard(approval, states.notApprover!, { refreshUserIds: approvers });
    expect(texts(stranger)).toContain("You are not one of the approvers");
  });

  it("a request without changes renders no empty container", () => {
    const card = botApprovalCard({ ...approval, changes: [] }, states.pending!);
    expect(adaptiveCardProblems(card)).toEqual([]);
    const body = card.body as { type: string; items?: unknown[] }[];
    expect(body.filter((b) => b.type === "Container" && (b.items ?? []).length === 0)).toEqual([]);
  });

  it("the existing Workflows and decided cards validate too", () => {
    expect(
      adaptiveCardProblems(approvalCard(approval, { link: "https://example.org/api/approvals/x" })),
    ).toEqual([]);
    expect(adaptiveCardProblems(approvalCard(approval, { execute: true }))).toEqual([]);
    expect(adaptiveCardProblems(decidedCard(approval, "approved"))).toEqual([]);
  });
});

describe("schema check", () => {
  const valid = () => botApprovalCard(approval, states.pending!, { refreshUserIds: approvers });

  it("catches a property the schema does not have", () => {
    const card = valid();
    (card.body as Record<string, unknown>[])[0]!.colour = "red";
    expect(adaptiveCardProblems(card)).toEqual([expect.stringContaining("$.body.0.colour")]);
  });

  it("catches a value outside an enum", () => {
    const card = valid();
    (card.body as Record<string, unknown>[])[0]!.size = "Huge";
    expect(adaptiveCardProblems(card).join("\n")).toContain('Invalid value "Huge" for property "size"');
  });

  it("catches features newer than the declared version", () => {
    const card = { ...valid(), version: "1.3" };
    const problems = adaptiveCardProblems(card).join("\n");
    expect(problems).toContain('Property "refresh" is supported in version 1.4');
    expect(problems).toContain('Unknown action type "Action.Execute"');
  });

  it("catches an unknown element type and a missing version", () => {
    const card = valid();
    (card.body as unknown[]).push({ type: "Carousel2", items: [] });
    expect(adaptiveCardProblems(card).join("\n")).toContain('Unknown element type "Carousel2"');
    const { version: _v, ...noVersion } = valid();
    expect(adaptiveCardProblems(noVersion)).toEqual(["version is missing"]);
  });
});
