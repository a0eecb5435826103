/**
 * A local Event Grid (README.md beside this file): custom topics that accept publishes exactly as
 * Event Grid does — HTTPS with the local certificate, `POST <endpoint>` with a CloudEvents batch,
 * `aeg-sas-key` or an Entra bearer token for `https://eventgrid.azure.net`, 401 otherwise, 413 over
 * 1 MB — so `EventGridPublisherClient` runs against it unchanged; system topics fed by the Azure
 * simulator (ARM and Key Vault events); and event subscriptions delivering to webhooks with Event
 * Grid's handshake, batching, retry schedule and dead-lettering (delivery.ts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { readTokenClaims } from "../../shared/azure/local-credential.js";
import { readCapped, sameSecret } from "../request.js";
import {
  callWebhook,
  type DeadLetter,
  type DeliveryAttempt,
  SubscriptionDelivery,
  type TopicSchema,
} from "./delivery.js";
import { type GridEventJson, matches, type SubscriptionInput, subscriptionSchema } from "./subscription.js";

export type { DeadLetter, DeliveryAttempt, TopicSchema } from "./delivery.js";
export type { GridEventJson, SubscriptionInput } from "./subscription.js";

/** The system topics the Azure simulator feeds. */
export const SYSTEM_TOPICS = {
  /** ARM events of every simulated subscription (`Microsoft.Resources.Subscriptions`). */
  arm: "azure-subscriptions",
  /** Key Vault events of every simulated vault (`Microsoft.KeyVault.vaults`). */
  keyVault: "key-vaults",
} as const;

/** Event Grid accepts at most 1 MB per publish. */
export const MAX_PUBLISH_BYTES = 1024 * 1024;
const EVENT_GRID_AUDIENCE = "https://eventgrid.azure.net";

export interface LocalEventGridOptions {
  port?: number;
  host?: string;
  tls: { cert: string; key: string };
  /** Custom topics to create at start (more with `createTopic` / `PUT /_sim/topics/<name>`). */
  topics?: { name: string; inputSchema?: TopicSchema }[];
  /** Multiplies retry delays and event time to live (default 1: Event Grid's own timing). */
  timeScale?: number;
  /** How long a webhook may take to answer (default 30 s, as Event Grid). */
  deliveryTimeoutMs?: number;
}

export interface TopicInfo {
  name: string;
  kind: "custom" | "system";
  inputSchema: TopicSchema;
  /** Publish endpoint (custom topics). */
  endpoint?: string;
  /** Publish requests accepted so far (custom topics). */
  publishes?: number;
}

export interface TopicFault {
  topic: string;
  status: number;
  /** Publishes it answers (-1 = until cleared; default 1). */
  count?: number;
  /** Or: answers it for this long (ms). */
  durationMs?: number;
}

export interface LocalEventGrid {
  url: string;
  createTopic(name: string, inputSchema?: TopicSchema): { endpoint: string; key: string };
  topicEndpoint(name: string): string;
  topicKey(name: string): string;
  topics(): TopicInfo[];
  /** Creates or replaces a subscription after Event Grid's validation handshake with its webhook. */
  subscribe(name: string, def: SubscriptionInput): Promise<void>;
  unsubscribe(name: string): void;
  /** Events a topic accepted, in arrival order. */
  events(topic: string): GridEventJson[];
  /** Publishes to a system topic (the simulator does this over HTTPS). */
  publishSystem(topic: string, events: GridEventJson[]): void;
  deliveries(subscription?: string): DeliveryAttempt[];
  deadLetters(subscription?: string): DeadLetter[];
  addFault(f: TopicFault): string;
  clearFaults(): void;
  close(): Promise<void>;
}

interface Topic extends TopicInfo {
  key?: string;
  events: GridEventJson[];
}

const faultSchema = z
  .object({
    topic: z.string().min(1),
    status: z.number().int().min(400).max(599),
    count: z.number().int().min(-1).optional(),
    durationMs: z.number().min(0).optional(),
  })
  .strict();

