/**
 * Azure Resource Graph queries (docs/azure.md#resource-graph), over its REST API through the one
 * client factory (same endpoint, identity, trusted CA): `POST /providers/Microsoft.ResourceGraph/
 * resources?api-version=2022-10-01`. The SDK (`@azure/arm-resourcegraph`) needs Node 22 from its
 * current major on, and its older major uses the retired ms-rest stack, so the REST call is made here.
 *
 * Throttling is Resource Graph's own: a per-user quota (about 15 queries per 5 s) announced on every
 * answer (`x-ms-user-quota-remaining`, `x-ms-user-quota-resets-after` as hh:mm:ss). When the quota
 * is spent, the next query waits for the reset instead of being refused; a 429 waits `Retry-After`
 * (else the reset, else 1 s) and is sent again. 408/5xx/network failures back off exponentially.
 * The SDK pipeline's own retries are off for this client so that each attempt is counted here.
 */
import { RemediationError } from "../errors.js";

export const RESOURCE_GRAPH_API_VERSION = "2022-10-01";
export const RESOURCE_GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources";
/** Resource Graph's largest page. */
export const MAX_PAGE_ROWS = 1000;

export interface GraphRequest {
  query: string;
  /** Absent: every subscription the identity can read (tenant scope). At most 300 per query. */
  subscriptions?: readonly string[];
  top?: number;
  skipToken?: string;
}

export interface GraphPage {
  rows: Record<string, unknown>[];
  /** Token of the next page; absent on the last one. */
  skipToken?: string;
  totalRecords?: number;
  resultTruncated: boolean;
}

/** One HTTP exchange: the factory builds it (endpoint, token, CA); answers any status. */
export type GraphSender = (
  path: string,
  body: unknown,
) => Promise<{ status: number; headers: Record<string, string | undefined>; bodyText: string }>;

export interface GraphStats {
  /** HTTP requests sent (each attempt). */
  requests: number;
  /** Answers 429. */
  throttled: number;
  /** Time spent waiting for the quota or Retry-After. */
  waitedMs: number;
}

export interface ResourceGraphOptions {
  /** Attempts for 408/5xx/network failures (429s wait and retry up to `maxThrottleWaits`). */
  maxRetries?: number;
  retryDelayInMs?: number;
  maxThrottleWaits?: number;
  /** Longest single wait honoured (Retry-After or quota reset). */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** `hh:mm:ss` (fractions allowed) → ms; undefined when absent or malformed. */
export function parseResetsAfter(v: string | undefined): number | undefined {
  const m = v?.trim().match(/^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/);
  if (!m) return undefined;
  return Math.ceil((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000);
}

function retryAfterMs(headers: Record<string, string | undefined>): number | undefined {
  const ms = Number(headers["retry-after-ms"]);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers["retry-after"];
  if (raw === undefined) return undefined;
  const s = Number(raw);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const GRAPH_RESOURCE = "/providers/Microsoft.ResourceGraph";

function graphError(code: string, message: string, retryable: boolean, status?: number): RemediationError {
  return new RemediationError(code, message, {
    step: "read",
    resourceId: GRAPH_RESOURCE,
    retryable,
    ...(status !== undefined ? { statusCode: status } : {}),
  });
}

export class ResourceGraphClient {
  readonly stats: GraphStats = { requests: 0, throttled: 0, waitedMs: 0 };
  /** Not before this time (epoch ms): the quota is spent until then. */
  private quotaResetAt = 0;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly send: GraphSender,
    private readonly opts: ResourceGraphOptions = {},
  ) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private async wait(ms: number): Promise<void> {
    const capped = Math.min(Math.max(0, ms), this.opts.maxWaitMs ?? 60_000);
    if (capped <= 0) return;
    this.stats.waitedMs += capped;
    await this.sleep(capped);
  }

  /** One page of a query. Throws RemediationError (step `read`) when it cannot be answered. */
  async queryPage(req: GraphRequest): Promise<GraphPage> {
    if (req.subscriptions && req.subscriptions.length > 300)
      throw graphError("TooManySubscriptions", "at most 300 subscriptions per Resource Graph query", false);
    const body = {
      ...(req.subscriptions ? { subscriptions: req.subscriptions } : {}),
      query: req.query,
      options: {
        $top: Math.min(req.top ?? MAX_PAGE_ROWS, MAX_PAGE_ROWS),
        ...(req.skipToken ? { $skipToken: req.skipToken } : {}),
        resultFormat: "objectArray",
      },
    };
    const maxRetries = this.opts.maxRetries ?? 4;
    const baseDelay = this.opts.retryDelayInMs ?? 1000;
    let failures = 0;
    let throttles = 0;
    for (;;) {
      await this.wait(this.quotaResetAt - Date.now());
      this.stats.requests++;
      let res: Awaited<ReturnType<GraphSender>>;
      try {
        res = await this.send(RESOURCE_GRAPH_PATH, body);
      } catch (err) {
        if (++failures > maxRetries)
          throw graphError("ResourceGraphUnreachable", `Resource Graph: ${(err as Error).message}`, true);
        await this.wait(baseDelay * 2 ** (failures - 1));
        continue;
      }
      const resetMs = parseResetsAfter(res.headers["x-ms-user-quota-resets-after"]);
      const remaining = Number(res.headers["x-ms-user-quota-remaining"]);
      if (Number.isFinite(remaining) && remaining <= 0 && resetMs !== undefined)
        this.quotaResetAt = Date.now() + resetMs;
      if (res.status === 429) {
        this.stats.throttled++;
        if (++throttles > (this.opts.maxThrottleWaits ?? 10))
          throw graphError("ResourceGraphThrottled", "Resource Graph kept answering 429", true, 429);
        await this.wait(retryAfterMs(res.headers) ?? resetMs ?? 1000);
        continue;
      }
      if (res.status === 408 || res.status >= 500) {
        if (++failures > maxRetries)
          throw graphError(`Http${res.status}`, `Resource Graph answered ${res.status}`, true, res.status);
        await this.wait(baseDelay * 2 ** (failures - 1));
        continue;
      }
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(res.bodyText) as Record<string, unknown>;
      } catch {
        throw graphError(
          "InvalidResponse",
          `Resource Graph answered ${res.status} without JSON`,
          true,
          res.status,
        );
      }
      if (res.status !== 200) {
        const e = (parsed.error ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
        const details = Array.isArray(e.details)
          ? e.details
              .map((d: { code?: unknown; message?: unknown }) => `${String(d.code)}: ${String(d.message)}`)
              .join("; ")
          : "";
        throw graphError(
          typeof e.code === "string" ? e.code : `Http${res.status}`,
          `Resource Graph answered ${res.status}: ${String(e.message ?? "")}${details ? ` (${details})` : ""}`.slice(
            0,
            1000,
          ),
          false,
          res.status,
        );
      }
      if (!Array.isArray(parsed.data))
        throw graphError(
          "InvalidResponse",
          "Resource Graph answered without a data array (resultFormat objectArray)",
          true,
        );
      const token = parsed.$skipToken;
      return {
        rows: parsed.data as Record<string, unknown>[],
        ...(typeof token === "string" && token ? { skipToken: token } : {}),
        ...(typeof parsed.totalRecords === "number" ? { totalRecords: parsed.totalRecords } : {}),
        resultTruncated: String(parsed.resultTruncated).toLowerCase() === "true",
      };
    }
  }
}
