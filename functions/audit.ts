/** HTTP trigger `audit`: the audit-trail query API (docs/http-api.md#audit-query), JSON or CSV. */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { checkAuditReader } from "../shared/audit/authz.js";
import { parseAuditQueryParams, toCsv } from "../shared/audit/query-params.js";
import { getRuntime } from "../shared/runtime.js";
import { errorResponse, json } from "./http.js";

export async function handleAuditQuery(req: HttpRequest): Promise<HttpResponseInit> {
  const runtime = await getRuntime();
  try {
    checkAuditReader(Object.fromEntries(req.headers.entries()), { requirePrincipal: runtime.config.inAzure });
    const { format, ...query } = parseAuditQueryParams(req.query);
    const page = await runtime.stores.audit.query(query);
    if (format === "csv") {
      return {
        status: 200,
        body: toCsv(page.items),
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": 'attachment; filename="driftguard-audit.csv"',
          ...(page.continuationToken ? { "x-continuation-token": page.continuationToken } : {}),
        },
      };
    }
    return json(200, page, { "cache-control": "no-store" });
  } catch (err) {
    return errorResponse(err, runtime.log, "audit");
  }
}
