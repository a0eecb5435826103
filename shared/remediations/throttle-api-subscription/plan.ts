/**
 * Pure planning for `throttle-api-subscription` (no Azure SDK here): which APIM subscription an
 * alert names, what the signal asks for (suspend, restore on resolve, restore after the cooldown)
 * and the exact change from the subscription's current state. The kind's SDK reads and writes are
 * in `kind.ts`; the cooldown timer's scan in `due-restores.ts`.
 */
import type { Change } from "../../audit/types.js";
import { RemediationError } from "../../errors.js";
import { parseResourceId, type ResourceId, ResourceIdError, sameType } from "../../resource-id.js";
import type { Plan, RemediationContext } from "../types.js";

/** The kind's stable name (kind.ts exports it; here so that due-restores.ts needs no import of kind.ts). */
export const KIND = "throttle-api-subscription";

export const APIM_SERVICE_TYPE = "Microsoft.ApiManagement/service";
export const APIM_SUBSCRIPTION_TYPE = "Microsoft.ApiManagement/service/subscriptions";
/** Every stateComment we write starts with this; a restore only touches subscriptions carrying it. */
export const STATE_COMMENT_PREFIX = "driftguard:";
/** Trigger name of the timer's restore signals (policies list it as `- manual: throttle-restore`). */
export const RESTORE_TRIGGER = "throttle-restore";
/** APIM's built-in all-access subscription: never suspended. */
export const MASTER_SUBSCRIPTION = "master";

// ---------------------------------------------------------------------------------------------
// ISO 8601 durations

const MINUTE = 60_000;
/** Bounds of the cooldown: the restore timer ticks every minute; a month is the longest throttle. */
export const MIN_COOLDOWN_MS = MINUTE;
export const MAX_COOLDOWN_MS = 30 * 24 * 60 * MINUTE;

const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

/**
 * Parses an ISO 8601 duration of fixed length (weeks, days, hours, minutes, seconds — e.g. `PT15M`,
 * `PT1H`, `P1D`, `P1DT12H`) into milliseconds. Years and months have no fixed length and are
 * rejected. Throws `Error` with the reason.
 */
export function parseIsoDuration(text: string): number {
  if (typeof text !== "string") throw new Error("expected an ISO 8601 duration string like PT1H");
  const s = text.trim().toUpperCase();
  const m = DURATION.exec(s);
  if (!m || s === "P" || s.endsWith("T")) {
    if (/^P(?:\d+Y)|^P(?:\d+Y)?\d+M/.test(s)) {
      throw new Error(
        `'${text}': years and months have no fixed length; use weeks, days, hours or minutes (e.g. P7D)`,
      );
    }
    throw new Error(`'${text}' is not an ISO 8601 duration like PT15M, PT1H or P1D`);
  }
  const [, w, d, h, min, sec] = m;
  const ms =
    Number(w ?? 0) * 7 * 24 * 60 * MINUTE +
    Number(d ?? 0) * 24 * 60 * MINUTE +
    Number(h ?? 0) * 60 * MINUTE +
    Number(min ?? 0) * MINUTE +
    Math.round(Number(sec ?? 0) * 1000);
  return ms;
}

// ---------------------------------------------------------------------------------------------
// State and plan data

/** Which APIM subscription a signal is about. */
export interface ApimSubscriptionRef {
  armSubscriptionId: string;
  resourceGroup: string;
  serviceName: string;
  /** The APIM subscription's name (`sid`). */
  sid: string;
  /** Full resource ID of the APIM subscription. */
  id: string;
}

export type ThrottleIntent =
  /** Alert fired: suspend. */
  | { type: "suspend" }
  /** Alert resolved: restore now if we suspended it. */
  | { type: "restore"; reason: "resolved" }
  /** Cooldown over: restore what the remediated record `recordId` suspended. */
  | { type: "restore"; reason: "cooldown"; recordId: string; restoreAt: string }
  /** Not a signal this kind acts on. */
  | { type: "none"; reason: string };

export interface ApimSubscriptionState {
  state: string;
  stateComment?: string;
  displayName?: string;
  /** What the subscription reaches: `…/apis`, `…/apis/{id}` or `…/products/{id}` (as APIM shows it). */
  scope?: string;
  /** ETag of the GET (If-Match for the PATCH). */
  etag?: string;
}

/** What the read found about the throttling product and the subscription's reach. */
export interface ThrottleProductState {
  /** Name (ID) of the product in the service. */
  name: string;
  /** Full resource ID of the product (the scope the subscription moves to). */
  id: string;
  exists: boolean;
  policyExists: boolean;
  /** APIs already in the product. */
  apis: string[];
  /** APIs the subscription's current scope reaches; `undefined` when the scope is not one APIM knows. */
  scopeApis?: string[];
}

