/**
 * A sweep under the sweep lease (Cosmos DB): one sweep at a time across instances and the CLI.
 * The timer keeps its cursor with the lease after every page, so a run cut short (timeout, crash,
 * failure) is continued by the next tick; a CLI run holds the lease but keeps no cursor (it is
 * re-run by whoever started it), and leaves a timer's pending cursor as it found it.
 */
import { hostname } from "node:os";
import type { ResourceGraphOptions } from "../azure/resource-graph.js";
import { ConfigError, InputError, RemediationError } from "../errors.js";
import type { SweepLease } from "../ports/sweep-store.js";
import type { Runtime } from "../runtime.js";
import { isSweepCursor, type SweepCursor } from "./cursor.js";
import type { SweepReport } from "./report.js";
import { runSweep, type SweepOptions } from "./run.js";
import { selectSweep } from "./select.js";

/** How long a holder keeps the lease without renewing it (renewed every page and every minute). */
export const SWEEP_LEASE_MS = 5 * 60_000;
const RENEW_EVERY_MS = 60_000;

export type LeasedSweepResult =
  | { status: "ran"; report: SweepReport }
  | { status: "busy"; holder: string; until: string };

export interface LeasedSweepOptions extends Omit<SweepOptions, "resume" | "checkpoint"> {
  leaseMs?: number;
  graph?: ResourceGraphOptions;
}

type SweepRuntime = Pick<Runtime, "pipeline" | "clients" | "stores" | "config" | "clock" | "log">;

/** The cursor to continue, if the lease holds a usable one for this trigger. */
function resumable(
  runtime: SweepRuntime,
  lease: SweepLease,
  trigger: "timer" | "cli",
): SweepCursor | undefined {
  const c = lease.cursor;
  if (trigger !== "timer" || !isSweepCursor(c) || c.trigger !== "timer") return undefined;
  try {
    selectSweep(runtime.pipeline.deps.policies, runtime.pipeline.deps.registry, c.policyNames);
    return c;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    runtime.log.warn(
      { runId: c.runId, err: err.message },
      "the interrupted sweep no longer fits the policies; starting anew",
    );
    return undefined;
  }
}

export async function sweepWithLease(
  runtime: SweepRuntime,
  opts: LeasedSweepOptions,
): Promise<LeasedSweepResult> {
  const store = runtime.stores.sweeps;
  if (!store)
    throw new ConfigError("COSMOS_ENDPOINT", "this process has no sweep store (container 'sweeps')");
  const leaseMs = opts.leaseMs ?? SWEEP_LEASE_MS;
  const holder = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  const attempt = await store.acquireLease(holder, runtime.clock.now(), leaseMs);
  if (!attempt.acquired)
    return { status: "busy", holder: attempt.holder, until: new Date(attempt.untilMs).toISOString() };
  const lease = attempt.lease;
  const timer = opts.trigger === "timer";
  const pending = lease.cursor; // a timer's cursor a CLI run must leave in place
  let saved: SweepCursor | undefined = resumable(runtime, lease, opts.trigger);
  let lost: unknown;
  const renewal = setInterval(
    () => {
      lease.renew(runtime.clock.now()).catch((err: unknown) => {
        lost ??= err;
      });
    },
    Math.min(RENEW_EVERY_MS, leaseMs / 3),
  );
  renewal.unref?.();
  const deps = {
    pipeline: runtime.pipeline,
    graph: runtime.clients.resourceGraph(opts.graph),
    store,
    maxChanges: runtime.config.sweep.maxChanges,
    subscriptions: runtime.config.sweep.subscriptions,
  };
  const run = (resume: SweepCursor | undefined) => {
    let progressed = false;
    return runSweep(deps, {
      ...opts,
      ...(resume ? { resume } : {}),
      checkpoint: async (cursor) => {
        if (lost) throw lost;
        progressed = true;
        if (timer) {
          await lease.saveCursor(cursor, runtime.clock.now());
          saved = cursor;
        } else await lease.renew(runtime.clock.now());
      },
    }).catch((err: unknown) => {
      // A resumed run whose old page token Resource Graph no longer takes starts anew.
      if (resume && !progressed && err instanceof RemediationError && err.statusCode === 400) {
        runtime.log.warn(
          { runId: resume.runId, err: err.message },
          "could not resume the sweep; starting anew",
        );
        saved = undefined;
        return null;
      }
      throw err;
    });
  };
  try {
    if (saved) runtime.log.info({ runId: saved.runId, batch: saved.batch }, "resuming an interrupted sweep");
    const report = (await run(saved)) ?? (await run(undefined));
    if (!report) throw new Error("sweep did not produce a report");
    clearInterval(renewal);
    await lease.release(timer ? undefined : pending);
    return { status: "ran", report };
  } catch (err) {
    clearInterval(renewal);
    // Keep what the next tick needs to continue; a lost lease is someone else's now.
    await lease.release(timer ? saved : pending).catch(() => undefined);
    throw err;
  }
}
