/**
 * `throttle-api-subscription` (CONTRACT §4): an Azure Monitor alert on an API Management service
 * names an abusive APIM subscription (the "token") through an alert dimension; the kind suspends
 * exactly that subscription and restores it when the alert resolves or when its cooldown has
 * passed (a `source: "timer"` signal built by `shared/restore-due.ts` from the audit trail).
 *
 * Wire (AZURE-FACTS): `GET/PATCH Microsoft.ApiManagement/service/{svc}/subscriptions/{sid}`; the
 * PATCH carries `If-Match` with the GET's `eTag` and is not a long-running operation. Only the
 * subscription's `state`/`stateComment` are ever read into state or written; its keys never are.
 */
import type { SubscriptionContract } from "@azure/arm-apimanagement";
import { z } from "zod";
import type { AuditRecord, Change } from "../audit/types.js";
import { asRemediationError, RemediationError, type Step } from "../errors.js";
import { parseResourceId, type ResourceId, ResourceIdError, sameType } from "../resource-id.js";
import { registerRemediation } from "./registry.js";
import type {
  AuditHistory,
  ChangePlan,
  Current,
  Plan,
  Remediation,
  RemediationContext,
  VerifyResult,
} from "./types.js";

export const THROTTLE_KIND = "throttle-api-subscription";
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
// Params

export const throttleParamsSchema = z.strictObject({
  /** Alert dimension naming the APIM subscription (matched case-insensitively). */
  dimension: z
    .string()
    .trim()
    .min(1, "dimension must not be empty")
    .max(256)
    .regex(
      /^[A-Za-z0-9_.:\-/ ]+$/,
      "dimension name may hold letters, digits, '_', '.', ':', '-', '/' and spaces",
    )
    .default("ApimSubscriptionId"),
  /** How long the subscription stays suspended before the timer restores it (ISO 8601 duration). */
  cooldown: z
    .string()
    .default("PT1H")
    .superRefine((value, issue) => {
      let ms: number;
      try {
        ms = parseIsoDuration(value);
      } catch (err) {
        issue.addIssue({ code: "custom", message: (err as Error).message });
        return;
      }
      if (ms < MIN_COOLDOWN_MS || ms > MAX_COOLDOWN_MS) {
        issue.addIssue({ code: "custom", message: `cooldown '${value}' must be between PT1M and P30D` });
      }
    }),
});
export type ThrottleParams = z.infer<typeof throttleParamsSchema>;

/**
 * The policy's params as this kind needs them. The policy loader already parsed them; parsing again
 * here applies the defaults when a policy object was built in code, and names a bad field.
 */