/** The remediated record a restore reverses, as far as planning needs it. */
export interface RecordedThrottle {
  recordId: string;
  action: "suspend" | "rate-limit";
  originalScope?: string;
  throttledScope?: string;
  restoreAt?: string;
}

/** What a scope write (throttle or restore) needs. */
export interface ScopeChangeData {
  writes: "scope";
  ref: ApimSubscriptionRef;
  /** The scope as read, and the scope written. */
  from: string;
  to: string;
  stateComment: string;
  etag?: string;
  intent: ThrottleIntent;
  /** Throttling only: what to create in the product before the subscription moves there. */
  product?: {
    name: string;
    id: string;
    create: boolean;
    policyXml?: string;
    addApis: string[];
    /** Every API the original scope reached: the product must hold them all (verify). */
    requiredApis: string[];
  };
}

export interface ThrottleState {
  serviceId: string;
  intent: ThrottleIntent;
  /** Undefined when the signal does not name a subscription under this service (see `problem`). */
  ref?: ApimSubscriptionRef;
  /** Why the subscription could not be resolved; `plan` turns it into a RemediationError (step plan). */
  problem?: { code: string; message: string };
  subscription?: ApimSubscriptionState;
  /** `action: rate-limit`, alert fired: the throttling product and what the subscription reaches. */
  product?: ThrottleProductState;
  /** Restores: the remediated record being reversed (found on the trail), when there is one. */
  recorded?: RecordedThrottle;
}

/** A state write (suspend, or its restore): `writes` absent. */
export interface StateChangeData {
  writes?: "state";
  ref: ApimSubscriptionRef;
  from: string;
  to: "suspended" | "active";
  stateComment: string;
  etag?: string;
  intent: ThrottleIntent;
}

export type ThrottleData = StateChangeData | ScopeChangeData;

/** What planning reads of the policy's params. */
export interface CooldownParams {
  /** ISO 8601 duration, validated when the policy was loaded. */
  cooldown: string;
}

// ---------------------------------------------------------------------------------------------
// Resolving the subscription

/** Case-insensitive lookup of `name` in the alert's dimensions. */
export function dimensionValue(
  dimensions: Record<string, string> | undefined,
  name: string,
): string | undefined {
  if (!dimensions) return undefined;
  const wanted = name.trim().toLowerCase();
  for (const [k, v] of Object.entries(dimensions)) {
    if (k.trim().toLowerCase() === wanted && typeof v === "string" && v.trim() !== "") return v.trim();
  }
  return undefined;
}

const SID = /^[A-Za-z0-9_\-.()~]{1,256}$/;

/**
 * Resolves a dimension value — an APIM subscription name (`team-a-key`) or the full resource ID of
 * a subscription under `service` — to a reference. Throws `Error` with the reason otherwise.
 */
export function resolveApimSubscription(service: ResourceId, value: string): ApimSubscriptionRef {
  if (!service.resourceGroup || !sameType(service.type, APIM_SERVICE_TYPE)) {
    throw new Error(`target '${service.id}' is not an API Management service`);
  }
  let sid: string;
  if (value.startsWith("/")) {
    let parsed: ResourceId;
    try {
      parsed = parseResourceId(value);
    } catch (err) {
      throw new Error(
        `'${value.slice(0, 300)}' is not an APIM subscription name or resource ID: ${err instanceof ResourceIdError ? err.message : String(err)}`,
      );
    }
    if (!sameType(parsed.type, APIM_SUBSCRIPTION_TYPE)) {
      throw new Error(`'${value.slice(0, 300)}' is a ${parsed.type}, not an APIM subscription`);
    }
    const parent = parsed.id.split("/").slice(0, -2).join("/");
    if (parent.toLowerCase() !== service.id.toLowerCase()) {
      throw new Error(`APIM subscription '${parsed.id}' is not under the alerted service '${service.id}'`);
    }
    sid = parsed.name;
  } else {
    if (!SID.test(value)) throw new Error(`'${value.slice(0, 300)}' is not a valid APIM subscription name`);
    sid = value;
  }
  return {
    armSubscriptionId: service.subscriptionId,
    resourceGroup: service.resourceGroup,
    serviceName: service.name,
    sid,
    id: `${service.id}/subscriptions/${sid}`,
  };
}

/** What the signal asks this kind to do. */
export function intentOf(ctx: Pick<RemediationContext, "signal">): ThrottleIntent {
  const { signal } = ctx;
  if (signal.source === "timer") {
    return { type: "restore", reason: "cooldown", recordId: signal.id, restoreAt: "" };
  }
  const condition =
    signal.alert?.condition ?? ("alert" in signal.trigger ? signal.trigger.condition : undefined);
  if (condition === "Fired") return { type: "suspend" };
  if (condition === "Resolved") return { type: "restore", reason: "resolved" };
  return {
    type: "none",
    reason: `a ${signal.source} signal (${signal.type}) does not name an alert to act on`,
  };
}

