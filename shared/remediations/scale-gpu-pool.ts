/**
 * `scale-gpu-pool` (CONTRACT §4): caps the node limits of GPU pools when a cost alert fires or a
 * budget threshold is crossed, and restores exactly the earlier values when the alert resolves.
 *
 * Targets (`supports`):
 * - AML compute cluster (`…/workspaces/{ws}/computes/{c}`, computeType `AmlCompute`);
 * - AKS agent pool (`…/managedClusters/{c}/agentPools/{p}`);
 * - AKS cluster (`…/managedClusters/{c}`): the policy's `pool`, or every user pool with a GPU VM size;
 * - budget scope (resource group / subscription): every GPU AML compute cluster and every AKS GPU
 *   user pool under it (`pool`, when given, filters by name there too).
 * A "GPU" VM size is `Standard_N*`. System pools (`mode: System`) and non-GPU pools are never touched.
 *
 * Apply (alert Fired, budget — budgets have no "Resolved"): AML `maxNodeCount = min(current, maxNodes)`,
 * `minNodeCount = min(current, minNodes ?? ∞, new max)`; AKS likewise for `maxCount`/`minCount`, and
 * `count` is lowered to the new maximum when it is above it. Limits are only ever lowered, so a
 * repeated Fired alert finds everything within limits and plans nothing (no write).
 *
 * Restore (alert Resolved): the values to restore come from the audit trail, never from memory, so a
 * restart in between changes nothing. Records of this kind for the target are scanned newest first
 * back to the latest `reverted` one; `remediated` records (and `failed` apply/verify records of an
 * apply, which may have been half-applied) contribute their `changes`, the newest change of a field
 * winning. Per pool: when every recorded field still holds what we set (`to`) or already holds the
 * old value (`from`), the pool is restored; when any field holds something else, a person changed
 * the pool in between and the whole pool is left alone (its fields depend on each other: restoring
 * `count` past a maximum someone lowered would be wrong). Untouched pools are still restored; when
 * no pool is left to restore the plan is a `noop` whose reason names each skipped pool and field.
 *
 * Alerts arrive at least once and out of order, and several alert rules may target one resource:
 * - a Resolved restores only when no *other* alert that fired since the last restore is still open
 *   (its Fired is on record, its Resolved is not) — otherwise `noop`, "restore deferred";
 * - a Fired whose own Resolved is already on record (same Monitor alert ID) plans nothing.
 * Budget notifications only ever apply and never hold a restore back.
 *
 * Change paths, relative to the target resource: the pool's own fields (`maxCount`, `minCount`,
 * `count` for AKS; `properties.properties.scaleSettings.maxNodeCount|minNodeCount` for AML), prefixed
 * with `type[name].` segments for pools below the target, e.g. `agentPools[gpua100].maxCount` on a
 * cluster, `managedClusters[aks1].agentPools[gpua100].count` or
 * `workspaces[ws1].computes[gpu].properties.properties.scaleSettings.maxNodeCount` on a resource group,
 * and `resourceGroups[rg].…` on a subscription. The prefix is parsed back into the pool's ID on restore.
 */

import { z } from "zod";
import type { AuditRecord, Change } from "../audit/types.js";
import { asRemediationError, RemediationError } from "../errors.js";
import { isOptedOut } from "../opt-out.js";
import { parseResourceId, type ResourceId, sameType } from "../resource-id.js";
import type { Signal } from "../signals/types.js";
import { registerRemediation } from "./registry.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "./types.js";

export const KIND = "scale-gpu-pool";

const T_COMPUTE = "Microsoft.MachineLearningServices/workspaces/computes";
const T_CLUSTER = "Microsoft.ContainerService/managedClusters";
const T_POOL = "Microsoft.ContainerService/managedClusters/agentPools";
const T_RG = "Microsoft.Resources/resourceGroups";
const T_SUB = "Microsoft.Resources/subscriptions";
const SUPPORTED = [T_COMPUTE, T_CLUSTER, T_POOL, T_RG, T_SUB];

const MAX_NODES = 5000;

