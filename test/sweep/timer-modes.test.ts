/**
 * What the `sweep` timer does per `DRIFTGUARD_SWEEP_MODE`: `dry-run` records dry-run decisions and
 * changes nothing, `off` does nothing at all, `policy` follows each policy's mode. Run through the
 * local host's timer, as the Functions host would fire it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import { DRIFTED, SWEEP_POLICIES, sweepEstate } from "./estate.js";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    seed: sweepEstate(),
    policyYaml: SWEEP_POLICIES,
    env: { DRIFTGUARD_SWEEP_MODE: "dry-run" },
  });
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

async function posture(): Promise<{ mode: string; trigger: string }[]> {
  const res = await fetch(`${stack.functionsUrl}/api/posture`, {
    headers: { "x-functions-key": stack.functionKey },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { mode: string; trigger: string }[] }).items;
}

describe("the sweep timer", () => {
  it("in dry-run mode records dry-run decisions and changes nothing", async () => {
    expect(stack.runtime.config.sweep.mode).toBe("dry-run");
    await stack.host.runTimer("sweep");
    expect(stack.sim.writes()).toEqual([]);
    const records = await stack.audit({ source: "sweep" });
    expect(records.map((r) => r.resourceId).sort()).toEqual(DRIFTED);
    expect(records.every((r) => r.outcome === "dry-run" && r.actor === "driftguard")).toBe(true);
    expect(await posture()).toEqual([expect.objectContaining({ mode: "dry-run", trigger: "timer" })]);
  }, 60_000);

  it("when off does nothing", async () => {
    stack.runtime.config.sweep.mode = "off";
    await stack.host.runTimer("sweep");
    expect(await posture()).toHaveLength(1);
    expect(stack.sim.writes()).toEqual([]);
  }, 60_000);

  it("in policy mode follows each policy's mode", async () => {
    stack.runtime.config.sweep.mode = "policy";
    await stack.host.runTimer("sweep");
    expect(stack.sim.writes()).toHaveLength(DRIFTED.length);
    expect((await stack.audit({ source: "sweep", outcome: "remediated" })).length).toBe(DRIFTED.length);
    expect((await posture())[0]).toMatchObject({ mode: "policy", trigger: "timer" });
  }, 60_000);
});
