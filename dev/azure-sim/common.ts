/**
 * Shared pieces of the Azure simulator: public types, request log (with redaction), fault table and
 * small HTTP helpers used by both the ARM origin and the Key Vault origins.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface ArmResource {
  id: string;
  name: string;
  type: string;
  location?: string;
  tags?: Record<string, string>;
  properties?: Record<string, unknown>;
  sku?: unknown;
  kind?: string;
  etag?: string;
  [key: string]: unknown;
}

export interface Fault {
  method?: string;
  /** substring of the path (case-insensitive), or a regex source when it starts with `^` */
  path: string;
  status: number;
  /** seconds → Retry-After header */
  retryAfter?: number;
  /** delay before answering (timeout simulation) */
  delayMs?: number;
  /** how many matching requests it affects; default 1; -1 (or Infinity) = unlimited */
  count?: number;
  /** how many matching requests pass untouched before it applies (e.g. 1: not the read, the
   *  read-back after a write); default 0 */
  skip?: number;
  body?: unknown;
  /** "arm" or "vault:<name>"; absent = any origin */
  origin?: "arm" | string;
}

export interface LoggedRequest {
  seq: number;
  time: string;
  origin: "arm" | `vault:${string}`;
  method: string;
  path: string;
  query: Record<string, string>;
  apiVersion?: string;
  /** authorization value replaced by "<redacted>" */
  headers: Record<string, string>;
  body?: unknown;
  status: number;
  faulted?: boolean;
}

export type Origin = "arm" | `vault:${string}`;

// ---------------------------------------------------------------------------------------------
// Request log

/** Body fields whose string values are credentials and must never reach the log. */
const SECRET_FIELDS = new Set(
  [
    "value",
    "primaryKey",
    "secondaryKey",
    "key1",
    "key2",
    "password",
    "adminPassword",
    "secret",
    "clientSecret",
    "connectionString",
  ].map((k) => k.toLowerCase()),
);

export function redactBody(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(redactBody);
  if (body && typeof body === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (SECRET_FIELDS.has(k.toLowerCase()) && (typeof v === "string" || typeof v === "number")) {
        out[k] = "<redacted>";
      } else {
        out[k] = redactBody(v);
      }
    }
    return out;
  }
  return body;
}

const SECRET_HEADERS = new Set(["authorization", "ocp-apim-subscription-key", "x-functions-key", "cookie"]);

export function redactHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = SECRET_HEADERS.has(k.toLowerCase()) ? "<redacted>" : Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

export interface LogEntry extends LoggedRequest {
  /** internal: the request reached a handler (not faulted, not a 401 challenge) */
  handled: boolean;
}

export class RequestLog {
  private entries: LogEntry[] = [];
  private seq = 0;

  add(e: Omit<LogEntry, "seq" | "time" | "status" | "handled">): LogEntry {
    const entry: LogEntry = {
      seq: ++this.seq,
      time: new Date().toISOString(),
      status: 0,
      handled: false,
      ...e,
    };
    this.entries.push(entry);
    return entry;
  }

  list(filter?: { method?: string; pathIncludes?: string; origin?: string }): LoggedRequest[] {
    const m = filter?.method?.toUpperCase();
    const p = filter?.pathIncludes?.toLowerCase();
    return this.entries
      .filter(
        (e) =>
          (!m || e.method === m) &&
          (!p || e.path.toLowerCase().includes(p)) &&
          (!filter?.origin || e.origin === filter.origin),
      )
      .map(publicEntry);
  }

  writes(filter?: { pathIncludes?: string }): LoggedRequest[] {
    const p = filter?.pathIncludes?.toLowerCase();
    return this.entries
      .filter(
        (e) =>
          e.handled &&
          ["PUT", "PATCH", "POST", "DELETE"].includes(e.method) &&
          // A Resource Graph query is a POST that reads.
          e.path.toLowerCase().replace(/\/+$/, "") !== "/providers/microsoft.resourcegraph/resources" &&
          (!p || e.path.toLowerCase().includes(p)),
      )
      .map(publicEntry);
  }

