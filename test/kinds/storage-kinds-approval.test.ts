/**
 * One kind of a resource needs a person, the others do not: the shipped policies (disable-local-auth
 * in approval mode) over the simulator, with approval cards posted to the Teams stand-in's Workflows
 * webhook by the real notifier. The other storage kinds fix at once; the card shows what they did for
 * the same signal; approving fixes the rest with one more write. Each approval reason — the policy's
 * mode, the action limit, flapping, a re-plan — reaches Teams with its own text.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTeamsSimulator, type TeamsSimulator, type WorkflowPost } from "../../dev/teams-sim/index.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { WorkflowWebhookNotifier } from "../../shared/approvals/notifier.js";
import { adaptiveCardProblems } from "../helpers/adaptive-card-schema.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import {
  driftedStorage,
  KINDS,
  kindOfWrite,
  seedOf,
  shippedPolicies,
  storageIds,
  writeEvent,
} from "./storage-kinds-setup.js";

const SUB = "00000000-0000-0000-0000-0000000000f2";
const id = storageIds(SUB);
const ACCOUNT = "Microsoft.Storage/storageAccounts";
const APPROVER = { objectId: "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b" };
const POLICY_OF: Record<string, string> = {
  [KINDS.publicAccess]: "ai-services-private",
  [KINDS.localAuth]: "no-local-auth",
  [KINDS.transport]: "secure-transport",
  [KINDS.logs]: "audit-logs-on",
  [KINDS.models]: "model-storage-recoverable",
};

let teams: TeamsSimulator;
let notifier: WorkflowWebhookNotifier;
let h: Harness | undefined;

beforeAll(async () => {
  const tls = await loadOrCreateLocalTls();
  teams = await startTeamsSimulator({ tls, botAppId: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d" });
  notifier = new WorkflowWebhookNotifier(
    teams.workflowUrl,
    "https://driftguard.example",
    "storage-kinds-approval-signing-key-0123456789",
    tls.cert,
  );
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(async () => {
  await teams?.close();
});

interface Fact {
  title: string;
  value: string;
}

/** What a person sees on a posted card: its facts, and every text line. */
function view(post: WorkflowPost) {
  const body = post.card.body as Record<string, unknown>[];
  const facts = (body.find((b) => b.type === "FactSet")!.facts as Fact[]).reduce<Record<string, string>>(
    (o, f) => Object.assign(o, { [f.title]: f.value }),
    {},
  );
  const texts: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === "object") {
      const o = n as Record<string, unknown>;
      if (o.type === "TextBlock" && typeof o.text === "string") texts.push(o.text);
      for (const v of Object.values(o)) walk(v);
    }
  };
  walk(body);
  return { facts, texts, link: (post.card.actions as { url: string }[])[0]!.url };
}

/** The cards the stand-in received for this resource, oldest first. */
const postsFor = (resourceId: string) =>
  teams.workflowPosts().filter((p) => view(p).facts.Resource?.toLowerCase() === resourceId.toLowerCase());

