/**
 * Local Azure Functions host: serves the app's function table on the same URLs and with the same
 * key rules as the real host (`/api/<route>`, `/runtime/webhooks/eventgrid?functionName=…`,
 * `?code=` or `x-functions-key`), including both Event Grid validation handshakes and batch
 * delivery (non-2xx if any event failed, so Event Grid would redeliver). The real host cannot be
 * installed here; this stands in for it, driven by the very table `functions/index.ts` registers.
 */
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import functions, { type HttpResponseInit } from "@azure/functions";
import {
  type FunctionDefinition,
  functionsTable,
  type HttpFunction,
  type TimerFunction,
} from "../functions/app.js";
import { RedeliveryRequested } from "../functions/decisions.js";
import { InputError } from "../shared/errors.js";
import type { Logger } from "../shared/log.js";
import { redactText } from "../shared/redact.js";
import { MAX_BODY_BYTES, parseJsonBody } from "../shared/signals/body.js";
import { parseEventGridDelivery } from "../shared/signals/eventgrid.js";
import { readCapped, sameSecret } from "./request.js";

const { HttpRequest, InvocationContext } = functions;

export interface LocalHostOptions {
  port?: number;
  host?: string;
  /** Function key (also accepted as the Event Grid system key, as the host's master key would be). */
  functionKey?: string;
  table?: FunctionDefinition[];
  log: Logger;
  /** Run timer functions on their interval (off in tests; call `runTimer`). */
  timers?: boolean;
  /** Timer intervals (ms) by function name, instead of the table's `everyMs` (tests). */
  timerEveryMs?: Record<string, number>;
  /** Headers added to every response (a host process names itself; see dev/proc). */
  responseHeaders?: Record<string, string>;
}

export interface LocalHost {
  url: string;
  functionKey: string;
  runTimer(name: string): Promise<void>;
  close(): Promise<void>;
}

export function generateFunctionKey(): string {
  return randomBytes(30).toString("base64url");
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const body = await readCapped(req, limit);
  if (body === "too-large")
    throw new InputError("PayloadTooLarge", `request body exceeds ${limit} bytes`, "", 413);
  return body;
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const isText = typeof body === "string";
  const payload = body === undefined ? "" : isText ? body : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined
      ? {}
      : { "content-type": isText ? "text/plain; charset=utf-8" : "application/json; charset=utf-8" }),
    ...headers,
  });
  res.end(payload);
}

async function writeResponse(res: ServerResponse, out: HttpResponseInit): Promise<void> {
  const headers: Record<string, string> = {};
  if (out.headers) {
    const h =
      out.headers instanceof Headers
        ? Object.fromEntries(out.headers.entries())
        : (out.headers as Record<string, string>);
    for (const [k, v] of Object.entries(h)) headers[k.toLowerCase()] = String(v);
  }
  const status = out.status ?? 200;
  if (out.jsonBody !== undefined) {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(out.jsonBody));
    return;
  }
  const body = out.body;
  res.writeHead(status, headers);
  if (body === undefined || body === null) res.end();
  else if (typeof body === "string" || body instanceof Uint8Array) res.end(body);
  else res.end(Buffer.from(await new Response(body as BodyInit).arrayBuffer()));
}

