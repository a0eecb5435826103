/**
 * `driftguard replay`: one payload file → Signals, whatever the source. Detects an Event Grid
 * delivery (array), a single Event Grid event, a CloudEvent or batch, a common-schema alert or a
 * budget notification (or an array of alert payloads) and parses it with the route's own parser.
 * Errors keep the field path and name the file in the message.
 */
import { InputError } from "../errors.js";
import { parseAlertDelivery } from "./alerts.js";
import type { BudgetParseOptions } from "./budget.js";
import { isPlainObject } from "./common.js";
import { parseEventGridDelivery } from "./eventgrid.js";
import type { Signal } from "./types.js";

function isAlertPayload(v: unknown): boolean {
  return isPlainObject(v) && "schemaId" in v;
}

function rebase(err: InputError, prefix: string): InputError {
  const path =
    err.path === "" ? prefix : err.path.startsWith("[") ? `${prefix}${err.path}` : `${prefix}.${err.path}`;
  return new InputError(err.code, err.message, path, err.status);
}

function parse(json: unknown, opts: BudgetParseOptions): Signal[] {
  if (Array.isArray(json) && json.length > 0 && json.every(isAlertPayload)) {
    return json.map((item, i) => {
      try {
        return parseAlertDelivery(item, opts);
      } catch (err) {
        throw err instanceof InputError ? rebase(err, `[${i}]`) : err;
      }
    });
  }
  if (isAlertPayload(json)) return [parseAlertDelivery(json, opts)];
  // A single Event Grid schema event saved on its own is replayed as a one-event delivery.
  const body = isPlainObject(json) && "eventType" in json && !("specversion" in json) ? [json] : json;
  if (Array.isArray(body) || (isPlainObject(body) && "specversion" in body)) {
    const parsed = parseEventGridDelivery(body, {});
    if (parsed.kind === "validation") {
      throw new InputError("ValidationNotReplayable", "validation handshakes cannot be replayed", "");
    }
    return parsed.signals;
  }
  throw new InputError(
    "UnrecognizedPayload",
    "not an Event Grid delivery, CloudEvent, common-schema alert or budget notification",
    "",
  );
}

export function parseSignalFile(json: unknown, file?: string, opts: BudgetParseOptions = {}): Signal[] {
  try {
    return parse(json, opts);
  } catch (err) {
    if (err instanceof InputError && file !== undefined) {
      const where = err.path === "" ? file : `${file} ${err.path}`;
      throw new InputError(err.code, `${where}: ${err.message}`, err.path, err.status);
    }
    throw err;
  }
}
