/**
 * Pure rules of `require-api-subscription`, shared by `read`/`plan` (kind.ts) and a sweep
 * (sweep.ts): when an API Management API is as the kind wants it.
 */

export const API_TYPE = "Microsoft.ApiManagement/service/apis";

/** True when the API demands a subscription key (absent = APIM's default, required). */
export function requiresSubscription(subscriptionRequired: unknown): boolean {
  return subscriptionRequired !== false;
}

/** True when `apiName` is one of the allowed open APIs (case-insensitive). */
export function isAllowedOpen(apiName: string, allowApis: readonly string[]): boolean {
  return allowApis.some((a) => a.toLowerCase() === apiName.toLowerCase());
}

/**
 * True when an API is as this kind wants it, from its name and ARM `properties` (as a GET or a list
 * of the service's APIs returns them): it requires a subscription key, or may stay open.
 */
export function isCompliantApi(apiName: string, properties: unknown, allowApis: readonly string[]): boolean {
  const p = (properties && typeof properties === "object" ? properties : {}) as {
    subscriptionRequired?: unknown;
  };
  return isAllowedOpen(apiName, allowApis) || requiresSubscription(p.subscriptionRequired);
}
