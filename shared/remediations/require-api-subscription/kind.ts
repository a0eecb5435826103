/**
 * `require-api-subscription` (docs/policies.md#require-api-subscription): an API Management API
 * open to anonymous callers (`subscriptionRequired: false`) gets `subscriptionRequired: true`, so
 * every call needs a subscription key again — an inference API must never be callable without one.
 * APIs named in `allowApis` use another authentication (e.g. `validate-jwt`) and may stay open.
 *
 * Wire (docs/azure.md#arm-calls): `GET …/service/{s}/apis/{apiId}` (ETag header), then
 * `PATCH` of `properties.subscriptionRequired` with `If-Match` on that ETag (not long-running). On
 * `412` the API is read again and, when it still needs the change, written once more with the new
 * ETag; a second `412` is a retryable failure. The API's other properties are never written. The
 * APIM service's tags govern its APIs (opt-out).
 */
import type { ApiContract } from "@azure/arm-apimanagement";
import { z } from "zod";
import { asRemediationError, httpStatusOf, RemediationError, type Step, withStep } from "../../errors.js";
import { sameType } from "../../resource-id.js";
import { orNotFound, parseTargetId, tagsOf } from "../arm-helpers.js";
import { unsupportedType } from "../kind-steps.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import { API_TYPE, isAllowedOpen, requiresSubscription } from "./rules.js";
import { apiSubscriptionSweep } from "./sweep.js";

export const KIND = "require-api-subscription";
export { API_TYPE, isAllowedOpen, isCompliantApi, requiresSubscription } from "./rules.js";

export const example = `version: 1
policies:
  - name: inference-apis-need-keys
    description: No API Management API is callable without a subscription key
    resourceTypes: [Microsoft.ApiManagement/service/apis]
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: ${KIND}
    params:
      allowApis: [health, public-docs]  # optional: APIs that authenticate callers another way
    mode: approval                      # callers without a key are refused once it is on
`;

