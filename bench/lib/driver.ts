/**
 * Delivers events to a functions host as Event Grid does: one POST per event to the Event Grid
 * webhook, keep-alive connections, and redelivery of anything not answered 2xx (after a short
 * pause, as Event Grid retries). Records each delivery's latency (request sent → answer received).
 */
import http from "node:http";

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
}

/** Delivers every item with `concurrency` in flight; non-2xx answers are redelivered (up to 20 times). */
export async function closedLoop<T>(
  items: readonly T[],
  concurrency: number,
  send: (item: T) => Promise<Delivery>,
  opts: { retryDelayMs?: number; maxAttempts?: number } = {},
): Promise<RunStats> {
  const queue = items.map((item) => ({ item, attempt: 0 }));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let redeliveries = 0;
  let failedForGood = 0;
  let deliveries = 0;
  let inFlight = 0;
  let waiting = 0; // redeliveries waiting for their pause to end
  const started = performance.now();
  await new Promise<void>((done) => {
    const pump = () => {
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
                queue.push({ item: next.item, attempt: next.attempt + 1 });
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
  return {
    durationMs: performance.now() - started,
    latencies,
    deliveries,
    redeliveries,
    failedForGood,
    statuses,
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
): Promise<RunStats & { lateStarts: number; failed: number }> {
  const interval = 1000 / ratePerSecond;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const inflight: Promise<void>[] = [];
  let lateStarts = 0;
  let failed = 0;
  const started = performance.now();
  for (let i = 0; i < items.length; i++) {
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
  };
}
