/**
 * Who may decide an approval: one rule for the approval page and the Teams bot
 * (shared/approvals/authorize.ts), and each approval reason with its own words on card and page.
 */
import { describe, expect, it } from "vitest";
import { type ApproverRules, authorize } from "../../shared/approvals/authorize.js";
import { approvalCard, botApprovalCard } from "../../shared/approvals/card.js";
import { reasonLine, reasonText, reasonTitle } from "../../shared/approvals/reasons.js";
import { pseudonymize } from "../../shared/redact.js";
import { approval } from "../audit/contract.js";

const KEY = "authorize-test-pseudonym-key";
const APPROVER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const STRANGER = "22222222-2222-4222-8222-222222222222";
const rules = (over: Partial<ApproverRules> = {}): ApproverRules => ({
  objectIds: [APPROVER],
  requireSignIn: false,
  localDeveloper: "dev",
  pseudonymKey: KEY,
  ...over,
});

describe("authorize: one rule for both transports", () => {
  const pending = approval({ causedBy: pseudonymize(APPROVER, KEY) });

  it("with approvers configured: a listed principal decides, as their pseudonym; anyone else is refused", () => {
    expect(authorize({ approval: approval() }, { objectId: APPROVER.toUpperCase() }, rules())).toEqual({
      allowed: true,
      approverId: pseudonymize(APPROVER, KEY),
    });
    expect(authorize({ approval: approval() }, { objectId: STRANGER }, rules())).toEqual({
      allowed: false,
      refusal: "not-an-approver",
      reason: "you are not an authorised approver",
      personId: pseudonymize(STRANGER, KEY),
    });
    expect(authorize({ approval: approval() }, {}, rules())).toMatchObject({
      allowed: false,
      refusal: "sign-in",
      reason: expect.stringMatching(/^sign in first/),
    });
  });

  it("the person who caused the drift may not decide its fix, even as an approver", () => {
    expect(authorize({ approval: pending }, { objectId: APPROVER }, rules())).toMatchObject({
      allowed: false,
      refusal: "self-approval",
      personId: pseudonymize(APPROVER, KEY),
    });
    // Without an approval (the page's first look), they may see it.
    expect(authorize({}, { objectId: APPROVER }, rules()).allowed).toBe(true);
  });

  it("nor may anyone whose later write drifted it the same way (alsoCausedBy)", () => {
    const others = approval({ alsoCausedBy: [pseudonymize(APPROVER, KEY)] });
    expect(others.causedBy).not.toBe(pseudonymize(APPROVER, KEY));
    expect(authorize({ approval: others }, { objectId: APPROVER }, rules())).toMatchObject({
      allowed: false,
      refusal: "self-approval",
    });
    expect(authorize({ approval: approval() }, { objectId: APPROVER }, rules()).allowed).toBe(true);
  });

  it("in Azure a decision always needs a signed-in, listed approver — with none configured, nobody decides", () => {
    const azure = rules({ objectIds: [], requireSignIn: true });
    expect(authorize({ approval: approval() }, {}, azure)).toMatchObject({ refusal: "sign-in" });
    expect(authorize({ approval: approval() }, { objectId: APPROVER }, azure)).toMatchObject({
      refusal: "not-an-approver",
      reason: expect.stringContaining("no approvers are configured"),
    });
  });

  it("only the local stack without approvers lets anyone decide (unsigned: as the local developer)", () => {
    const local = rules({ objectIds: [] });
    expect(authorize({ approval: approval() }, {}, local)).toEqual({
      allowed: true,
      approverId: pseudonymize("local:dev", KEY),
    });
    expect(authorize({ approval: approval() }, { objectId: STRANGER }, local)).toEqual({
      allowed: true,
      approverId: pseudonymize(STRANGER, KEY),
    });
    expect(authorize({ approval: pending }, { objectId: APPROVER }, local)).toMatchObject({
      refusal: "self-approval",
    });
  });
});

describe("approval reasons: each its own words", () => {
  const facts = { policy: "storage-private", kind: "disable-public-network-access", maxActionsPerHour: 20 };

  it("every reason has its own title and line; an old `rate-limit` reads as the action limit", () => {
    const titles = (["policy-mode", "action-limit", "replan", "flapping"] as const).map(reasonTitle);
    expect(new Set(titles).size).toBe(4);
    expect(reasonTitle("rate-limit")).toBe(reasonTitle("action-limit"));
    expect(reasonLine("action-limit", facts)).toBe(
      "action limit of 20 actions/hour reached for policy storage-private; waiting for approval",
    );
    expect(reasonLine("replan", { ...facts, earlierApprovalId: "apr-1" })).toContain("approval apr-1");
    expect(
      reasonLine("flapping", {
        ...facts,
        flapping: { fixes: [], undoneBy: ["p-aaaaaaaaaaaaaaaaaaaaaaaa"], windowHours: 24 },
      }),
    ).toContain("by p-aaaaaaaaaaaaaaaaaaaaaaaa");
    // Stored before reasons had their own line: the title stands in.
    expect(reasonText({ reason: "rate-limit" })).toBe(reasonTitle("action-limit"));
  });

  it("the cards show the approval's own reason line and the other kinds' outcomes", () => {
    const a = approval({
      reason: "flapping",
      reasonDetail: "flapping: disable-public-network-access fixed this resource 3 times …",
      context: [
        {
          policy: "no-keys",
          kind: "disable-local-auth",
          outcome: "remediated",
          detail: "Disable local auth",
        },
      ],
    });
    for (const card of [
      approvalCard(a, { link: "https://x.example/a" }),
      botApprovalCard(a, { state: "pending" }),
    ]) {
      const text = JSON.stringify(card);
      expect(text).toContain("flapping: disable-public-network-access fixed this resource 3 times");
      expect(text).toContain("disable-local-auth (no-keys): remediated — Disable local auth");
      expect(text).not.toContain("policy requires approval");
    }
    const old = JSON.stringify(approvalCard(approval({ reason: "rate-limit" }), {}));
    expect(old).toContain(reasonTitle("action-limit"));
  });
});
