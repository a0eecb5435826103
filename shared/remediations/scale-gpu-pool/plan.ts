/**
 * Pure planning for `scale-gpu-pool` (no Azure SDK here): which pools are ours to limit, the limits
 * a policy sets (only ever lower), the change paths recorded for each pool field and parsed back on
 * restore, and what the audit trail says to restore. The SDK reads and writes are in
 * `arm.ts`; the kind itself in `kind.ts`.
 */
import type { Change } from "../../audit/types.js";
import { parseResourceId, type ResourceId, sameType } from "../../resource-id.js";
import type { Signal } from "../../signals/types.js";
import type { Plan } from "../types.js";

export const T_COMPUTE = "Microsoft.MachineLearningServices/workspaces/computes";
export const T_CLUSTER = "Microsoft.ContainerService/managedClusters";
export const T_POOL = "Microsoft.ContainerService/managedClusters/agentPools";
export const T_RG = "Microsoft.Resources/resourceGroups";
export const T_SUB = "Microsoft.Resources/subscriptions";

/** The limits a policy sets (its params `maxNodes`, `minNodes`). */
export interface NodeLimits {
  maxNodes: number;
  minNodes?: number;
}

/** `Standard_N*`: the N-series (NC, ND, NV, …) are the GPU sizes. */
export function isGpuVmSize(vmSize: string | undefined): boolean {
  return typeof vmSize === "string" && /^standard_n/i.test(vmSize);
}

// ---------------------------------------------------------------------------------------------
// State

export type AmlField = "maxNodeCount" | "minNodeCount";
export type AksField = "maxCount" | "minCount" | "count";
export type PoolField = AmlField | AksField;

interface UnitBase {
  /** ARM ID of the compute cluster / agent pool. */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Workspace / cluster name. */
  parent: string;
  name: string;
  vmSize?: string;
}

export interface AmlUnit extends UnitBase {
  type: "aml";
  computeType?: string;
  maxNodeCount?: number;
  minNodeCount?: number;
  nodeIdleTimeBeforeScaleDown?: string;
}

export interface AksUnit extends UnitBase {
  type: "aks";
  mode?: string;
  enableAutoScaling: boolean;
  count?: number;
  minCount?: number;
  maxCount?: number;
}

export type PoolUnit = AmlUnit | AksUnit;

export interface Skipped {
  /** Pool ID (or change path when the pool cannot be named). */
  id: string;
  reason: string;
}

/** What a Resolved alert asks to restore, per pool, as found in the audit trail. */
export interface RestoreEntry {
  unit: PoolUnit | undefined;
  /** Pool ID the recorded paths name. */
  id: string;
  fields: { field: PoolField; path: string; from: unknown; to: unknown }[];
}

export interface ScaleState {
  direction: "apply" | "restore";
  target: string;
  /** Apply: the pools under the target that this policy governs. */
  units: PoolUnit[];
  /** Restore: recorded changes per pool, with the pool as read now (undefined = gone), and other
   *  alerts that fired since the last restore and are still open (the limits stay while any is). */
  restore?: { entries: RestoreEntry[]; records: string[]; openAlerts: string[] };
  /** Apply: this alert's Resolved is already on record (Fired delivered late): do not cap again. */
  alreadyResolved?: boolean;
  /** Pools looked at and left alone, with why (system pool, not GPU, excluded by tag, …). */
  skipped: Skipped[];
}

export interface PlannedUnit {
  unit: PoolUnit;
  set: { field: PoolField; from: number | undefined; to: number | undefined }[];
}

export interface ScaleData {
  direction: "apply" | "restore";
  units: PlannedUnit[];
}

// ---------------------------------------------------------------------------------------------
// Paths

const AML_FIELD_PATH = "properties.properties.scaleSettings.";

function fieldPath(unit: { type: "aml" | "aks" }, field: PoolField): string {
  return unit.type === "aml" ? `${AML_FIELD_PATH}${field}` : field;
}

/** `type[name].` segments from the target down to the pool (empty when the pool is the target). */
export function unitPrefix(unitId: string, targetId: string): string {
  const unit = parseResourceId(unitId);
  const target = parseResourceId(targetId);
  if (unit.id.toLowerCase() === target.id.toLowerCase()) return "";
  const segs: string[] = [];
  if (sameType(target.type, T_SUB) && unit.resourceGroup) segs.push(`resourceGroups[${unit.resourceGroup}]`);
  const depth = target.names.length; // pairs already named by the target
  for (const [type, name] of unit.names.slice(depth)) segs.push(`${type}[${name}]`);
  return segs.length ? `${segs.join(".")}.` : "";
}