export function paramsOf(ctx: RemediationContext<ThrottleParams>): ThrottleParams {
  const parsed = throttleParamsSchema.safeParse(ctx.params ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? `params.${issue.path.join(".")}` : "params";
  throw new RemediationError(
    "InvalidParams",
    `policy ${ctx.policy.name}: ${field}: ${issue?.message ?? "invalid"}`,
    {
      step: "plan",
      resourceId: ctx.target.resourceId,
    },
  );
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
  /** ETag of the GET (If-Match for the PATCH). */
  etag?: string;
}

export interface ThrottleState {
  serviceId: string;
  intent: ThrottleIntent;
  /** Undefined when the signal does not name a subscription under this service (see `problem`). */
  ref?: ApimSubscriptionRef;
  /** Why the subscription could not be resolved; `plan` turns it into a RemediationError (step plan). */
  problem?: { code: string; message: string };
  subscription?: ApimSubscriptionState;
}

export interface ThrottleData {
  ref: ApimSubscriptionRef;
  from: string;
  to: "suspended" | "active";
  stateComment: string;
  etag?: string;
  intent: ThrottleIntent;
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
export function intentOf(ctx: RemediationContext<ThrottleParams>): ThrottleIntent {
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

/** Finds the remediated record a timer restore refers to (by ID, among this service's throttle records). */
async function findRecord(
  history: AuditHistory,
  resourceId: string,
  recordId: string,
): Promise<AuditRecord | undefined> {
  let continuationToken: string | null = null;
  for (let page = 0; page < 100; page++) {
    const res = await history.query({
      resourceId,
      kind: THROTTLE_KIND,
      outcome: "remediated",
      limit: 1000,
      continuationToken,
    });
    const hit = res.items.find((r) => r.id === recordId);
    if (hit) return hit;
    continuationToken = res.continuationToken;
    if (!continuationToken) return undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Azure calls

function stateOf(sub: SubscriptionContract & { eTag?: string }): ApimSubscriptionState {
  // Deliberately picks fields: the contract also carries primaryKey/secondaryKey.
  return {
    state: String(sub.state ?? "unknown"),
    ...(sub.stateComment !== undefined && sub.stateComment !== null
      ? { stateComment: sub.stateComment }
      : {}),
    ...(sub.displayName ? { displayName: sub.displayName } : {}),
    ...(sub.eTag ? { etag: sub.eTag } : {}),
  };
}

async function getSubscription(
  ctx: RemediationContext<ThrottleParams>,
  ref: ApimSubscriptionRef,
  step: Step,
): Promise<ApimSubscriptionState> {
  try {
    const sub = await ctx.clients
      .apiManagement(ref.armSubscriptionId)
      .subscription.get(ref.resourceGroup, ref.serviceName, ref.sid);
    return stateOf(sub);
  } catch (err) {
    const e = asRemediationError(err, step, ref.id);
    if (e.statusCode === 404) {
      throw new RemediationError(
        "SubscriptionNotFound",
        `APIM subscription '${ref.sid}' not found on service '${ref.serviceName}'`,
        {
          step,
          resourceId: ref.id,
          retryable: false,
          statusCode: 404,
          cause: err,
        },
      );
    }
    throw e;
  }
}

function restoreDueIn(comment: string | undefined): string | undefined {
  const m = /restore due (\S+?);?(?:\s|$)/.exec(comment ?? "");
  return m?.[1];
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// ---------------------------------------------------------------------------------------------
// Planning (pure)

function decide(state: ThrottleState, ctx: RemediationContext<ThrottleParams>): Plan<ThrottleData> {
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
    const { cooldown } = paramsOf(ctx);
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

// ---------------------------------------------------------------------------------------------
// The remediation

async function patchState(
  ctx: RemediationContext<ThrottleParams>,
  data: ThrottleData,
  etag: string,
): Promise<void> {
  const { ref } = data;
  await ctx.clients
    .apiManagement(ref.armSubscriptionId)
    .subscription.update(ref.resourceGroup, ref.serviceName, ref.sid, etag, {
      state: data.to,
      stateComment: data.stateComment,
    });
}

export const throttleApiSubscription: Remediation<ThrottleParams, ThrottleState, ThrottleData> = {
  kind: THROTTLE_KIND,
  description:
    "Suspends the APIM subscription an alert names; restores it when the alert resolves or the cooldown ends",
  paramsSchema: throttleParamsSchema,

  supports(resourceType: string): boolean {
    return sameType(resourceType, APIM_SERVICE_TYPE);
  },

  async read(ctx): Promise<Current<ThrottleState>> {
    const serviceId = ctx.target.resourceId;
    let service: ResourceId;
    try {
      service = parseResourceId(serviceId);
    } catch (err) {
      throw new RemediationError("InvalidResourceId", (err as Error).message, {
        step: "read",
        resourceId: serviceId,
        cause: err,
      });
    }
    if (!sameType(service.type, APIM_SERVICE_TYPE) || !service.resourceGroup) {
      throw new RemediationError(
        "UnsupportedResource",
        `'${serviceId}' is a ${service.type}, not an API Management service`,
        {
          step: "read",
          resourceId: serviceId,
        },
      );
    }
    // The service's tags govern its subscriptions (opt-out `driftguard:exclude`).
    let tags: Record<string, string> = {};
    try {
      const svc = await ctx.clients
        .apiManagement(service.subscriptionId)
        .apiManagementService.get(service.resourceGroup, service.name);
      tags = Object.fromEntries(
        Object.entries(svc.tags ?? {}).filter((e): e is [string, string] => typeof e[1] === "string"),
      );
    } catch (err) {
      throw asRemediationError(err, "read", serviceId);
    }

    let intent = intentOf(ctx);
    const state: ThrottleState = { serviceId, intent };
    if (intent.type === "none") return { state, tags };

    let value: string | undefined;
    if (intent.type === "restore" && intent.reason === "cooldown") {
      const record = await findRecord(ctx.history, serviceId, intent.recordId).catch((err) => {
        throw asRemediationError(err, "read", serviceId);
      });
      const followUp = record?.followUp ?? {};
      const apimId = followUp.apimSubscriptionId;
      const restoreAt = followUp.restoreAt;
      if (!record || typeof apimId !== "string" || typeof restoreAt !== "string") {
        state.problem = {
          code: "UnknownThrottleRecord",
          message: `timer restore '${intent.recordId}': no remediated ${THROTTLE_KIND} record with a restoreAt for '${serviceId}'`,
        };
        return { state, tags };
      }
      if (Date.parse(restoreAt) > ctx.now().getTime()) {
        state.intent = {
          type: "none",
          reason: `restore of record ${record.id} is not due before ${restoreAt}`,
        };
        return { state, tags };
      }
      intent = { ...intent, restoreAt };
      state.intent = intent;
      value = apimId;
    } else {
      const { dimension } = paramsOf(ctx);
      value = dimensionValue(ctx.signal.alert?.dimensions, dimension);
      if (value === undefined) {
        const present = Object.keys(ctx.signal.alert?.dimensions ?? {});
        state.problem = {
          code: "MissingDimension",
          message: `alert ${ctx.signal.alert?.ruleName ?? ctx.signal.id} has no '${dimension}' dimension naming the APIM subscription${present.length ? ` (dimensions: ${present.slice(0, 10).join(", ")})` : " (no dimensions)"}`,
        };
        return { state, tags };
      }
    }

    try {
      state.ref = resolveApimSubscription(service, value);
    } catch (err) {
      state.problem = { code: "InvalidApimSubscription", message: (err as Error).message };
      return { state, tags };
    }
    state.subscription = await getSubscription(ctx, state.ref, "read");
    return { state, tags };
  },

  plan(current, ctx) {
    return decide(current.state, ctx);
  },

  async apply(plan: ChangePlan<ThrottleData>, ctx): Promise<void> {
    const { data } = plan;
    const resourceId = data.ref.id;
    const attempt = async (d: ThrottleData) => {
      if (!d.etag) {
        throw new RemediationError(
          "MissingETag",
          `GET of APIM subscription '${d.ref.sid}' returned no ETag; If-Match is required`,
          {
            step: "apply",
            resourceId,
            retryable: true,
          },
        );
      }
      await patchState(ctx, d, d.etag);
    };
    try {
      await attempt(data);
      return;
    } catch (err) {
      const e = asRemediationError(err, "apply", resourceId);
      if (e.statusCode !== 412) throw e;
      ctx.log.info(
        { resourceId, kind: THROTTLE_KIND },
        "APIM subscription changed since read (412); re-reading and re-planning once",
      );
    }
    // Someone changed the subscription between our read and write: re-read, re-plan, try once more.
    const sub = await getSubscription(ctx, data.ref, "apply");
    const replanned = decide(
      { serviceId: ctx.target.resourceId, intent: data.intent, ref: data.ref, subscription: sub },
      ctx,
    );
    if (replanned.action === "noop" || replanned.data.to !== data.to) {
      throw new RemediationError(
        "ConcurrentChange",
        `APIM subscription '${data.ref.sid}' changed while being ${data.to === "suspended" ? "suspended" : "restored"}; after re-reading: ${replanned.action === "noop" ? replanned.reason : replanned.summary}`,
        { step: "apply", resourceId, retryable: true, statusCode: 412 },
      );
    }
    try {
      await attempt({ ...replanned.data, stateComment: data.stateComment });
    } catch (err) {
      const e = asRemediationError(err, "apply", resourceId);
      if (e.statusCode === 412) {
        throw new RemediationError(
          "PreconditionFailed",
          `APIM subscription '${data.ref.sid}' changed again between read and write (If-Match failed twice)`,
          {
            step: "apply",
            resourceId,
            retryable: true,
            statusCode: 412,
            cause: err,
          },
        );
      }
      throw e;
    }
  },

  async verify(plan: ChangePlan<ThrottleData>, ctx): Promise<VerifyResult> {
    const sub = await getSubscription(ctx, plan.data.ref, "verify");
    if (sub.state.toLowerCase() !== plan.data.to) {
      return {
        ok: false,
        detail: `APIM subscription '${plan.data.ref.sid}' is '${sub.state}' after the update, expected '${plan.data.to}'`,
      };
    }
    return { ok: true };
  },
};

registerRemediation(throttleApiSubscription);