  clear(): void {
    this.entries = [];
  }
}

function publicEntry(e: LogEntry): LoggedRequest {
  const { handled: _h, ...rest } = e;
  return structuredClone(rest);
}

// ---------------------------------------------------------------------------------------------
// Faults

interface ActiveFault extends Fault {
  id: string;
  remaining: number;
  /** matching requests let through so far (see `skip`) */
  skipped?: number;
  regex?: RegExp;
}

export class FaultTable {
  private faults: ActiveFault[] = [];

  add(f: Fault): string {
    if (typeof f.path !== "string" || typeof f.status !== "number") {
      throw new Error("fault needs a string `path` and a numeric `status`");
    }
    const id = randomUUID();
    const count = f.count ?? 1;
    const remaining = count < 0 || !Number.isFinite(count) ? Number.POSITIVE_INFINITY : count;
    this.faults.push({
      ...f,
      id,
      remaining,
      regex: f.path.startsWith("^") ? new RegExp(f.path, "i") : undefined,
    });
    return id;
  }

  clear(): void {
    this.faults = [];
  }

  list(): (Fault & { id: string; remaining: number })[] {
    return this.faults.map(({ regex: _r, ...f }) => ({ ...f, count: f.count }));
  }

  /** Finds the first live fault matching the request and consumes one use of it. */
  take(origin: Origin, method: string, path: string): Fault | undefined {
    const lower = path.toLowerCase();
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (f.origin && f.origin.toLowerCase() !== origin.toLowerCase()) continue;
      const hit = f.regex ? f.regex.test(path) : lower.includes(f.path.toLowerCase());
      if (!hit) continue;
      if ((f.skipped ?? 0) < (f.skip ?? 0)) {
        f.skipped = (f.skipped ?? 0) + 1;
        continue;
      }
      f.remaining -= 1;
      return f;
    }
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return undefined;
  }
}

const STATUS_CODES: Record<number, string> = {
  400: "BadRequest",
  401: "AuthenticationFailed",
  403: "AuthorizationFailed",
  404: "NotFound",
  408: "RequestTimeout",
  409: "Conflict",
  412: "PreconditionFailed",
  429: "TooManyRequests",
  500: "InternalServerError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "GatewayTimeout",
};

export function faultBody(status: number): unknown {
  return {
    error: {
      code: STATUS_CODES[status] ?? `Status${status}`,
      message: `Simulated fault: the service answered ${status}.`,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

export interface ParsedRequest {
  method: string;
  /** decoded path without query */
  path: string;
  /** raw path (still percent-encoded) */
  rawPath: string;
  query: Record<string, string>;
  rawBody: string;
}

export function parseUrl(req: IncomingMessage): {
  path: string;
  rawPath: string;
  query: Record<string, string>;
} {
  const url = new URL(req.url ?? "/", "https://sim.invalid");
  const query: Record<string, string> = {};
  // URLSearchParams decodes keys too: `api%2Dversion` becomes `api-version`.
  for (const [k, v] of url.searchParams) query[k] = v;
  let path = url.pathname;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    /* keep raw */
  }
  return { path, rawPath: url.pathname, query };
}

export function readBody(req: IncomingMessage, limit = 10 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Parses a JSON body; `undefined` for an empty body; throws SyntaxError for non-JSON. */
export function parseJsonBody(raw: string): unknown {
  if (raw.trim() === "") return undefined;
  return JSON.parse(raw);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = body === undefined ? "" : JSON.stringify(body);
  const h: Record<string, string> = {
    "x-ms-request-id": randomUUID(),
    ...headers,
  };
  if (text) {
    h["content-type"] = "application/json; charset=utf-8";
  }
  h["content-length"] = String(Buffer.byteLength(text));
  res.writeHead(status, h);
  res.end(text);
}

export function armError(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON merge patch (RFC 7386): objects merge deeply, arrays and scalars replace, null deletes. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