const API_NAME = /^[^*#&+:<>?/\\]{1,256}$/;

export const paramsSchema = z.strictObject({
  allowApis: z
    .array(
      z
        .string()
        .trim()
        .min(1, "an API name must not be empty")
        .regex(
          API_NAME,
          "an API name (its ID in the service, e.g. chat-completions) has no * # & + : < > ? / \\",
        ),
    )
    .max(256)
    .default([])
    .describe(
      "Names (IDs) of APIs that authenticate callers another way and may stay open to calls without a subscription key; matched case-insensitively",
    ),
});
export type Params = z.infer<typeof paramsSchema>;

type Ctx = RemediationContext<Params>;

export interface ApiState {
  apiId: string;
  resourceGroup: string;
  serviceName: string;
  subscriptionId: string;
  /** The API's name (its ID in the service). */
  apiName: string;
  exists: boolean;
  displayName?: string;
  /** As read; `null` when absent (APIM's default is required). */
  subscriptionRequired: boolean | null;
  etag?: string;
}

export interface ApiData {
  apiId: string;
  resourceGroup: string;
  serviceName: string;
  subscriptionId: string;
  apiName: string;
  etag?: string;
}

interface Target {
  apiId: string;
  resourceGroup: string;
  serviceName: string;
  subscriptionId: string;
  apiName: string;
}

function resolveTarget(resourceId: string, step: Step): Target {
  const id = parseTargetId(resourceId, step);
  if (!id.resourceGroup || !sameType(id.type, API_TYPE))
    throw unsupportedType(KIND, id.type, resourceId, step);
  return {
    apiId: id.id,
    resourceGroup: id.resourceGroup,
    serviceName: id.names[0]![1],
    subscriptionId: id.subscriptionId,
    apiName: id.names[1]![1],
  };
}

async function readApi(t: Target, ctx: Ctx): Promise<(ApiContract & { eTag?: string }) | undefined> {
  return orNotFound(() =>
    ctx.clients.apiManagement(t.subscriptionId).api.get(t.resourceGroup, t.serviceName, t.apiName),
  );
}

function stateOf(t: Target, api: (ApiContract & { eTag?: string }) | undefined): ApiState {
  return {
    ...t,
    exists: api !== undefined,
    ...(api?.displayName ? { displayName: api.displayName } : {}),
    subscriptionRequired: typeof api?.subscriptionRequired === "boolean" ? api.subscriptionRequired : null,
    ...(api?.eTag ? { etag: api.eTag } : {}),
  };
}

function patch(ctx: Ctx, d: ApiData, etag: string | undefined): Promise<unknown> {
  if (!etag) {
    throw new RemediationError(
      "MissingETag",
      `GET of API '${d.apiName}' returned no ETag; If-Match is required`,
      {
        step: "apply",
        resourceId: d.apiId,
        retryable: true,
      },
    );
  }
  return ctx.clients
    .apiManagement(d.subscriptionId)
    .api.update(d.resourceGroup, d.serviceName, d.apiName, etag, { subscriptionRequired: true });
}

export const remediation: Remediation<Params, ApiState, ApiData> = {
  kind: KIND,
  description:
    "Sets subscriptionRequired: true on API Management APIs open to calls without a subscription key (APIs in allowApis may stay open)",
  example,
  services: ["apiManagement"],
  permissions: {
    actions: [
      "Microsoft.ApiManagement/service/read",
      "Microsoft.ApiManagement/service/apis/read",
      "Microsoft.ApiManagement/service/apis/write",
    ],
  },
  paramsSchema,
  sweep: apiSubscriptionSweep,

  supports(resourceType: string): boolean {
    return sameType(resourceType, API_TYPE);
  },

  async read(ctx): Promise<Current<ApiState>> {
    const t = resolveTarget(ctx.target.resourceId, "read");
    return withStep({ step: "read", resourceId: t.apiId }, async () => {
      const client = ctx.clients.apiManagement(t.subscriptionId);
      const [service, api] = await Promise.all([
        client.apiManagementService.get(t.resourceGroup, t.serviceName),
        readApi(t, ctx),
      ]);
      return { state: stateOf(t, api), tags: tagsOf(service) };
    });
  },

  plan(current, ctx): Plan<ApiData> {
    const s = current.state;
    if (!s.exists) return { action: "noop", reason: `API '${s.apiName}' no longer exists` };
    if (isAllowedOpen(s.apiName, ctx.params.allowApis)) {
      return {
        action: "noop",
        reason: `API '${s.apiName}' is in allowApis: it authenticates callers another way and may stay open`,
      };
    }
    if (requiresSubscription(s.subscriptionRequired)) {
      return { action: "noop", reason: `API '${s.apiName}' already requires a subscription key` };
    }
    return {
      action: "change",
      changes: [{ path: "properties.subscriptionRequired", from: s.subscriptionRequired, to: true }],
      summary: `Require a subscription key on API '${s.apiName}'${s.displayName && s.displayName !== s.apiName ? ` (${s.displayName})` : ""} of '${s.serviceName}': callers without a key get 401 from then on`,
      data: {
        apiId: s.apiId,
        resourceGroup: s.resourceGroup,
        serviceName: s.serviceName,
        subscriptionId: s.subscriptionId,
        apiName: s.apiName,
        ...(s.etag ? { etag: s.etag } : {}),
      },
    };
  },

  async apply(plan: ChangePlan<ApiData>, ctx) {
    const d = plan.data;
    try {
      await patch(ctx, d, d.etag);
      return plan.changes;
    } catch (err) {
      if (httpStatusOf(err) !== 412) throw asRemediationError(err, { step: "apply", resourceId: d.apiId });
      ctx.log.info({ kind: KIND, resourceId: d.apiId }, "API changed since read (412); re-reading once");
    }
    // Someone wrote the API between our read and write: act on what it is now.
    const t = resolveTarget(d.apiId, "apply");
    const now = stateOf(t, await withStep({ step: "apply", resourceId: d.apiId }, () => readApi(t, ctx)));
    if (!now.exists || requiresSubscription(now.subscriptionRequired)) {
      throw new RemediationError(
        "ConcurrentChange",
        `API '${d.apiName}' changed while being closed; after re-reading: ${now.exists ? "it already requires a subscription key" : "it no longer exists"}`,
        { step: "apply", resourceId: d.apiId, retryable: true, statusCode: 412 },
      );
    }
    await withStep(
      {
        step: "apply",
        resourceId: d.apiId,
        statuses: {
          412: {
            code: "PreconditionFailed",
            message: `API '${d.apiName}' changed again between read and write (If-Match failed twice)`,
            retryable: true,
          },
        },
      },
      () => patch(ctx, d, now.etag),
    );
    return plan.changes;
  },

  async verify(plan: ChangePlan<ApiData>, ctx): Promise<VerifyResult> {
    const t = resolveTarget(plan.data.apiId, "verify");
    const api = await withStep({ step: "verify", resourceId: t.apiId }, () => readApi(t, ctx));
    if (!api) return { ok: false, detail: `API '${t.apiName}' no longer exists` };
    if (api.subscriptionRequired !== true) {
      return {
        ok: false,
        detail: `API '${t.apiName}' has subscriptionRequired ${JSON.stringify(api.subscriptionRequired ?? null)}, expected true`,
      };
    }
    return { ok: true };
  },
};