export const scaleGpuPoolParamsSchema = z
  .strictObject({
    maxNodes: z.number().int().min(0).max(MAX_NODES),
    minNodes: z.number().int().min(0).max(MAX_NODES).optional(),
    pool: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "expected a pool / compute name (letters, digits, '-', '_')")
      .optional(),
  })
  .refine((p) => p.minNodes === undefined || p.minNodes <= p.maxNodes, {
    message: "minNodes must not be greater than maxNodes",
    path: ["minNodes"],
  });

export type ScaleGpuPoolParams = z.infer<typeof scaleGpuPoolParamsSchema>;

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
// Reading

type Ctx = RemediationContext<ScaleGpuPoolParams>;

function direction(signal: Signal): "apply" | "restore" {
  if (signal.budget || "budget" in signal.trigger) return "apply";
  const condition =
    signal.alert?.condition ?? ("condition" in signal.trigger ? signal.trigger.condition : undefined);
  return condition === "Resolved" ? "restore" : "apply";
}

function rgOf(id: ResourceId): string {
  if (!id.resourceGroup)
    throw new RemediationError("InvalidTarget", `'${id.id}' has no resource group`, {
      step: "read",
      resourceId: id.id,
    });
  return id.resourceGroup;
}

function tagsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === "object") {
    for (const [k, val] of Object.entries(v as Record<string, unknown>))
      if (typeof val === "string") out[k] = val;
  }
  return out;
}

async function readAml(ctx: Ctx, id: ResourceId): Promise<{ unit: AmlUnit; tags: Record<string, string> }> {
  const [[, ws], [, name]] = id.names as [[string, string], [string, string]];
  const ml = ctx.clients.machineLearning(id.subscriptionId);
  const rg = rgOf(id);
  const compute = await ml.computeOperations.get(rg, ws, name);
  return {
    unit: toAmlUnit(compute.properties, id.id, id.subscriptionId, rg, ws, name),
    tags: tagsOf(compute.tags),
  };
}

/** An AML compute as a scalable unit (the SDK types `properties` loosely; the wire nests it twice). */
function toAmlUnit(
  properties: unknown,
  id: string,
  sub: string,
  rg: string,
  ws: string,
  name: string,
  /** Listed computes without a type are not assumed to be clusters; a directly targeted one is. */
  unknownType?: string,
): AmlUnit {
  const props = properties as
    | {
        computeType?: string;
        properties?: {
          vmSize?: string;
          scaleSettings?: {
            maxNodeCount?: number;
            minNodeCount?: number;
            nodeIdleTimeBeforeScaleDown?: string;
          };
        };
      }
    | undefined;
  const scale = props?.properties?.scaleSettings;
  return {
    type: "aml",
    id,
    subscriptionId: sub,
    resourceGroup: rg,
    parent: ws,
    name,
    vmSize: props?.properties?.vmSize,
    computeType: props?.computeType ?? unknownType,
    maxNodeCount: scale?.maxNodeCount,
    minNodeCount: scale?.minNodeCount,
    nodeIdleTimeBeforeScaleDown: scale?.nodeIdleTimeBeforeScaleDown,
  };
}

function toAksUnit(
  sub: string,
  rg: string,
  cluster: string,
  clusterId: string,
  pool: {
    name?: string;
    vmSize?: string;
    mode?: string;
    enableAutoScaling?: boolean;
    count?: number;
    minCount?: number;
    maxCount?: number;
  },
): AksUnit {
  const name = pool.name ?? "";
  return {
    type: "aks",
    id: `${clusterId}/agentPools/${name}`,
    subscriptionId: sub,
    resourceGroup: rg,
    parent: cluster,
    name,
    vmSize: pool.vmSize,
    mode: pool.mode,
    enableAutoScaling: pool.enableAutoScaling === true,
    count: pool.count,
    minCount: pool.minCount,
    maxCount: pool.maxCount,
  };
}

async function readAksPool(ctx: Ctx, id: ResourceId): Promise<AksUnit> {
  const [[, cluster], [, name]] = id.names as [[string, string], [string, string]];
  const rg = rgOf(id);
  const pool = await ctx.clients.containerService(id.subscriptionId).agentPools.get(rg, cluster, name);
  return toAksUnit(id.subscriptionId, rg, cluster, clusterIdOf(id), { ...pool, name: pool.name ?? name });
}

