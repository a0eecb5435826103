/**
 * `throttle-api-subscription` (docs/policies.md#throttle-api-subscription): an Azure Monitor alert
 * on an API Management service names an abusive APIM subscription (the "token") through an alert
 * dimension; the kind throttles exactly that subscription and undoes it when the alert resolves or
 * when its cooldown has passed (a `source: "timer"` signal built by `due-restores.ts` from the
 * audit trail). Two ways (`action`):
 * - `suspend` (default): the subscription's `state` becomes `suspended`, then `active` again.
 * - `rate-limit`: its `scope` moves to a throttling product with a rate limit (`rate-limit.ts`,
 *   `products.ts`), then back to the original scope recorded on the trail (`trail.ts`); the client
 *   keeps working, slowly.
 * Planning is pure (`plan.ts`, `rate-limit.ts`); this file reads, dispatches and writes.
 *
 * Wire (docs/azure.md#api-management-subscriptions): `GET/PATCH …/service/{svc}/subscriptions/{sid}`;
 * the PATCH carries `If-Match` with the GET's `eTag` and is not a long-running operation; on `412`
 * the subscription is read again, re-planned and written once more. Only the subscription's
 * `state`, `stateComment` and `scope` are ever read into state or written; its keys never are.
 */
import { z } from "zod";
import { asRemediationError, httpStatusOf, RemediationError, withStep } from "../../errors.js";
import { sameType } from "../../resource-id.js";
import { parseTargetId } from "../arm-helpers.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import { cooldownRestores } from "./due-restores.js";
import {
  APIM_SERVICE_TYPE,
  dimensionValue,
  intentOf,
  KIND,
  MAX_COOLDOWN_MS,
  MIN_COOLDOWN_MS,
  parseIsoDuration,
  planThrottle,
  resolveApimSubscription,
  type ThrottleData,
  type ThrottleState,
} from "./plan.js";
import { prepareThrottleProduct, readThrottleProduct, throttleProductProblems } from "./products.js";
import { planRateLimit, planScopeRestore, scopeKey } from "./rate-limit.js";
import { getSubscription, patchSubscription, serviceTags } from "./subscription.js";
import { findThrottleRecord, latestThrottle, recordedThrottleOf } from "./trail.js";

export { KIND };

export const example = `version: 1
policies:
  - name: throttle-abusive-keys
    description: An APIM subscription that hammers the inference API is suspended for a cooldown
    resourceTypes: [Microsoft.ApiManagement/service]
    triggers:
      - alert: "apim-abuse-*"           # the alert rule's dimension names the subscription
    kind: ${KIND}
    params:
      dimension: ApimSubscriptionId     # default
      cooldown: PT1H                    # ISO 8601, PT1M..P30D; default PT1H
    mode: enforce
  - name: slow-down-token-hogs
    description: A subscription that burns too many tokens keeps working at 10 calls and 5000 tokens a minute
    resourceTypes: [Microsoft.ApiManagement/service]
    triggers:
      - alert: "apim-tokens-*"
    kind: ${KIND}
    params:
      action: rate-limit                # default suspend
      throttledProduct: driftguard-throttled   # default; created when missing
      callsPerMinute: 10                # default 10
      tokensPerMinute: 5000             # optional: azure-openai-token-limit per subscription
      cooldown: PT30M
    mode: enforce
`;

