/**
 * The Event Grid route: Event Grid schema (always an array) and CloudEvents 1.0 (single object or
 * batch array), including the subscription validation handshake. Each event is dispatched by type
 * to the ARM or Key Vault parser. All-or-nothing: one bad event rejects the whole delivery, with
 * the error naming `[i].<field>`.
 */
import { z } from "zod";
import { InputError } from "../errors.js";
import { canonicalArmEventType, parseArmEvent } from "./arm-event-parser.js";
import { header, isoTime, isPlainObject, joinPath } from "./common.js";
import { parseOrThrow } from "./errors.js";
import type { GridEvent } from "./grid-event.js";
import { keyVaultEventName, parseKeyVaultEvent } from "./key-vault-event.js";
import type { ParsedDelivery, Signal, ValidationHandshake } from "./types.js";

/** Event Grid's own ceiling (`maxEventsPerBatch`). */
export const MAX_EVENTS_PER_BATCH = 5000;
export const VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent";
/**
 * Event Grid's own system events about the subscription itself (e.g. `SubscriptionDeletedEvent`,
 * sent when the subscription is deleted). They are acknowledged and otherwise ignored: they name no
 * resource to act on, and a 4xx would only make Event Grid dead-letter or drop them.
 */
const EVENT_GRID_SYSTEM_EVENT = /^Microsoft\.EventGrid\./i;

const CE_SINGLE = "application/cloudevents+json";
const CE_BATCH = "application/cloudevents-batch+json";

const eventGridEnvelope = z.object({
  id: z.string().min(1).max(512),
  topic: z.string().min(1).max(2048).optional(),
  subject: z.string().max(2048).optional(),
  eventType: z.string().min(1).max(256),
  eventTime: isoTime,
  data: z.unknown().optional(),
  dataVersion: z.string().max(64).optional(),
  metadataVersion: z.string().max(16).optional(),
});

const cloudEventEnvelope = z.object({
  specversion: z.literal("1.0", { error: "only CloudEvents specversion '1.0' is supported" }),
  id: z.string().min(1).max(512),
  source: z.string().min(1).max(2048),
  type: z.string().min(1).max(256),
  time: isoTime,
  subject: z.string().max(2048).optional(),
  datacontenttype: z.string().max(256).optional(),
  dataschema: z.string().max(2048).optional(),
  data: z.unknown().optional(),
});

const validationData = z.object({
  validationCode: z.string().min(1).max(1024),
  validationUrl: z
    .string()
    .max(4096)
    .refine((u) => {
      try {
        return new URL(u).protocol === "https:";
      } catch {
        return false;
      }
    }, "validationUrl must be an https URL")
    .optional(),
});

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(";")[0]?.trim().toLowerCase() || undefined;
}

function isCloudEvent(v: unknown): boolean {
  return isPlainObject(v) && "specversion" in v;
}

type Item = { raw: unknown; path: string; schema: GridEvent["schema"] };

function itemsOf(body: unknown, contentType: string | undefined): Item[] {
  if (contentType === CE_SINGLE) {
    if (!isPlainObject(body)) {
      throw new InputError("InvalidCloudEvent", `${CE_SINGLE} carries one CloudEvent object`, "");
    }
    return [{ raw: body, path: "", schema: "cloudevents" }];
  }
  if (contentType === CE_BATCH) {
    if (!Array.isArray(body))
      throw new InputError("InvalidCloudEvent", `${CE_BATCH} carries a JSON array of CloudEvents`, "");
    return body.map((raw, i) => ({ raw, path: `[${i}]`, schema: "cloudevents" }));
  }
  if (Array.isArray(body)) {
    const schema: GridEvent["schema"] =
      body.length > 0 && isCloudEvent(body[0]) ? "cloudevents" : "eventgrid";
    return body.map((raw, i) => {
      if (isPlainObject(raw) && isCloudEvent(raw) !== (schema === "cloudevents")) {
        throw new InputError(
          "MixedSchemas",
          "a delivery mixes Event Grid schema events and CloudEvents",
          `[${i}]`,
        );
      }
      return { raw, path: `[${i}]`, schema };
    });
  }
  if (isCloudEvent(body)) return [{ raw: body, path: "", schema: "cloudevents" }];
  throw new InputError(
    "InvalidEventGridBody",
    "expected a JSON array of Event Grid events, or a CloudEvents 1.0 event or batch",
    "",
  );
}

