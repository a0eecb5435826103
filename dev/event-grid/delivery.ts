/**
 * Delivery of one event subscription, as Event Grid does it: matching events queue up, leave in
 * batches (`maxEventsPerBatch`, `preferredBatchSizeInKilobytes`; a batch always holds at least one
 * event), count as delivered only on 200–204 within the delivery timeout, are retried on Event
 * Grid's schedule (10 s, 30 s, 1 min, 5 min, …; compressed by `timeScale` locally) and dead-lettered
 * when the attempts or the time to live run out, or at once when the webhook answers 400, 401, 403 or
 * 413. Every attempt is logged for `GET /_sim/deliveries`.
 */
import http from "node:http";
import https from "node:https";
import {
  envelopeOf,
  type GridEventJson,
  NO_RETRY_STATUSES,
  retryDelayMs,
  type SubscriptionDefinition,
} from "./subscription.js";

export type TopicSchema = "EventGridSchema" | "CloudEventSchemaV1_0";

export interface DeliveryAttempt {
  subscription: string;
  /** 1 for the first try of these events. */
  attempt: number;
  eventIds: string[];
  at: string;
  atMs: number;
  status?: number;
  outcome: "delivered" | "retry" | "dead-lettered" | "dropped";
  bytes: number;
}

/** A dead-lettered event as Event Grid writes it to the dead-letter blob: the event plus why. */
export type DeadLetter = GridEventJson & {
  subscription: string;
  deadLetterReason: "MaxDeliveryAttemptsExceeded" | "TimeToLiveExceeded" | "NonRetriableError";
  deliveryAttempts: number;
  lastDeliveryOutcome: string;
  lastHttpStatusCode: number;
  publishTime: string;
  lastDeliveryAttemptTime: string;
};

export interface DeliveryOptions {
  /** Multiplies every retry delay and the time to live (1 = Event Grid's own timing). */
  timeScale: number;
  /** How long an answer may take (Event Grid: 30 s). */
  deliveryTimeoutMs: number;
  /** CA to trust for https webhooks (the local certificate). */
  ca?: string;
  onAttempt(a: DeliveryAttempt): void;
  onDeadLetter(d: DeadLetter): void;
}

interface Pending {
  event: GridEventJson;
  bytes: number;
  publishedAtMs: number;
  attempts: number;
  nextAtMs: number;
  inFlight: boolean;
}

/** Batches leaving one subscription at the same time. */
const MAX_CONCURRENT = 4;

export interface WebhookAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** POSTs (or OPTIONS) to a webhook; rejects on a network error or timeout. */
export function callWebhook(
  url: string,
  opts: { method?: string; headers: Record<string, string>; body?: string; timeoutMs: number; ca?: string },
): Promise<WebhookAnswer> {
  const target = new URL(url);
  const lib = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      target,
      {
        method: opts.method ?? "POST",
        headers: {
          ...opts.headers,
          ...(opts.body !== undefined ? { "content-length": String(Buffer.byteLength(opts.body)) } : {}),
        },
        timeout: opts.timeoutMs,
        ...(target.protocol === "https:" && opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("delivery timed out")));
    req.on("error", reject);
    req.end(opts.body);
  });
}

function outcomeName(status: number): string {
  if (status >= 200 && status <= 204) return "Delivered";
  const named: Record<number, string> = {
    0: "Aborted",
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "TimedOut",
    413: "EntityTooLarge",
    429: "Busy",
    503: "Busy",
  };
  return named[status] ?? "GenericError";
}

export class SubscriptionDelivery {
  private readonly queue: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private running = 0;
  private closed = false;

  constructor(
    readonly name: string,
    readonly def: SubscriptionDefinition,
    readonly schema: TopicSchema,
    private readonly opts: DeliveryOptions,
  ) {}

  /** Events still queued (waiting for a retry or in flight). */
  get backlog(): number {
    return this.queue.length;
  }

