/**
 * Raw HTTP body → JSON, bounded before anything recursive touches it: a size limit (413) and a
 * nesting-depth limit (400). `JSON.parse`, zod, `JSON.stringify` and redaction all recurse, so a
 * 10 KB body of 5,000 nested arrays would otherwise overflow the stack in one of them. The depth is
 * found by a single non-recursive pass over the text (brackets outside strings), before parsing.
 */
import { InputError } from "../errors.js";
import { formatPath } from "./errors.js";

/** Event Grid delivers at most 1 MB per batch; we refuse anything bigger before parsing. */
export const MAX_BODY_BYTES = 1_048_576;

/**
 * Deepest nesting of objects/arrays accepted in any request body (the top-level value is depth 1).
 * Real Event Grid, Monitor, budget and Bot Framework payloads stay under 10; Azure's own JSON readers
 * stop at 64 as well.
 */
export const MAX_JSON_DEPTH = 64;

/** Longest error path reported for a too-deep body (the path of 64 levels can be long). */
const MAX_REPORTED_PATH = 512;

function tooDeep(segments: readonly (string | number)[], limit: number): InputError {
  let path = formatPath(
    segments.map((s) => (typeof s === "string" && s.length > 64 ? `${s.slice(0, 64)}…` : s)),
  );
  if (path.length > MAX_REPORTED_PATH) path = `${path.slice(0, MAX_REPORTED_PATH)}…`;
  return new InputError(
    "TooDeeplyNested",
    `objects and arrays are nested deeper than the limit of ${limit} levels`,
    path,
  );
}

interface Frame {
  kind: "object" | "array";
  /** Arrays: the current element index. */
  index: number;
  /** Objects: where the current member name's quoted text starts and ends (decoded only for an
   *  error message: most bodies are accepted, and decoding every name costs a parse per member). */
  nameStart: number;
  nameEnd: number;
  /** Objects only: the next string is a member name. */
  expectKey: boolean;
}

/**
 * Throws `TooDeeplyNested` (400) if the JSON text nests deeper than `limit`, naming the path of the
 * first container past the limit. Iterative and linear; it does not validate the JSON (the parser
 * does that afterwards), so malformed text is never rejected here unless it is too deep.
 */
export function assertJsonTextDepth(text: string, limit = MAX_JSON_DEPTH): void {
  const stack: Frame[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (top?.kind === "object" && top.expectKey) {
        top.nameStart = start;
        top.nameEnd = i + 1;
        top.expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= limit) throw tooDeep(pathOf(stack, text), limit);
      stack.push({
        kind: c === 0x7b ? "object" : "array",
        index: 0,
        nameStart: -1,
        nameEnd: -1,
        expectKey: c === 0x7b,
      });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === "array") top.index += 1;
      else if (top) top.expectKey = true;
    }
  }
}

function memberName(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted.slice(1, -1);
  }
}

function pathOf(stack: readonly Frame[], text: string): (string | number)[] {
  return stack.map((f) =>
    f.kind === "array" ? f.index : f.nameStart < 0 ? "" : memberName(text.slice(f.nameStart, f.nameEnd)),
  );
}

/**
 * Throws `TooDeeplyNested` (400) if an already-parsed value nests deeper than `limit` — for values a
 * host parsed for us (the Azure Functions host hands Event Grid events over as objects). Iterative.
 */
export function assertValueDepth(value: unknown, limit = MAX_JSON_DEPTH): void {
  type Item = { v: unknown; depth: number; path: readonly (string | number)[] };
  const todo: Item[] = [{ v: value, depth: 1, path: [] }];
  while (todo.length > 0) {
    const { v, depth, path } = todo.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > limit) throw tooDeep(path, limit);
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v as Record<string, unknown>);
    for (const [k, child] of entries) {
      if (typeof child === "object" && child !== null)
        todo.push({ v: child, depth: depth + 1, path: [...path, k] });
    }
  }
}

/** Rejects a body over `limit` bytes with 413 `PayloadTooLarge`. */
export function assertBodySize(raw: Buffer | string, limit: number): void {
  const size = typeof raw === "string" ? Buffer.byteLength(raw, "utf8") : raw.byteLength;
  if (size > limit) {
    throw new InputError("PayloadTooLarge", `request body is ${size} bytes; the limit is ${limit}`, "", 413);
  }
}

/**
 * Parses a JSON body. Over `limit` bytes → 413 `PayloadTooLarge`; nested deeper than
 * `MAX_JSON_DEPTH` → 400 `TooDeeplyNested`; not JSON → 400 `InvalidJson` (path `""`).
 */
export function parseJsonBody(raw: Buffer | string, limit = MAX_BODY_BYTES): unknown {
  assertBodySize(raw, limit);
  let text = typeof raw === "string" ? raw : raw.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") throw new InputError("InvalidJson", "request body is empty; expected JSON", "");
  assertJsonTextDepth(text);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const detail = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 200) : "parse error";
    throw new InputError("InvalidJson", `request body is not valid JSON: ${detail}`, "");
  }
}