function envelope(item: Item): GridEvent {
  if (!isPlainObject(item.raw)) throw new InputError("InvalidEvent", "expected an event object", item.path);
  if (item.schema === "eventgrid") {
    const e = parseOrThrow(eventGridEnvelope, item.raw, item.path, "InvalidEvent");
    return {
      schema: "eventgrid",
      id: e.id,
      type: e.eventType,
      time: e.eventTime,
      subject: e.subject,
      topic: e.topic,
      data: e.data,
      path: item.path,
      fields: { type: "eventType", topic: "topic", time: "eventTime" },
    };
  }
  if ("data_base64" in item.raw) {
    throw new InputError(
      "InvalidCloudEvent",
      "binary CloudEvent data (data_base64) is not supported",
      joinPath(item.path, "data_base64"),
    );
  }
  const e = parseOrThrow(cloudEventEnvelope, item.raw, item.path, "InvalidCloudEvent");
  if (e.datacontenttype !== undefined && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(e.datacontenttype)) {
    throw new InputError(
      "InvalidCloudEvent",
      "only JSON event data is supported",
      joinPath(item.path, "datacontenttype"),
    );
  }
  return {
    schema: "cloudevents",
    id: e.id,
    type: e.type,
    time: e.time,
    subject: e.subject,
    topic: e.source,
    data: e.data,
    path: item.path,
    fields: { type: "type", topic: "source", time: "time" },
  };
}

function isValidation(e: GridEvent): boolean {
  return e.type.toLowerCase() === VALIDATION_EVENT_TYPE.toLowerCase();
}

function handshake(events: GridEvent[]): ValidationHandshake {
  const idx = events.findIndex(isValidation);
  const first = events[0]!;
  if (idx < 0) {
    // The header says SubscriptionValidation but the event is something else.
    throw new InputError(
      "InvalidValidationEvent",
      `aeg-event-type is SubscriptionValidation but the event type is not ${VALIDATION_EVENT_TYPE}`,
      joinPath(first.path, first.fields.type),
    );
  }
  if (events.length !== 1) {
    const other = events[idx === 0 ? 1 : idx]!;
    throw new InputError(
      "InvalidValidationEvent",
      "a subscription validation event must be delivered alone",
      joinPath(other.path, other.fields.type),
    );
  }
  const dataPath = joinPath(first.path, "data");
  if (!isPlainObject(first.data))
    throw new InputError("InvalidValidationEvent", "expected validation data", dataPath);
  const data = parseOrThrow(validationData, first.data, dataPath, "InvalidValidationEvent");
  return data.validationUrl === undefined
    ? { validationCode: data.validationCode }
    : { validationCode: data.validationCode, validationUrl: data.validationUrl };
}

function isEventGridSystemEvent(e: GridEvent): boolean {
  return EVENT_GRID_SYSTEM_EVENT.test(e.type) && !isValidation(e);
}

function dispatch(e: GridEvent): Signal {
  const arm = canonicalArmEventType(e.type);
  if (arm) return parseArmEvent(e, arm);
  const kv = keyVaultEventName(e.type);
  if (kv) return parseKeyVaultEvent(e, kv);
  throw new InputError(
    "UnsupportedEventType",
    `event type '${e.type.slice(0, 128)}' is not supported (expected Microsoft.Resources.Resource* or Microsoft.KeyVault.* events)`,
    joinPath(e.path, e.fields.type),
  );
}

/**
 * Parses one Event Grid delivery. `headers` are the request headers (any casing): `aeg-event-type`
 * and `content-type` are read.
 */
export function parseEventGridDelivery(
  body: unknown,
  headers: Record<string, string | undefined>,
): ParsedDelivery {
  const contentType = mediaType(header(headers, "content-type"));
  const items = itemsOf(body, contentType);
  if (items.length === 0) throw new InputError("EmptyDelivery", "the delivery contains no events", "");
  if (items.length > MAX_EVENTS_PER_BATCH) {
    throw new InputError("TooManyEvents", `a delivery holds at most ${MAX_EVENTS_PER_BATCH} events`, "", 413);
  }
  const events = items.map(envelope);
  const headerSaysValidation =
    header(headers, "aeg-event-type")?.trim().toLowerCase() === "subscriptionvalidation";
  if (headerSaysValidation || events.some(isValidation)) {
    return { kind: "validation", handshake: handshake(events) };
  }
  const acknowledged = events
    .filter(isEventGridSystemEvent)
    .map((e) => ({ path: e.path, type: e.type.slice(0, 256) }));
  const signals = events.filter((e) => !isEventGridSystemEvent(e)).map(dispatch);
  return { kind: "signals", signals, acknowledged };
}
