/**
 * Timer trigger `sweep` (schedule `%DRIFTGUARD_SWEEP_SCHEDULE%`): resyncs the estate with the same
 * policies, pipeline and gate as events (docs/sweep.md). `DRIFTGUARD_SWEEP_MODE` decides what it does:
 * `policy` (each policy's own mode), `dry-run` (report only) or `off`. One instance sweeps at a time
 * (the lease); a run cut short is continued by the next tick.
 */
import type { InvocationContext, Timer } from "@azure/functions";
import { getRuntime } from "../shared/runtime.js";
import { sweepWithLease } from "../shared/sweep/leased.js";

export async function runSweepTimer(_timer: Timer | undefined, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const mode = runtime.config.sweep.mode;
  const log = runtime.log.child({ invocationId: context.invocationId, timer: "sweep" });
  if (mode === "off") {
    log.info("sweep timer is off (DRIFTGUARD_SWEEP_MODE=off)");
    return;
  }
  const result = await sweepWithLease(runtime, { trigger: "timer", dryRun: mode === "dry-run" });
  if (result.status === "busy") {
    log.info(
      { holder: result.holder, until: result.until },
      "another sweep holds the lease; this tick does nothing",
    );
    return;
  }
  const r = result.report;
  log.info(
    {
      runId: r.runId,
      resumed: r.resumed,
      rows: r.graph.rows,
      changes: r.changes,
      nonCompliant: r.policies.reduce((n, p) => n + p.nonCompliant, 0),
      failed: r.policies.reduce((n, p) => n + p.failed, 0),
    },
    "sweep done",
  );
}
