/**
 * Pure planning of `throttle-api-subscription` with `action: rate-limit` (no Azure SDK here): the
 * abusive APIM subscription keeps working, slowly. Its `scope` moves to a throttling product
 * (`throttledProduct`) whose policy holds a `rate-limit` of `callsPerMinute` per subscription (and,
 * with `tokensPerMinute`, an `azure-openai-token-limit` keyed on the subscription); the product is
 * created with its policy when missing and is given the APIs the subscription's original scope
 * reached, so every call it could make still works. On resolve or after the cooldown the scope
 * moves back to the original one recorded on the trail, exactly as it was.
 */
import type { Change } from "../../audit/types.js";
import { RemediationError } from "../../errors.js";
import type { Plan, RemediationContext } from "../types.js";
import {
  MASTER_SUBSCRIPTION,
  parseIsoDuration,
  type RecordedThrottle,
  STATE_COMMENT_PREFIX,
  type ThrottleData,
  type ThrottleState,
} from "./plan.js";

/** APIM's `rate-limit` counts calls per renewal period (at most 300 s); driftguard uses a minute. */
export const RENEWAL_PERIOD_SECONDS = 60;

export interface RateLimitParams {
  cooldown: string;
  throttledProduct: string;
  callsPerMinute: number;
  tokensPerMinute?: number;
}

/**
 * The part of a subscription scope after the service, lower-case, for comparisons:
 * `/apis`, `/apis/{id}`, `/products/{id}`. APIM shows full IDs; writes may be relative.
 */
export function scopeKey(serviceId: string, scope: string): string {
  const s = scope.trim().replace(/\/+$/, "");
  const rel = s.toLowerCase().startsWith(serviceId.toLowerCase()) ? s.slice(serviceId.length) : s;
  return (rel.startsWith("/") ? rel : `/${rel}`).toLowerCase();
}

/** What a scope reaches: all APIs, one API or one product's APIs; undefined for anything else. */
export function parseScope(
  serviceId: string,
  scope: string,
): { all: true } | { api: string } | { product: string } | undefined {
  const key = scopeKey(serviceId, scope);
  if (key === "/apis") return { all: true };
  const rest = scope.trim().replace(/\/+$/, "").split("/");
  const m = /^\/(apis|products)\/([^/]+)$/.exec(key);
  if (!m) return undefined;
  const name = rest.at(-1)!;
  return m[1] === "apis" ? { api: name } : { product: name };
}

/** The product policy: the rate limit, and the token limit when asked for. */
export function throttlePolicyXml(p: Pick<RateLimitParams, "callsPerMinute" | "tokensPerMinute">): string {
  const tokenLimit =
    p.tokensPerMinute !== undefined
      ? `\n    <azure-openai-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="${p.tokensPerMinute}" estimate-prompt-tokens="false" />`
      : "";
  return `<policies>
  <inbound>
    <base />
    <rate-limit calls="${p.callsPerMinute}" renewal-period="${RENEWAL_PERIOD_SECONDS}" />${tokenLimit}
  </inbound>
  <backend>
    <base />
  </backend>
  <outbound>
    <base />
  </outbound>
  <on-error>
    <base />
  </on-error>
</policies>`;
}

