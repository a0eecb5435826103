/**
 * The `anchorDigests` timer (anchors every chain head: docs/audit.md#anchors) and `GET /api/audit-status`
 * (the audit viewer's header: the last verification and the newest anchor's age).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import { parseAnchor } from "../shared/anchors/anchor.js";
import { writeAnchor } from "../shared/anchors/service.js";
import { checkAuditReader } from "../shared/audit/authz.js";
import { getRuntime } from "../shared/runtime.js";
import { DRIFTGUARD_VERSION } from "../shared/version.js";
import { errorResponse, json } from "./http.js";

export async function anchorDigests(_timer: Timer | undefined, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  if (!runtime.anchors || !runtime.stores.evidence) {
    runtime.log.warn(
      { invocationId: context.invocationId },
      "anchors are off: DRIFTGUARD_ANCHOR_CONTAINER_URL is not set, so truncated or rewritten chains cannot be detected",
    );
    return;
  }
  const { name, anchor } = await writeAnchor({
    evidence: runtime.stores.evidence,
    anchors: runtime.anchors,
    clock: runtime.clock,
    version: DRIFTGUARD_VERSION,
  });
  runtime.log.info(
    {
      invocationId: context.invocationId,
      anchor: name,
      root: anchor.root,
      chains: anchor.chains,
      records: anchor.records,
    },
    "anchor written",
  );
}

export async function handleAuditStatus(req: HttpRequest): Promise<HttpResponseInit> {
  const runtime = await getRuntime();
  try {
    checkAuditReader(Object.fromEntries(req.headers.entries()), { requirePrincipal: runtime.config.inAzure });
    const now = runtime.clock.now();
    const last = (await runtime.stores.evidence?.lastVerification()) ?? null;
    let newest: { name: string; time: string; ageSeconds: number; stale: boolean } | null = null;
    if (runtime.anchors) {
      const names = (await runtime.anchors.list()).filter((n) => /-[0-9a-f]{16}\.json$/.test(n));
      const name = names.at(-1);
      if (name) {
        const anchor = parseAnchor(name, await runtime.anchors.get(name));
        const ageMs = now.getTime() - Date.parse(anchor.time);
        newest = {
          name,
          time: anchor.time,
          ageSeconds: Math.round(ageMs / 1000),
          stale: ageMs > 2 * runtime.config.anchors.periodMs,
        };
      }
    }
    return json(
      200,
      {
        lastVerification: last,
        anchors: { configured: !!runtime.anchors, schedule: runtime.config.anchors.schedule, newest },
      },
      { "cache-control": "no-store" },
    );
  } catch (err) {
    return errorResponse(err, runtime.log, "audit-status");
  }
}
