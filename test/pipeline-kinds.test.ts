/**
 * Several kinds per resource: for one signal, the first matching policy of each kind runs (file
 * order), one after another inside the resource's gate, each with its own decision, write and
 * record (cause `<dedupeKey>|<resourceId>|<kind>`). Over the simulator with the real Storage SDK; the
 * second kind is a test-only one (test/helpers/test-kind.ts), one small PATCH, so the gate's behaviour
 * between kinds (crashes, approvals, named policies) is seen on its own. The shipped kinds on one
 * resource: test/kinds/storage-kinds*.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { formatDecision } from "../cli/format.js";
import type { Seed } from "../dev/azure-sim/index.js";
import type { GateSession, ResourceGate } from "../shared/ports/resource-gate.js";
import type { Signal } from "../shared/signals/types.js";
import { type Harness, ManualClock, RecordingNotifier, startHarness } from "./helpers/harness.js";
import { noSharedKey, TEST_KIND } from "./helpers/test-kind.js";

const SUB = "00000000-0000-0000-0000-0000000000cc";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-kinds/providers/Microsoft.Storage/storageAccounts`;
const names = ["stkinds001", "stkinds002", "stkinds003", "stkinds004", "stkinds005", "stkinds006"];
const id = (n: string) => `${RG}/${n}`;
const PUBLIC = "disable-public-network-access";

const seed: Seed = {
  resources: names.map((n) => ({
    id: id(n),
    name: n,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    tags: {},
    // Opened to the Internet and to shared keys in one write.
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true, allowSharedKeyAccess: true },
  })),
};

const policies = (sharedKeyMode = "enforce") => `
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: ${PUBLIC}
  - name: storage-no-shared-key
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: ${TEST_KIND}
    mode: ${sharedKeyMode}
  - name: storage-private-again
    description: a second policy of a kind already matched never runs for the same signal
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: ${PUBLIC}
    mode: dry-run
`;

function event(name: string, eventId = crypto.randomUUID()): Signal {
  return {
    source: "eventgrid",
    type: "Microsoft.Resources.ResourceWriteSuccess",
    id: eventId,
    dedupeKey: `eg:${eventId}`,
    time: new Date().toISOString(),
    subscriptionId: SUB,
    trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
    targets: [
      { resourceId: id(name), resourceType: "Microsoft.Storage/storageAccounts", subscriptionId: SUB },
    ],
    caller: { objectId: "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d" },
  };
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const writesTo = (name: string) => h!.sim.writes({ pathIncludes: name }).filter((w) => w.method === "PATCH");
const recordsOf = async (name: string) =>
  (await h!.records()).filter((r) => r.resourceId.toLowerCase() === id(name).toLowerCase());

/** The harness (both kinds) on a clock the test moves, its gate wrapped so that the test can kill the host. */
async function startWithDyingGate() {
  const clock = new ManualClock(new Date());
  const dying = new DyingGate();
  h = await startHarness({
    seed,
    policies: policies(),
    extraKinds: [noSharedKey],
    clock,
    busyWaitMs: 0,
    wrapGate: (g) => dying.wrap(g),
  });
  return { clock, dying, harness: h };
}

