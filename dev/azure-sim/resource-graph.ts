/**
 * Azure Resource Graph stand-in: `POST /providers/Microsoft.ResourceGraph/resources` (any
 * api-version) over the simulator's resources, as Resource Graph answers it (README.md):
 * the KQL subset of `kql.ts`; body `{subscriptions?, query, options: {$top, $skip, $skipToken,
 * resultFormat}}` → `{totalRecords, count, resultTruncated, $skipToken?, data}`; a `$skipToken`
 * carries the next page's offset and size, `$skip`/`$top` beside it override them. Pages come from a
 * row list taken by the first page (each page renders its rows as they are then), so a query's pages
 * neither skip nor repeat a resource while resources change. Throttling like Resource Graph's per-user quota: 15 queries per 5 s per caller (the
 * token's `oid`), announced on every answer (`x-ms-user-quota-remaining`,
 * `x-ms-user-quota-resets-after`); past it, 429 with `Retry-After`.
 */
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isPlainObject, sendJson } from "./common.js";
import { KqlError, type KqlQuery, parseKql, type Row } from "./kql.js";
import { extensionOfId, lower, parseArmPath, type ResourceStore } from "./store.js";

export const GRAPH_PATH = "/providers/microsoft.resourcegraph/resources";
export const QUOTA = { queries: 15, windowMs: 5_000 };
const MAX_TOP = 1000;
const SNAPSHOTS_KEPT = 16;
const TENANT_ID = "00000000-0000-0000-0000-0000000000f0";
/**
 * Types Resource Graph keeps out of the `resources` table (docs/azure.md#resource-graph): a site's
 * configuration is in `appserviceresources`, Key Vault secrets nowhere. Extension resources
 * (diagnostic settings, …) are not in it either.
 */
const NOT_IN_RESOURCES_TABLE = new Set(["microsoft.web/sites/config", "microsoft.keyvault/vaults/secrets"]);

/**
 * Types the simulator stores but Azure Resource Graph's `resources` table does not hold: diagnostic
 * settings (extension resources, in no table), a site's `config/web` (table `appserviceresources`),
 * a storage account's blob service and API Management APIs. Left out, so that a sweep against the
 * simulator sees only what it would see in Azure (kinds read those per row).
 */
const NOT_IN_RESOURCES = new Set([
  "microsoft.insights/diagnosticsettings",
  "microsoft.web/sites/config",
  "microsoft.storage/storageaccounts/blobservices",
  "microsoft.apimanagement/service/apis",
]);

interface Snapshot {
  id: string;
  /** The matching rows as filtered (unrendered): each page renders its own rows when it is sent. */
  rows: Row[];
  /** Query text + subscriptions: a token is only good for the query that made it. */
  key: string;
}

function badRequest(
  res: ServerResponse,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  sendJson(res, 400, {
    error: {
      code: "BadRequest",
      message: `Please provide below info when asking for support: timestamp = ${new Date().toISOString()}, correlationId = ${randomUUID()}.`,
      details: [
        {
          code: "InvalidQuery",
          message:
            "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the query before retrying.",
        },
        { code, message, ...extra },
      ],
    },
  });
}

/** Who is asking: the bearer token's `oid` (the local credential's JWTs carry one), else the token. */
function callerOf(req: IncomingMessage): string {
  const token = (req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
  const payload = token.split(".")[1];
  if (payload) {
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { oid?: unknown };
      if (typeof claims.oid === "string") return `oid:${claims.oid}`;
    } catch {
      // not a JWT
    }
  }
  return `token:${createHash("sha256").update(token).digest("hex").slice(0, 16)}`;
}