export function changePath(unit: PoolUnit, field: PoolField, targetId: string): string {
  return `${unitPrefix(unit.id, targetId)}${fieldPath(unit, field)}`;
}

/** The recorded `{path, from, to}` of every field a plan sets (apply and restore alike). */
function changesOf(planned: readonly PlannedUnit[], targetId: string): Change[] {
  return planned.flatMap((p) =>
    p.set.map((s) => ({
      path: changePath(p.unit, s.field, targetId),
      from: s.from ?? null,
      to: s.to ?? null,
    })),
  );
}

const NAMESPACE_OF: Record<string, string> = {
  workspaces: "Microsoft.MachineLearningServices",
  managedclusters: "Microsoft.ContainerService",
};

/** Parses a change path back into the pool's ID and field; undefined when it is not one of ours. */
export function parseChangePath(
  path: string,
  targetId: string,
): { id: string; type: "aml" | "aks"; field: PoolField } | undefined {
  const target = parseResourceId(targetId);
  let rest = path;
  let id = target.id;
  const segRe = /^([A-Za-z]+)\[([^\][]+)\]\./;
  for (let m = segRe.exec(rest); m; m = segRe.exec(rest)) {
    const [whole, type, name] = m as unknown as [string, string, string];
    const ns = NAMESPACE_OF[type.toLowerCase()];
    if (type.toLowerCase() === "resourcegroups") id += `/resourceGroups/${name}`;
    else if (ns) id += `/providers/${ns}/${type}/${name}`;
    else id += `/${type}/${name}`;
    rest = rest.slice(whole.length);
  }
  let parsed: ResourceId;
  try {
    parsed = parseResourceId(id);
  } catch {
    return undefined;
  }
  if (sameType(parsed.type, T_COMPUTE) && rest.startsWith(AML_FIELD_PATH)) {
    const field = rest.slice(AML_FIELD_PATH.length);
    if (field === "maxNodeCount" || field === "minNodeCount") return { id: parsed.id, type: "aml", field };
  }
  if (sameType(parsed.type, T_POOL) && (rest === "maxCount" || rest === "minCount" || rest === "count")) {
    return { id: parsed.id, type: "aks", field: rest };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Eligibility and direction

/** Budgets and Fired alerts apply the limits; a Resolved alert restores (budgets never resolve). */
export function direction(signal: Signal): "apply" | "restore" {
  if (signal.budget || "budget" in signal.trigger) return "apply";
  const condition =
    signal.alert?.condition ?? ("condition" in signal.trigger ? signal.trigger.condition : undefined);
  return condition === "Resolved" ? "restore" : "apply";
}

/** Why a pool is not ours to touch, or undefined when it is. */
export function ineligible(unit: PoolUnit): string | undefined {
  if (unit.type === "aml" && unit.computeType !== undefined && unit.computeType !== "AmlCompute") {
    return `compute type ${unit.computeType} is not a compute cluster`;
  }
  if (unit.type === "aks" && unit.mode?.toLowerCase() === "system") return "system pool";
  if (!isGpuVmSize(unit.vmSize)) return `VM size ${unit.vmSize ?? "(unknown)"} is not a GPU size`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Planning

export function fieldValue(unit: PoolUnit, field: PoolField): number | undefined {
  return (unit as unknown as Record<string, number | undefined>)[field];
}

const minOf = (...xs: (number | undefined)[]) => {
  const defined = xs.filter((x): x is number => typeof x === "number");
  return defined.length ? Math.min(...defined) : undefined;
};

/** The limits this policy sets on one pool: only ever lower. */
export function limitPool(unit: PoolUnit, params: NodeLimits): PlannedUnit["set"] {
  const set: PlannedUnit["set"] = [];
  const push = (field: PoolField, to: number | undefined) => {
    const from = fieldValue(unit, field);
    if (to !== undefined && from !== to) set.push({ field, from, to });
  };
  if (unit.type === "aml") {
    const max = minOf(unit.maxNodeCount, params.maxNodes) ?? params.maxNodes;
    push("maxNodeCount", max);
    const min = minOf(unit.minNodeCount ?? 0, params.minNodes, max);
    if (unit.minNodeCount !== undefined || (min !== undefined && min !== 0)) push("minNodeCount", min);
    return set;
  }
  let max: number;
  if (unit.enableAutoScaling) {
    max = minOf(unit.maxCount, params.maxNodes) ?? params.maxNodes;
    push("maxCount", max);
    if (unit.minCount !== undefined) push("minCount", minOf(unit.minCount, params.minNodes, max));
  } else {
    max = params.maxNodes;
  }
  if (unit.count !== undefined && unit.count > max) push("count", max);
  return set;
}

const FIELD_ORDER: PoolField[] = ["maxNodeCount", "minNodeCount", "maxCount", "minCount", "count"];

/** Fired alert or budget: lower every eligible pool to the limits. */
export function planApply(state: ScaleState, limits: NodeLimits): Plan<ScaleData> {
  if (state.alreadyResolved) {
    return {
      action: "noop",
      reason: "this alert has already resolved (late delivery of its Fired): limits not applied",
    };
  }
  const planned: PlannedUnit[] = [];
  for (const unit of state.units) {
    const set = limitPool(unit, limits);
    if (set.length) planned.push({ unit, set });
  }
  if (planned.length === 0) {
    if (state.units.length === 0) {
      const why = state.skipped.length
        ? ` (${state.skipped.map((s) => `${s.id.split("/").pop()}: ${s.reason}`).join("; ")})`
        : "";
      return { action: "noop", reason: `no GPU pool to limit under the target${why}` };
    }
    return {
      action: "noop",
      reason: `${state.units.length} GPU pool(s) already within the limits (maxNodes ${limits.maxNodes}${limits.minNodes !== undefined ? `, minNodes ${limits.minNodes}` : ""})`,
    };
  }
  const changes = changesOf(planned, state.target);
  const names = planned.map((p) => `${p.unit.parent}/${p.unit.name}`).join(", ");
  return {
    action: "change",
    changes,
    summary: `Limit GPU pool(s) ${names} to at most ${limits.maxNodes} node(s)`,
    data: { direction: "apply", units: planned },
    followUp: { direction: "apply" },
  };
}

/** Resolved alert: back to the recorded values, pool by pool, unless someone changed the pool since. */
export function planRestore(state: ScaleState): Plan<ScaleData> {
  const restore = state.restore;
  if (!restore || restore.records.length === 0) {
    return {
      action: "noop",
      reason: "nothing to restore: no earlier scale-gpu-pool change on record since the last restore",
    };
  }
  if (restore.openAlerts.length > 0) {
    return {
      action: "noop",
      reason: `restore deferred: alert(s) ${restore.openAlerts.join(", ")} fired since and have not resolved; the limits stay until the last one resolves`,
    };
  }
  const planned: PlannedUnit[] = [];
  const skipped: string[] = state.skipped.map((s) => `${s.id}: ${s.reason}`);
  let alreadyRestored = 0;
  for (const entry of restore.entries) {
    const unit = entry.unit;
    if (!unit) {
      skipped.push(`${entry.id.split("/").pop()}: pool no longer exists`);
      continue;
    }
    const conflicts: string[] = [];
    const set: PlannedUnit["set"] = [];
    for (const f of entry.fields) {
      const current = fieldValue(unit, f.field) ?? null;
      if (current === f.to) {
        if (typeof f.from === "number" || f.from === null)
          set.push({
            field: f.field,
            from: current ?? undefined,
            to: (f.from as number | null) ?? undefined,
          });
        else conflicts.push(`${f.path}: recorded value ${JSON.stringify(f.from)} is not a node count`);
      } else if (current === f.from) {
        // Already back at the old value.
      } else {
        conflicts.push(`${f.path} is ${JSON.stringify(current)}, we set ${JSON.stringify(f.to)}`);
      }
    }
    if (conflicts.length) {
      skipped.push(
        `${unit.parent}/${unit.name} changed by someone since we limited it, left as is (${conflicts.join("; ")})`,
      );
      continue;
    }
    const effective = set.filter((s) => s.to !== undefined);
    if (effective.length === 0) {
      alreadyRestored++;
      continue;
    }
    effective.sort((a, b) => FIELD_ORDER.indexOf(a.field) - FIELD_ORDER.indexOf(b.field));
    planned.push({ unit, set: effective });
  }
  if (planned.length === 0) {
    const parts = [...skipped];
    if (alreadyRestored) parts.push(`${alreadyRestored} pool(s) already hold their earlier values`);
    return {
      action: "noop",
      reason: `restore skipped: ${parts.join("; ") || "nothing recorded to restore"}`,
    };
  }
  const changes = changesOf(planned, state.target);
  const names = planned.map((p) => `${p.unit.parent}/${p.unit.name}`).join(", ");
  return {
    action: "change",
    changes,
    reverts: true,
    summary: `Restore the earlier node limits of ${names}${skipped.length ? `; skipped: ${skipped.join("; ")}` : ""}`,
    data: { direction: "restore", units: planned },
    followUp: { direction: "restore", restoredFrom: restore.records, ...(skipped.length ? { skipped } : {}) },
  };
}
