/** HTTP trigger `posture`: the sweeps' run summaries over time (docs/http-api.md#posture), same auth as `audit`. */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { checkAuditReader } from "../shared/audit/authz.js";
import { getRuntime } from "../shared/runtime.js";
import { parsePostureParams } from "../shared/sweep/posture-params.js";
import { errorResponse, json } from "./http.js";

export async function handlePostureQuery(req: HttpRequest): Promise<HttpResponseInit> {
  const runtime = await getRuntime();
  try {
    checkAuditReader(Object.fromEntries(req.headers.entries()), { requirePrincipal: runtime.config.inAzure });
    const query = parsePostureParams(req.query);
    const store = runtime.stores.sweeps;
    const page = store ? await store.queryRuns(query) : { items: [], continuationToken: null };
    return json(200, page, { "cache-control": "no-store" });
  } catch (err) {
    return errorResponse(err, runtime.log, "posture");
  }
}
