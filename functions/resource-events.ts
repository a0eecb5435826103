/**
 * Event Grid trigger `resourceEvents` (ARM and Key Vault events). In Azure the host does the
 * validation handshake and invokes this once per event; the local host does the same. Throwing
 * makes the host answer non-2xx, so Event Grid redelivers.
 */
import type { InvocationContext } from "@azure/functions";
import { getRuntime } from "../shared/runtime.js";
import { assertValueDepth } from "../shared/signals/body.js";
import { parseEventGridDelivery } from "../shared/signals/eventgrid.js";
import { RedeliveryRequested, summarize } from "./decisions.js";

export async function handleResourceEvent(event: unknown, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  // The Azure host hands the event over already parsed: bound its depth before zod walks it.
  assertValueDepth(event);
  // One event per invocation: Event Grid schema events are parsed as a one-element batch.
  const body = event && typeof event === "object" && "specversion" in event ? event : [event];
  const parsed = parseEventGridDelivery(body, {});
  if (parsed.kind === "validation") return; // the host answers handshakes itself
  for (const a of parsed.acknowledged)
    runtime.log.info(
      { invocationId: context.invocationId, type: a.type },
      "Event Grid system event acknowledged",
    );
  const decisions = await runtime.pipeline.handleAll(parsed.signals);
  const summary = summarize(decisions);
  for (const d of summary) runtime.log.info({ invocationId: context.invocationId, ...d }, "decision");
  if (decisions.some((d) => d.retry)) throw new RedeliveryRequested(summary);
}