function clusterIdOf(poolId: ResourceId): string {
  return poolId.id.split("/").slice(0, -2).join("/");
}

/** Reads one pool by ID (for verify / restore). */
async function readUnit(ctx: Ctx, unitId: string): Promise<PoolUnit> {
  const id = parseResourceId(unitId);
  return sameType(id.type, T_COMPUTE) ? (await readAml(ctx, id)).unit : readAksPool(ctx, id);
}

/** Why a pool is not ours to touch, or undefined when it is. */
function ineligible(unit: PoolUnit): string | undefined {
  if (unit.type === "aml" && unit.computeType !== undefined && unit.computeType !== "AmlCompute") {
    return `compute type ${unit.computeType} is not a compute cluster`;
  }
  if (unit.type === "aks" && unit.mode?.toLowerCase() === "system") return "system pool";
  if (!isGpuVmSize(unit.vmSize)) return `VM size ${unit.vmSize ?? "(unknown)"} is not a GPU size`;
  return undefined;
}

interface Collected {
  units: PoolUnit[];
  skipped: Skipped[];
  tags: Record<string, string>;
}

async function collectCluster(
  ctx: Ctx,
  id: ResourceId,
  nameFilter: string | undefined,
  strictName: boolean,
): Promise<Collected> {
  const rg = rgOf(id);
  const cs = ctx.clients.containerService(id.subscriptionId);
  const cluster = await cs.managedClusters.get(rg, id.name);
  const tags = tagsOf(cluster.tags);
  const out: Collected = { units: [], skipped: [], tags };
  let seen = false;
  for await (const pool of cs.agentPools.list(rg, id.name)) {
    if (nameFilter && pool.name?.toLowerCase() !== nameFilter.toLowerCase()) continue;
    seen = true;
    const unit = toAksUnit(id.subscriptionId, rg, id.name, id.id, pool);
    const why = ineligible(unit);
    if (why) out.skipped.push({ id: unit.id, reason: why });
    else out.units.push(unit);
  }
  if (nameFilter && strictName && !seen) {
    throw new RemediationError(
      "PoolNotFound",
      `cluster '${id.name}' has no agent pool '${nameFilter}' (policy param 'pool')`,
      {
        step: "read",
        resourceId: id.id,
      },
    );
  }
  return out;
}