describe("one kind needs approval, the other kinds of the same resource do not wait", () => {
  it("the shipped policies: four kinds fix at once, disable-local-auth asks; the card in Teams shows the other kinds' outcomes; approving writes only its own field", async () => {
    const acct = id.account("stapprovalmix");
    h = await startHarness({
      seed: seedOf(driftedStorage(acct)),
      policies: shippedPolicies(),
      lro: "async",
      notifier,
    });
    const decisions = await h.handle(writeEvent(acct, ACCOUNT, SUB));
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.publicAccess, "remediated"],
      [KINDS.localAuth, "pending-approval"],
      [KINDS.transport, "remediated"],
      [KINDS.logs, "remediated"],
      [KINDS.models, "remediated"],
    ]);
    // The four fixes are made now; shared keys stay on until a person approves.
    expect(h.sim.writes().map(kindOfWrite).sort()).toEqual(
      [KINDS.publicAccess, KINDS.transport, KINDS.logs, KINDS.models].sort(),
    );
    expect(h.sim.getResource(acct)!.properties).toMatchObject({
      publicNetworkAccess: "Disabled",
      allowSharedKeyAccess: true,
      minimumTlsVersion: "TLS1_2",
    });

    const posts = postsFor(acct);
    expect(posts).toHaveLength(1);
    expect(adaptiveCardProblems(posts[0]!.card)).toEqual([]);
    const card = view(posts[0]!);
    expect(card.facts).toMatchObject({
      Policy: "no-local-auth",
      Kind: KINDS.localAuth,
      Resource: acct,
      "Why approval": "policy no-local-auth requires approval",
    });
    // The summary says what breaks; the change is listed.
    expect(card.texts).toContain("properties.allowSharedKeyAccess: true → false");
    expect(card.texts.find((t) => t.startsWith("Disable key authentication"))).toMatch(
      /account key, a connection string with a key, or a SAS signed with a key get 403/,
    );
    // What the other kinds did for the same signal, in policy order, each with its own change.
    const others = card.texts.slice(card.texts.indexOf("Same change, other kinds:") + 1);
    expect(others.map((t) => t.split(":")[0])).toEqual(
      [KINDS.publicAccess, KINDS.transport, KINDS.logs, KINDS.models].map((k) => `${k} (${POLICY_OF[k]})`),
    );
    for (const line of others) expect(line).toMatch(/^[a-z-]+ \([a-z-]+\): remediated — \S/);
    expect(others[1]).toMatch(/minimumTlsVersion → TLS1_2/);
    expect(others[3]).toMatch(/^protect-model-storage .*versioning/i);

    // Approving runs only that kind: one more write, its own field; its records follow.
    const approvalId = decisions[1]!.record!.approvalId!;
    const approved = await h.approvalLifecycle.decide(approvalId, "approved", {
      principal: APPROVER,
      via: "approval-page",
    });
    expect(approved.decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.localAuth, "approved"],
      [KINDS.localAuth, "remediated"],
    ]);
    const writes = h.sim.writes();
    expect(writes).toHaveLength(5);
    expect(kindOfWrite(writes[4]!)).toBe(KINDS.localAuth);
    expect(writes[4]!.body).toEqual({ properties: { allowSharedKeyAccess: false } });
    const records = (await h.records()).filter((r) => r.resourceId === acct);
    expect(records.map((r) => [r.kind, r.outcome])).toEqual([
      [KINDS.publicAccess, "remediated"],
      [KINDS.localAuth, "pending-approval"],
      [KINDS.transport, "remediated"],
      [KINDS.logs, "remediated"],
      [KINDS.models, "remediated"],
      [KINDS.localAuth, "approved"],
      [KINDS.localAuth, "remediated"],
    ]);
    expect((await h.audit.verify()).breaks).toEqual([]);
  });

  it("every approval reason reaches Teams in its own words: policy mode, action limit, flapping, re-plan", async () => {
    const [a, b] = [id.account("streasonsa"), id.account("streasonsb")];
    h = await startHarness({
      seed: seedOf(driftedStorage(a), driftedStorage(b)),
      // The shipped policies, with one secure-transport fix an hour.
      policies: shippedPolicies((p) => {
        if (p.kind === KINDS.transport) p.maxActionsPerHour = 1;
      }),
      lro: "async",
      notifier,
      // A fix undone once already asks a person.
      flapLimit: 1,
    });
    // Account A: its secure-transport fix uses the hour's one action; local auth asks (policy mode).
    const first = await h.handle(writeEvent(a, ACCOUNT, SUB));
    expect(first.map((d) => d.outcome)).toEqual([
      "remediated",
      "pending-approval",
      "remediated",
      "remediated",
      "remediated",
    ]);
    // Account B: local auth asks (policy mode) and secure transport asks too (action limit).
    const second = await h.handle(writeEvent(b, ACCOUNT, SUB));
    expect(second.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.publicAccess, "remediated"],
      [KINDS.localAuth, "pending-approval"],
      [KINDS.transport, "pending-approval"],
      [KINDS.logs, "remediated"],
      [KINDS.models, "remediated"],
    ]);
    // Someone turns versioning off on A again (an event about its blob service): the fix made on
    // the account's event was undone, so a person decides (flapping).
    const blobA = h.sim.getResource(id.blob("streasonsa"))!;
    h.sim.putResource({ ...blobA, properties: { ...blobA.properties, isVersioningEnabled: false } });
    const third = await h.handle(writeEvent(id.blob("streasonsa"), `${ACCOUNT}/blobServices`, SUB));
    expect(third.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.logs, "compliant"],
      [KINDS.models, "pending-approval"],
    ]);
    // A's shared-key setting is changed after the approval was asked: approving it re-plans.
    const acctA = h.sim.getResource(a)!;
    const { allowSharedKeyAccess: _dropped, ...props } = acctA.properties as Record<string, unknown>;
    h.sim.putResource({ ...acctA, properties: props });
    const replanned = await h.approvalLifecycle.decide(first[1]!.record!.approvalId!, "approved", {
      principal: APPROVER,
      via: "approval-page",
    });
    expect(replanned.decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.localAuth, "approved"],
      [KINDS.localAuth, "pending-approval"],
    ]);

    const cards = [...postsFor(a), ...postsFor(b)].map(view);
    const why = (kind: string, resource: string) =>
      cards
        .filter((c) => c.facts.Kind === kind && c.facts.Resource === resource)
        .map((c) => c.facts["Why approval"]);
    expect(why(KINDS.localAuth, b)).toEqual(["policy no-local-auth requires approval"]);
    expect(why(KINDS.transport, b)).toEqual([
      "action limit of 1 actions/hour reached for policy secure-transport; waiting for approval",
    ]);
    expect(why(KINDS.models, a)).toEqual([
      expect.stringMatching(
        /^flapping: protect-model-storage fixed this resource 1 times within 24 h and the fix was undone each time \(by p-\w+\); waiting for approval/,
      ),
    ]);
    expect(why(KINDS.localAuth, a)).toEqual([
      "policy no-local-auth requires approval",
      `the resource changed since approval ${first[1]!.record!.approvalId} was requested: the approved change no longer matches, so a new approval is requested`,
    ]);
    // Four reasons, four texts; none is the bare "requires approval" of another reason.
    const texts = new Set(cards.map((c) => c.facts["Why approval"]!));
    expect(texts.size).toBe(4);
    for (const p of [...postsFor(a), ...postsFor(b)]) expect(adaptiveCardProblems(p.card)).toEqual([]);
    // B's two cards each show the other's pending approval among the kinds of the same signal.
    const bLocal = cards.find((c) => c.facts.Kind === KINDS.localAuth && c.facts.Resource === b)!;
    const bTransport = cards.find((c) => c.facts.Kind === KINDS.transport && c.facts.Resource === b)!;
    expect(bLocal.texts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^require-secure-transport \(secure-transport\): pending-approval — /),
      ]),
    );
    expect(bTransport.texts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^disable-local-auth \(no-local-auth\): pending-approval — /),
      ]),
    );
    // Nothing was written for any of the asked-for changes.
    const writtenKinds = h.sim.writes().map(kindOfWrite);
    expect(writtenKinds.filter((k) => k === KINDS.localAuth)).toEqual([]);
    expect(writtenKinds.filter((k) => k === KINDS.transport)).toHaveLength(1);
    expect(writtenKinds.filter((k) => k === KINDS.models)).toHaveLength(2);
  });
});
