/**
 * API Management calls of `throttle-api-subscription`'s `rate-limit` action: what the throttling
 * product holds (product, policy, APIs) and which APIs a subscription's scope reaches; then, before
 * the subscription moves, the product and its policy are created when missing and given the APIs
 * the subscription needs (each step checks again right before it writes, so a product or policy
 * someone created meanwhile is left as it is). Wire: docs/azure.md#api-management-products.
 */
import type { ApiManagementClient } from "@azure/arm-apimanagement";
import { withStep } from "../../errors.js";
import { orNotFound } from "../arm-helpers.js";
import type { RemediationContext } from "../types.js";
import type { ApimSubscriptionRef, ScopeChangeData, ThrottleProductState } from "./plan.js";
import { parseScope, throttleProductBody } from "./rate-limit.js";

type Ctx = RemediationContext<unknown>;

function client(ctx: Ctx, ref: ApimSubscriptionRef): ApiManagementClient {
  return ctx.clients.apiManagement(ref.armSubscriptionId);
}

function serviceIdOf(ref: ApimSubscriptionRef): string {
  return ref.id.split("/").slice(0, -2).join("/");
}

/** API names (current revisions) of a paged APIM list. */
async function names(list: AsyncIterable<{ name?: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of list) if (item.name && !item.name.includes(";rev=")) out.push(item.name);
  return out;
}

/** Which APIs `scope` reaches: every API, one API, or the APIs of one product; undefined if unknown. */
export async function apisInScope(
  ctx: Ctx,
  ref: ApimSubscriptionRef,
  scope: string,
): Promise<string[] | undefined> {
  const parsed = parseScope(serviceIdOf(ref), scope);
  if (!parsed) return undefined;
  const apim = client(ctx, ref);
  if ("api" in parsed) return [parsed.api];
  if ("product" in parsed)
    return names(apim.productApi.listByProduct(ref.resourceGroup, ref.serviceName, parsed.product));
  return names(apim.api.listByService(ref.resourceGroup, ref.serviceName));
}

/** The throttling product as it is now, and the APIs the subscription's `scope` reaches. */
export async function readThrottleProduct(
  ctx: Ctx,
  ref: ApimSubscriptionRef,
  productName: string,
  scope: string,
): Promise<ThrottleProductState> {
  const apim = client(ctx, ref);
  const { resourceGroup: rg, serviceName: svc } = ref;
  const product = await orNotFound(() => apim.product.get(rg, svc, productName));
  const [policy, apis, scopeApis] = await Promise.all([
    product ? orNotFound(() => apim.productPolicy.get(rg, svc, productName, "policy")) : undefined,
    product ? names(apim.productApi.listByProduct(rg, svc, productName)) : Promise.resolve([]),
    apisInScope(ctx, ref, scope),
  ]);
  return {
    name: productName,
    id: `${serviceIdOf(ref)}/products/${productName}`,
    exists: product !== undefined,
    policyExists: policy !== undefined,
    apis,
    ...(scopeApis ? { scopeApis } : {}),
  };
}

/**
 * Creates what the plan found missing in the throttling product: the product (published, keys
 * required), its policy (`rawxml`) and the APIs the subscription reaches. Idempotent.
 */
export async function prepareThrottleProduct(ctx: Ctx, data: ScopeChangeData): Promise<void> {
  const p = data.product;
  if (!p) return;
  const apim = client(ctx, data.ref);
  const { resourceGroup: rg, serviceName: svc } = data.ref;
  await withStep({ step: "apply", resourceId: p.id }, async () => {
    if (p.create && !(await orNotFound(() => apim.product.get(rg, svc, p.name)))) {
      await apim.product.createOrUpdate(rg, svc, p.name, throttleProductBody(p.name));
    }
    if (p.policyXml && !(await orNotFound(() => apim.productPolicy.get(rg, svc, p.name, "policy")))) {
      await apim.productPolicy.createOrUpdate(rg, svc, p.name, "policy", {
        format: "rawxml",
        value: p.policyXml,
      });
    }
    for (const api of p.addApis) await apim.productApi.createOrUpdate(rg, svc, p.name, api);
  });
}

/** Problems with the throttling product after the move (empty when the subscription can call every API it needs). */
export async function throttleProductProblems(ctx: Ctx, data: ScopeChangeData): Promise<string[]> {
  const p = data.product;
  if (!p) return [];
  const now = await readThrottleProduct(ctx, data.ref, p.name, data.to);
  const problems: string[] = [];
  if (!now.exists) problems.push(`product '${p.name}' does not exist`);
  if (!now.policyExists) problems.push(`product '${p.name}' has no policy (no rate limit)`);
  const have = new Set(now.apis.map((a) => a.toLowerCase()));
  const missing = p.requiredApis.filter((a) => !have.has(a.toLowerCase()));
  if (missing.length > 0)
    problems.push(`product '${p.name}' lacks API(s) ${missing.map((a) => `'${a}'`).join(", ")}`);
  return problems;
}
