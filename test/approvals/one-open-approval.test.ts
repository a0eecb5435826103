/**
 * One open approval per resource and kind: a storage account whose `disable-local-auth` fix waits
 * for a person (policy mode `approval`) over the simulator. Every further signal for the same plan
 * — another write event, a sweep, a redelivery under a new cause — records its own
 * `pending-approval` naming the approval already open, and posts no card. A changed plan opens a
 * new approval and closes the older one so it can never act. A decided approval no longer counts.
 */
import { describe, expect, it } from "vitest";
import { botApprovalCard, botCardStateOf } from "../../shared/approvals/card.js";
import { pseudonymize } from "../../shared/redact.js";
import { adaptiveCardProblems } from "../helpers/adaptive-card-schema.js";
import { ManualClock, TEST_PSEUDONYM_KEY } from "../helpers/harness.js";
import {
  driftedStorage,
  KINDS,
  seedOf,
  shippedPolicies,
  storageIds,
  writeEvent,
} from "../kinds/storage-kinds-setup.js";
import {
  ACCOUNT,
  ACCOUNT_TYPE,
  APPROVER,
  approvalHarnesses,
  DAY_MS,
  drift,
  FlakyCommits,
  KIND,
  localAuthWrites,
  SUB,
  sweep,
  trail,
  write,
} from "./local-auth-approval-setup.js";

const harnesses = approvalHarnesses();
const start = harnesses.start;