/** The product driftguard creates when the throttling product is missing. */
export function throttleProductBody(name: string) {
  return {
    displayName: name,
    description:
      "driftguard: API Management subscriptions moved here by throttle-api-subscription (action rate-limit) while an abuse alert fires; each is moved back to its original scope afterwards",
    subscriptionRequired: true,
    approvalRequired: false,
    state: "published" as const,
  };
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function planError(state: ThrottleState, code: string, message: string): RemediationError {
  return new RemediationError(code, message, { step: "plan", resourceId: state.serviceId, retryable: false });
}

/** Alert fired, `action: rate-limit`: move the subscription into the throttling product. */
export function planRateLimit(
  state: ThrottleState,
  ctx: RemediationContext<RateLimitParams>,
): Plan<ThrottleData> {
  const { ref, subscription: sub, product } = state;
  if (!ref || !sub || !product)
    throw planError(state, "UnresolvedSubscription", "no APIM subscription to act on");
  if (ref.sid.toLowerCase() === MASTER_SUBSCRIPTION) {
    return { action: "noop", reason: "built-in master subscription is never throttled" };
  }
  if (sub.state.toLowerCase() !== "active") {
    return {
      action: "noop",
      reason: `APIM subscription '${ref.sid}' is '${sub.state}', not active: nothing to throttle`,
    };
  }
  const scope = sub.scope ?? "";
  if (scopeKey(state.serviceId, scope) === scopeKey(state.serviceId, product.id)) {
    return {
      action: "noop",
      reason: `APIM subscription '${ref.sid}' is already in the throttling product '${product.name}'`,
    };
  }
  if (!product.scopeApis) {
    throw planError(
      state,
      "UnsupportedScope",
      `APIM subscription '${ref.sid}' has scope '${truncate(scope, 300)}', which is not all APIs, one API or a product: cannot tell which APIs it must keep reaching`,
    );
  }
  const { params } = ctx;
  const now = ctx.now();
  const restoreAt = new Date(now.getTime() + parseIsoDuration(params.cooldown)).toISOString();
  const have = new Set(product.apis.map((a) => a.toLowerCase()));
  const addApis = product.scopeApis.filter((a) => !have.has(a.toLowerCase()));
  const policyXml = product.exists && product.policyExists ? undefined : throttlePolicyXml(params);
  const productPath = `products[${product.name}]`;
  const changes: Change[] = [
    ...(product.exists ? [] : [{ path: productPath, from: null, to: throttleProductBody(product.name) }]),
    ...(policyXml ? [{ path: `${productPath}.policies[policy]`, from: null, to: policyXml }] : []),
    ...addApis.map((api) => ({ path: `${productPath}.apis[${api}]`, from: null, to: true })),
    { path: "properties.scope", from: scope, to: product.id },
  ];
  const alert = ctx.signal.alert;
  const rule = alert?.ruleName ?? ctx.signal.type;
  const at = alert?.firedAt ?? ctx.signal.time;
  const limits = `${params.callsPerMinute} calls/min${params.tokensPerMinute !== undefined ? `, ${params.tokensPerMinute} tokens/min` : ""}`;
  const stateComment = `${STATE_COMMENT_PREFIX} rate-limited (${limits}) by policy ${ctx.policy.name} after alert ${truncate(rule, 200)} at ${at}; restore due ${restoreAt}`;
  return {
    action: "change",
    changes,
    summary: `Throttle APIM subscription '${ref.sid}' on '${ref.serviceName}' to ${limits} in product '${product.name}' until ${restoreAt} (alert ${truncate(rule, 120)}); it keeps working, slowly`,
    data: {
      writes: "scope",
      ref,
      from: scope,
      to: product.id,
      stateComment,
      ...(sub.etag ? { etag: sub.etag } : {}),
      intent: state.intent,
      product: {
        name: product.name,
        id: product.id,
        create: !product.exists,
        ...(policyXml ? { policyXml } : {}),
        addApis,
        requiredApis: product.scopeApis,
      },
    },
    followUp: {
      restoreAt,
      apimSubscriptionId: ref.id,
      cooldown: params.cooldown,
      action: "rate-limit",
      originalScope: scope,
      throttledScope: product.id,
    },
  };
}

/** Alert resolved or cooldown over after a rate-limit: move the subscription back, exactly. */
export function planScopeRestore(
  state: ThrottleState,
  ctx: RemediationContext<RateLimitParams>,
  recorded: RecordedThrottle,
): Plan<ThrottleData> {
  const { ref, subscription: sub, intent } = state;
  if (!ref || !sub || intent.type !== "restore") {
    throw planError(state, "UnresolvedSubscription", "no APIM subscription to act on");
  }
  const { originalScope, throttledScope } = recorded;
  if (!originalScope || !throttledScope) {
    throw planError(
      state,
      "IncompleteThrottleRecord",
      `record ${recorded.recordId} does not name the original and throttled scopes of '${ref.sid}'`,
    );
  }
  const now = ctx.now();
  const scope = sub.scope ?? "";
  const key = scopeKey(state.serviceId, scope);
  if (key === scopeKey(state.serviceId, originalScope)) {
    return { action: "noop", reason: `APIM subscription '${ref.sid}' is already in its original scope` };
  }
  if (key !== scopeKey(state.serviceId, throttledScope)) {
    return {
      action: "noop",
      reason: `APIM subscription '${ref.sid}' was moved by someone else since it was throttled (scope now '${truncate(scope, 300)}'): left as is`,
    };
  }
  const why =
    intent.reason === "resolved"
      ? `alert ${truncate(ctx.signal.alert?.ruleName ?? ctx.signal.type, 200)} resolved`
      : `cooldown ended, due ${intent.restoreAt}`;
  return {
    action: "change",
    changes: [{ path: "properties.scope", from: scope, to: originalScope }],
    summary: `Move APIM subscription '${ref.sid}' on '${ref.serviceName}' back to its original scope '${truncate(originalScope, 200)}' (${why})`,
    reverts: true,
    data: {
      writes: "scope",
      ref,
      from: scope,
      to: originalScope,
      stateComment: `${STATE_COMMENT_PREFIX} moved back to its original scope by policy ${ctx.policy.name} at ${now.toISOString()}: ${why}`,
      ...(sub.etag ? { etag: sub.etag } : {}),
      intent,
    },
    followUp: {
      apimSubscriptionId: ref.id,
      action: "rate-limit",
      restoredScope: originalScope,
      ...(intent.reason === "cooldown" ? { restores: intent.recordId } : {}),
    },
  };
}
