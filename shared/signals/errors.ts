/**
 * Zod → InputError conversion shared by every parser of untrusted input (signals, policy files,
 * audit queries). Paths use driftguard's notation (docs/http-api.md#error-shape): `[2].data.resourceUri`,
 * `data.essentials.alertTargetIDs[0]`, `policies[1].triggers[0].alert`.
 */
import type { z } from "zod";
import { InputError } from "../errors.js";

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Renders path segments: numbers as `[n]`, plain keys as `.key`, odd keys as `["odd key"]`. */
export function formatPath(segments: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const seg of segments) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && PLAIN_KEY.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** Joins a path prefix with a relative path: `("[2]", "data.x")` → `[2].data.x`, `("", "data")` → `data`. */
export function joinPath(prefix: string, rel: string): string {
  if (prefix === "") return rel;
  if (rel === "") return prefix;
  return rel.startsWith("[") ? `${prefix}${rel}` : `${prefix}.${rel}`;
}

/** Converts the first issue of a ZodError into an InputError whose path names the field. */
export function zodToInputError(err: z.ZodError, prefix = "", code = "InvalidInput"): InputError {
  const issue = err.issues[0];
  if (!issue) return new InputError(code, "invalid input", prefix);
  const path = formatPath(issue.path, prefix);
  const message = issue.message.length > 300 ? `${issue.message.slice(0, 300)}…` : issue.message;
  return new InputError(code, message, path);
}

/** Parses `value` with `schema` or throws the InputError of its first issue. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix = "",
  code = "InvalidInput",
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw zodToInputError(result.error, prefix, code);
  return result.data;
}
