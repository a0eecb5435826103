/**
 * The bench's metric definitions (bench/lib/metrics.ts) and its load loop: what counts as a sample
 * and what fails a metric. Each rule with the defect it guards against.
 */
import { describe, expect, it } from "vitest";
import { closedLoop, openLoop, setDeadline } from "../../bench/lib/driver.js";
import {
  armWritesPerFixMetric,
  e2eMetrics,
  firstDecisionMetric,
  scaleoutMetric,
} from "../../bench/lib/metrics.js";

describe("e2e latency", () => {
  it("is taken over accepted deliveries only; a failure is counted apart and fails the metric", () => {
    // Mutation: compute the percentiles over every delivery (fast 500s included) → p99 drops to the
    // 500s' latency and `met` turns true; this fails.
    const accepted = Array.from({ length: 98 }, () => 50);
    const { p50, p99 } = e2eMetrics({ accepted, failed: 2, deliveries: 100 });
    expect(p50).toMatchObject({ value: 50, samples: 98, failed: 2 });
    expect(p99).toMatchObject({ value: 50, samples: 98, failed: 2, met: false });
    expect(e2eMetrics({ accepted, failed: 0, deliveries: 98 }).p99.met).toBe(true);
    expect(e2eMetrics({ accepted: [], failed: 5, deliveries: 5 }).p99.met).toBe(false);
  });

  it("the open loop keeps the latencies of 2xx answers and counts the others", async () => {
    const answers = [200, 500, 200, 0, 200, 429];
    let i = 0;
    const stats = await openLoop(answers, 1000, async () => ({ ms: 1 + i, status: answers[i++]! }));
    expect(stats.latencies).toHaveLength(3);
    expect(stats.failed).toBe(3);
    expect(stats.statuses).toEqual({ "200": 3, "500": 1, "0": 1, "429": 1 });
  });
});

describe("arm_writes_per_fix", () => {
  it("is met only when every resource got exactly one write, not just on average", () => {
    // Mutation: `met: mean === 1` → one resource written twice and one never still "meets" it; this fails.
    const uneven = armWritesPerFixMetric([1, 2, 0, 1]);
    expect(uneven).toMatchObject({ value: 1, max_per_resource: 2, resources_not_written: 1, met: false });
    expect(armWritesPerFixMetric([1, 1, 1]).met).toBe(true);
    expect(armWritesPerFixMetric([]).met).toBe(false);
  });
});

describe("first_decision_ms", () => {
  it("counts only decisions that wrote their fix; one that did not fails the metric", () => {
    // Mutation: take the median over every run → a fast decision that wrote nothing lowers it and
    // `met` turns true; this fails.
    const runs = [
      { ok: true, wroteFix: true, importToDecisionMs: 500 },
      { ok: true, wroteFix: false, importToDecisionMs: 10 },
      { ok: false, wroteFix: false, importToDecisionMs: 5, error: "boom" },
    ];
    expect(firstDecisionMetric(runs)).toMatchObject({
      value: 500,
      samples: 1,
      without_fix: 2,
      met: false,
      errors: ["boom"],
    });
    expect(firstDecisionMetric(runs.slice(0, 1)).met).toBe(true);
  });
});

describe("scaleout_speedup_3_hosts", () => {
  it("is reported as measured against its target, with the cores, and no bound beside it", () => {
    const m = scaleoutMetric(300, 200, 2);
    expect(m).toEqual({
      metric: "scaleout_speedup_3_hosts",
      value: 200 / 300,
      unit: "ratio",
      target: ">= 1.8",
      met: false,
      machine_cores: 2,
    });
  });
});

describe("the bench's time limit", () => {
  it("stops a load loop: nothing more is sent, what is in flight is aborted, the run says it was cut", async () => {
    // Mutation: drop the watch in closedLoop → the hung deliveries are never aborted and this times out.
    const pending: ((status: number) => void)[] = [];
    setDeadline(Date.now() + 300);
    try {
      const stats = await closedLoop(
        Array.from({ length: 100 }, (_, i) => i),
        4,
        () => new Promise((resolve) => pending.push((status) => resolve({ ms: 1, status }))),
        {
          onDeadline: () => {
            for (const answer of pending.splice(0)) answer(0);
          },
        },
      );
      expect(stats.cut).toBe(true);
      expect(stats.deliveries).toBe(4);
      expect(stats.statuses).toEqual({ "0": 4 });
    } finally {
      setDeadline(Number.POSITIVE_INFINITY);
    }
  }, 10_000);
});