describe("one open approval per resource and kind", () => {
  it("the same plan from another write event, a sweep and a redelivery under a new cause: one approval, one card, one pending-approval record per cause naming it", async () => {
    const harness = await start();
    const first = await harness.handle(write());
    expect(first.map((d) => d.outcome)).toEqual(["pending-approval"]);
    const approvalId = first[0]!.record!.approvalId!;
    expect(approvalId).toBeTruthy();

    const second = await harness.handle(write());
    const swept = await sweep(harness);
    // Event Grid redelivers the same drift under a new event ID (a new cause).
    const third = await harness.handle(write());
    expect(second.map((d) => d.outcome)).toEqual(["pending-approval"]);
    expect(third.map((d) => d.outcome)).toEqual(["pending-approval"]);
    expect(swept.outcome).toBe("pending-approval");
    // Naming an open approval again changes nothing: a sweep does not count it against its limit.
    // Mutation: drop `reused: true` in shared/approvals/lifecycle.ts → isChange true, this fails.
    expect(swept.isChange).toBe(false);
    expect(first[0]!.reusedApproval).toBeUndefined();
    expect(second[0]!.reusedApproval).toBe(true);
    expect(second[0]!.reason).toMatch(new RegExp(`approval ${approvalId} already waits for this change`));

    // One card, one approval.
    expect(harnesses.cards.posted.map((a) => a.id)).toEqual([approvalId]);
    expect(await harness.approvals.countPending()).toBe(1);
    expect(
      (await harness.approvals.listPendingFor(ACCOUNT, KIND, harness.clock.now())).map((a) => a.id),
    ).toEqual([approvalId]);
    // Each cause has its one record, all naming the same approval; the sweep's carries its source.
    const records = await trail(harness);
    expect(records.map((r) => [r.outcome, r.approvalId, r.signal.source])).toEqual([
      ["pending-approval", approvalId, "eventgrid"],
      ["pending-approval", approvalId, "eventgrid"],
      ["pending-approval", approvalId, "sweep"],
      ["pending-approval", approvalId, "eventgrid"],
    ]);
    expect(new Set(records.map((r) => r.signal.id)).size).toBe(4);

    // Approving the one approval fixes the resource once.
    const approved = await harness.approvalLifecycle.decide(approvalId, "approved", {
      principal: APPROVER,
      via: "approval-page",
    });
    expect(approved.decisions.map((d) => d.outcome)).toEqual(["approved", "remediated"]);
    expect(localAuthWrites(harness)).toHaveLength(1);
    expect(harness.sim.getResource(ACCOUNT)!.properties).toMatchObject({ allowSharedKeyAccess: false });
    expect((await harness.audit.verify()).breaks).toEqual([]);
  });

  it("everyone whose write drifted the resource again is barred from approving the one approval; another approver's decision fixes it once", async () => {
    const harness = await start();
    const [first] = await harness.handle(write());
    const id = first!.record!.approvalId!;
    const alice = first!.record!.signal.caller!.id!;
    // Bob writes the same drift again (the same plan): his cause names the open approval.
    const BOB = "0b0b0b0b-1111-4222-8333-444455556666";
    const bob = pseudonymize(BOB, TEST_PSEUDONYM_KEY);
    const again = { ...write(), caller: { objectId: BOB } };
    const [second] = await harness.handle(again);
    expect(second!.record!.approvalId).toBe(id);
    // Named again by Bob once more and by a sweep (no person): he is kept once, nobody else added.
    await harness.handle({ ...write(), caller: { objectId: BOB } });
    await sweep(harness);
    const stored = (await harness.approvals.get(id))!;
    expect(stored.causedBy).toBe(alice);
    expect(stored.alsoCausedBy).toEqual([bob]);

    // Neither may decide its fix; their cards say why. Nothing is written to the resource.
    // Mutation: drop the annotate in ApprovalLifecycle.request's reuse branch → Bob's approval acts.
    for (const objectId of [BOB, "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d"]) {
      const refused = await harness.approvalLifecycle.decide(id, "approved", {
        principal: { objectId },
        via: "teams",
      });
      expect(refused.refused, objectId).toBe("self-approval");
      expect(refused.decisions.map((d) => d.outcome)).toEqual(["pending-approval"]);
    }
    expect(botCardStateOf(stored, { id: bob, approver: true })).toEqual({
      state: "refused",
      reason: "self-approval",
    });
    expect(localAuthWrites(harness)).toEqual([]);

    const approved = await harness.approvalLifecycle.decide(id, "approved", {
      principal: APPROVER,
      via: "approval-page",
    });
    expect(approved.decisions.map((d) => d.outcome)).toEqual(["approved", "remediated"]);
    expect(localAuthWrites(harness)).toHaveLength(1);
  });

  it("a changed plan opens a new approval and closes the older one: approving the old one is refused and writes nothing, the new one acts", async () => {
    const harness = await start();
    const [first] = await harness.handle(write());
    const oldId = first!.record!.approvalId!;

    // The drift changes: the key setting is removed (ARM's default, keys allowed) — a different `from`.
    drift(harness, {});
    const [second] = await harness.handle(write());
    expect(second!.outcome).toBe("pending-approval");
    const newId = second!.record!.approvalId!;
    expect(newId).not.toBe(oldId);
    expect(harnesses.cards.posted.map((a) => a.id)).toEqual([oldId, newId]);

    // The older approval is closed (expired, superseded) and its card updated; only the new one is open.
    const old = await harness.approvals.get(oldId);
    expect(old).toMatchObject({ state: "expired", supersededBy: newId });
    expect(harnesses.cards.changed).toEqual([{ id: oldId, state: "expired", change: "expired" }]);
    expect(
      (await harness.approvals.listPendingFor(ACCOUNT, KIND, harness.clock.now())).map((a) => a.id),
    ).toEqual([newId]);
    const records = await trail(harness);
    // Closed in the same gate session, just before the new request's record.
    expect(records.map((r) => [r.outcome, r.approvalId])).toEqual([
      ["pending-approval", oldId],
      ["expired", oldId],
      ["pending-approval", newId],
    ]);
    expect(records[1]!.reason).toBe(
      `superseded by approval ${newId}: the resource changed and the new plan needs its own decision`,
    );
    expect(records[1]!.changes).toEqual(first!.changes);
    expect(records[1]!.signal.id).toBe(records[0]!.signal.id);

    // Approving the old card fails clearly and changes nothing.
    const late = await harness.approvalLifecycle.decide(oldId, "approved", {
      principal: APPROVER,
      via: "teams",
    });
    expect(late.decisions).toEqual([]);
    expect(late.error).toBe(`approval already expired: superseded by approval ${newId}`);
    expect(localAuthWrites(harness)).toEqual([]);
    expect((await trail(harness)).length).toBe(3);

    // The new approval acts on the current plan.
    const approved = await harness.approvalLifecycle.decide(newId, "approved", {
      principal: APPROVER,
      via: "approval-page",
    });
    expect(approved.decisions.map((d) => d.outcome)).toEqual(["approved", "remediated"]);
    expect(localAuthWrites(harness).map((w) => w.body)).toEqual([
      { properties: { allowSharedKeyAccess: false } },
    ]);
    expect((await harness.audit.verify()).breaks).toEqual([]);
  });

  it("after a decision — rejected, approved, expired — a new drift opens a new approval as before", async () => {
    const clock = new ManualClock(new Date("2025-07-01T08:00:00.000Z"));
    const harness = await start(clock);

    // Rejected: the next drift asks again.
    const [a] = await harness.handle(write());
    await harness.approvalLifecycle.decide(a!.record!.approvalId!, "rejected", {
      principal: APPROVER,
      via: "approval-page",
    });
    const [b] = await harness.handle(write());
    expect(b!.outcome).toBe("pending-approval");
    expect(b!.record!.approvalId).not.toBe(a!.record!.approvalId);

    // Approved and fixed; someone turns keys on again: a new approval.
    await harness.approvalLifecycle.decide(b!.record!.approvalId!, "approved", {
      principal: APPROVER,
      via: "approval-page",
    });
    expect(harness.sim.getResource(ACCOUNT)!.properties).toMatchObject({ allowSharedKeyAccess: false });
    drift(harness, { allowSharedKeyAccess: true });
    const [c] = await harness.handle(write());
    const cId = c!.record!.approvalId!;
    expect(new Set([a, b, c].map((d) => d!.record!.approvalId)).size).toBe(3);

    // Past its deadline an approval is not reused, even before the timer expires it.
    clock.advance(DAY_MS + 1);
    const [d] = await harness.handle(write());
    const dId = d!.record!.approvalId!;
    expect(dId).not.toBe(cId);
    expect(await harness.approvalLifecycle.expireDue()).toEqual([
      expect.objectContaining({ outcome: "expired", reason: expect.stringMatching(/^no decision before /) }),
    ]);
    expect((await harness.approvals.get(cId))?.supersededBy).toBeUndefined();
    // D expires by the timer too: the next drift asks again.
    clock.advance(DAY_MS + 1);
    await harness.approvalLifecycle.expireDue();
    const [e] = await harness.handle(write());
    expect(e!.record!.approvalId).not.toBe(dId);

    expect(harnesses.cards.posted.map((x) => x.id)).toEqual(
      [a, b, c, d, e].map((x) => x!.record!.approvalId),
    );
    expect(await harness.approvals.countPending()).toBe(1);
    expect((await harness.audit.verify()).breaks).toEqual([]);
  });

  it("an approval whose request was never recorded is not named again: the redelivery opens a new one, closes it, and posts the card", async () => {
    const flaky = new FlakyCommits();
    const harness = await start(undefined, flaky);
    const signal = write();
    flaky.failNext = true;
    await expect(harness.handle(signal)).rejects.toThrow(/store unavailable/);
    // The approval exists, but no record names it and nobody was shown a card.
    const [orphan] = await harness.approvals.listPendingFor(ACCOUNT, KIND, harness.clock.now());
    expect(orphan).toBeDefined();
    expect(await trail(harness)).toEqual([]);
    expect(harnesses.cards.posted).toEqual([]);

    const [redelivered] = await harness.handle(signal);
    expect(redelivered!.outcome).toBe("pending-approval");
    const newId = redelivered!.record!.approvalId!;
    expect(newId).not.toBe(orphan!.id);
    expect(harnesses.cards.posted.map((a) => a.id)).toEqual([newId]);
    expect(await harness.approvals.get(orphan!.id)).toMatchObject({ state: "expired", supersededBy: newId });
    expect((await trail(harness)).map((r) => [r.outcome, r.approvalId, r.reason])).toEqual([
      ["expired", orphan!.id, `superseded by approval ${newId}, which asks for the same change`],
      ["pending-approval", newId, "policy no-local-auth requires approval"],
    ]);
    // From now on the recorded one is named again.
    const [later] = await harness.handle(write());
    expect(later!.record!.approvalId).toBe(newId);
    expect(harnesses.cards.posted).toHaveLength(1);
  });

  it("duplicates left open from before converge: the newest is named again, the others are closed", async () => {
    const harness = await start();
    const [first] = await harness.handle(write());
    const current = (await harness.approvals.get(first!.record!.approvalId!))!;
    // Two approvals for the same change stored before one open approval per resource and kind
    // (no request cause), one of them under another casing of the resource ID.
    const older = (minutes: number) => ({
      ...current,
      id: crypto.randomUUID(),
      createdAt: new Date(Date.parse(current.createdAt) - minutes * 60_000).toISOString(),
      target: { ...current.target, resourceId: minutes > 5 ? ACCOUNT.toUpperCase() : ACCOUNT },
      requestCause: undefined,
      etag: undefined,
    });
    const [a, b] = [older(5), older(10)];
    for (const x of [a, b]) await harness.approvals.create(JSON.parse(JSON.stringify(x)));
    expect(await harness.approvals.listPendingFor(ACCOUNT, KIND, harness.clock.now())).toHaveLength(3);

    const [next] = await harness.handle(write());
    expect(next!.record!.approvalId).toBe(current.id);
    expect(
      (await harness.approvals.listPendingFor(ACCOUNT, KIND, harness.clock.now())).map((x) => x.id),
    ).toEqual([current.id]);
    for (const x of [a, b])
      expect(await harness.approvals.get(x.id)).toMatchObject({ state: "expired", supersededBy: current.id });
    expect(harnesses.cards.posted.map((x) => x.id)).toEqual([current.id]);
    expect(harnesses.cards.changed.map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
  });

  it("a superseded approval's card and its decision say what replaced it; nothing can be decided on it", async () => {
    const harness = await start();
    const [first] = await harness.handle(write());
    drift(harness, {});
    const [second] = await harness.handle(write());
    const old = (await harness.approvals.get(first!.record!.approvalId!))!;
    const newId = second!.record!.approvalId!;

    const card = botApprovalCard(old, botCardStateOf(old));
    expect(adaptiveCardProblems(card)).toEqual([]);
    expect(JSON.stringify(card.body)).toContain(
      `Closed at ${old.decidedAt}: superseded by approval ${newId}, a newer request for this resource and kind. Nothing was changed.`,
    );
    expect(card.actions).toBeUndefined();
    for (const decision of ["approved", "rejected"] as const) {
      const r = await harness.approvalLifecycle.decide(old.id, decision, {
        principal: APPROVER,
        via: "teams",
      });
      expect(r).toMatchObject({
        decisions: [],
        error: `approval already expired: superseded by approval ${newId}`,
      });
    }
    expect(localAuthWrites(harness)).toEqual([]);
    expect((await harness.approvals.get(old.id))?.state).toBe("expired");
  });

  it("the shipped policies, several kinds in one session: the approval kind supersedes between the other kinds' records, each cause keeps one record, the chain holds", async () => {
    const acct = storageIds(SUB).account("stdedupemix");
    const harness = await harnesses.startWith({
      seed: seedOf(driftedStorage(acct)),
      policies: shippedPolicies(),
    });
    const event = () => writeEvent(acct, ACCOUNT_TYPE, SUB);
    const first = await harness.handle(event());
    expect(first.map((d) => d.outcome)).toEqual([
      "remediated",
      "pending-approval",
      "remediated",
      "remediated",
      "remediated",
    ]);
    const oldId = first[1]!.record!.approvalId!;

    // Same plan again: every kind compliant but local auth, which names the open approval.
    const again = await harness.handle(event());
    expect(again.map((d) => [d.outcome, d.record?.approvalId])).toEqual([
      ["compliant", undefined],
      ["pending-approval", oldId],
      ["compliant", undefined],
      ["compliant", undefined],
      ["compliant", undefined],
    ]);

    // Someone opens the account again and drops the key setting: a fix for the first kind, a new
    // plan (and approval) for local auth, which closes the old one in the middle of the session.
    const current = harness.sim.getResource(acct)!;
    const { allowSharedKeyAccess: _keys, ...props } = current.properties as Record<string, unknown>;
    harness.sim.putResource({ ...current, properties: { ...props, publicNetworkAccess: "Enabled" } });
    const s = event();
    const third = await harness.handle(s);
    expect(third.map((d) => d.outcome)).toEqual([
      "remediated",
      "pending-approval",
      "compliant",
      "compliant",
      "compliant",
    ]);
    const newId = third[1]!.record!.approvalId!;
    expect(newId).not.toBe(oldId);
    expect(harnesses.cards.posted.map((a) => a.id)).toEqual([oldId, newId]);
    expect((await harness.approvals.get(oldId))?.supersededBy).toBe(newId);

    // The session's records, in chain order: the old approval's `expired` (it carries that
    // approval's own signal, as every record of an approval step does) before the new request.
    const before = first.length + again.length;
    const records = (await harness.records()).filter((r) => r.resourceId === acct).slice(before);
    expect(records.map((r) => [r.signal.id === s.id, r.kind, r.outcome])).toEqual([
      [true, KINDS.publicAccess, "remediated"],
      [false, KINDS.localAuth, "expired"],
      [true, KINDS.localAuth, "pending-approval"],
      [true, KINDS.transport, "compliant"],
      [true, KINDS.logs, "compliant"],
      [true, KINDS.models, "compliant"],
    ]);
    expect(records.map((r) => [r.kind, r.outcome, r.approvalId ?? null])).toEqual([
      [KINDS.publicAccess, "remediated", null],
      [KINDS.localAuth, "expired", oldId],
      [KINDS.localAuth, "pending-approval", newId],
      [KINDS.transport, "compliant", null],
      [KINDS.logs, "compliant", null],
      [KINDS.models, "compliant", null],
    ]);
    // A duplicate delivery of that event: nothing more.
    expect((await harness.handle(s)).map((d) => d.outcome)).toEqual(Array(5).fill("duplicate"));
    expect((await harness.records()).filter((r) => r.resourceId === acct)).toHaveLength(before + 6);
    expect((await harness.audit.verify()).breaks).toEqual([]);
  });
});