export const paramsSchema = z.strictObject({
  dimension: z
    .string()
    .trim()
    .min(1, "dimension must not be empty")
    .max(256)
    .regex(
      /^[A-Za-z0-9_.:\-/ ]+$/,
      "dimension name may hold letters, digits, '_', '.', ':', '-', '/' and spaces",
    )
    .default("ApimSubscriptionId")
    .describe(
      "Alert dimension naming the APIM subscription (its name or resource ID), matched case-insensitively",
    ),
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
    })
    .describe(
      "How long the subscription stays suspended (or rate-limited) before it is restored: an ISO 8601 duration in weeks, days, hours, minutes or seconds (no years or months), PT1M..P30D",
    ),
  action: z
    .enum(["suspend", "rate-limit"])
    .default("suspend")
    .describe(
      "suspend: the subscription is suspended (calls with its key are refused); rate-limit: it is moved to the throttling product and keeps working, slowly; both are undone on resolve or after the cooldown",
    ),
  throttledProduct: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/, "a product ID of letters, digits, '_', '.', '-' (at most 80)")
    .default("driftguard-throttled")
    .describe(
      "rate-limit: the APIM product (ID) throttled subscriptions are moved to; created with its policy when missing, and given the APIs each subscription reached",
    ),
  callsPerMinute: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(10)
    .describe(
      "rate-limit: calls per minute per subscription in the throttling product (APIM rate-limit, renewal period 60 s)",
    ),
  tokensPerMinute: z
    .number()
    .int()
    .min(1)
    .max(100_000_000)
    .optional()
    .describe(
      "rate-limit: also limit Azure OpenAI tokens per minute per subscription (azure-openai-token-limit keyed on the subscription); leave out for calls only",
    ),
});
export type Params = z.infer<typeof paramsSchema>;

type Ctx = RemediationContext<Params>;

/** Which APIM subscription the signal is about: the alert's dimension, or a timer's record. */
async function subscriptionNamed(
  ctx: Ctx,
  state: ThrottleState,
): Promise<{ value: string } | { done: true }> {
  const { intent, serviceId } = state;
  if (intent.type === "restore" && intent.reason === "cooldown") {
    const record = await findThrottleRecord(ctx, serviceId, intent.recordId);
    const apimId = record?.followUp?.apimSubscriptionId;
    const restoreAt = record?.followUp?.restoreAt;
    if (!record || typeof apimId !== "string" || typeof restoreAt !== "string") {
      state.problem = {
        code: "UnknownThrottleRecord",
        message: `timer restore '${intent.recordId}': no remediated ${KIND} record with a restoreAt for '${serviceId}'`,
      };
      return { done: true };
    }
    if (Date.parse(restoreAt) > ctx.now().getTime()) {
      state.intent = {
        type: "none",
        reason: `restore of record ${record.id} is not due before ${restoreAt}`,
      };
      return { done: true };
    }
    state.intent = { ...intent, restoreAt };
    state.recorded = recordedThrottleOf(record);
    return { value: apimId };
  }
  const { dimension } = ctx.params;
  const value = dimensionValue(ctx.signal.alert?.dimensions, dimension);
  if (value === undefined) {
    const present = Object.keys(ctx.signal.alert?.dimensions ?? {});
    state.problem = {
      code: "MissingDimension",
      message: `alert ${ctx.signal.alert?.ruleName ?? ctx.signal.id} has no '${dimension}' dimension naming the APIM subscription${present.length ? ` (dimensions: ${present.slice(0, 10).join(", ")})` : " (no dimensions)"}`,
    };
    return { done: true };
  }
  return { value };
}

/**
 * What a restore reverses: a resolved alert's subscription's newest throttle; for a cooldown the
 * timer's own record (already set), unless a later rate limit of the same subscription is not due yet.
 */
async function findRecorded(ctx: Ctx, state: ThrottleState): Promise<void> {
  const { intent, ref } = state;
  if (intent.type !== "restore" || !ref) return;
  const latest = await latestThrottle(ctx, state.serviceId, ref.id);
  if (intent.reason === "resolved") {
    if (latest) state.recorded = latest;
    return;
  }
  if (
    state.recorded?.action === "rate-limit" &&
    latest &&
    latest.recordId !== state.recorded.recordId &&
    latest.restoreAt &&
    Date.parse(latest.restoreAt) > ctx.now().getTime()
  ) {
    state.intent = {
      type: "none",
      reason: `APIM subscription '${ref.sid}' was throttled again; restore due ${latest.restoreAt}`,
    };
  }
}

