/**
 * `require-api-subscription` in a sweep: an API Management service's APIs are child resources
 * Resource Graph's `resources` table does not hold, so each service row within a sweeping policy's
 * scope costs one ARM list of its APIs (`GET …/service/{s}/apis`, one request per page of APIs the
 * service returns; no API is read one by one). Each API is a subject with its service's tags (as in
 * `read`); it is a candidate when `subscriptionRequired` is `false` and its name is not in the
 * policy's `allowApis` — the rule `plan` uses.
 */
import { asRemediationError } from "../../errors.js";
import { parseResourceId } from "../../resource-id.js";
import { orNotFound } from "../arm-helpers.js";
import type { SweepSubject, SweepSupport } from "../types.js";
import { API_TYPE, isCompliantApi } from "./rules.js";

const SERVICE_TYPE = "microsoft.apimanagement/service";

/** An API as the service lists it. */
export interface ApiRowState {
  apiName: string;
  /** As listed; `null` when absent (APIM's default: required). */
  subscriptionRequired: boolean | null;
}

export const apiSubscriptionSweep: SweepSupport<{ allowApis: string[] }, ApiRowState> = {
  reads: "per-row",
  rowTypes: (types) => (types.some((t) => t.toLowerCase() === API_TYPE.toLowerCase()) ? [SERVICE_TYPE] : []),
  async subjects(row, ctx): Promise<SweepSubject<ApiRowState>[]> {
    if (row.type.toLowerCase() !== SERVICE_TYPE) return [];
    const id = parseResourceId(row.id);
    const out: SweepSubject<ApiRowState>[] = [];
    try {
      await orNotFound(async () => {
        const apis = ctx.clients.apiManagement(id.subscriptionId).api;
        for await (const api of apis.listByService(id.resourceGroup ?? "", id.name)) {
          if (!api.name) continue;
          out.push({
            resourceId: `${row.id}/apis/${api.name}`,
            resourceType: API_TYPE,
            tags: row.tags,
            state: {
              apiName: api.name,
              subscriptionRequired:
                typeof api.subscriptionRequired === "boolean" ? api.subscriptionRequired : null,
            },
          });
        }
      });
    } catch (err) {
      throw asRemediationError(err, { step: "read", resourceId: row.id, doing: "listing APIs" });
    }
    return out;
  },
  finding(subject, params) {
    const { apiName, subscriptionRequired } = subject.state;
    if (isCompliantApi(apiName, { subscriptionRequired }, params.allowApis)) return undefined;
    return `subscriptionRequired is false: API '${apiName}' can be called without a subscription key`;
  },
};
