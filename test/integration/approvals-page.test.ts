/**
 * Approvals through the approval page, over the local stack and the Teams stand-in's Workflows
 * webhook: the card posted to the webhook carries the signed one-time link, and a signed-in approver
 * (the `x-ms-client-principal` header App Service Authentication sets) decides on the page. The page
 * shows the outcome of the approved change and says why when nothing changed.
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signApprovalToken } from "../../shared/approvals/tokens.js";
import { adaptiveCardProblems } from "../helpers/adaptive-card-schema.js";
import { saveFigures } from "../reliability/figures.js";
import {
  APPROVER_OID,
  type ApprovalsStack,
  CALLER_OID,
  SECOND_APPROVER_OID,
  STRANGER_OID,
  startApprovalsStack,
  storageId,
  TTL_MINUTES,
} from "./approvals-setup.js";

const NAMES = [
  "stpageok",
  "stpageno",
  "stpageexp",
  "stpagetok",
  "stpageout",
  "stpageself",
  "stpagerace",
  "stpagedrift",
  "stpageflaky",
];
const [OK, NO, EXP, TOKENS, OUTSIDER, SELF, RACE, DRIFT, FLAKY] = NAMES.map(storageId) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];

let t: ApprovalsStack;

beforeAll(async () => {
  t = await startApprovalsStack("page", NAMES);
});
afterAll(async () => {
  await t?.close();
});

function principal(oid: string): string {
  return Buffer.from(
    JSON.stringify({
      auth_typ: "aad",
      claims: [{ typ: "http://schemas.microsoft.com/identity/claims/objectidentifier", val: oid }],
    }),
  ).toString("base64");
}

/** The link on the card the Workflows webhook received for this approval. */
function linkOf(approvalId: string): string {
  const post = t.teams
    .workflowPosts()
    .find((p) => JSON.stringify(p.card.actions).includes(`/api/approvals/${approvalId}?token=`));
  expect(post, "a Workflows card for the approval").toBeDefined();
  expect(adaptiveCardProblems(post!.card)).toEqual([]);
  return (post!.card.actions as { type: string; url: string }[])[0]!.url;
}

const tokenOf = (link: string) => new URL(link).searchParams.get("token")!;

async function decide(link: string, decision: string, oid: string | null, token = tokenOf(link)) {
  const url = new URL(link);
  url.search = "";
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(oid ? { "x-ms-client-principal": principal(oid) } : {}),
    },
    body: new URLSearchParams({ token, decision }).toString(),
  });
  return { status: res.status, html: await res.text() };
}

async function view(link: string, oid = APPROVER_OID) {
  const res = await fetch(link, { headers: { "x-ms-client-principal": principal(oid) } });
  return { status: res.status, html: await res.text() };
}