function restoreDueIn(comment: string | undefined): string | undefined {
  const m = /restore due (\S+?);?(?:\s|$)/.exec(comment ?? "");
  return m?.[1];
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// ---------------------------------------------------------------------------------------------
// Planning

/** The plan for the subscription's current state; `state.problem` becomes a plan error. */
export function planThrottle(
  state: ThrottleState,
  ctx: RemediationContext<CooldownParams>,
): Plan<ThrottleData> {
  const { intent } = state;
  if (intent.type === "none") return { action: "noop", reason: intent.reason };
  if (state.problem || !state.ref || !state.subscription) {
    throw new RemediationError(
      state.problem?.code ?? "UnresolvedSubscription",
      state.problem?.message ?? "no APIM subscription to act on",
      {
        step: "plan",
        resourceId: state.serviceId,
        retryable: false,
      },
    );
  }
  const { ref, subscription: sub } = state;
  const now = ctx.now();
  const current = sub.state.toLowerCase();

  if (intent.type === "suspend") {
    if (ref.sid.toLowerCase() === MASTER_SUBSCRIPTION) {
      return { action: "noop", reason: "built-in master subscription is never suspended" };
    }
    if (current === "suspended")
      return { action: "noop", reason: `APIM subscription '${ref.sid}' is already suspended` };
    if (current !== "active") {
      return {
        action: "noop",
        reason: `APIM subscription '${ref.sid}' is '${sub.state}', not active: nothing to suspend`,
      };
    }
    const { cooldown } = ctx.params;
    const cooldownMs = parseIsoDuration(cooldown);
    const restoreAt = new Date(now.getTime() + cooldownMs).toISOString();
    const alert = ctx.signal.alert;
    const rule = alert?.ruleName ?? ctx.signal.type;
    const at = alert?.firedAt ?? ctx.signal.time;
    const stateComment = `${STATE_COMMENT_PREFIX} suspended by policy ${ctx.policy.name} after alert ${truncate(rule, 200)} at ${at}; restore due ${restoreAt}`;
    const change: Change = { path: "properties.state", from: sub.state, to: "suspended" };
    return {
      action: "change",
      changes: [change],
      summary: `Suspend APIM subscription '${ref.sid}' on '${ref.serviceName}' until ${restoreAt} (alert ${truncate(rule, 120)})`,
      data: { ref, from: sub.state, to: "suspended", stateComment, etag: sub.etag, intent },
      followUp: { restoreAt, apimSubscriptionId: ref.id, cooldown },
    };
  }

  // Restore (alert resolved, or cooldown over).
  if (current !== "suspended") {
    return {
      action: "noop",
      reason: `APIM subscription '${ref.sid}' is '${sub.state}', not suspended: nothing to restore`,
    };
  }
  if (!(sub.stateComment ?? "").trim().startsWith(STATE_COMMENT_PREFIX)) {
    return {
      action: "noop",
      reason: `APIM subscription '${ref.sid}' was suspended by someone else (stateComment does not start with '${STATE_COMMENT_PREFIX}'): left as is`,
    };
  }
  if (intent.reason === "cooldown") {
    // A later alert may have suspended it again with a later due time: that throttle's own timer restores it.
    const due = restoreDueIn(sub.stateComment);
    const dueMs = due ? Date.parse(due) : Number.NaN;
    if (!Number.isNaN(dueMs) && dueMs > now.getTime()) {
      return {
        action: "noop",
        reason: `APIM subscription '${ref.sid}' was suspended again; restore due ${due}`,
      };
    }
  }
  const why =
    intent.reason === "resolved"
      ? `alert ${truncate(ctx.signal.alert?.ruleName ?? ctx.signal.type, 200)} resolved`
      : `cooldown ended, due ${intent.restoreAt}`;
  const stateComment = `${STATE_COMMENT_PREFIX} restored by policy ${ctx.policy.name} at ${now.toISOString()}: ${why}`;
  return {
    action: "change",
    changes: [{ path: "properties.state", from: sub.state, to: "active" }],
    summary: `Restore APIM subscription '${ref.sid}' on '${ref.serviceName}' (${why})`,
    reverts: true,
    data: { ref, from: sub.state, to: "active", stateComment, etag: sub.etag, intent },
    followUp: {
      apimSubscriptionId: ref.id,
      ...(intent.reason === "cooldown" ? { restores: intent.recordId } : {}),
    },
  };
}
