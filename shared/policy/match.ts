/**
 * Policy matching (pure). A policy applies to a signal's target when its `resourceTypes` contain the
 * target's type, one of its `triggers` matches the signal, and its `scope` contains the target. For
 * one target, the first applying policy **of each kind** runs (file order), so that a resource
 * governed by several kinds is checked by each; within one kind, the first match wins.
 */
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

function typeMatches(policy: Policy, target: SignalTarget): boolean {
  return policy.resourceTypes.some((t) => sameType(t, target.resourceType));
}

function anyTriggerMatches(policy: Policy, signal: Signal): boolean {
  return policy.triggers.some((pt) => triggerMatches(pt, signal.trigger));
}

/** Whether the policy's resource types and triggers match (scope aside). */
export function policyMatches(policy: Policy, signal: Signal, target: SignalTarget): boolean {
  return typeMatches(policy, target) && anyTriggerMatches(policy, signal);
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

/** For each kind, the first policy (file order) whose resourceTypes, triggers and scope match. */
export function matchPolicies(policies: readonly Policy[], signal: Signal, target: SignalTarget): Policy[] {
  const byKind = new Map<string, Policy>();
  for (const p of policies) {
    if (byKind.has(p.kind) || !policyMatches(p, signal, target) || !inScope(p, target)) continue;
    byKind.set(p.kind, p);
  }
  return [...byKind.values()];
}

/** Why no policy applies: which of resource type, trigger and scope failed (for the `ignored` reason). */
export function explainNoMatch(policies: readonly Policy[], signal: Signal, target: SignalTarget): string {
  const typed = policies.filter((p) => typeMatches(p, target));
  if (typed.length === 0) return `no policy matches: no policy covers resource type ${target.resourceType}`;
  const triggered = typed.filter((p) => anyTriggerMatches(p, signal));
  const trigger = Object.entries(signal.trigger)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  if (triggered.length === 0)
    return `no policy matches: ${names(typed)} cover${typed.length === 1 ? "s" : ""} ${target.resourceType} but no trigger of ${typed.length === 1 ? "it" : "theirs"} matches ${trigger}`;
  return `no policy matches: the resource is outside the scope of ${names(triggered)}, whose type and trigger match`;
}

function names(policies: readonly Policy[]): string {
  const shown = policies.slice(0, 5).map((p) => p.name);
  return `${policies.length === 1 ? "policy" : "policies"} ${shown.join(", ")}${policies.length > 5 ? ", …" : ""}`;
}

/** Pins a signal to a named policy (approval replays, follow-ups, manual runs, sweeps). */
export function policyByName(policies: readonly Policy[], name: string): Policy | undefined {
  return policies.find((p) => p.name === name);
}
