/**
 * `throttle-api-subscription` (docs/policies.md#throttle-api-subscription): an Azure Monitor alert on an API Management service
 * names an abusive APIM subscription (the "token") through an alert dimension; the kind suspends
 * exactly that subscription and restores it when the alert resolves or when its cooldown has
 * passed (a `source: "timer"` signal built by `due-restores.ts` from the audit trail).
 * Planning is pure (`plan.ts`); this file holds the SDK reads and writes.
 *
 * Wire (docs/azure.md#api-management-subscriptions): `GET/PATCH Microsoft.ApiManagement/service/{svc}/subscriptions/{sid}`; the
 * PATCH carries `If-Match` with the GET's `eTag` and is not a long-running operation. Only the
 * subscription's `state`/`stateComment` are ever read into state or written; its keys never are.
 */
import type { SubscriptionContract } from "@azure/arm-apimanagement";
import { z } from "zod";
import { asRemediationError, httpStatusOf, RemediationError, type Step, withStep } from "../../errors.js";
import { type ResourceId, sameType } from "../../resource-id.js";
import { parseTargetId, tagsOf } from "../arm-helpers.js";
import { findInHistory } from "../history.js";
import type { ChangePlan, Current, Remediation, RemediationContext, VerifyResult } from "../types.js";
import { cooldownRestores } from "./due-restores.js";
import {
  APIM_SERVICE_TYPE,
  type ApimSubscriptionRef,
  type ApimSubscriptionState,
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
      "How long the subscription stays suspended before it is restored: an ISO 8601 duration in weeks, days, hours, minutes or seconds (no years or months), PT1M..P30D",
    ),
});
export type Params = z.infer<typeof paramsSchema>;

type Ctx = RemediationContext<Params>;

/** How many of the service's throttle records a timer restore looks through for its record. */
const MAX_RECORDS_SCANNED = 100_000;

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

function getSubscription(ctx: Ctx, ref: ApimSubscriptionRef, step: Step): Promise<ApimSubscriptionState> {
  return withStep(
    {
      step,
      resourceId: ref.id,
      statuses: {
        404: {
          code: "SubscriptionNotFound",
          message: `APIM subscription '${ref.sid}' not found on service '${ref.serviceName}'`,
          retryable: false,
        },
      },
    },
    async () =>
      stateOf(
        await ctx.clients
          .apiManagement(ref.armSubscriptionId)
          .subscription.get(ref.resourceGroup, ref.serviceName, ref.sid),
      ),
  );
}

async function patchState(ctx: Ctx, data: ThrottleData): Promise<void> {
  const { ref } = data;
  if (!data.etag) {
    throw new RemediationError(
      "MissingETag",
      `GET of APIM subscription '${ref.sid}' returned no ETag; If-Match is required`,
      { step: "apply", resourceId: ref.id, retryable: true },
    );
  }
  await ctx.clients
    .apiManagement(ref.armSubscriptionId)
    .subscription.update(ref.resourceGroup, ref.serviceName, ref.sid, data.etag, {
      state: data.to,
      stateComment: data.stateComment,
    });
}

/** The service's tags govern its subscriptions (opt-out `driftguard:exclude`). */
async function serviceTags(
  ctx: Ctx,
  service: ResourceId,
  serviceId: string,
): Promise<Record<string, string>> {
  const svc = await withStep({ step: "read", resourceId: serviceId }, () =>
    ctx.clients
      .apiManagement(service.subscriptionId)
      .apiManagementService.get(service.resourceGroup!, service.name),
  );
  return tagsOf(svc);
}

/** Which APIM subscription the signal is about: the alert's dimension, or a timer's record. */
async function subscriptionNamed(
  ctx: Ctx,
  state: ThrottleState,
): Promise<{ value: string } | { done: true }> {
  const { intent, serviceId } = state;
  if (intent.type === "restore" && intent.reason === "cooldown") {
    const record = await withStep({ step: "read", resourceId: serviceId }, () =>
      findInHistory(
        ctx.history,
        { resourceId: serviceId, kind: KIND, outcome: "remediated", limit: 1000 },
        (r) => r.id === intent.recordId,
        MAX_RECORDS_SCANNED,
      ),
    );
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

export const remediation: Remediation<Params, ThrottleState, ThrottleData> = {
  kind: KIND,
  description:
    "Suspends the APIM subscription an alert names; restores it when the alert resolves or the cooldown ends",
  example,
  services: ["apiManagement"],
  followUps: [cooldownRestores],
  permissions: {
    actions: [
      "Microsoft.ApiManagement/service/read",
      "Microsoft.ApiManagement/service/subscriptions/read",
      "Microsoft.ApiManagement/service/subscriptions/write",
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
    return { state, tags };
  },

  plan(current, ctx) {
    return planThrottle(current.state, ctx);
  },

  async apply(plan: ChangePlan<ThrottleData>, ctx) {
    const { data } = plan;
    const resourceId = data.ref.id;
    try {
      await patchState(ctx, data);
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
    const replanned = planThrottle(
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
      () => patchState(ctx, { ...replanned.data, stateComment: data.stateComment }),
    );
    return plan.changes;
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
