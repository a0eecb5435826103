/**
 * Timer triggers; each function's name is its handler's name (functions/app.ts). What is due is
 * found in Cosmos DB (the audit trail and approvals), never held in memory, so nothing depends on a
 * process staying up. No timer knows a kind: follow-ups come from the registry.
 */
import type { InvocationContext, Timer } from "@azure/functions";
import { runDueFollowUps } from "../shared/pipeline/follow-ups.js";
import { getRuntime } from "../shared/runtime.js";
import { setPendingApprovals } from "../shared/telemetry/api.js";
import { summarize } from "./decisions.js";

/** Runs the follow-ups kinds scheduled through their records (e.g. cooldown restores) that are due. */
export async function runFollowUps(_timer: Timer | undefined, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const runs = await runDueFollowUps({
    registry: runtime.registry,
    history: runtime.stores.audit,
    handle: (signal, opts) => runtime.pipeline.handle(signal, opts),
    now: runtime.clock.now(),
  });
  for (const run of runs)
    for (const s of summarize(run.decisions))
      runtime.log.info({ invocationId: context.invocationId, followUp: run.followUp, ...s }, "follow-up");
}

/**
 * Marks approval requests past their deadline as expired (one `expired` record each), and writes
 * the closing records (expired, superseded, rejected) a host closed but did not get to record.
 */
export async function expireApprovals(_timer: Timer | undefined, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const decisions = await runtime.approvalLifecycle.expireDue();
  for (const s of summarize(decisions))
    runtime.log.info({ invocationId: context.invocationId, ...s }, "approval expired");
  setPendingApprovals(await runtime.stores.approvals.countPending());
}

/**
 * Work that must not wait for a redelivery: approved changes due again after a transient failure
 * (or whose validity ended), and actions whose holder vanished before recording them.
 */
export async function resumeWork(_timer: Timer | undefined, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const approved = await runtime.approvalLifecycle.runDue();
  for (const s of summarize(approved))
    runtime.log.info({ invocationId: context.invocationId, ...s }, "approved change retried");
  const resumed = await runtime.pipeline.resumeInterrupted();
  for (const s of summarize(resumed))
    runtime.log.info({ invocationId: context.invocationId, ...s }, "interrupted action completed");
  setPendingApprovals(await runtime.stores.approvals.countPending());
}

/**
 * Sends the decision events still pending (docs/events.md#not-one-lost): those of a host that died
 * between commit and send, or sent while the topic was down. Nothing to do when events are off.
 */
export async function publishEvents(_timer: Timer | undefined, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  if (!runtime.events) return;
  const report = await runtime.events.publishPending();
  if (report.published > 0 || report.orphansRemoved > 0 || report.left > 0)
    runtime.log.info({ invocationId: context.invocationId, ...report }, "pending decision events published");
}
