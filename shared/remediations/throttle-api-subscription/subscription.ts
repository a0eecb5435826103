/**
 * The APIM subscription calls of `throttle-api-subscription`: GET (its state, comment and scope —
 * never its keys) and the PATCH of either its `state` (suspend / restore) or its `scope`
 * (rate-limit / move back), always with `If-Match` on the ETag read. Wire:
 * docs/azure.md#api-management-subscriptions.
 */
import type { SubscriptionContract } from "@azure/arm-apimanagement";
import { RemediationError, type Step, withStep } from "../../errors.js";
import type { ResourceId } from "../../resource-id.js";
import { tagsOf } from "../arm-helpers.js";
import type { RemediationContext } from "../types.js";
import type { ApimSubscriptionRef, ApimSubscriptionState, ThrottleData } from "./plan.js";

type Ctx = RemediationContext<unknown>;

export function stateOf(sub: SubscriptionContract & { eTag?: string }): ApimSubscriptionState {
  // Deliberately picks fields: the contract also carries primaryKey/secondaryKey.
  return {
    state: String(sub.state ?? "unknown"),
    ...(sub.stateComment !== undefined && sub.stateComment !== null
      ? { stateComment: sub.stateComment }
      : {}),
    ...(sub.displayName ? { displayName: sub.displayName } : {}),
    ...(typeof sub.scope === "string" ? { scope: sub.scope } : {}),
    ...(sub.eTag ? { etag: sub.eTag } : {}),
  };
}

export function getSubscription(
  ctx: Ctx,
  ref: ApimSubscriptionRef,
  step: Step,
): Promise<ApimSubscriptionState> {
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

/** PATCHes the subscription's state or scope (with its comment) under `If-Match: etag`. */
export async function patchSubscription(
  ctx: Ctx,
  data: ThrottleData,
  etag: string | undefined,
): Promise<void> {
  const { ref } = data;
  if (!etag) {
    throw new RemediationError(
      "MissingETag",
      `GET of APIM subscription '${ref.sid}' returned no ETag; If-Match is required`,
      {
        step: "apply",
        resourceId: ref.id,
        retryable: true,
      },
    );
  }
  const body =
    data.writes === "scope"
      ? { scope: data.to, stateComment: data.stateComment }
      : { state: data.to, stateComment: data.stateComment };
  await ctx.clients
    .apiManagement(ref.armSubscriptionId)
    .subscription.update(ref.resourceGroup, ref.serviceName, ref.sid, etag, body);
}

/** The service's tags govern its subscriptions (opt-out `driftguard:exclude`). */
export async function serviceTags(
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