describe("the approval page (Teams Workflows card)", () => {
  it("approve → the resource changes once and the page shows the outcome; a second click and a replayed token change nothing and say why", async () => {
    const approval = await t.requestApproval(OK);
    const link = linkOf(approval.id);
    const page = await view(link);
    expect(page.status).toBe(200);
    expect(page.html).toContain("properties.publicNetworkAccess");
    expect(page.html).toContain('value="approve"');

    const approved = await decide(link, "approve", APPROVER_OID);
    expect(approved.status).toBe(200);
    expect(approved.html).toContain("Request approved");
    expect(approved.html).toContain("<strong>Change</strong> remediated");
    expect(t.writes(OK)).toHaveLength(1);
    expect(t.stack.sim.getResource(OK)!.properties!.publicNetworkAccess).toBe("Disabled");
    const trail = await t.records(OK);
    expect(trail.map((r) => r.outcome)).toEqual(["remediated", "approved", "pending-approval"]);
    expect(trail[1]!.approver).toMatchObject({ via: "approval-page" });

    // Later, the page shows who approved and what became of the change.
    const later = await view(link, SECOND_APPROVER_OID);
    expect(later.html).toContain("This request is already <strong>approved</strong>");
    expect(later.html).toMatch(
      /<strong>Approved<\/strong> .* by approver <code>p-[0-9a-f]+<\/code> on this page/,
    );
    expect(later.html).toContain("<strong>Change</strong> remediated");

    const second = await decide(link, "approve", SECOND_APPROVER_OID);
    expect(second.status).toBe(409);
    expect(second.html).toContain("Your decision changed nothing: approval already approved");
    const replayed = await decide(link, "reject", APPROVER_OID);
    expect(replayed.status).toBe(409);
    expect(replayed.html).toContain("changed nothing: approval already approved");
    expect(t.writes(OK)).toHaveLength(1);
    expect(await t.records(OK)).toHaveLength(3);
  });

  it("reject → nothing changes; the page says so", async () => {
    const approval = await t.requestApproval(NO);
    const res = await decide(linkOf(approval.id), "reject", APPROVER_OID);
    expect(res.status).toBe(200);
    expect(res.html).toContain("Request rejected");
    expect(res.html).toMatch(/<strong>Rejected<\/strong> .*: nothing was changed/);
    expect(t.writes(NO)).toHaveLength(0);
    expect((await t.records(NO)).map((r) => r.outcome)).toEqual(["rejected", "pending-approval"]);
  });

  it("after expiry the link no longer decides: nothing changes and the page says why", async () => {
    const approval = await t.requestApproval(EXP);
    const link = linkOf(approval.id);
    t.clock.advance((TTL_MINUTES + 1) * 60_000);
    const late = await decide(link, "approve", APPROVER_OID);
    expect(late.status).toBe(403);
    expect(late.html).toContain("This approval link is invalid or has expired.");
    await t.stack.host.runTimer("expireApprovals");
    expect((await t.records(EXP)).map((r) => r.outcome)).toEqual(["expired", "pending-approval"]);
    // Even a link still valid by its own clock cannot decide an expired request.
    const token = await signApprovalToken(
      approval.id,
      "integration-approval-signing-key-0123456789",
      new Date(t.clock.now().getTime() + 3600_000),
    );
    const stillSigned = await decide(link, "approve", APPROVER_OID, token);
    expect(stillSigned.status).toBe(409);
    expect(stillSigned.html).toContain("Your decision changed nothing: approval already expired");
    expect(stillSigned.html).toContain("without a decision: nothing was changed");
    expect(t.writes(EXP)).toHaveLength(0);
  });

  it("refuses a link that is forged, for another approval, unsigned or missing (403), and nothing changes", async () => {
    const approval = await t.requestApproval(TOKENS);
    const other = await t.requestApproval(RACE);
    const link = linkOf(approval.id);
    const expires = new Date(t.clock.now().getTime() + 3600_000);
    const forged = await signApprovalToken(approval.id, "some-other-signing-key-0123456789abcdef", expires);
    const forAnother = tokenOf(linkOf(other.id));
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: approval.id, aud: "driftguard-approval", iss: "driftguard" }),
    ).toString("base64url")}.`;
    const [h, , s] = tokenOf(link).split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: approval.id, exp: 9_999_999_999 })).toString("base64url")}.${s}`;
    const wrongAlg = await new SignJWT({})
      .setProtectedHeader({ alg: "HS512" })
      .setSubject(approval.id)
      .setAudience("driftguard-approval")
      .setIssuer("driftguard")
      .setExpirationTime(Math.floor(expires.getTime() / 1000))
      .sign(new TextEncoder().encode("integration-approval-signing-key-0123456789"));
    for (const token of [forged, forAnother, unsigned, tampered, wrongAlg, ""]) {
      const res = await decide(link, "approve", APPROVER_OID, token);
      expect(res.status, token.slice(0, 20)).toBe(403);
    }
    expect((await t.approval(approval.id))!.state).toBe("pending");
    expect(t.writes(TOKENS)).toHaveLength(0);
    expect((await t.records(TOKENS)).map((r) => r.outcome)).toEqual(["pending-approval"]);
  });

  it("someone who is not an approver, or not signed in, is refused and nothing changes", async () => {
    const approval = await t.requestApproval(OUTSIDER);
    const link = linkOf(approval.id);
    const stranger = await decide(link, "approve", STRANGER_OID);
    expect(stranger.status).toBe(403);
    expect(stranger.html).toContain("you are not an authorised approver");
    const anonymous = await decide(link, "approve", null);
    expect(anonymous.status).toBe(403);
    expect(anonymous.html).toContain("sign in first");
    expect((await t.approval(approval.id))!.state).toBe("pending");
    expect(t.writes(OUTSIDER)).toHaveLength(0);
  });

  it("the person whose change drifted cannot approve its fix: refused, recorded, shown on the page", async () => {
    const approval = await t.requestApproval(SELF);
    const link = linkOf(approval.id);
    const self = await decide(link, "approve", CALLER_OID);
    expect(self.status).toBe(403);
    expect(self.html).toContain("self-approval refused");
    expect((await t.records(SELF)).map((r) => r.outcome)).toEqual(["pending-approval", "pending-approval"]);
    expect(t.writes(SELF)).toHaveLength(0);
    const page = await view(link);
    expect(page.html).toContain("Refused decisions");
    expect(page.html).toContain("self-approval refused");
    expect((await decide(link, "approve", APPROVER_OID)).status).toBe(200);
    expect(t.writes(SELF)).toHaveLength(1);
  });

  it("20 concurrent approves of one approval → exactly one decision record and one ARM write", async () => {
    const [record] = await t.records(RACE);
    const link = linkOf(record!.approvalId!);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        decide(link, "approve", i % 2 === 0 ? APPROVER_OID : SECOND_APPROVER_OID),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(19);
    const trail = await t.records(RACE);
    expect(trail.filter((r) => r.outcome === "approved")).toHaveLength(1);
    expect(trail.filter((r) => r.outcome === "remediated")).toHaveLength(1);
    expect(t.writes(RACE)).toHaveLength(1);
  });

  it("a resource that drifted between request and approval is not changed: the page names the new approval", async () => {
    const approval = await t.requestApproval(DRIFT);
    const resource = t.stack.sim.getResource(DRIFT)!;
    t.stack.sim.putResource({
      ...resource,
      properties: { ...resource.properties, allowBlobPublicAccess: false },
    });
    const res = await decide(linkOf(approval.id), "approve", APPROVER_OID);
    expect(res.status).toBe(200);
    expect(res.html).toContain("not applied: the resource changed since the request");
    expect(t.writes(DRIFT)).toHaveLength(0);
    const trail = await t.records(DRIFT);
    expect(trail.map((r) => r.outcome)).toEqual(["pending-approval", "approved", "pending-approval"]);
    const next = trail[0]!.approvalId!;
    expect(res.html).toContain(`New approval ${next}`);
    // The new approval got its own card with its own link.
    expect((await decide(linkOf(next), "approve", SECOND_APPROVER_OID)).status).toBe(200);
    expect(t.writes(DRIFT)).toHaveLength(1);
  });

  it("approved means done: approved during a 503 window, applied once after ARM recovers, without a second click", async () => {
    const approval = await t.requestApproval(FLAKY);
    const link = linkOf(approval.id);
    t.stack.sim.addFault({ method: "PATCH", path: "stpageflaky", status: 503, count: -1 });

    const first = await decide(link, "approve", APPROVER_OID);
    expect(first.status).toBe(200);
    expect(first.html).toContain("approved and due");
    expect(t.writes(FLAKY)).toHaveLength(0);
    expect(await t.approval(approval.id)).toMatchObject({
      state: "approved",
      run: { state: "due", attempts: 1 },
    });

    // Still failing: the timer tries again when due and records nothing more.
    t.clock.advance(31_000);
    await t.stack.host.runTimer("resumeWork");
    expect((await t.approval(approval.id))?.run).toMatchObject({ state: "due", attempts: 2 });
    expect((await t.records(FLAKY)).map((r) => r.outcome)).toEqual([
      "failed",
      "approved",
      "pending-approval",
    ]);

    // ARM recovers: the timer's next pass applies it once (the failed attempt left its intent).
    t.stack.sim.clearFaults();
    await t.stack.host.runTimer("resumeWork");
    expect(t.writes(FLAKY)).toHaveLength(1);
    expect((await t.approval(approval.id))?.run).toMatchObject({ state: "done", outcome: "remediated" });
    const trail = await t.records(FLAKY);
    expect(trail.map((r) => r.outcome)).toEqual(["remediated", "failed", "approved", "pending-approval"]);
    expect(trail[0]).toMatchObject({ approvalId: approval.id, actor: "driftguard:approval" });
    expect((await view(link)).html).toContain("remediated");

    // Later timers and a second click (within the link's validity) change nothing.
    t.clock.advance(10 * 60_000);
    await t.stack.host.runTimer("resumeWork");
    const again = await decide(link, "approve", APPROVER_OID);
    expect(again.status).toBe(409);
    expect(t.writes(FLAKY)).toHaveLength(1);
    expect(await t.records(FLAKY)).toHaveLength(4);
    await saveFigures("approval-during-503", {
      clicks: 1,
      writesRefusedWith503: t.stack.sim
        .requests({ method: "PATCH", pathIncludes: "stpageflaky" })
        .filter((r) => r.faulted).length,
      armWrites: t.writes(FLAKY).length,
      records: (await t.records(FLAKY)).map((r) => r.outcome).reverse(),
      secondClickStatus: again.status,
    });
  });
});
