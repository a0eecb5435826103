/**
 * Approvals that survive faults and people, over the local stack (approval page transport; the
 * Teams transport is covered in test/integration/approvals*.test.ts):
 * - an approval during a 503 window is applied once after ARM recovers, without a second click;
 * - the person who caused the drift cannot approve its fix (refused, recorded once, still pending);
 * - with approvers configured, a decision without a signed-in principal is refused.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { type LocalStack, startLocalStack } from "../../dev/stack.js";
import { signApprovalToken } from "../../shared/approvals/tokens.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { silentLogger } from "../../shared/log.js";
import { ManualClock } from "../helpers/harness.js";
import { publicStorageAccount } from "../helpers/seed.js";
import { armWriteEvent } from "../helpers/stack.js";

const SUB = "00000000-0000-0000-0000-0000000000d7";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-appr/providers/Microsoft.Storage/storageAccounts`;
const FLAKY = `${RG}/stflaky001`;
const SELF = `${RG}/stself001`;
const UNSIGNED = `${RG}/stunsigned001`;
const APPROVER = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b";
/** The object ID armWriteEvent puts in the event's claims: the person who caused the drift. */
const CALLER = "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d";
const SIGNING_KEY = "reliability-approval-signing-key-0123456789";

const seed: Seed = {
  resources: [FLAKY, SELF, UNSIGNED].map(publicStorageAccount),
};

let stack: LocalStack;
const clock = new ManualClock(new Date());

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "driftguard-reliability-"));
  const policyFile = path.join(dir, "p.yaml");
  await writeFile(
    policyFile,
    "version: 1\npolicies:\n  - name: risky-storage\n    resourceTypes: [Microsoft.Storage/storageAccounts]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n    mode: approval\n",
  );
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed,
    policyFile,
    log: silentLogger,
    lroPollIntervalMs: 0,
    retry: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
    clock,
    env: { APPROVER_OBJECT_IDS: `${APPROVER},${CALLER}`, APPROVER_SIGNING_KEY: SIGNING_KEY },
  });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

async function requestApproval(id: string): Promise<string> {
  const res = await fetch(
    `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${stack.functionKey}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
      body: JSON.stringify([armWriteEvent(id)]),
    },
  );
  expect(res.status).toBe(200);
  const [record] = await records(id);
  expect(record).toMatchObject({ outcome: "pending-approval" });
  return record!.approvalId!;
}

async function records(id: string): Promise<AuditRecord[]> {
  const res = await fetch(`${stack.functionsUrl}/api/audit?resourceId=${encodeURIComponent(id)}`, {
    headers: { "x-functions-key": stack.functionKey },
  });
  return ((await res.json()) as { items: AuditRecord[] }).items;
}

function principal(oid: string): string {
  return Buffer.from(
    JSON.stringify({
      auth_typ: "aad",
      claims: [{ typ: "http://schemas.microsoft.com/identity/claims/objectidentifier", val: oid }],
    }),
  ).toString("base64");
}

async function decide(approvalId: string, decision: "approve" | "reject", oid?: string) {
  const token = await signApprovalToken(approvalId, SIGNING_KEY, new Date(clock.now().getTime() + 3600_000));
  const res = await fetch(`${stack.functionsUrl}/api/approvals/${approvalId}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(oid ? { "x-ms-client-principal": principal(oid) } : {}),
    },
    body: new URLSearchParams({ token, decision }).toString(),
  });
  return { status: res.status, html: await res.text() };
}

const writesTo = (id: string) => stack.sim.writes().filter((w) => w.path.toLowerCase() === id.toLowerCase());

describe("approved means done", () => {
  it("an approval during a 503 window is applied once after ARM recovers, without a second click", async () => {
    const approvalId = await requestApproval(FLAKY);
    stack.sim.addFault({ method: "PATCH", path: "stflaky001", status: 503, count: -1 });

    const first = await decide(approvalId, "approve", APPROVER);
    expect(first.status).toBe(200);
    expect(first.html).toContain("approved and due");
    expect(writesTo(FLAKY)).toHaveLength(0);
    let approval = await stack.runtime.stores.approvals.get(approvalId);
    expect(approval).toMatchObject({ state: "approved", run: { state: "due", attempts: 1 } });
    expect(approval?.run?.lastError?.step).toBe("apply");

    // Still failing: the timer retries when due, and records nothing more.
    clock.advance(31_000);
    await stack.host.runTimer("resumeWork");
    approval = await stack.runtime.stores.approvals.get(approvalId);
    expect(approval?.run).toMatchObject({ state: "due", attempts: 2 });
    expect((await records(FLAKY)).map((r) => r.outcome)).toEqual(["failed", "approved", "pending-approval"]);

    // ARM recovers: the timer's next pass applies it, once (the failed attempt left its intent, so
    // the sweep completes it even before the run's backoff ends).
    stack.sim.clearFaults();
    await stack.host.runTimer("resumeWork");
    expect(writesTo(FLAKY)).toHaveLength(1);
    expect(stack.sim.getResource(FLAKY)?.properties?.publicNetworkAccess).toBe("Disabled");
    approval = await stack.runtime.stores.approvals.get(approvalId);
    expect(approval?.run).toMatchObject({ state: "done", outcome: "remediated" });
    const outcomes = (await records(FLAKY)).map((r) => r.outcome);
    expect(outcomes).toEqual(["remediated", "failed", "approved", "pending-approval"]);
    const [done] = await records(FLAKY);
    expect(done).toMatchObject({ approvalId, actor: "driftguard:approval" });
    expect(done!.approver?.id).toMatch(/^p-[0-9a-f]{24}$/);

    // Later timers and a second click change nothing.
    clock.advance(3600_000);
    await stack.host.runTimer("resumeWork");
    const again = await decide(approvalId, "approve", APPROVER);
    expect(again.status).toBe(409);
    expect(again.html).toContain("already approved");
    expect(writesTo(FLAKY)).toHaveLength(1);
    expect((await records(FLAKY)).length).toBe(4);
  });
});

describe("who may decide", () => {
  it("the person who caused the drift cannot approve or reject its fix; another approver can", async () => {
    const approvalId = await requestApproval(SELF);
    for (const decision of ["approve", "reject", "approve"] as const) {
      const res = await decide(approvalId, decision, CALLER);
      expect(res.status).toBe(403);
      expect(res.html).toContain("self-approval refused");
    }
    const approval = await stack.runtime.stores.approvals.get(approvalId);
    expect(approval?.state).toBe("pending");
    expect(approval?.refusals?.length).toBe(3);
    // Recorded once per approval and person, not per click.
    const refused = (await records(SELF)).filter((r) => r.reason?.includes("self-approval refused"));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.actor).toMatch(/^approver:p-[0-9a-f]{24}$/);
    expect(writesTo(SELF)).toHaveLength(0);

    const ok = await decide(approvalId, "approve", APPROVER);
    expect(ok.status).toBe(200);
    expect(writesTo(SELF)).toHaveLength(1);
    expect((await records(SELF))[0]).toMatchObject({ outcome: "remediated" });
  });

  it("with approvers configured, a decision without a signed-in principal is refused", async () => {
    const approvalId = await requestApproval(UNSIGNED);
    const res = await decide(approvalId, "approve");
    expect(res.status).toBe(403);
    expect(res.html).toContain("sign in first");
    expect((await stack.runtime.stores.approvals.get(approvalId))?.state).toBe("pending");
    expect(writesTo(UNSIGNED)).toHaveLength(0);
    expect((await records(UNSIGNED)).map((r) => r.outcome)).toEqual(["pending-approval"]);
  });
});