const cloudEventSchema = z.object({
  specversion: z.literal("1.0"),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
});
const gridEventSchema = z.object({
  id: z.string().min(1),
  subject: z.string(),
  eventType: z.string().min(1),
  eventTime: z.string().min(1),
  dataVersion: z.string(),
});

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
    ...headers,
  });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

function gridError(code: string, message: string, field?: string) {
  return {
    error: {
      code,
      message,
      ...(field ? { details: [{ code: "InputJsonInvalid", message, target: field }] } : {}),
    },
  };
}

async function readLimited(req: IncomingMessage, limit: number): Promise<string | "too-large"> {
  const body = await readCapped(req, limit);
  return body === "too-large" ? body : body.toString("utf8");
}

export async function startLocalEventGrid(opts: LocalEventGridOptions): Promise<LocalEventGrid> {
  const host = opts.host ?? "127.0.0.1";
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError("timeScale must be positive");
  const topics = new Map<string, Topic>();
  const subscriptions = new Map<string, SubscriptionDelivery>();
  const attempts: DeliveryAttempt[] = [];
  const deadLetters: DeadLetter[] = [];
  const faults = new Map<string, TopicFault & { untilMs?: number; remaining: number }>();
  let url = "";

  const endpointOf = (name: string) => `${url}/topics/${encodeURIComponent(name)}/api/events`;
  const createTopic = (name: string, inputSchema: TopicSchema = "CloudEventSchemaV1_0") => {
    if (!/^[A-Za-z0-9-]{3,50}$/.test(name))
      throw new Error(`topic name '${name}': 3-50 letters, digits, '-'`);
    const existing = topics.get(name.toLowerCase());
    if (existing?.kind === "custom") return { endpoint: existing.endpoint!, key: existing.key! };
    const key = randomBytes(32).toString("base64");
    topics.set(name.toLowerCase(), {
      name,
      kind: "custom",
      inputSchema,
      endpoint: endpointOf(name),
      key,
      events: [],
    });
    return { endpoint: endpointOf(name), key };
  };
  const systemTopic = (name: string): Topic => {
    let t = topics.get(name.toLowerCase());
    if (!t) {
      t = { name, kind: "system", inputSchema: "EventGridSchema", events: [] };
      topics.set(name.toLowerCase(), t);
    }
    return t;
  };
  for (const t of Object.values(SYSTEM_TOPICS)) systemTopic(t);

  /** Stores and fans out accepted events to the matching subscriptions. */
  const accept = (topic: Topic, events: GridEventJson[]) => {
    const now = Date.now();
    topic.events.push(...events);
    for (const sub of subscriptions.values()) {
      if (sub.def.topic.toLowerCase() !== topic.name.toLowerCase()) continue;
      const matching = events.filter((e) => matches(sub.def, e));
      if (matching.length > 0) sub.enqueue(matching, now);
    }
  };

  const activeFault = (topic: string): number | undefined => {
    const now = Date.now();
    for (const [id, f] of faults) {
      if (f.topic.toLowerCase() !== topic.toLowerCase()) continue;
      if (f.untilMs !== undefined && now >= f.untilMs) {
        faults.delete(id);
        continue;
      }
      if (f.untilMs === undefined) {
        if (f.remaining === 0) {
          faults.delete(id);
          continue;
        }
        if (f.remaining > 0) f.remaining--;
      }
      return f.status;
    }
    return undefined;
  };

  const addFault = (f: TopicFault): string => {
    const id = randomUUID();
    faults.set(id, {
      ...f,
      remaining: f.count ?? 1,
      ...(f.durationMs !== undefined ? { untilMs: Date.now() + f.durationMs } : {}),
    });
    return id;
  };

  async function subscribe(name: string, input: SubscriptionInput): Promise<void> {
    if (!/^[A-Za-z0-9-]{3,64}$/.test(name))
      throw new Error(`subscription name '${name}': 3-64 letters, digits, '-'`);
    const parsed = subscriptionSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw Object.assign(new Error(`${issue.path.join(".") || "body"}: ${issue.message}`), {
        path: issue.path.join("."),
      });
    }
    const def = parsed.data;
    const topic = topics.get(def.topic.toLowerCase());
    if (!topic) throw Object.assign(new Error(`topic: no topic '${def.topic}'`), { path: "topic" });
    await handshake(name, def.endpoint, topic);
    subscriptions.get(name.toLowerCase())?.close();
    subscriptions.set(
      name.toLowerCase(),
      new SubscriptionDelivery(name, def, topic.inputSchema, {
        timeScale,
        deliveryTimeoutMs: opts.deliveryTimeoutMs ?? 30_000,
        ca: opts.tls.cert,
        onAttempt: (a) => {
          attempts.push(a);
          if (attempts.length > 10_000) attempts.splice(0, attempts.length - 10_000);
        },
        onDeadLetter: (d) => deadLetters.push(d),
      }),
    );
  }

  /** Event Grid proves the webhook wants the events before it creates the subscription. */
  async function handshake(name: string, endpoint: string, topic: Topic): Promise<void> {
    const fail = (why: string) =>
      Object.assign(new Error(`endpoint: webhook validation handshake failed: ${why}`), { path: "endpoint" });
    let answer: Awaited<ReturnType<typeof callWebhook>>;
    if (topic.inputSchema === "CloudEventSchemaV1_0") {
      answer = await callWebhook(endpoint, {
        method: "OPTIONS",
        headers: { "webhook-request-origin": "eventgrid.azure.net" },
        timeoutMs: 30_000,
        ca: opts.tls.cert,
      }).catch((err: Error) => {
        throw fail(err.message);
      });
      const allowed = answer.headers["webhook-allowed-origin"];
      if (answer.status !== 200 || (allowed !== "eventgrid.azure.net" && allowed !== "*"))
        throw fail(`OPTIONS answered ${answer.status} without WebHook-Allowed-Origin`);
      return;
    }
    const code = randomUUID();
    answer = await callWebhook(endpoint, {
      headers: {
        "content-type": "application/json; charset=utf-8",
        "aeg-event-type": "SubscriptionValidation",
        "aeg-subscription-name": name.toUpperCase(),
        "aeg-metadata-version": "1",
        "aeg-data-version": "1",
      },
      body: JSON.stringify([
        {
          id: randomUUID(),
          topic: `/local-event-grid/topics/${topic.name}`,
          subject: "",
          data: { validationCode: code },
          eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
          eventTime: new Date().toISOString(),
          metadataVersion: "1",
          dataVersion: "1",
        },
      ]),
      timeoutMs: 30_000,
      ca: opts.tls.cert,
    }).catch((err: Error) => {
      throw fail(err.message);
    });
    let response: unknown;
    try {
      response = JSON.parse(answer.body);
    } catch {
      response = undefined;
    }
    if (answer.status !== 200 || (response as { validationResponse?: unknown })?.validationResponse !== code)
      throw fail(`answered ${answer.status} without the validation code`);
  }

  /** `aeg-sas-key` (the topic's key) or an Entra bearer token for Event Grid; 401 otherwise. */
  function authorized(req: IncomingMessage, topic: Topic): boolean {
    const key = req.headers["aeg-sas-key"];
    if (typeof key === "string" && topic.key) return sameSecret(key, topic.key);
    const auth = req.headers.authorization;
    const m = typeof auth === "string" ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    if (!m) return false;
    // Unsigned locally (as every stand-in): the claims are read, the audience must be Event Grid's.
    const claims = readTokenClaims(m[1]!);
    const aud = claims?.aud;
    return typeof aud === "string" && aud.replace(/\/+$/, "") === EVENT_GRID_AUDIENCE;
  }

  async function publish(req: IncomingMessage, res: ServerResponse, topic: Topic): Promise<void> {
    if (!authorized(req, topic))
      return send(
        res,
        401,
        gridError(
          "Unauthorized",
          "The request authorization key is not authorized, or a token for https://eventgrid.azure.net is missing.",
        ),
      );
    const raw = await readLimited(req, MAX_PUBLISH_BYTES);
    if (raw === "too-large")
      return send(
        res,
        413,
        gridError("RequestEntityTooLarge", `The maximum size (${MAX_PUBLISH_BYTES}) has been exceeded.`),
      );
    const fault = activeFault(topic.name);
    if (fault)
      return send(res, fault, gridError("ServiceUnavailable", `Injected fault: the topic answers ${fault}.`));
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, gridError("BadRequest", "The request body is not valid JSON.", ""));
    }
    const events = Array.isArray(body)
      ? body
      : topic.inputSchema === "CloudEventSchemaV1_0"
        ? [body]
        : undefined;
    if (!events || events.length === 0)
      return send(res, 400, gridError("BadRequest", "Expected a non-empty JSON array of events.", ""));
    const schema = topic.inputSchema === "CloudEventSchemaV1_0" ? cloudEventSchema : gridEventSchema;
    for (const [i, e] of events.entries()) {
      const r = schema.safeParse(e);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        const field = `[${i}]${issue.path.length ? `.${issue.path.join(".")}` : ""}`;
        return send(res, 400, gridError("BadRequest", `${field}: ${issue.message}`, field));
      }
    }
    topic.publishes = (topic.publishes ?? 0) + 1;
    accept(topic, events as GridEventJson[]);
    send(res, 200);
  }

  async function admin(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) {
    const method = req.method ?? "GET";
    const seg = path.split("/").filter(Boolean).map(decodeURIComponent); // ["_sim", …]
    const body = async (): Promise<unknown> => {
      const raw = await readLimited(req, 4 * MAX_PUBLISH_BYTES);
      if (raw === "too-large") throw Object.assign(new Error("body too large"), { path: "" });
      try {
        return raw.trim() ? JSON.parse(raw) : undefined;
      } catch {
        throw Object.assign(new Error("body is not JSON"), { path: "" });
      }
    };
    const bad = (err: unknown, code: string) =>
      send(res, 400, {
        error: { code, message: (err as Error).message, path: (err as { path?: string }).path ?? "" },
      });
    const route = `${method} /${seg.map((s, i) => (i === 2 ? "*" : s)).join("/")}`;
    switch (route) {
      case "GET /_sim/health":
        return send(res, 200, { status: "ok", url });
      case "GET /_sim/topics":
        return send(
          res,
          200,
          [...topics.values()].map(({ name, kind, inputSchema, endpoint, publishes }) => ({
            name,
            kind,
            inputSchema,
            ...(endpoint ? { endpoint, publishes: publishes ?? 0 } : {}),
          })),
        );
      case "PUT /_sim/topics/*": {
        try {
          const b = ((await body()) ?? {}) as { inputSchema?: TopicSchema };
          const schema = b.inputSchema ?? "CloudEventSchemaV1_0";
          if (schema !== "CloudEventSchemaV1_0" && schema !== "EventGridSchema")
            throw Object.assign(new Error("inputSchema: CloudEventSchemaV1_0 or EventGridSchema"), {
              path: "inputSchema",
            });
          return send(res, 200, { name: seg[2], ...createTopic(seg[2]!, schema) });
        } catch (err) {
          return bad(err, "InvalidTopic");
        }
      }
      case "GET /_sim/topics/*/events":
      case "DELETE /_sim/topics/*/events": {
        const topic = topics.get(seg[2]!.toLowerCase());
        if (!topic)
          return send(res, 404, {
            error: { code: "NotFound", message: `no topic '${seg[2]}'`, path: "topic" },
          });
        if (method === "DELETE") {
          topic.events.length = 0;
          return send(res, 204);
        }
        return send(res, 200, topic.events);
      }
      case "POST /_sim/system-topics/*/events": {
        try {
          const events = await body();
          if (!Array.isArray(events))
            throw Object.assign(new Error("expected a JSON array of events"), { path: "" });
          accept(systemTopic(seg[2]!), events as GridEventJson[]);
          return send(res, 200, { accepted: events.length });
        } catch (err) {
          return bad(err, "InvalidEvents");
        }
      }
      case "GET /_sim/subscriptions":
        return send(
          res,
          200,
          [...subscriptions.values()].map((s) => ({ name: s.name, ...s.def, backlog: s.backlog })),
        );
      case "PUT /_sim/subscriptions/*":
        try {
          await subscribe(seg[2]!, (await body()) as SubscriptionInput);
          return send(res, 200, { name: seg[2] });
        } catch (err) {
          return bad(err, "InvalidSubscription");
        }
      case "DELETE /_sim/subscriptions/*":
        grid.unsubscribe(seg[2]!);
        return send(res, 204);
      case "GET /_sim/deliveries":
        return send(res, 200, grid.deliveries(query.get("subscription") ?? undefined));
      case "GET /_sim/deadletters":
        return send(res, 200, grid.deadLetters(query.get("subscription") ?? undefined));
      case "POST /_sim/faults":
        try {
          const parsed = faultSchema.safeParse(await body());
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            throw Object.assign(new Error(issue.message), { path: issue.path.join(".") });
          }
          return send(res, 201, { id: addFault(parsed.data) });
        } catch (err) {
          return bad(err, "InvalidFault");
        }
      case "DELETE /_sim/faults":
        faults.clear();
        return send(res, 204);
      default:
        return send(res, 404, {
          error: { code: "NotFound", message: `no admin route ${method} ${path}`, path: "" },
        });
    }
  }

  const server: Server = createServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => {
    const parsed = new URL(req.url ?? "/", "https://localhost");
    const path = parsed.pathname;
    const work = (async () => {
      if (path.toLowerCase().startsWith("/_sim/")) return admin(req, res, path, parsed.searchParams);
      const m = /^\/topics\/([^/]+)\/api\/events\/?$/i.exec(path);
      const topic = m ? topics.get(decodeURIComponent(m[1]!).toLowerCase()) : undefined;
      if (topic?.kind !== "custom") return send(res, 404, gridError("NotFound", `No topic at ${path}.`));
      if (req.method !== "POST")
        return send(res, 405, gridError("MethodNotAllowed", "Use POST."), { allow: "POST" });
      return publish(req, res, topic);
    })();
    work.catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, gridError("InternalServerError", (err as Error).message));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  url = `https://${host === "0.0.0.0" ? "127.0.0.1" : host}:${(server.address() as AddressInfo).port}`;
  for (const t of opts.topics ?? []) createTopic(t.name, t.inputSchema);

  const grid: LocalEventGrid = {
    url,
    createTopic,
    topicEndpoint: (name) => {
      const t = topics.get(name.toLowerCase());
      if (t?.kind !== "custom") throw new Error(`no custom topic '${name}'`);
      return t.endpoint!;
    },
    topicKey: (name) => {
      const t = topics.get(name.toLowerCase());
      if (t?.kind !== "custom") throw new Error(`no custom topic '${name}'`);
      return t.key!;
    },
    topics: () =>
      [...topics.values()].map(({ name, kind, inputSchema, endpoint, publishes }) => ({
        name,
        kind,
        inputSchema,
        ...(endpoint ? { endpoint, publishes: publishes ?? 0 } : {}),
      })),
    subscribe,
    unsubscribe: (name) => {
      subscriptions.get(name.toLowerCase())?.close();
      subscriptions.delete(name.toLowerCase());
    },
    events: (topic) => structuredClone(topics.get(topic.toLowerCase())?.events ?? []),
    publishSystem: (topic, events) => accept(systemTopic(topic), events),
    deliveries: (sub) => attempts.filter((a) => !sub || a.subscription.toLowerCase() === sub.toLowerCase()),
    deadLetters: (sub) =>
      deadLetters.filter((d) => !sub || d.subscription.toLowerCase() === sub.toLowerCase()),
    addFault,
    clearFaults: () => faults.clear(),
    close: async () => {
      for (const s of subscriptions.values()) s.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return grid;
}
