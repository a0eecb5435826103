/**
 * Reading the query string of a GET endpoint (`/api/audit`, `/api/posture`): every parameter known
 * and given at most once, none empty, and the parameters both endpoints share (`from`/`to`,
 * `policy`, `limit`, `continuationToken`) checked the same way. A bad value is an InputError (400)
 * naming it.
 */
import { canonicalTime, MAX_TOKEN_LENGTH } from "./audit/paging.js";
import { InputError } from "./errors.js";

/** A parameter's value, or undefined when it is absent. */
export type QueryGet = (name: string) => string | undefined;

const POLICY = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Checks the parameter names (known, each once) and returns the reader of their values (never ""). */
export function queryReader(params: URLSearchParams, known: ReadonlySet<string>): QueryGet {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!known.has(key))
      throw new InputError(
        "UnknownParameter",
        `unknown query parameter '${key.slice(0, 64)}'`,
        key.slice(0, 64),
      );
    if (seen.has(key))
      throw new InputError("DuplicateParameter", `query parameter '${key}' given more than once`, key);
    seen.add(key);
  }
  return (name) => {
    const v = params.get(name);
    if (v === null) return undefined;
    if (v === "") throw new InputError("EmptyParameter", `${name} must not be empty`, name);
    return v;
  };
}

/** A time bound as given and in canonical ISO 8601 UTC form. */
export interface TimeBound {
  given: string;
  canonical: string;
}

/** `from` and `to` (ISO 8601); `to` must be later than `from`. */
export function readTimeRange(get: QueryGet): { from?: TimeBound; to?: TimeBound } {
  const bound = (name: "from" | "to"): TimeBound | undefined => {
    const given = get(name);
    return given === undefined ? undefined : { given, canonical: canonicalTime(given, name) };
  };
  const from = bound("from");
  const to = bound("to");
  if (from && to && from.canonical >= to.canonical)
    throw new InputError("InvalidRange", "to must be later than from", "to");
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/** `policy`: a policy name. */
export function readPolicyName(get: QueryGet): string | undefined {
  const policy = get("policy");
  if (policy !== undefined && !POLICY.test(policy))
    throw new InputError(
      "InvalidPolicy",
      "policy must be a policy name (lower-case letters, digits and '-')",
      "policy",
    );
  return policy;
}

/** `limit`: an integer from 1 to `max`. */
export function readLimit(get: QueryGet, max: number): number | undefined {
  const limit = get("limit");
  if (limit === undefined) return undefined;
  if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > max)
    throw new InputError("InvalidLimit", `limit must be an integer from 1 to ${max}`, "limit");
  return Number(limit);
}

/** `continuationToken`: opaque printable ASCII, at most MAX_TOKEN_LENGTH characters (its meaning is the store's). */
export function readContinuationToken(get: QueryGet): string | undefined {
  const token = get("continuationToken");
  if (token !== undefined && (token.length > MAX_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)))
    throw new InputError(
      "InvalidContinuationToken",
      `continuationToken must be an opaque token of at most ${MAX_TOKEN_LENGTH} characters`,
      "continuationToken",
    );
  return token;
}
