/**
 * The `sweep` timer firing at the same moment on two host processes (`npm start -- --hosts 2`):
 * the lease in Cosmos DB lets exactly one of them sweep; the other does nothing. What both see
 * is read from the simulator's writes and the posture and audit APIs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestProcessStack, type TestProcessStack } from "../helpers/process-stack.js";
import { saveFigures } from "../reliability/figures.js";
import { DRIFTED, SWEEP_POLICIES, sweepEstate } from "./estate.js";

let stack: TestProcessStack;

beforeAll(async () => {
  stack = await startTestProcessStack({ seed: sweepEstate(), policyYaml: SWEEP_POLICIES, hosts: 2 });
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe("two sweep timers on two hosts", () => {
  it("run one sweep: one posture run, one write and one record per drifted resource", async () => {
    const done = await Promise.all(stack.hosts.map((h) => h.runTimer("sweep")));
    expect(done.map((d) => d.ok)).toEqual([true, true]);

    const res = await fetch(`${stack.functionsUrl}/api/posture`, {
      headers: { "x-functions-key": stack.functionKey },
    });
    expect(res.status).toBe(200);
    const posture = (await res.json()) as {
      items: {
        runId: string;
        trigger: string;
        policies: { nonCompliantResourceIds: string[]; remediated: number }[];
      }[];
    };
    const writes = await stack.sim.admin.writes();
    const records = await stack.audit({ source: "sweep" });
    const writesPerPath = new Map<string, number>();
    for (const w of writes)
      writesPerPath.set(w.path.toLowerCase(), (writesPerPath.get(w.path.toLowerCase()) ?? 0) + 1);
    await saveFigures("sweep-two-timers", {
      hosts: stack.hosts.length,
      timersFired: done.length,
      driftedResources: DRIFTED.length,
      postureRuns: posture.items.length,
      armWrites: writes.length,
      records: records.length,
      pathsWrittenTwice: [...writesPerPath.values()].filter((n) => n > 1).length,
      driftedWithoutRecord: DRIFTED.filter((id) => !records.some((r) => r.resourceId === id)).length,
    });
    expect(posture.items).toHaveLength(1);
    expect(posture.items[0]!.trigger).toBe("timer");
    expect(posture.items[0]!.policies.flatMap((p) => p.nonCompliantResourceIds).sort()).toEqual(DRIFTED);
    expect(posture.items[0]!.policies.reduce((n, p) => n + p.remediated, 0)).toBe(DRIFTED.length);

    expect(writes).toHaveLength(DRIFTED.length);
    expect(records.map((r) => r.resourceId).sort()).toEqual(DRIFTED);
    expect(new Set(records.map((r) => r.signal.id))).toEqual(new Set([posture.items[0]!.runId]));
  }, 180_000);

  it("the posture route takes the audit route's key and rejects bad parameters by name", async () => {
    const anonymous = await fetch(`${stack.functionsUrl}/api/posture`);
    expect(anonymous.status).toBe(401);
    const bad = await fetch(`${stack.functionsUrl}/api/posture?limit=0`, {
      headers: { "x-functions-key": stack.functionKey },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { path: string } }).error.path).toBe("limit");
  }, 60_000);
});
