/**
 * Delivers events to a functions host as Event Grid does: one POST per event to the Event Grid
 * webhook, keep-alive connections, and redelivery of anything not answered 2xx (after a short
 * pause, as Event Grid retries). Records each delivery's latency (request sent → answer received).
 */
import http from "node:http";

/**
 * The bench's time limit (epoch ms; `npm run bench -- --time-limit <minutes>`): a load loop past it
 * sends nothing more, lets what is in flight finish, and reports itself `cut`, so a phase on a
 * machine too loaded to finish in time ends instead of running for hours.
 */
let deadlineMs = Number.POSITIVE_INFINITY;
export function setDeadline(epochMs: number): void {
  deadlineMs = epochMs;
}
export function pastDeadline(): boolean {
  return Date.now() > deadlineMs;
}

/** A phase stopped at the bench's time limit: its metrics are not measured. */
export class TimeLimitReached extends Error {
  override readonly name = "TimeLimitReached";
  constructor(what: string) {
    super(`${what}: stopped at the bench's time limit`);
  }
}

export interface Target {
  /** `http://127.0.0.1:PORT` of a host or of the front end. */
  url: string;
  functionKey: string;
}

export interface Delivery {
  ms: number;
  status: number;
}

export class EventGridSender {
  private readonly agent: http.Agent;
  private readonly path: string;
  private readonly origin: URL;

  constructor(target: Target, maxSockets = 256) {
    this.origin = new URL(target.url);
    this.path = `/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${encodeURIComponent(target.functionKey)}`;
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  send(event: unknown): Promise<Delivery> {
    const body = JSON.stringify([event]);
    const started = performance.now();
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: this.origin.hostname,
          port: this.origin.port,
          method: "POST",
          path: this.path,
          agent: this.agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "aeg-event-type": "Notification",
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0 }));
        },
      );
      req.on("error", () => resolve({ ms: performance.now() - started, status: 0 }));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface RunStats {
  durationMs: number;
  /** Latency of each first attempt. */
  latencies: number[];
  deliveries: number;
  redeliveries: number;
  failedForGood: number;
  statuses: Record<string, number>;
  /** Stopped at the time limit before every item was sent. */
  cut?: boolean;
}

/** Delivers every item with `concurrency` in flight; non-2xx answers are redelivered (up to 20 times). */
export async function closedLoop<T>(
  items: readonly T[],
  concurrency: number,
  send: (item: T) => Promise<Delivery>,
  opts: {
    retryDelayMs?: number;
    maxAttempts?: number;
    /** Called once at the time limit: abort what is in flight (e.g. close the sender). */
    onDeadline?: () => void;
  } = {},
): Promise<RunStats> {
  const queue = items.map((item) => ({ item, attempt: 0 }));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let redeliveries = 0;
  let failedForGood = 0;
  let deliveries = 0;
  let inFlight = 0;
  let waiting = 0; // redeliveries waiting for their pause to end
  let cut = false;
  const started = performance.now();
  // Past the time limit nothing more is sent, and what is in flight is aborted (answers status 0).
  const watch = setInterval(() => {
    if (!pastDeadline()) return;
    clearInterval(watch);
    cut = true;
    queue.length = 0;
    opts.onDeadline?.();
  }, 500);
  await new Promise<void>((done) => {
    const pump = () => {
      if (queue.length > 0 && pastDeadline()) {
        cut = true;
        queue.length = 0;
      }
      while (inFlight < concurrency && queue.length > 0) {
        const next = queue.shift()!;
        inFlight++;
        deliveries++;
        void send(next.item).then((d) => {
          inFlight--;
          statuses[d.status] = (statuses[d.status] ?? 0) + 1;
          if (next.attempt === 0) latencies.push(d.ms);
          if (d.status < 200 || d.status >= 300) {
            if (next.attempt + 1 < (opts.maxAttempts ?? 20)) {
              redeliveries++;
              waiting++;
              setTimeout(() => {
                waiting--;
                if (!cut) queue.push({ item: next.item, attempt: next.attempt + 1 });
                pump();
              }, opts.retryDelayMs ?? 200);
            } else failedForGood++;
          }
          pump();
        });
      }
      if (queue.length === 0 && inFlight === 0 && waiting === 0) done();
    };
    pump();
  });
  clearInterval(watch);
  return {
    durationMs: performance.now() - started,
    latencies,
    deliveries,
    redeliveries,
    failedForGood,
    statuses,
    cut,
  };
}

/**
 * Sends one item every `1000 / ratePerSecond` ms (on schedule, whatever is in flight). `latencies`
 * holds the accepted (2xx) deliveries only; the others are counted in `failed` (and by status), so
 * a failure can never make a latency look better.
 */
export async function openLoop<T>(
  items: readonly T[],
  ratePerSecond: number,
  send: (item: T) => Promise<Delivery>,
  opts: { onDeadline?: () => void } = {},
): Promise<RunStats & { lateStarts: number; failed: number }> {
  const interval = 1000 / ratePerSecond;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const inflight: Promise<void>[] = [];
  let lateStarts = 0;
  let failed = 0;
  let cut = false;
  const started = performance.now();
  for (let i = 0; i < items.length; i++) {
    if (pastDeadline()) {
      cut = true;
      opts.onDeadline?.();
      break;
    }
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -interval) lateStarts++;
    inflight.push(
      send(items[i]!).then((d) => {
        statuses[d.status] = (statuses[d.status] ?? 0) + 1;
        if (d.status >= 200 && d.status < 300) latencies.push(d.ms);
        else failed++;
      }),
    );
  }
  await Promise.all(inflight);
  return {
    durationMs: performance.now() - started,
    latencies,
    deliveries: items.length,
    redeliveries: 0,
    failedForGood: failed,
    statuses,
    lateStarts,
    failed,
    cut,
  };
}