/** `approvals/{id}` → regex with named groups. */
function compileRoute(route: string): RegExp {
  const pattern = route
    .split("/")
    .map((seg) => {
      const m = /^\{(\w+)\}$/.exec(seg);
      return m ? `(?<${m[1]}>[^/]+)` : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${pattern}/?$`, "i");
}

export async function startLocalHost(opts: LocalHostOptions): Promise<LocalHost> {
  const table = opts.table ?? functionsTable;
  const functionKey = opts.functionKey ?? generateFunctionKey();
  const log = opts.log;
  const httpFns = table
    .filter((f): f is HttpFunction => f.trigger === "http")
    .map((f) => ({ fn: f, re: compileRoute(f.route) }));
  const context = (functionName: string) =>
    new InvocationContext({
      functionName,
      invocationId: crypto.randomUUID(),
      logHandler: (level, ...args) =>
        log.debug({ functionName, level }, redactText(args.map(String).join(" "))),
    });

  async function eventGridWebhook(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.searchParams.get("functionName") ?? "";
    const fn = table.find((f) => f.trigger === "eventGrid" && f.name.toLowerCase() === name.toLowerCase());
    if (fn?.trigger !== "eventGrid")
      return send(res, 404, {
        error: {
          code: "FunctionNotFound",
          message: `no Event Grid function '${name}'`,
          path: "functionName",
        },
      });
    if (
      !sameSecret(
        url.searchParams.get("code") ?? (req.headers["x-functions-key"] as string | undefined),
        functionKey,
      )
    ) {
      return send(res, 401, {
        error: { code: "Unauthorized", message: "missing or invalid system key (?code=)", path: "code" },
      });
    }
    // CloudEvents abuse-protection handshake.
    if (req.method === "OPTIONS") {
      const origin = req.headers["webhook-request-origin"];
      if (typeof origin !== "string" || !origin)
        return send(res, 400, {
          error: {
            code: "MissingHeader",
            message: "WebHook-Request-Origin header is required",
            path: "WebHook-Request-Origin",
          },
        });
      return send(res, 200, undefined, {
        "WebHook-Allowed-Origin": origin,
        "WebHook-Allowed-Rate": "*",
        Allow: "POST",
      });
    }
    if (req.method !== "POST")
      return send(
        res,
        405,
        { error: { code: "MethodNotAllowed", message: "use POST", path: "" } },
        { Allow: "POST, OPTIONS" },
      );
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : v]),
    );
    // Validate the whole delivery first: a bad event rejects the batch and nothing is applied.
    const body = parseJsonBody(await readBody(req, MAX_BODY_BYTES));
    const parsed = parseEventGridDelivery(body, headers);
    if (parsed.kind === "validation") {
      log.info({ functionName: fn.name }, "Event Grid subscription validation handshake answered");
      return send(res, 200, { validationResponse: parsed.handshake.validationCode });
    }
    const events = Array.isArray(body) ? body : [body];
    // Like the real host, the answer says which events failed but never why: the reason (a store
    // or SDK error, e.g. `connect ECONNREFUSED …`) goes only to the redacted log.
    const failures: { index: number; code: string }[] = [];
    for (const [index, event] of events.entries()) {
      try {
        await fn.handler(event, context(fn.name));
      } catch (err) {
        const code = err instanceof RedeliveryRequested ? "RedeliveryRequested" : "InternalError";
        failures.push({ index, code });
        log.warn(
          { functionName: fn.name, index, code, err: redactText(String((err as Error)?.message ?? err)) },
          "event failed",
        );
      }
    }
    if (failures.length > 0) {
      log.warn(
        { functionName: fn.name, failed: failures.length, of: events.length },
        "delivery failed; Event Grid would redeliver",
      );
      return send(res, 500, {
        error: {
          code: "DeliveryFailed",
          message: `${failures.length} of ${events.length} event(s) failed`,
          path: "",
        },
        failures,
      });
    }
    return send(res, 200, { accepted: events.length });
  }

  async function httpFunction(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: string,
  ): Promise<void> {
    const match = httpFns.map(({ fn, re }) => ({ fn, m: re.exec(route) })).find((x) => x.m);
    if (!match?.m)
      return send(res, 404, {
        error: { code: "NotFound", message: `no function at /api/${route}`, path: "" },
      });
    const { fn } = match;
    const method = (req.method ?? "GET").toUpperCase();
    if (!fn.methods.includes(method as HttpFunction["methods"][number])) {
      return send(
        res,
        405,
        { error: { code: "MethodNotAllowed", message: `${method} is not allowed`, path: "" } },
        { Allow: fn.methods.join(", ") },
      );
    }
    if (fn.authLevel !== "anonymous") {
      const given = (req.headers["x-functions-key"] as string | undefined) ?? url.searchParams.get("code");
      if (!sameSecret(given, functionKey))
        return send(res, 401, {
          error: {
            code: "Unauthorized",
            message: "missing or invalid function key (?code= or x-functions-key)",
            path: "code",
          },
        });
    }
    const raw = method === "GET" || method === "HEAD" ? undefined : await readBody(req, MAX_BODY_BYTES * 4);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
    // No `query` init: HttpRequest then reads the query from the URL itself, as the real host does,
    // so duplicates (`getAll`) and names like `__proto__` reach the function unchanged.
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers,
      params: { ...(match.m.groups ?? {}) },
      ...(raw ? { body: { bytes: new Uint8Array(raw) } } : {}),
    });
    const out = await fn.handler(request, context(fn.name));
    await writeResponse(res, out);
  }

  const server = http.createServer((req, res) => {
    for (const [name, value] of Object.entries(opts.responseHeaders ?? {})) res.setHeader(name, value);
    const url = new URL(req.url ?? "/", "http://localhost");
    const started = Date.now();
    const path = url.pathname;
    const done = (err?: unknown) => {
      if (err) {
        if (err instanceof InputError) {
          log.warn({ code: err.code, path: err.path, reason: redactText(err.message) }, "rejected input");
          if (!res.headersSent) send(res, err.status, err.toBody());
        } else {
          log.error({ err: redactText(String((err as Error)?.message ?? err)), path }, "host error");
          if (!res.headersSent)
            send(res, 500, { error: { code: "InternalError", message: "internal error", path: "" } });
        }
      }
      log.debug({ method: req.method, path, status: res.statusCode, ms: Date.now() - started }, "request");
    };
    let work: Promise<void>;
    if (path.toLowerCase() === "/runtime/webhooks/eventgrid") work = eventGridWebhook(req, res, url);
    else if (path.toLowerCase().startsWith("/api/")) work = httpFunction(req, res, url, path.slice(5));
    else
      work = Promise.resolve(send(res, 404, { error: { code: "NotFound", message: "not found", path: "" } }));
    work.then(() => done(), done);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 7071, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? "127.0.0.1"}:${port}`;

  const timerFns = table.filter((f): f is TimerFunction => f.trigger === "timer");
  const running = new Set<string>();
  async function runTimer(name: string): Promise<void> {
    const fn = timerFns.find((f) => f.name === name);
    if (!fn) throw new Error(`no timer function '${name}'`);
    if (running.has(name)) return; // like the host's singleton lock: no overlapping runs
    running.add(name);
    try {
      await fn.handler(undefined, context(fn.name));
    } finally {
      running.delete(name);
    }
  }
  const intervals = opts.timers
    ? timerFns.map((fn) =>
        setInterval(
          () =>
            runTimer(fn.name).catch((err) =>
              log.error({ timer: fn.name, err: redactText(String(err?.message ?? err)) }, "timer failed"),
            ),
          opts.timerEveryMs?.[fn.name] ?? fn.everyMs,
        ).unref(),
      )
    : [];

  return {
    url,
    functionKey,
    runTimer,
    close: async () => {
      for (const i of intervals) clearInterval(i);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