async function collectScope(ctx: Ctx, scope: ResourceId, nameFilter: string | undefined): Promise<Collected> {
  const sub = scope.subscriptionId;
  const out: Collected = { units: [], skipped: [], tags: {} };
  const ml = ctx.clients.machineLearning(sub);
  const workspaces = scope.resourceGroup
    ? ml.workspaces.listByResourceGroup(scope.resourceGroup)
    : ml.workspaces.listBySubscription();
  for await (const ws of workspaces) {
    if (!ws.id || !ws.name) continue;
    const wsId = parseResourceId(ws.id);
    const wsTags = tagsOf(ws.tags);
    const rg = rgOf(wsId);
    for await (const compute of ml.computeOperations.list(rg, ws.name)) {
      if (!compute.id || !compute.name) continue;
      if (nameFilter && compute.name.toLowerCase() !== nameFilter.toLowerCase()) continue;
      const unit = toAmlUnit(
        compute.properties,
        parseResourceId(compute.id).id,
        sub,
        rg,
        ws.name,
        compute.name,
        "(unknown)",
      );
      const why = isOptedOut({ ...wsTags, ...tagsOf(compute.tags) })
        ? "excluded by tag driftguard:exclude"
        : ineligible(unit);
      if (why) out.skipped.push({ id: unit.id, reason: why });
      else out.units.push(unit);
    }
  }
  const cs = ctx.clients.containerService(sub);
  const clusters = scope.resourceGroup
    ? cs.managedClusters.listByResourceGroup(scope.resourceGroup)
    : cs.managedClusters.list();
  for await (const cluster of clusters) {
    if (!cluster.id || !cluster.name) continue;
    const cId = parseResourceId(cluster.id);
    const rg = rgOf(cId);
    const excluded = isOptedOut(tagsOf(cluster.tags));
    for await (const pool of cs.agentPools.list(rg, cluster.name)) {
      if (nameFilter && pool.name?.toLowerCase() !== nameFilter.toLowerCase()) continue;
      const unit = toAksUnit(sub, rg, cluster.name, cId.id, pool);
      const why = excluded ? "excluded by tag driftguard:exclude" : ineligible(unit);
      if (why) out.skipped.push({ id: unit.id, reason: why });
      else out.units.push(unit);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Restore: what the audit trail says we changed

const PAGE = 100;
const MAX_RECORDS = 2000;

function isApplyRecord(r: AuditRecord): boolean {
  const dir = r.followUp?.direction;
  if (r.outcome === "remediated") return dir !== "restore";
  if (r.outcome === "failed") {
    // A failed apply may have been half-applied, so its planned changes count too (the per-field
    // check on restore leaves untouched fields alone). Failed records carry no followUp: a failed
    // *restore* is recognised by its Resolved signal.
    const step = r.error?.step;
    if (step !== "apply" && step !== "verify") return false;
    if (dir !== undefined) return dir === "apply";
    return !/resolved/i.test(r.signal?.type ?? "");
  }
  return false;
}

/** This kind's records for the target, newest first (bounded: at most MAX_RECORDS are read). */
async function* trail(ctx: Ctx): AsyncGenerator<AuditRecord> {
  let token: string | null = null;
  let scanned = 0;
  do {
    let page: { items: AuditRecord[]; continuationToken: string | null };
    try {
      page = await ctx.history.query({
        resourceId: ctx.target.resourceId,
        kind: KIND,
        limit: PAGE,
        continuationToken: token,
      });
    } catch (err) {
      throw asRemediationError(err, "read", ctx.target.resourceId);
    }
    for (const r of page.items) {
      scanned++;
      if (r.kind !== KIND || r.resourceId.toLowerCase() !== ctx.target.resourceId.toLowerCase()) continue;
      yield r;
    }
    token = page.continuationToken;
  } while (token && scanned < MAX_RECORDS);
}

const isAlertRecord = (r: AuditRecord, condition: "fired" | "resolved") =>
  r.signal?.source === "monitor" && (r.signal.type ?? "").toLowerCase().endsWith(condition);

const sameAlert = (a: string | undefined, b: string | undefined) =>
  typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();

/** The alert this signal is about (Monitor's alert ID, one per firing; the parser makes it the
 *  signal's ID, which is what records keep), when it is an alert. */
function alertIdOf(signal: Signal): string | undefined {
  return signal.source === "monitor" ? signal.id : undefined;
}

/** Apply side: a Fired delivered after its own Resolved (at-least-once, unordered) must not cap again. */
async function alreadyResolved(ctx: Ctx): Promise<boolean> {
  const id = alertIdOf(ctx.signal);
  if (!id) return false;
  for await (const r of trail(ctx))
    if (isAlertRecord(r, "resolved") && sameAlert(r.signal.id, id)) return true;
  return false;
}

/**
 * Restore side: newest-first scan back to the latest `reverted` record; per path, the newest change
 * wins. Also collects alerts that fired in that time and have not resolved (other than this one):
 * while one is open, the limits stay.
 */
async function recordedChanges(
  ctx: Ctx,
): Promise<{ changes: Map<string, Change>; records: string[]; openAlerts: string[] }> {
  const changes = new Map<string, Change>();
  const records: string[] = [];
  const fired = new Map<string, string>();
  const resolved = new Set<string>();
  const self = alertIdOf(ctx.signal)?.toLowerCase();
  for await (const r of trail(ctx)) {
    if (r.outcome === "reverted") break;
    if (isAlertRecord(r, "fired") && r.signal.id) fired.set(r.signal.id.toLowerCase(), r.signal.id);
    if (isAlertRecord(r, "resolved") && r.signal.id) resolved.add(r.signal.id.toLowerCase());
    if (!isApplyRecord(r)) continue;
    records.push(r.id);
    for (const c of r.changes) if (!changes.has(c.path)) changes.set(c.path, c);
  }
  const openAlerts = [...fired].filter(([k]) => k !== self && !resolved.has(k)).map(([, v]) => v);
  return { changes, records, openAlerts };
}

async function readRestore(
  ctx: Ctx,
): Promise<{ entries: RestoreEntry[]; records: string[]; skipped: Skipped[]; openAlerts: string[] }> {
  const { changes, records, openAlerts } = await recordedChanges(ctx);
  if (openAlerts.length > 0) return { entries: [], records, skipped: [], openAlerts };
  const byUnit = new Map<string, RestoreEntry>();
  const skipped: Skipped[] = [];
  for (const c of changes.values()) {
    const p = parseChangePath(c.path, ctx.target.resourceId);
    if (!p) {
      skipped.push({ id: c.path, reason: "recorded change path is not a pool field" });
      continue;
    }
    const key = p.id.toLowerCase();
    let entry = byUnit.get(key);
    if (!entry) {
      entry = { id: p.id, unit: undefined, fields: [] };
      byUnit.set(key, entry);
    }
    entry.fields.push({ field: p.field, path: c.path, from: c.from, to: c.to });
  }
  for (const entry of byUnit.values()) {
    try {
      entry.unit = await readUnit(ctx, entry.id);
    } catch (err) {
      const e = err as { statusCode?: number };
      if (e?.statusCode !== 404) throw asRemediationError(err, "read", ctx.target.resourceId);
      entry.unit = undefined; // gone since: nothing to restore there
    }
  }
  return { entries: [...byUnit.values()], records, skipped, openAlerts };
}

// ---------------------------------------------------------------------------------------------
// Planning

function fieldValue(unit: PoolUnit, field: PoolField): number | undefined {
  return (unit as unknown as Record<string, number | undefined>)[field];
}

const minOf = (...xs: (number | undefined)[]) => {
  const defined = xs.filter((x): x is number => typeof x === "number");
  return defined.length ? Math.min(...defined) : undefined;
};

/** The limits this policy sets on one pool: only ever lower. */
export function limitPool(unit: PoolUnit, params: ScaleGpuPoolParams): PlannedUnit["set"] {
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

function planApply(state: ScaleState, ctx: Ctx): Plan<ScaleData> {
  if (state.alreadyResolved) {
    return {
      action: "noop",
      reason: "this alert has already resolved (late delivery of its Fired): limits not applied",
    };
  }
  const planned: PlannedUnit[] = [];
  for (const unit of state.units) {
    const set = limitPool(unit, ctx.params);
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
      reason: `${state.units.length} GPU pool(s) already within the limits (maxNodes ${ctx.params.maxNodes}${ctx.params.minNodes !== undefined ? `, minNodes ${ctx.params.minNodes}` : ""})`,
    };
  }
  const changes = changesOf(planned, state.target);
  const names = planned.map((p) => `${p.unit.parent}/${p.unit.name}`).join(", ");
  return {
    action: "change",
    changes,
    summary: `Limit GPU pool(s) ${names} to at most ${ctx.params.maxNodes} node(s)`,
    data: { direction: "apply", units: planned },
    followUp: { direction: "apply" },
  };
}

function planRestore(state: ScaleState): Plan<ScaleData> {
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

// ---------------------------------------------------------------------------------------------
// Applying

async function writeAml(ctx: Ctx, p: PlannedUnit): Promise<void> {
  const unit = p.unit as AmlUnit;
  const ml = ctx.clients.machineLearning(unit.subscriptionId);
  const fresh = (await readAml(ctx, parseResourceId(unit.id))).unit;
  assertUnchanged(p, fresh);
  const target = Object.fromEntries(p.set.map((s) => [s.field, s.to])) as Partial<Record<AmlField, number>>;
  const maxNodeCount = target.maxNodeCount ?? fresh.maxNodeCount;
  if (maxNodeCount === undefined) {
    throw new RemediationError("MissingMaxNodeCount", `compute '${unit.name}' has no maxNodeCount to keep`, {
      step: "apply",
      resourceId: unit.id,
    });
  }
  const minNodeCount = target.minNodeCount ?? fresh.minNodeCount;
  const res = await ml.computeOperations.beginUpdateAndWait(
    unit.resourceGroup,
    unit.parent,
    unit.name,
    {
      properties: {
        scaleSettings: {
          maxNodeCount,
          ...(minNodeCount !== undefined ? { minNodeCount } : {}),
          ...(fresh.nodeIdleTimeBeforeScaleDown
            ? { nodeIdleTimeBeforeScaleDown: fresh.nodeIdleTimeBeforeScaleDown }
            : {}),
        },
      },
    },
    { ...ctx.clients.lro },
  );
  const state = (res.properties as { provisioningState?: string } | undefined)?.provisioningState;
  if (state && state.toLowerCase() === "failed") {
    throw new RemediationError(
      "ProvisioningFailed",
      `compute '${unit.name}' update ended in provisioningState Failed`,
      { step: "apply", resourceId: unit.id },
    );
  }
}

async function writeAks(ctx: Ctx, p: PlannedUnit): Promise<void> {
  const unit = p.unit as AksUnit;
  const cs = ctx.clients.containerService(unit.subscriptionId);
  const pool = await cs.agentPools.get(unit.resourceGroup, unit.parent, unit.name);
  const fresh = toAksUnit(
    unit.subscriptionId,
    unit.resourceGroup,
    unit.parent,
    clusterIdOf(parseResourceId(unit.id)),
    { ...pool, name: unit.name },
  );
  assertUnchanged(p, fresh);
  const body = { ...pool };
  for (const s of p.set) (body as Record<string, unknown>)[s.field] = s.to;
  const poller = cs.agentPools.createOrUpdate(unit.resourceGroup, unit.parent, unit.name, body, {
    ...ctx.clients.lro,
    ...(pool.eTag ? { ifMatch: pool.eTag } : {}),
  });
  const res = await poller.pollUntilDone();
  if (res?.provisioningState?.toLowerCase() === "failed") {
    throw new RemediationError(
      "ProvisioningFailed",
      `agent pool '${unit.name}' update ended in provisioningState Failed`,
      { step: "apply", resourceId: unit.id },
    );
  }
}

/** Between plan and apply someone else may have changed the pool: re-plan rather than overwrite. */
function assertUnchanged(p: PlannedUnit, fresh: PoolUnit): void {
  for (const s of p.set) {
    const now = fieldValue(fresh, s.field);
    if (now !== s.from && now !== s.to) {
      throw new RemediationError(
        "ConcurrentChange",
        `${p.unit.name}.${s.field} changed since it was read (now ${String(now)}, planned from ${String(s.from)})`,
        { step: "apply", resourceId: p.unit.id, retryable: true },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The remediation

function supports(resourceType: string): boolean {
  return SUPPORTED.some((t) => sameType(t, resourceType));
}

export const scaleGpuPool: Remediation<ScaleGpuPoolParams, ScaleState, ScaleData> = {
  kind: KIND,
  description:
    "Caps GPU pool node limits (AML compute clusters, AKS GPU user pools) and restores them when the alert resolves",
  paramsSchema: scaleGpuPoolParamsSchema,

  supports,

  async read(ctx): Promise<Current<ScaleState>> {
    const targetId = ctx.target.resourceId;
    let id: ResourceId;
    try {
      id = parseResourceId(targetId);
    } catch (err) {
      throw new RemediationError("InvalidTarget", `target is not a resource ID: ${(err as Error).message}`, {
        step: "read",
        resourceId: targetId,
      });
    }
    if (!supports(id.type)) {
      throw new RemediationError("UnsupportedType", `${KIND} does not act on ${id.type}`, {
        step: "read",
        resourceId: targetId,
      });
    }
    const dir = direction(ctx.signal);
    try {
      const state: ScaleState = { direction: dir, target: id.id, units: [], skipped: [] };
      let tags: Record<string, string> = {};
      const keep = (unit: PoolUnit) => {
        const why = ineligible(unit);
        if (why) state.skipped.push({ id: unit.id, reason: why });
        else state.units.push(unit);
      };
      if (sameType(id.type, T_COMPUTE)) {
        const [[, ws]] = id.names as [[string, string]];
        const workspace = await ctx.clients.machineLearning(id.subscriptionId).workspaces.get(rgOf(id), ws);
        const { unit, tags: own } = await readAml(ctx, id);
        tags = { ...tagsOf(workspace.tags), ...own };
        if (dir === "apply") keep(unit);
      } else if (sameType(id.type, T_POOL)) {
        const [[, cluster]] = id.names as [[string, string]];
        const c = await ctx.clients
          .containerService(id.subscriptionId)
          .managedClusters.get(rgOf(id), cluster);
        tags = tagsOf(c.tags);
        if (dir === "apply") keep(await readAksPool(ctx, id));
      } else if (sameType(id.type, T_CLUSTER)) {
        if (dir === "apply") {
          const got = await collectCluster(ctx, id, ctx.params.pool, true);
          tags = got.tags;
          state.units = got.units;
          state.skipped = got.skipped;
        } else {
          tags = tagsOf(
            (await ctx.clients.containerService(id.subscriptionId).managedClusters.get(rgOf(id), id.name))
              .tags,
          );
        }
      } else if (dir === "apply") {
        // Budget scope: tags of the resource group / subscription are not read (no Resources client);
        // each pool's own opt-out tags are honoured while collecting.
        const got = await collectScope(ctx, id, ctx.params.pool);
        state.units = got.units;
        state.skipped = got.skipped;
      }
      if (dir === "restore") {
        // What to restore comes from the audit trail, and exactly the pools it names are read.
        const r = await readRestore(ctx);
        state.restore = { entries: r.entries, records: r.records, openAlerts: r.openAlerts };
        state.skipped = r.skipped;
      } else if (await alreadyResolved(ctx)) {
        state.alreadyResolved = true;
      }
      return { state, tags };
    } catch (err) {
      throw asRemediationError(err, "read", targetId);
    }
  },

  plan(current, ctx): Plan<ScaleData> {
    return current.state.direction === "restore" ? planRestore(current.state) : planApply(current.state, ctx);
  },

  async apply(plan: ChangePlan<ScaleData>, ctx): Promise<void> {
    for (const p of plan.data.units) {
      try {
        if (p.unit.type === "aml") await writeAml(ctx, p);
        else await writeAks(ctx, p);
      } catch (err) {
        const e = asRemediationError(err, "apply", ctx.target.resourceId);
        // 412: someone wrote in between; a redelivery re-reads and re-plans.
        if (e.statusCode === 412) {
          throw new RemediationError("ConcurrentChange", e.message, {
            step: "apply",
            resourceId: e.resourceId,
            retryable: true,
            statusCode: 412,
            cause: err,
          });
        }
        throw e;
      }
      ctx.log.info(
        { kind: KIND, pool: p.unit.id, direction: plan.data.direction, set: p.set },
        "gpu pool limits written",
      );
    }
  },

  async verify(plan: ChangePlan<ScaleData>, ctx): Promise<VerifyResult> {
    const problems: string[] = [];
    for (const p of plan.data.units) {
      let fresh: PoolUnit;
      try {
        fresh = await readUnit(ctx, p.unit.id);
      } catch (err) {
        throw asRemediationError(err, "verify", ctx.target.resourceId);
      }
      for (const s of p.set) {
        const now = fieldValue(fresh, s.field);
        // With the autoscaler on, the node count may already have moved: within the bounds is fine.
        if (
          s.field === "count" &&
          fresh.type === "aks" &&
          fresh.enableAutoScaling &&
          typeof now === "number"
        ) {
          if (now <= (fresh.maxCount ?? Number.POSITIVE_INFINITY) && now >= (fresh.minCount ?? 0)) continue;
        }
        if (now !== s.to)
          problems.push(
            `${p.unit.parent}/${p.unit.name}.${s.field} is ${String(now)}, expected ${String(s.to)}`,
          );
      }
    }
    return problems.length ? { ok: false, detail: problems.join("; ") } : { ok: true };
  },
};

registerRemediation(scaleGpuPool);