  enqueue(events: GridEventJson[], publishedAtMs = Date.now()): void {
    for (const event of events)
      this.queue.push({
        event,
        bytes: Buffer.byteLength(JSON.stringify(event)),
        publishedAtMs,
        attempts: 0,
        nextAtMs: publishedAtMs,
        inFlight: false,
      });
    this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private pump(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    while (this.running < MAX_CONCURRENT) {
      const batch = this.nextBatch(now);
      if (batch.length === 0) break;
      this.running++;
      void this.attempt(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
    const waiting = this.queue.filter((p) => !p.inFlight);
    if (waiting.length > 0) {
      const next = Math.min(...waiting.map((p) => p.nextAtMs));
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
      this.timer.unref();
    }
  }

  private nextBatch(now: number): Pending[] {
    const limitBytes = this.def.preferredBatchSizeInKilobytes * 1024;
    const batch: Pending[] = [];
    let bytes = 0;
    for (const p of this.queue) {
      if (p.inFlight || p.nextAtMs > now) continue;
      if (batch.length >= this.def.maxEventsPerBatch) break;
      if (batch.length > 0 && bytes + p.bytes > limitBytes) break;
      batch.push(p);
      bytes += p.bytes;
    }
    for (const p of batch) p.inFlight = true;
    return batch;
  }

  private async attempt(batch: Pending[]): Promise<void> {
    const cloud = this.schema === "CloudEventSchemaV1_0";
    const body = JSON.stringify(batch.map((p) => p.event));
    const attempt = Math.max(...batch.map((p) => p.attempts)) + 1;
    let status = 0;
    try {
      const answer = await callWebhook(this.def.endpoint, {
        headers: {
          "content-type": cloud
            ? "application/cloudevents-batch+json; charset=utf-8"
            : "application/json; charset=utf-8",
          "aeg-event-type": "Notification",
          "aeg-subscription-name": this.name.toUpperCase(),
          "aeg-delivery-count": String(attempt - 1),
          "aeg-metadata-version": "1",
          ...(cloud ? {} : { "aeg-data-version": String(batch[0]!.event.dataVersion ?? "") }),
        },
        body,
        timeoutMs: this.opts.deliveryTimeoutMs,
        ca: this.opts.ca,
      });
      status = answer.status;
    } catch {
      status = 0; // no answer (refused, dropped, timed out): retried like a 5xx
    }
    const now = Date.now();
    const log = (outcome: DeliveryAttempt["outcome"]) =>
      this.opts.onAttempt({
        subscription: this.name,
        attempt,
        eventIds: batch.map((p) => envelopeOf(p.event).id),
        at: new Date(now).toISOString(),
        atMs: now,
        ...(status ? { status } : {}),
        outcome,
        bytes: Buffer.byteLength(body),
      });
    if (status >= 200 && status <= 204) {
      this.remove(batch);
      return log("delivered");
    }
    for (const p of batch) p.attempts += 1;
    if (NO_RETRY_STATUSES.includes(status)) {
      log(this.def.deadLetter ? "dead-lettered" : "dropped");
      return this.deadLetter(batch, "NonRetriableError", status, now);
    }
    const ttlMs = this.def.retryPolicy.eventTimeToLiveInMinutes * 60_000 * this.opts.timeScale;
    const expired: Pending[] = [];
    const exhausted: Pending[] = [];
    for (const p of batch) {
      p.nextAtMs = now + retryDelayMs(p.attempts) * this.opts.timeScale;
      p.inFlight = false;
      if (p.attempts >= this.def.retryPolicy.maxDeliveryAttempts) exhausted.push(p);
      else if (p.nextAtMs - p.publishedAtMs > ttlMs) expired.push(p);
    }
    log(
      exhausted.length + expired.length === batch.length
        ? this.def.deadLetter
          ? "dead-lettered"
          : "dropped"
        : "retry",
    );
    this.deadLetter(exhausted, "MaxDeliveryAttemptsExceeded", status, now);
    this.deadLetter(expired, "TimeToLiveExceeded", status, now);
  }

  private remove(batch: Pending[]): void {
    for (const p of batch) {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
    }
  }

  private deadLetter(
    batch: Pending[],
    reason: DeadLetter["deadLetterReason"],
    status: number,
    now: number,
  ): void {
    if (batch.length === 0) return;
    this.remove(batch);
    if (!this.def.deadLetter) return;
    for (const p of batch)
      this.opts.onDeadLetter({
        ...p.event,
        subscription: this.name,
        deadLetterReason: reason,
        deliveryAttempts: p.attempts,
        lastDeliveryOutcome: outcomeName(status),
        lastHttpStatusCode: status,
        publishTime: new Date(p.publishedAtMs).toISOString(),
        lastDeliveryAttemptTime: new Date(now).toISOString(),
      });
  }
}