function planFor(state: ThrottleState, ctx: Ctx): Plan<ThrottleData> {
  if (state.intent.type === "none" || state.problem) return planThrottle(state, ctx);
  if (state.intent.type === "suspend" && ctx.params.action === "rate-limit") return planRateLimit(state, ctx);
  if (state.intent.type === "restore" && state.recorded?.action === "rate-limit") {
    return planScopeRestore(state, ctx, state.recorded);
  }
  return planThrottle(state, ctx);
}

/** True when the replanned change writes the same field to the same value. */
function sameWrite(serviceId: string, a: ThrottleData, b: ThrottleData): boolean {
  if (a.writes === "scope" || b.writes === "scope") {
    return (
      a.writes === b.writes &&
      scopeKey(serviceId, a.to) === scopeKey(serviceId, b.to) &&
      scopeKey(serviceId, a.from) === scopeKey(serviceId, b.from)
    );
  }
  return a.to === b.to;
}

function doing(d: ThrottleData): string {
  if (d.writes === "scope") return d.product ? "rate-limited" : "moved back to its original scope";
  return d.to === "suspended" ? "suspended" : "restored";
}

export const remediation: Remediation<Params, ThrottleState, ThrottleData> = {
  kind: KIND,
  description:
    "Suspends (action suspend) or rate-limits (action rate-limit: moved to a throttling product, it keeps working slowly) the APIM subscription an alert names; undoes it when the alert resolves or the cooldown ends",
  example,
  services: ["apiManagement"],
  followUps: [cooldownRestores],
  permissions: {
    actions: [
      "Microsoft.ApiManagement/service/read",
      "Microsoft.ApiManagement/service/subscriptions/read",
      "Microsoft.ApiManagement/service/subscriptions/write",
      // rate-limit: the APIs a subscription reaches, the throttling product, its policy and APIs
      "Microsoft.ApiManagement/service/apis/read",
      "Microsoft.ApiManagement/service/products/read",
      "Microsoft.ApiManagement/service/products/write",
      "Microsoft.ApiManagement/service/products/policies/read",
      "Microsoft.ApiManagement/service/products/policies/write",
      "Microsoft.ApiManagement/service/products/apis/read",
      "Microsoft.ApiManagement/service/products/apis/write",
    ],
  },
  paramsSchema,

  supports(resourceType: string): boolean {
    return sameType(resourceType, APIM_SERVICE_TYPE);
  },

  async read(ctx): Promise<Current<ThrottleState>> {
    const serviceId = ctx.target.resourceId;
    const service = parseTargetId(serviceId);
    if (!sameType(service.type, APIM_SERVICE_TYPE) || !service.resourceGroup) {
      throw new RemediationError(
        "UnsupportedResource",
        `'${serviceId}' is a ${service.type}, not an API Management service`,
        { step: "read", resourceId: serviceId },
      );
    }
    const tags = await serviceTags(ctx, service, serviceId);
    const state: ThrottleState = { serviceId, intent: intentOf(ctx) };
    if (state.intent.type === "none") return { state, tags };
    const named = await subscriptionNamed(ctx, state);
    if ("done" in named) return { state, tags };
    try {
      state.ref = resolveApimSubscription(service, named.value);
    } catch (err) {
      state.problem = { code: "InvalidApimSubscription", message: (err as Error).message };
      return { state, tags };
    }
    state.subscription = await getSubscription(ctx, state.ref, "read");
    await findRecorded(ctx, state);
    if (state.intent.type === "suspend" && ctx.params.action === "rate-limit") {
      const { ref } = state;
      state.product = await withStep({ step: "read", resourceId: serviceId }, () =>
        readThrottleProduct(ctx, ref, ctx.params.throttledProduct, state.subscription?.scope ?? ""),
      );
    }
    return { state, tags };
  },

  plan(current, ctx) {
    return planFor(current.state, ctx);
  },

  async apply(plan: ChangePlan<ThrottleData>, ctx) {
    const { data } = plan;
    const resourceId = data.ref.id;
    const serviceId = ctx.target.resourceId;
    // The product must hold the rate limit and the APIs before the subscription moves there.
    if (data.writes === "scope") await prepareThrottleProduct(ctx, data);
    try {
      await patchSubscription(ctx, data, data.etag);
      return plan.changes;
    } catch (err) {
      if (httpStatusOf(err) !== 412) throw asRemediationError(err, { step: "apply", resourceId });
      ctx.log.info(
        { resourceId, kind: KIND },
        "APIM subscription changed since read (412); re-reading and re-planning once",
      );
    }
    // Someone changed the subscription between our read and write: re-read, re-plan, try once more.
    const sub = await getSubscription(ctx, data.ref, "apply");
    const again: ThrottleState = {
      serviceId,
      intent: data.intent,
      ref: data.ref,
      subscription: sub,
    };
    let replanned: Plan<ThrottleData>;
    if (data.writes === "scope" && data.product) {
      // The product was just prepared: only the subscription can have changed.
      replanned =
        sub.state.toLowerCase() === "active" &&
        scopeKey(serviceId, sub.scope ?? "") === scopeKey(serviceId, data.from)
          ? { ...plan, data: { ...data, ...(sub.etag ? { etag: sub.etag } : {}) } }
          : { action: "noop", reason: `it is now '${sub.state}' with scope '${sub.scope ?? ""}'` };
    } else if (data.writes === "scope") {
      replanned = planScopeRestore(again, ctx, {
        recordId: "",
        action: "rate-limit",
        originalScope: data.to,
        throttledScope: data.from,
      });
    } else {
      replanned = planThrottle(again, ctx);
    }
    if (replanned.action === "noop" || !sameWrite(serviceId, replanned.data, data)) {
      throw new RemediationError(
        "ConcurrentChange",
        `APIM subscription '${data.ref.sid}' changed while being ${doing(data)}; after re-reading: ${replanned.action === "noop" ? replanned.reason : replanned.summary}`,
        { step: "apply", resourceId, retryable: true, statusCode: 412 },
      );
    }
    await withStep(
      {
        step: "apply",
        resourceId,
        statuses: {
          412: {
            code: "PreconditionFailed",
            message: `APIM subscription '${data.ref.sid}' changed again between read and write (If-Match failed twice)`,
            retryable: true,
          },
        },
      },
      () =>
        patchSubscription(ctx, { ...replanned.data, stateComment: data.stateComment }, replanned.data.etag),
    );
    return plan.changes;
  },

  async verify(plan: ChangePlan<ThrottleData>, ctx): Promise<VerifyResult> {
    const { data } = plan;
    const sub = await getSubscription(ctx, data.ref, "verify");
    if (data.writes === "scope") {
      const problems = await withStep({ step: "verify", resourceId: data.ref.id }, () =>
        throttleProductProblems(ctx, data),
      );
      const serviceId = ctx.target.resourceId;
      if (scopeKey(serviceId, sub.scope ?? "") !== scopeKey(serviceId, data.to)) {
        problems.unshift(`scope is '${sub.scope ?? ""}', expected '${data.to}'`);
      }
      if (sub.state.toLowerCase() !== "active") problems.push(`state is '${sub.state}', expected 'active'`);
      return problems.length === 0
        ? { ok: true }
        : { ok: false, detail: `APIM subscription '${data.ref.sid}': ${problems.join("; ")}` };
    }
    if (sub.state.toLowerCase() !== data.to) {
      return {
        ok: false,
        detail: `APIM subscription '${data.ref.sid}' is '${sub.state}' after the update, expected '${data.to}'`,
      };
    }
    return { ok: true };
  },
};
