/**
 * Timer triggers. Follow-ups are found in Cosmos DB (the audit trail and approvals), never held in
 * memory, so nothing depends on a process staying up.
 */
import type { InvocationContext, Timer } from "@azure/functions";
import {
  findDueRestorations,
  restoreSignal,
} from "../shared/remediations/throttle-api-subscription/due-restores.js";
import { getRuntime } from "../shared/runtime.js";
import { setPendingApprovals } from "../shared/telemetry/api.js";
import { summarize } from "./decisions.js";

/** Restores throttled API subscriptions whose cooldown has expired. */
export async function runDueRestorations(
  _timer: Timer | undefined,
  context: InvocationContext,
): Promise<void> {
  const runtime = await getRuntime();
  const now = runtime.clock.now();
  const due = await findDueRestorations(runtime.stores.audit, now);
  for (const d of due) {
    const decisions = await runtime.pipeline.handle(restoreSignal(d, now), { policyName: d.policy });
    for (const s of summarize(decisions))
      runtime.log.info({ invocationId: context.invocationId, ...s }, "cooldown restore");
  }
}

/** Marks approval requests past their deadline as expired (one `expired` record each). */
export async function expirePendingApprovals(
  _timer: Timer | undefined,
  context: InvocationContext,
): Promise<void> {
  const runtime = await getRuntime();
  const decisions = await runtime.pipeline.expireApprovals();
  for (const s of summarize(decisions))
    runtime.log.info({ invocationId: context.invocationId, ...s }, "approval expired");
  setPendingApprovals(await runtime.stores.approvals.countPending());
}

/**
 * Work that must not wait for a redelivery: approved changes due again after a transient failure
 * (or whose validity ended), and actions whose holder vanished before recording them.
 */
export async function resumePendingWork(
  _timer: Timer | undefined,
  context: InvocationContext,
): Promise<void> {
  const runtime = await getRuntime();
  const approved = await runtime.pipeline.runDueApprovedChanges();
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