function hms(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** A resource as a row of the `resources` table (type and resource group lower-cased, as Resource Graph has them). */
function toRow(r: Record<string, unknown>): Row {
  const id = String(r.id);
  const p = parseArmPath(id);
  return {
    id,
    name: r.name,
    type: lower(String(r.type ?? "")),
    tenantId: TENANT_ID,
    kind: r.kind ?? "",
    location: r.location ?? "",
    resourceGroup: lower(p?.resourceGroup ?? ""),
    subscriptionId: p?.subscriptionId ?? "",
    managedBy: r.managedBy ?? "",
    sku: r.sku ?? null,
    plan: r.plan ?? null,
    properties: r.properties ?? {},
    tags: r.tags ?? {},
    identity: r.identity ?? null,
    zones: r.zones ?? null,
    extendedLocation: r.extendedLocation ?? null,
  };
}

export class ResourceGraphHandler {
  private readonly calls = new Map<string, number[]>();
  private readonly snapshots: Snapshot[] = [];
  /** Queries answered (200), for tests and the bench. */
  answered = 0;

  constructor(private readonly store: ResourceStore) {}

  /** Counts a query against the caller's quota; the headers to send, or the 429 wait. */
  private quota(caller: string, now: number): { headers: Record<string, string>; retryAfterMs?: number } {
    const recent = (this.calls.get(caller) ?? []).filter((t) => now - t < QUOTA.windowMs);
    if (recent.length >= QUOTA.queries) {
      const wait = QUOTA.windowMs - (now - recent[0]!);
      this.calls.set(caller, recent);
      return {
        headers: { "x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": hms(wait) },
        retryAfterMs: wait,
      };
    }
    recent.push(now);
    this.calls.set(caller, recent);
    return {
      headers: {
        "x-ms-user-quota-remaining": String(QUOTA.queries - recent.length),
        "x-ms-user-quota-resets-after": hms(QUOTA.windowMs - (now - recent[0]!)),
      },
    };
  }

  handle(req: IncomingMessage, method: string, body: unknown, res: ServerResponse) {
    if (method !== "POST")
      return sendJson(res, 405, {
        error: { code: "MethodNotAllowed", message: "Use POST to query resources." },
      });
    const q = this.quota(callerOf(req), Date.now());
    if (q.retryAfterMs !== undefined) {
      return sendJson(
        res,
        429,
        {
          error: {
            code: "RateLimiting",
            message: "Please provide below info when asking for support: the request was throttled.",
            details: [
              {
                code: "RateLimiting",
                message:
                  "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed.",
              },
            ],
          },
        },
        { ...q.headers, "retry-after": String(Math.max(1, Math.ceil(q.retryAfterMs / 1000))) },
      );
    }
    res.setHeader("x-ms-user-quota-remaining", q.headers["x-ms-user-quota-remaining"]!);
    res.setHeader("x-ms-user-quota-resets-after", q.headers["x-ms-user-quota-resets-after"]!);

    if (!isPlainObject(body) || typeof body.query !== "string" || body.query.trim() === "")
      return badRequest(res, "InvalidRequestContent", "The request body must carry a 'query' string.");
    if (body.managementGroups !== undefined)
      return badRequest(res, "UnsupportedScope", "The simulator answers subscription and tenant scope only.");
    let subscriptions: Set<string> | undefined;
    if (body.subscriptions !== undefined) {
      if (!Array.isArray(body.subscriptions) || body.subscriptions.some((s) => typeof s !== "string"))
        return badRequest(
          res,
          "InvalidSubscriptions",
          "'subscriptions' must be an array of subscription IDs.",
        );
      if (body.subscriptions.length > 1000)
        return badRequest(res, "TooManySubscriptions", "At most 1000 subscriptions per query.");
      subscriptions = new Set((body.subscriptions as string[]).map(lower));
    }
    const options = isPlainObject(body.options) ? body.options : {};
    const top = options.$top;
    if (top !== undefined && (!Number.isInteger(top) || (top as number) < 1 || (top as number) > MAX_TOP))
      return badRequest(res, "InvalidTop", `$top must be an integer from 1 to ${MAX_TOP}.`);
    const skip = options.$skip;
    if (skip !== undefined && (!Number.isInteger(skip) || (skip as number) < 0))
      return badRequest(res, "InvalidSkip", "$skip must be a non-negative integer.");
    if (options.resultFormat !== undefined && options.resultFormat !== "objectArray")
      return badRequest(
        res,
        "UnsupportedResultFormat",
        "The simulator answers resultFormat objectArray only.",
      );

    let query: KqlQuery;
    try {
      query = parseKql(body.query);
    } catch (err) {
      if (!(err instanceof KqlError)) throw err;
      return badRequest(res, "ParserFailure", err.message, {
        line: 1,
        characterPositionInLine: err.position,
        token: err.token,
      });
    }
    const key = `${body.query}\u0000${[...(subscriptions ?? [])].sort().join(",")}`;
    let snapshot: Snapshot;
    // A token carries the next page's offset and size; $skip and $top, when given, override them.
    let offset = (skip as number | undefined) ?? 0;
    let pageSize = (top as number | undefined) ?? MAX_TOP;
    if (options.$skipToken !== undefined) {
      const found = this.fromToken(options.$skipToken, key);
      if (!found) return badRequest(res, "InvalidSkipToken", "The $skipToken is not valid for this query.");
      snapshot = found.snapshot;
      offset = (skip as number | undefined) ?? found.offset;
      pageSize = (top as number | undefined) ?? found.pageSize;
    } else {
      snapshot = { id: randomUUID(), rows: this.evaluate(query, subscriptions), key };
      this.snapshots.push(snapshot);
      if (this.snapshots.length > SNAPSHOTS_KEPT) this.snapshots.shift();
    }
    const limited = query.take !== undefined ? snapshot.rows.slice(0, query.take) : snapshot.rows;
    const data = limited.slice(offset, offset + pageSize);
    const more = offset + data.length < limited.length;
    // No $skipToken when the query limits its rows itself (take/limit), as in Resource Graph.
    const token =
      more && query.take === undefined
        ? Buffer.from(JSON.stringify({ s: snapshot.id, o: offset + data.length, n: pageSize })).toString(
            "base64url",
          )
        : undefined;
    this.answered++;
    sendJson(res, 200, {
      totalRecords: limited.length,
      count: data.length,
      resultTruncated: more && !token ? "true" : "false",
      ...(token ? { $skipToken: token } : {}),
      facets: [],
      data: data.map((r) => project(this.rendered(r), query.project)),
    });
  }

  private fromToken(
    raw: unknown,
    key: string,
  ): { snapshot: Snapshot; offset: number; pageSize: number } | undefined {
    if (typeof raw !== "string" || raw.length > 1000) return undefined;
    try {
      const t = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as {
        s?: unknown;
        o?: unknown;
        n?: unknown;
      };
      const snapshot = this.snapshots.find((s) => s.id === t.s && s.key === key);
      if (!snapshot || !Number.isInteger(t.o)) return undefined;
      const pageSize =
        Number.isInteger(t.n) && (t.n as number) >= 1 ? Math.min(t.n as number, MAX_TOP) : MAX_TOP;
      return { snapshot, offset: t.o as number, pageSize };
    } catch {
      return undefined;
    }
  }

  /** The row as ARM shows the resource now (inline children, etags), or as filtered if it is gone. */
  private rendered(row: Row): Row {
    const r = this.store.get(String(row.id));
    return r ? toRow(r as unknown as Record<string, unknown>) : row;
  }

  private evaluate(q: KqlQuery, subscriptions: Set<string> | undefined): Row[] {
    const rows: Row[] = [];
    for (const raw of this.store.allRaw()) {
      if (extensionOfId(raw.id) || NOT_IN_RESOURCES_TABLE.has(lower(raw.type))) continue;
      const row = toRow(raw as unknown as Record<string, unknown>);
      if (NOT_IN_RESOURCES.has(String(row.type))) continue;
      if (subscriptions && !subscriptions.has(lower(String(row.subscriptionId)))) continue;
      if (!q.where.every((w) => w(row))) continue;
      rows.push(row);
    }
    if (q.order) {
      const { column, desc } = q.order;
      rows.sort((a, b) => {
        const x = String(a[column] ?? "");
        const y = String(b[column] ?? "");
        return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
      });
    }
    return rows;
  }
}

function project(row: Row, columns: string[] | undefined): Row {
  if (!columns) return row;
  const out: Row = {};
  for (const c of columns) out[c] = row[c];
  return out;
}
