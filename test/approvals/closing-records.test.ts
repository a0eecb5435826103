/**
 * An approval that closes without acting (rejected, expired, superseded) is written in two steps:
 * the close, then its record. A host that fails between them (here: the store refuses the record's
 * commit) leaves the approval marked `recordDue`, and the `expireApprovals` timer writes the one
 * record it owes — the same record the request would have written, once, and the card follows.
 *
 * Mutation: drop the `recordDue` that closePendingTransition sets (shared/ports/approval-store.ts)
 * → each test here ends with its record missing.
 */
import { describe, expect, it } from "vitest";
import { type Harness, ManualClock } from "../helpers/harness.js";
import {
  APPROVER,
  approvalHarnesses,
  DAY_MS,
  drift,
  FlakyCommits,
  localAuthWrites,
  trail,
  write,
} from "./local-auth-approval-setup.js";

const harnesses = approvalHarnesses();
const start = harnesses.start;

const outcomes = async (harness: Harness) =>
  (await trail(harness)).map((r) => [r.outcome, r.approvalId, r.reason]);

describe("a closing step whose record was not written", () => {
  it("a rejection: the approval stays rejected and `recordDue`; the timer writes the `rejected` record once, naming the approver", async () => {
    const flaky = new FlakyCommits();
    const harness = await start(undefined, flaky);
    const [requested] = await harness.handle(write());
    const id = requested!.record!.approvalId!;

    flaky.failNext = true;
    await expect(
      harness.approvalLifecycle.decide(id, "rejected", { principal: APPROVER, via: "approval-page" }),
    ).rejects.toThrow(/store unavailable/);
    expect(await harness.approvals.get(id)).toMatchObject({ state: "rejected", recordDue: "rejected" });
    expect((await outcomes(harness)).map(([o]) => o)).toEqual(["pending-approval"]);

    const timer = await harness.approvalLifecycle.expireDue();
    expect(timer.map((d) => d.outcome)).toEqual(["rejected"]);
    const records = await trail(harness);
    expect(records.map((r) => r.outcome)).toEqual(["pending-approval", "rejected"]);
    const rejected = records[1]!;
    expect(rejected.approver?.via).toBe("approval-page");
    expect(rejected.actor).toBe(`approver:${rejected.approver?.id}`);
    expect(rejected.approver?.id).toMatch(/^p-[0-9a-f]{24}$/);
    expect(rejected.reason).toBe("rejected by approver");
    expect(harnesses.cards.changed).toEqual([{ id, state: "rejected", change: "decided" }]);
    expect(await harness.approvals.get(id)).not.toHaveProperty("recordDue");

    // Once only: the next tick finds nothing due, a repeated decision nothing to decide.
    expect(await harness.approvalLifecycle.expireDue()).toEqual([]);
    const again = await harness.approvalLifecycle.decide(id, "rejected", {
      principal: APPROVER,
      via: "approval-page",
    });
    expect(again.error).toMatch(/already rejected/);
    expect((await trail(harness)).length).toBe(2);
    expect(localAuthWrites(harness)).toEqual([]);
    expect((await harness.audit.verify()).breaks).toEqual([]);
  });

  it("an expiry by the timer: the next tick writes the `expired` record it owes, with the deadline as its reason", async () => {
    const flaky = new FlakyCommits();
    const clock = new ManualClock(new Date("2026-03-01T08:00:00.000Z"));
    const harness = await start(clock, flaky);
    const [requested] = await harness.handle(write());
    const id = requested!.record!.approvalId!;
    const { expiresAt } = (await harness.approvals.get(id))!;

    clock.advance(DAY_MS + 1);
    flaky.failNext = true;
    await expect(harness.approvalLifecycle.expireDue()).rejects.toThrow(/store unavailable/);
    // No longer pending, so no longer "past its deadline" to the timer's first query.
    expect(await harness.approvals.listExpired(clock.now())).toEqual([]);
    expect(await harness.approvals.get(id)).toMatchObject({ state: "expired", recordDue: "expired" });

    const timer = await harness.approvalLifecycle.expireDue();
    expect(timer.map((d) => d.outcome)).toEqual(["expired"]);
    expect(await outcomes(harness)).toEqual([
      ["pending-approval", id, "policy no-local-auth requires approval"],
      ["expired", id, `no decision before ${expiresAt}`],
    ]);
    expect(harnesses.cards.changed).toEqual([{ id, state: "expired", change: "expired" }]);
    expect(await harness.approvalLifecycle.expireDue()).toEqual([]);
    expect((await trail(harness)).length).toBe(2);
  });

  it("a decision after the deadline expires the approval instead: that expiry is recorded by the timer too", async () => {
    const flaky = new FlakyCommits();
    const clock = new ManualClock(new Date("2026-03-01T08:00:00.000Z"));
    const harness = await start(clock, flaky);
    const [requested] = await harness.handle(write());
    const id = requested!.record!.approvalId!;
    // The decision read the approval while it was open and closes it just after its deadline.
    const open = (await harness.approvals.get(id))!;
    clock.advance(DAY_MS + 1);
    expect(
      await harness.approvals.closePending(open.id, "approved", "p-aaaaaaaaaaaaaaaaaaaaaaaa", clock.now()),
    ).toBe(undefined);
    expect(await harness.approvals.get(id)).toMatchObject({ state: "expired", recordDue: "expired" });

    expect((await harness.approvalLifecycle.expireDue()).map((d) => d.outcome)).toEqual(["expired"]);
    expect((await outcomes(harness)).map(([o]) => o)).toEqual(["pending-approval", "expired"]);
    expect(localAuthWrites(harness)).toEqual([]);
  });

  it("a superseded approval: the pipeline's session fails after the close; the timer writes its `expired` record naming its successor, and the redelivery goes on", async () => {
    const flaky = new FlakyCommits();
    const harness = await start(undefined, flaky);
    const [first] = await harness.handle(write());
    const oldId = first!.record!.approvalId!;

    // The plan changes; the session that closes the old approval cannot write its record.
    drift(harness, {});
    const signal = write();
    flaky.failNext = true;
    await expect(harness.handle(signal)).rejects.toThrow(/store unavailable/);
    const old = (await harness.approvals.get(oldId))!;
    expect(old).toMatchObject({ state: "expired", recordDue: "expired" });
    const successor = old.supersededBy!;
    expect(successor).toBeTruthy();
    expect((await outcomes(harness)).map(([o]) => o)).toEqual(["pending-approval"]);

    // The timer writes the old approval's record, naming the approval that closed it and why.
    expect((await harness.approvalLifecycle.expireDue()).map((d) => d.outcome)).toEqual(["expired"]);
    expect(await outcomes(harness)).toEqual([
      ["pending-approval", oldId, "policy no-local-auth requires approval"],
      [
        "expired",
        oldId,
        `superseded by approval ${successor}: the resource changed and the new plan needs its own decision`,
      ],
    ]);
    expect(harnesses.cards.changed).toEqual([{ id: oldId, state: "expired", change: "expired" }]);

    // Event Grid redelivers the event: one new approval is requested and carded; the old one is
    // not recorded again.
    const [redelivered] = await harness.handle(signal);
    expect(redelivered!.outcome).toBe("pending-approval");
    const records = await trail(harness);
    expect(records.filter((r) => r.approvalId === oldId && r.outcome === "expired")).toHaveLength(1);
    expect(records.at(-1)).toMatchObject({
      outcome: "pending-approval",
      approvalId: redelivered!.record!.approvalId,
    });
    expect(harnesses.cards.posted.map((a) => a.id)).toEqual([oldId, redelivered!.record!.approvalId]);
    expect(await harness.approvals.listRecordDue()).toEqual([]);
    expect(localAuthWrites(harness)).toEqual([]);
    expect((await harness.audit.verify()).breaks).toEqual([]);
  });
});
