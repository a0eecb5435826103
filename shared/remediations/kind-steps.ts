/**
 * Steps several kinds share: resolving the target a kind supports (a non-retryable
 * `UnsupportedResourceType` otherwise), and, for kinds that decide from a pure function of the
 * resource they read, the apply (one write, provisioning state checked) and the verify (read back;
 * every planned path must need no change any more). Each kind keeps its own fields, reads and writes.
 */
import type { Change } from "../audit/types.js";
import { RemediationError, type Step, withStep } from "../errors.js";
import type { ResourceId } from "../resource-id.js";
import { assertProvisioned, parseTargetId } from "./arm-helpers.js";
import type { ChangePlan, RemediationContext, VerifyResult } from "./types.js";

/** `type` as spelled in `types` (ARM compares resource types case-insensitively), if listed. */
export function canonicalTypeIn<T extends string>(types: readonly T[], type: string): T | undefined {
  const lower = type.toLowerCase();
  return types.find((t) => t.toLowerCase() === lower);
}

/** The non-retryable failure for a target a kind cannot act on. */
export function unsupportedTarget(message: string, resourceId: string, step: Step): RemediationError {
  return new RemediationError("UnsupportedResourceType", message, { step, resourceId, retryable: false });
}

/** `unsupportedTarget` for a resource type the kind does not support. */
export function unsupportedType(
  kind: string,
  type: string,
  resourceId: string,
  step: Step,
): RemediationError {
  return unsupportedTarget(`${kind} does not support resource type '${type}'`, resourceId, step);
}

/** A target in a resource group whose type the kind lists (`type` as the kind spells it). */
export interface TypedTarget<T extends string> {
  id: ResourceId;
  type: T;
  resourceGroup: string;
  name: string;
}

export function resolveTypedTarget<T extends string>(
  kind: string,
  resourceId: string,
  step: Step,
  canonicalType: (type: string) => T | undefined,
): TypedTarget<T> {
  const id = parseTargetId(resourceId, step);
  const type = canonicalType(id.type);
  if (!type || !id.resourceGroup) throw unsupportedType(kind, id.type, resourceId, step);
  return { id, type, resourceGroup: id.resourceGroup, name: id.name };
}

/** `field → value, …` (without the `properties.` prefix), for a plan's summary. */
export function describeChanges(changes: readonly Change[]): string {
  return changes.map((c) => `${c.path.replace(/^properties\./, "")} → ${String(c.to)}`).join(", ");
}

/** `path is <from>, expected <to>; …`, for a verify that found the changes not (all) in place. */
export function describeMismatches(changes: readonly Change[]): string {
  return changes
    .map((c) => `${c.path} is ${JSON.stringify(c.from)}, expected ${JSON.stringify(c.to)}`)
    .join("; ");
}

/** Runs the kind's write at step `apply`, fails on a `Failed` provisioning state, logs `done`. */
export async function applyWrite<P, D>(
  kind: string,
  resourceId: string,
  plan: ChangePlan<D>,
  ctx: RemediationContext<P>,
  write: () => Promise<unknown>,
  done: string,
): Promise<Change[]> {
  const result = await withStep({ step: "apply", resourceId }, write);
  assertProvisioned(result, "apply", resourceId);
  ctx.log.info({ kind, resourceId, changes: plan.changes }, done);
  return plan.changes;
}

/**
 * Reads the resource again at step `verify`: not ok when its provisioning state is `Failed` or when
 * `changesOf` (the kind's decision on the state read) still wants a change at a planned path.
 */
export async function verifyReadBack<S extends { provisioningState: string | null }>(
  resourceId: string,
  planned: readonly Change[],
  read: () => Promise<S>,
  changesOf: (state: S) => Change[],
): Promise<VerifyResult> {
  const state = await withStep({ step: "verify", resourceId }, read);
  if (state.provisioningState?.toLowerCase() === "failed")
    return { ok: false, detail: `provisioningState is '${state.provisioningState}'` };
  const remaining = changesOf(state).filter((c) => planned.some((p) => p.path === c.path));
  if (remaining.length > 0) return { ok: false, detail: describeMismatches(remaining) };
  return { ok: true };
}