describe("several kinds per resource", () => {
  it("one write that opens a storage account to the Internet and to shared keys gets both fixes: one write and one record each", async () => {
    h = await startHarness({ seed, policies: policies(), extraKinds: [noSharedKey] });
    const decisions = await h.handle(event(names[0]!));
    // File order; the second policy of an already matched kind does not run.
    expect(decisions.map((d) => [d.policy, d.kind, d.outcome])).toEqual([
      ["storage-private", PUBLIC, "remediated"],
      ["storage-no-shared-key", TEST_KIND, "remediated"],
    ]);
    const writes = writesTo(names[0]!);
    expect(writes).toHaveLength(2);
    expect(writes[0]!.body).toMatchObject({ properties: { publicNetworkAccess: "Disabled" } });
    expect(writes[1]!.body).toMatchObject({ properties: { allowSharedKeyAccess: false } });
    expect(h.sim.getResource(id(names[0]!))!.properties).toMatchObject({
      publicNetworkAccess: "Disabled",
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
    });
    const records = await recordsOf(names[0]!);
    expect(records.map((r) => [r.kind, r.outcome, r.seq])).toEqual([
      [PUBLIC, "remediated", 1],
      [TEST_KIND, "remediated", 2],
    ]);
    expect(records[1]!.prevHash).toBe(records[0]!.hash);
    expect(new Set(records.map((r) => r.signal.id)).size).toBe(1);
    expect((await h.audit.verify()).breaks).toEqual([]);
  });

  it("a duplicate delivery is a duplicate for every kind: no write, no record", async () => {
    h = await startHarness({ seed, policies: policies(), extraKinds: [noSharedKey] });
    const s = event(names[1]!);
    await h.handle(s);
    const again = await h.handle(s);
    expect(again.map((d) => [d.kind, d.outcome, d.retry])).toEqual([
      [PUBLIC, "duplicate", false],
      [TEST_KIND, "duplicate", false],
    ]);
    expect(writesTo(names[1]!)).toHaveLength(2);
    expect(await recordsOf(names[1]!)).toHaveLength(2);
  });

  it("a later event finds both kinds compliant: one `compliant` record per kind, no write", async () => {
    h = await startHarness({ seed, policies: policies(), extraKinds: [noSharedKey] });
    await h.handle(event(names[2]!));
    const later = await h.handle(event(names[2]!));
    expect(later.map((d) => [d.kind, d.outcome])).toEqual([
      [PUBLIC, "compliant"],
      [TEST_KIND, "compliant"],
    ]);
    expect(writesTo(names[2]!)).toHaveLength(2);
    expect((await recordsOf(names[2]!)).map((r) => r.outcome)).toEqual([
      "remediated",
      "remediated",
      "compliant",
      "compliant",
    ]);
  });

  it("a host that dies between kinds: the redelivery skips the decided kind and fixes the other, once", async () => {
    const { clock, dying, harness } = await startWithDyingGate();
    // The host dies right after the first kind's record is committed: nothing more from it, not
    // even leaving the gate (its lease stays until it runs out).
    dying.afterCommits = 1;
    const s = event(names[3]!);
    await expect(harness.handle(s)).rejects.toThrow(/host died/);
    expect((await recordsOf(names[3]!)).map((r) => r.kind)).toEqual([PUBLIC]);
    expect(writesTo(names[3]!)).toHaveLength(1);
    // Redelivered while the dead host's lease runs: busy, asked again.
    dying.afterCommits = undefined;
    expect((await harness.handle(s)).map((d) => d.outcome)).toEqual(["busy", "busy"]);
    clock.advance(7 * 60_000);
    const redelivered = await harness.handle(s);
    expect(redelivered.map((d) => [d.kind, d.outcome])).toEqual([
      [PUBLIC, "duplicate"],
      [TEST_KIND, "remediated"],
    ]);
    expect(writesTo(names[3]!)).toHaveLength(2);
    expect((await recordsOf(names[3]!)).map((r) => [r.kind, r.outcome])).toEqual([
      [PUBLIC, "remediated"],
      [TEST_KIND, "remediated"],
    ]);
    expect((await harness.handle(s)).map((d) => d.outcome)).toEqual(["duplicate", "duplicate"]);
  });

  it("a host that dies after the second kind's write, before its record: the redelivery settles that intent as `remediated`, never writes again", async () => {
    const { clock, dying, harness } = await startWithDyingGate();
    // First commit (kind 1) goes through; the second (kind 2's record, after its ARM write) dies.
    dying.afterCommits = 1;
    dying.dieAt = "commit";
    const s = event(names[4]!);
    await expect(harness.handle(s)).rejects.toThrow(/host died/);
    expect(writesTo(names[4]!)).toHaveLength(2); // both writes reached Azure
    expect((await recordsOf(names[4]!)).map((r) => r.kind)).toEqual([PUBLIC]);
    dying.afterCommits = undefined;
    clock.advance(7 * 60_000);
    const redelivered = await harness.handle(s);
    expect(redelivered.map((d) => [d.kind, d.outcome])).toEqual([
      [PUBLIC, "duplicate"],
      [TEST_KIND, "remediated"],
    ]);
    expect(redelivered[1]!.reason).toMatch(/completed after an interruption/);
    expect(writesTo(names[4]!)).toHaveLength(2);
    expect((await recordsOf(names[4]!)).map((r) => [r.kind, r.outcome])).toEqual([
      [PUBLIC, "remediated"],
      [TEST_KIND, "remediated"],
    ]);
  });

  it("approvals are one per kind; the card shows what the other kinds did for the same signal", async () => {
    h = await startHarness({ seed, policies: policies("approval"), extraKinds: [noSharedKey] });
    const decisions = await h.handle(event(names[5]!));
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [PUBLIC, "remediated"],
      [TEST_KIND, "pending-approval"],
    ]);
    expect(h.notifier.requests).toHaveLength(1);
    const card = h.notifier.requests[0]!;
    expect(card).toMatchObject({ kind: TEST_KIND, reason: "policy-mode" });
    expect(card.context).toEqual([
      {
        policy: "storage-private",
        kind: PUBLIC,
        outcome: "remediated",
        detail: expect.stringMatching(/public network access/i),
      },
    ]);
    expect((await h.approvals.get(card.id))!.context).toEqual(card.context);
    const approved = await h.approvalLifecycle.decide(card.id, "approved", {
      principal: { objectId: "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b" },
      via: "approval-page",
    });
    expect(approved.decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [TEST_KIND, "approved"],
      [TEST_KIND, "remediated"],
    ]);
    expect(writesTo(names[5]!)).toHaveLength(2);
    expect(h.sim.getResource(id(names[5]!))!.properties).toMatchObject({ allowSharedKeyAccess: false });
  });

  it("replay --dry-run: every kind that applies shows its planned change, nothing is written", async () => {
    h = await startHarness({ seed, policies: policies(), extraKinds: [noSharedKey] });
    const decisions = await h.handle(event(names[0]!), { dryRun: true, actor: "cli:replay" });
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [PUBLIC, "dry-run"],
      [TEST_KIND, "dry-run"],
    ]);
    const lines = decisions.map(formatDecision);
    expect(lines[0]).toContain("properties.publicNetworkAccess: Enabled → Disabled");
    expect(lines[1]).toContain("properties.allowSharedKeyAccess: true → false");
    expect(writesTo(names[0]!)).toHaveLength(0);
  });

  it("RunOptions.policyNames runs exactly the named policies, in that order, at most one per kind", async () => {
    h = await startHarness({ seed, policies: policies(), extraKinds: [noSharedKey] });
    const decisions = await h.handle(event(names[1]!), {
      policyNames: ["storage-no-shared-key", "storage-private-again", "storage-private", "gone"],
    });
    expect(decisions.map((d) => [d.policy ?? null, d.outcome])).toEqual([
      ["storage-no-shared-key", "remediated"],
      ["storage-private-again", "dry-run"],
      ["storage-private", "ignored"],
      [null, "ignored"],
    ]);
    expect(decisions[2]!.reason).toMatch(
      /policy 'storage-private-again' of kind disable-public-network-access runs/,
    );
    expect(decisions[3]!.reason).toBe("policy 'gone' no longer exists");
    expect(
      writesTo(names[1]!).map((w) => Object.keys((w.body as { properties: object }).properties)),
    ).toEqual([["allowSharedKeyAccess"]]);
  });

  it("`ignored: no policy matches` says which of type, trigger or scope failed", async () => {
    h = await startHarness({
      seed,
      policies: `${policies()}  - name: scoped-elsewhere
    resourceTypes: [Microsoft.KeyVault/vaults]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceDeleteSuccess }]
    kind: ${PUBLIC}
    scope: [/subscriptions/${SUB}/resourceGroups/rg-other]
`,
      extraKinds: [noSharedKey],
    });
    const ignored = async (s: Signal) => (await h!.handle(s))[0]!;
    const nsg = event(names[0]!);
    nsg.targets = [{ ...nsg.targets[0]!, resourceType: "Microsoft.Network/networkSecurityGroups" }];
    expect(await ignored(nsg)).toMatchObject({
      outcome: "ignored",
      reason: "no policy matches: no policy covers resource type Microsoft.Network/networkSecurityGroups",
    });
    const action = event(names[0]!);
    action.trigger = { eventGrid: "Microsoft.Resources.ResourceActionSuccess" };
    expect((await ignored(action)).reason).toMatch(
      /^no policy matches: policies storage-private, storage-no-shared-key, storage-private-again cover Microsoft.Storage\/storageAccounts but no trigger of theirs matches eventGrid Microsoft.Resources.ResourceActionSuccess$/,
    );
    const vault = event(names[0]!);
    vault.trigger = { eventGrid: "Microsoft.Resources.ResourceDeleteSuccess" };
    vault.targets = [{ ...vault.targets[0]!, resourceType: "Microsoft.KeyVault/vaults" }];
    expect((await ignored(vault)).reason).toBe(
      "no policy matches: the resource is outside the scope of policy scoped-elsewhere, whose type and trigger match",
    );
    expect(await h.records()).toEqual([]);
  });

  it("an approval card that cannot be posted is recorded once and kept on the approval", async () => {
    const failing = new RecordingNotifier();
    failing.requestApproval = async () => {
      throw new Error("Teams workflow webhook answered 502");
    };
    h = await startHarness({
      seed,
      policies: policies("approval"),
      extraKinds: [noSharedKey],
      notifier: failing,
    });
    const [, pending] = await h.handle(event(names[2]!));
    expect(pending).toMatchObject({ kind: TEST_KIND, outcome: "pending-approval" });
    const approval = (await h.approvals.get(pending!.record!.approvalId!))!;
    expect(approval.cardPostFailed).toMatchObject({ error: "Teams workflow webhook answered 502" });
    expect(await h.approvals.listCardPostFailures(5)).toEqual([expect.objectContaining({ id: approval.id })]);
    const trail = (await recordsOf(names[2]!)).filter((r) => r.kind === TEST_KIND);
    expect(trail.map((r) => [r.outcome, r.reason])).toEqual([
      ["pending-approval", "policy storage-no-shared-key requires approval"],
      [
        "pending-approval",
        "the approval card could not be posted to Teams (Teams workflow webhook answered 502); the approval page still works",
      ],
    ]);
  });
});

