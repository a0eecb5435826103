/**
 * Small helpers shared by remediation kinds that talk to ARM through the SDK clients:
 * provisioning-state checks, tags, raw-response capture (etags the SDK models drop) and If-Match
 * headers for classic and modular clients. Errors go through `asRemediationError` (../errors.ts).
 */
import { httpStatusOf, RemediationError, type Step } from "../errors.js";
import { parseResourceId, type ResourceId, ResourceIdError } from "../resource-id.js";

/** Runs `fn`; a 404 (the resource does not exist) becomes `undefined`. */
export async function orNotFound<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw err;
  }
}

/** `provisioningState` at the top level or under `properties` (SDK models flatten differently). */
export function provisioningStateOf(resource: unknown): string | undefined {
  if (!resource || typeof resource !== "object") return undefined;
  const r = resource as { provisioningState?: unknown; properties?: { provisioningState?: unknown } };
  const state = r.provisioningState ?? r.properties?.provisioningState;
  return typeof state === "string" ? state : undefined;
}

/**
 * Throws when the resource's provisioning state is `Failed`. A classic PATCH resolves even then
 * (docs/azure.md#long-running-operations).
 */
export function assertProvisioned(resource: unknown, step: Step, resourceId: string): void {
  const state = provisioningStateOf(resource);
  if (state !== undefined && state.toLowerCase() === "failed") {
    throw new RemediationError("ProvisioningFailed", `provisioningState is '${state}' after the ${step}`, {
      step,
      resourceId,
      retryable: false,
    });
  }
}

/** The resource's tags as a string map (non-string values are dropped). */
export function tagsOf(resource: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const tags = (resource as { tags?: unknown } | null | undefined)?.tags;
  if (!tags || typeof tags !== "object" || Array.isArray(tags)) return out;
  for (const [k, v] of Object.entries(tags as Record<string, unknown>)) {
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

/** Parses the target ID at step `read` (a malformed ID is a non-retryable read failure). */
export function parseTargetId(resourceId: string, step: Step = "read"): ResourceId {
  try {
    return parseResourceId(resourceId);
  } catch (err) {
    const message = err instanceof ResourceIdError ? err.message : String(err);
    throw new RemediationError("InvalidResourceId", message, {
      step,
      resourceId,
      retryable: false,
      cause: err,
    });
  }
}

/** Minimal shape of the raw response both classic (core-client) and modular (rest-core-client) clients hand to `onResponse`. */
interface RawResponseLike {
  status?: number;
  headers?: { get(name: string): string | undefined | null };
  parsedBody?: unknown;
}

/**
 * Captures the last raw response of an SDK call: SDK models drop fields they don't know (e.g.
 * `etag` on ML workspaces and Key Vault vaults), the raw body and `ETag` header keep them.
 * Pass `onResponse` in the call's options.
 */
export function captureRaw(): {
  onResponse: (raw: unknown) => void;
  readonly etag: string | undefined;
  readonly body: unknown;
} {
  let last: RawResponseLike | undefined;
  return {
    onResponse: (raw: unknown) => {
      last = raw as RawResponseLike;
    },
    get etag() {
      const fromBody = (last?.parsedBody as { etag?: unknown } | undefined)?.etag;
      if (typeof fromBody === "string" && fromBody.length > 0) return fromBody;
      const header = last?.headers?.get("etag");
      return typeof header === "string" && header.length > 0 ? header : undefined;
    },
    get body() {
      return last?.parsedBody;
    },
  };
}

/**
 * If-Match for a modular (rest-core-client) call: `requestOptions.headers`. Empty when there is
 * no etag (the resource type doesn't expose one), so nothing is sent.
 */
export function modularIfMatch(etag: string | undefined): {
  requestOptions?: { headers: Record<string, string> };
} {
  return etag ? { requestOptions: { headers: { "If-Match": etag } } } : {};
}

/**
 * If-Match for a classic (core-client) long-running call. Classic LROs reuse the call's options
 * for every poll GET (Azure-AsyncOperation, Location, final GET), so a plain `customHeaders`
 * would put If-Match on the polls too, where the etag of the old resource would fail the final
 * GET. This header object is visible to the first request only (and to that request's retries,
 * which reuse the serialised request).
 */
export function classicIfMatchOnce(etag: string | undefined): {
  requestOptions?: { customHeaders: Record<string, string> };
} {
  if (!etag) return {};
  let used = false;
  const headers = new Proxy({} as Record<string, string>, {
    ownKeys: () => {
      if (used) return [];
      used = true;
      return ["If-Match"];
    },
    getOwnPropertyDescriptor: (_t, key) =>
      key === "If-Match" ? { value: etag, enumerable: true, configurable: true, writable: false } : undefined,
    get: (_t, key) => (key === "If-Match" ? etag : undefined),
  });
  return { requestOptions: { customHeaders: headers } };
}

/**
 * For resource types without an ETag (no If-Match possible): the fields a plan was made from, read
 * again right before the write, must still hold the values the plan saw. Otherwise someone changed
 * the resource in between and the run fails with the retryable `ResourceChanged`, so that the
 * redelivery re-reads and re-plans instead of writing over the other change.
 */
export function assertUnchanged(
  planned: Readonly<Record<string, unknown>>,
  fresh: Readonly<Record<string, unknown>>,
  resourceId: string,
): void {
  const changed = Object.keys(planned).filter(
    (k) => JSON.stringify(planned[k] ?? null) !== JSON.stringify(fresh[k] ?? null),
  );
  if (changed.length === 0) return;
  throw new RemediationError(
    "ResourceChanged",
    `the resource changed since it was read (${changed.join(", ")}); it has no ETag, so it was read again before the write`,
    { step: "apply", resourceId, retryable: true },
  );
}
