/**
 * `GET /api/posture` query parameters (docs/http-api.md#posture) → PostureQuery. Every value is
 * checked before it reaches a store; a bad one is a 400 naming it.
 */
import { canonicalTime, MAX_TOKEN_LENGTH } from "../audit/paging.js";
import { InputError } from "../errors.js";
import { POSTURE_MAX_LIMIT, type PostureQuery } from "../ports/sweep-store.js";

const KNOWN = new Set(["from", "to", "policy", "limit", "continuationToken", "code"]);
const POLICY = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function parsePostureParams(params: URLSearchParams): PostureQuery {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!KNOWN.has(key))
      throw new InputError(
        "UnknownParameter",
        `unknown query parameter '${key.slice(0, 64)}'`,
        key.slice(0, 64),
      );
    if (seen.has(key))
      throw new InputError("DuplicateParameter", `query parameter '${key}' given more than once`, key);
    seen.add(key);
  }
  const get = (name: string): string | undefined => {
    const v = params.get(name);
    if (v === null) return undefined;
    if (v === "") throw new InputError("EmptyParameter", `${name} must not be empty`, name);
    return v;
  };
  const out: PostureQuery = {};
  const from = get("from");
  if (from !== undefined) out.from = canonicalTime(from, "from");
  const to = get("to");
  if (to !== undefined) out.to = canonicalTime(to, "to");
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to)
    throw new InputError("InvalidRange", "to must be later than from", "to");
  const policy = get("policy");
  if (policy !== undefined) {
    if (!POLICY.test(policy))
      throw new InputError(
        "InvalidPolicy",
        "policy must be a policy name (lower-case letters, digits and '-')",
        "policy",
      );
    out.policy = policy;
  }
  const limit = get("limit");
  if (limit !== undefined) {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > POSTURE_MAX_LIMIT)
      throw new InputError(
        "InvalidLimit",
        `limit must be an integer from 1 to ${POSTURE_MAX_LIMIT}`,
        "limit",
      );
    out.limit = Number(limit);
  }
  const token = get("continuationToken");
  if (token !== undefined) {
    if (token.length > MAX_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token))
      throw new InputError(
        "InvalidContinuationToken",
        `continuationToken must be an opaque token of at most ${MAX_TOKEN_LENGTH} characters`,
        "continuationToken",
      );
    out.continuationToken = token;
  }
  return out;
}