/**
 * A gate whose sessions "die" (every further call throws, leaving the gate included) after a number
 * of commits: a host process killed inside a session. `dieAt: "commit"` fails the next commit itself
 * (the record after an ARM write); `"next"` fails the next call of any kind.
 */
class DyingGate {
  afterCommits: number | undefined;
  dieAt: "commit" | "next" = "next";

  wrap(gate: ResourceGate): ResourceGate {
    return {
      listInterrupted: (now, limit) => gate.listInterrupted(now, limit),
      enter: async (resourceId, causes, opts) => {
        const entry = await gate.enter(resourceId, causes, opts);
        return entry.status === "entered" ? { ...entry, session: this.session(entry.session) } : entry;
      },
    };
  }

  private session(inner: GateSession): GateSession {
    let commits = 0;
    let dead = false;
    const check = (call: string) => {
      if (
        dead ||
        (this.afterCommits !== undefined &&
          commits >= this.afterCommits &&
          (this.dieAt === "next" || call === "commit"))
      ) {
        dead = true;
        throw new Error(`host died (${call})`);
      }
    };
    return {
      resourceId: inner.resourceId,
      causes: inner.causes,
      ...(inner.interrupted ? { interrupted: inner.interrupted } : {}),
      causeState: (c) => inner.causeState(c),
      recentFixes: (k, since) => inner.recentFixes(k, since),
      recordIntent: async (i) => {
        check("recordIntent");
        return inner.recordIntent(i);
      },
      commit: async (r, o) => {
        check("commit");
        const rec = await inner.commit(r, o);
        commits++;
        return rec;
      },
      append: async (r) => {
        check("append");
        return inner.append(r);
      },
      leave: async (o) => {
        check("leave");
        return inner.leave(o);
      },
      recordsSince: (i) => inner.recordsSince(i),
    };
  }
}
