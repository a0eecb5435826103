/** Policy matching (pure): the first policy whose resourceTypes and triggers both match wins. */
import { isUnderScope, sameType } from "../resource-id.js";
import { matchesGlob } from "../signals/glob.js";
import type { Signal, SignalTarget, Trigger } from "../signals/types.js";
import { DEFAULT_BUDGET_THRESHOLD_TYPES, type Policy, type PolicyTrigger } from "./schema.js";

export function triggerMatches(policyTrigger: PolicyTrigger, trigger: Trigger): boolean {
  if ("eventGrid" in policyTrigger)
    return "eventGrid" in trigger && matchesGlob(policyTrigger.eventGrid, trigger.eventGrid);
  if ("keyVault" in policyTrigger) {
    if (!("keyVault" in trigger)) return false;
    const wanted = policyTrigger.keyVault.replace(/^Microsoft\.KeyVault\./i, "");
    return matchesGlob(wanted, trigger.keyVault);
  }
  if ("alert" in policyTrigger) return "alert" in trigger && matchesGlob(policyTrigger.alert, trigger.alert);
  if ("budget" in policyTrigger) {
    if (!("budget" in trigger) || !matchesGlob(policyTrigger.budget, trigger.budget)) return false;
    const wanted = policyTrigger.thresholdTypes ?? DEFAULT_BUDGET_THRESHOLD_TYPES;
    return wanted.includes(trigger.thresholdType ?? "Actual");
  }
  return "manual" in trigger && matchesGlob(policyTrigger.manual, trigger.manual);
}

export function policyMatches(policy: Policy, signal: Signal, target: SignalTarget): boolean {
  if (!policy.resourceTypes.some((t) => sameType(t, target.resourceType))) return false;
  return policy.triggers.some((pt) => triggerMatches(pt, signal.trigger));
}

/** Whether the target lies inside the policy's scope (empty scope = everywhere). */
export function inScope(policy: Policy, target: SignalTarget): boolean {
  return policy.scope.length === 0 || policy.scope.some((s) => isUnderScope(target.resourceId, s));
}

/** First policy whose resourceTypes, triggers and scope all match the target. */
export function matchPolicy(
  policies: readonly Policy[],
  signal: Signal,
  target: SignalTarget,
): Policy | undefined {
  return policies.find((p) => policyMatches(p, signal, target) && inScope(p, target));
}

/** Pins a signal to a named policy (approval replays, timer restores, manual runs). */
export function policyByName(policies: readonly Policy[], name: string): Policy | undefined {
  return policies.find((p) => p.name === name);
}
