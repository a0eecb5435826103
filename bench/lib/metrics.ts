/**
 * The definitions of the bench's stack metrics whose rules matter most: what counts as a sample and
 * what fails a metric (test/bench/metrics.test.ts checks each rule). bench/run.ts adds the figures
 * around them (CPU per process, notes).
 */
import { check, type Metric, median, percentile, round } from "./report.js";

/**
 * `e2e_p50_ms` / `e2e_p99_ms`: percentiles over the accepted (2xx) deliveries only. A failed
 * delivery is counted apart and fails `e2e_p99_ms` whatever the latencies: a fast 500 must never
 * make the figure look better.
 */
export function e2eMetrics(run: {
  /** Latency of each accepted delivery. */
  accepted: readonly number[];
  /** Deliveries answered anything but 2xx (or not at all). */
  failed: number;
  deliveries: number;
}): { p50: Metric; p99: Metric } {
  const sorted = [...run.accepted].sort((a, b) => a - b);
  const common = { samples: sorted.length, deliveries: run.deliveries, failed: run.failed };
  const p99 = percentile(sorted, 99);
  return {
    p50: { metric: "e2e_p50_ms", value: percentile(sorted, 50), unit: "ms", ...common },
    p99: {
      metric: "e2e_p99_ms",
      value: p99,
      unit: "ms",
      target: "<= 60, no failed delivery",
      met: run.failed === 0 && sorted.length > 0 && p99 <= 60,
      ...common,
    },
  };
}

/**
 * `arm_writes_per_fix`: the mean over the resources **and** the most writes any one resource got;
 * met only when every resource was written exactly once (one written twice and one not at all
 * still average 1).
 */
export function armWritesPerFixMetric(writesPerResource: readonly number[]): Metric {
  const n = writesPerResource.length;
  const mean = n ? writesPerResource.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const max = Math.max(0, ...writesPerResource);
  const notWritten = writesPerResource.filter((w) => w === 0).length;
  return {
    metric: "arm_writes_per_fix",
    value: mean,
    unit: "writes",
    target: "== 1 (mean and per resource)",
    met: n > 0 && writesPerResource.every((w) => w === 1),
    mean: round(mean, 3),
    max_per_resource: max,
    resources_not_written: notWritten,
    samples: n,
  };
}

/**
 * `first_decision_ms`: the median over fresh processes whose decision wrote its fix; one that
 * failed, or ended without its ARM write, is counted apart and fails the metric.
 */
export function firstDecisionMetric(
  runs: readonly { ok: boolean; wroteFix: boolean; importToDecisionMs: number; error?: string }[],
): Metric {
  const counted = runs.filter((r) => r.ok && r.wroteFix);
  const value = median(counted.map((r) => r.importToDecisionMs));
  return {
    metric: "first_decision_ms",
    value,
    unit: "ms",
    target: "<= 600, every decision wrote its fix",
    met: counted.length > 0 && counted.length === runs.length && value <= 600,
    samples: counted.length,
    without_fix: runs.length - counted.length,
    errors: runs.flatMap((r) => (r.error ? [r.error.slice(0, 200)] : [])),
  };
}

/** `scaleout_speedup_3_hosts`: three hosts ÷ one, as measured, with the machine's cores beside it. */
export function scaleoutMetric(oneHostPerSecond: number, threeHostsPerSecond: number, cores: number): Metric {
  const speedup = threeHostsPerSecond / oneHostPerSecond;
  return {
    metric: "scaleout_speedup_3_hosts",
    value: speedup,
    unit: "ratio",
    ...check(speedup, ">=", 1.8),
    machine_cores: cores,
  };
}
