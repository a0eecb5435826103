/** Raw HTTP body → JSON, with the size limit Event Grid and action groups respect. */
import { InputError } from "../errors.js";

/** Event Grid delivers at most 1 MB per batch; we refuse anything bigger before parsing. */
export const MAX_BODY_BYTES = 1_048_576;

/** Parses a JSON body. Over `limit` bytes → 413 `PayloadTooLarge`; not JSON → 400 `InvalidJson` (path `""`). */
export function parseJsonBody(raw: Buffer | string, limit = MAX_BODY_BYTES): unknown {
  const size = typeof raw === "string" ? Buffer.byteLength(raw, "utf8") : raw.byteLength;
  if (size > limit) {
    throw new InputError("PayloadTooLarge", `request body is ${size} bytes; the limit is ${limit}`, "", 413);
  }
  let text = typeof raw === "string" ? raw : raw.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") throw new InputError("InvalidJson", "request body is empty; expected JSON", "");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const detail = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 200) : "parse error";
    throw new InputError("InvalidJson", `request body is not valid JSON: ${detail}`, "");
  }
}
