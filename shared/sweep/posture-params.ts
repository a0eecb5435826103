/**
 * `GET /api/posture` query parameters (docs/http-api.md#posture) → PostureQuery. Every value is
 * checked before it reaches a store; a bad one is a 400 naming it.
 */
import { POSTURE_MAX_LIMIT, type PostureQuery } from "../ports/sweep-store.js";
import {
  queryReader,
  readContinuationToken,
  readLimit,
  readPolicyName,
  readTimeRange,
} from "../query-reader.js";

const KNOWN = new Set(["from", "to", "policy", "limit", "continuationToken", "code"]);

export function parsePostureParams(params: URLSearchParams): PostureQuery {
  const get = queryReader(params, KNOWN);
  const out: PostureQuery = {};
  const { from, to } = readTimeRange(get);
  if (from) out.from = from.canonical;
  if (to) out.to = to.canonical;
  const policy = readPolicyName(get);
  if (policy !== undefined) out.policy = policy;
  const limit = readLimit(get, POSTURE_MAX_LIMIT);
  if (limit !== undefined) out.limit = limit;
  const token = readContinuationToken(get);
  if (token !== undefined) out.continuationToken = token;
  return out;
}
