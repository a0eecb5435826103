/** HTTP trigger `alerts`: Azure Monitor action group webhook (common alert schema) and budget notifications. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { getRuntime } from "../shared/runtime.js";
import { parseAlertDelivery } from "../shared/signals/alerts.js";
import { MAX_BODY_BYTES, parseJsonBody } from "../shared/signals/body.js";
import { summarize } from "./decisions.js";
import { errorResponse, json, readBodyText } from "./http.js";

export async function handleAlert(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const runtime = await getRuntime();
  try {
    const signal = parseAlertDelivery(parseJsonBody(await readBodyText(req, MAX_BODY_BYTES)));
    const decisions = await runtime.pipeline.handle(signal);
    const summary = summarize(decisions);
    for (const d of summary) runtime.log.info({ invocationId: context.invocationId, ...d }, "decision");
    // Action groups retry on 5xx/429: ask for it only when a decision is worth retrying.
    if (decisions.some((d) => d.retry)) return json(503, { decisions: summary }, { "retry-after": "30" });
    return json(200, { decisions: summary });
  } catch (err) {
    return errorResponse(err, runtime.log, "alerts");
  }
}
