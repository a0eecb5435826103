/**
 * The ARM event parser: ARM events (`Microsoft.Resources.Resource{Write,Delete,Action}{Success,
 * Failure,Cancel}`) → Signal. (Tests build such events with dev/arm-event-builder.ts.)
 * The target is `data.resourceUri`, parsed strictly. Of the claims only the caller's object ID and
 * app ID are kept (for self-loop detection); names, UPNs and IP addresses never enter the Signal.
 */
import type {
  ResourceActionSuccessEventData,
  ResourceDeleteSuccessEventData,
  ResourceWriteSuccessEventData,
} from "@azure/eventgrid";
import { z } from "zod";
import { InputError } from "../errors.js";
import { isUnderScope } from "../resource-id.js";
import { idKey, isPlainObject, joinPath, resourceIdAt, targetOf } from "./common.js";
import { parseOrThrow } from "./errors.js";
import { compact, type GridEvent } from "./grid-event.js";
import type { Signal, SignalCaller } from "./types.js";

const ARM_EVENT_TYPES: readonly string[] = ["Write", "Delete", "Action"].flatMap((op) =>
  ["Success", "Failure", "Cancel"].map((s) => `Microsoft.Resources.Resource${op}${s}`),
);
const ARM_BY_LOWER = new Map(ARM_EVENT_TYPES.map((t) => [t.toLowerCase(), t]));

/** Canonical spelling of an ARM event type, or undefined when `type` is not one. */
export function canonicalArmEventType(type: string): string | undefined {
  return ARM_BY_LOWER.get(type.toLowerCase());
}

const OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const armData = z.object({
  resourceUri: z.string().min(1).max(2048),
  subscriptionId: z.string().max(64).optional(),
  tenantId: z.string().max(64).optional(),
  correlationId: z.string().max(256).optional(),
  operationName: z.string().max(512).optional(),
  resourceProvider: z.string().max(256).optional(),
  status: z.string().max(64).optional(),
  claims: z.record(z.string(), z.unknown()).optional(),
});

/**
 * The fields read here are the Azure SDK's own system-event data (`@azure/eventgrid`): same names,
 * same types — checked at compile time (type-only import, nothing loaded at run time). `claims` is
 * read as unknown values on purpose: each is checked before it is kept.
 */
type SdkArmData = ResourceWriteSuccessEventData &
  ResourceDeleteSuccessEventData &
  ResourceActionSuccessEventData;
export const armDataMatchesSdk = (d: Omit<z.infer<typeof armData>, "claims">): Partial<SdkArmData> => d;

/** Only GUID-shaped IDs are kept: anything else could smuggle personal data into the Signal. */
function callerOf(claims: Record<string, unknown> | undefined): SignalCaller | undefined {
  if (!claims) return undefined;
  const pick = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      const v = claims[k];
      if (typeof v === "string" && GUID.test(v.trim())) return v.trim().toLowerCase();
    }
    return undefined;
  };
  const caller = compact({ objectId: pick(OID_CLAIM, "oid"), appId: pick("appid", "azp") });
  return caller.objectId || caller.appId ? caller : undefined;
}

export function parseArmEvent(e: GridEvent, eventType: string): Signal {
  const dataPath = joinPath(e.path, "data");
  if (!isPlainObject(e.data))
    throw new InputError("InvalidEvent", "expected an object with the ARM event data", dataPath);
  const data = parseOrThrow(armData, e.data, dataPath, "InvalidEvent");
  // An extension resource's ID (a diagnostic setting on a vault) parses to the resource it is on:
  // that is the target; the consistency checks compare the ID the event names.
  const id = resourceIdAt(data.resourceUri, joinPath(dataPath, "resourceUri"));
  const eventId = id.extension?.id ?? id.id;

  if (
    data.subscriptionId !== undefined &&
    data.subscriptionId.toLowerCase() !== id.subscriptionId.toLowerCase()
  ) {
    throw new InputError(
      "InconsistentEvent",
      "data.subscriptionId does not match the subscription of data.resourceUri",
      joinPath(dataPath, "subscriptionId"),
    );
  }
  if (e.subject !== undefined && e.subject !== "" && idKey(e.subject) !== idKey(eventId)) {
    throw new InputError(
      "InconsistentEvent",
      "subject does not match data.resourceUri",
      joinPath(e.path, "subject"),
    );
  }
  if (e.topic !== undefined && !isUnderScope(eventId, e.topic)) {
    throw new InputError(
      "InconsistentEvent",
      `${e.fields.topic} is not a scope containing data.resourceUri`,
      joinPath(e.path, e.fields.topic),
    );
  }

  return compact<Signal>({
    source: "eventgrid",
    type: eventType,
    id: e.id,
    dedupeKey: `eg:${e.id}`,
    correlationId: data.correlationId,
    time: e.time,
    subscriptionId: id.subscriptionId,
    trigger: { eventGrid: eventType },
    targets: [targetOf(id)],
    caller: callerOf(data.claims),
    operationName: data.operationName,
  });
}
