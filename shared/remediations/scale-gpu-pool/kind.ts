/**
 * `scale-gpu-pool` (docs/policies.md#scale-gpu-pool): caps the node limits of GPU pools when a cost alert fires or a
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
 *
 * Planning is pure (`plan.ts`); the SDK reads and writes are in `arm.ts`.
 */

import { z } from "zod";
import type { AuditRecord } from "../../audit/types.js";
import { asRemediationError, RemediationError } from "../../errors.js";
import { type ResourceId, sameType } from "../../resource-id.js";
import { orNotFound, parseTargetId, tagsOf } from "../arm-helpers.js";
import { readHistory } from "../history.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import {
  collectCluster,
  collectScope,
  readAksPool,
  readAml,
  readUnit,
  rgOf,
  writeAks,
  writeAml,
} from "./arm.js";
import {
  direction,
  fieldValue,
  ineligible,
  type PoolUnit,
  planApply,
  planRestore,
  type RestoreEntry,
  type ScaleData,
  type ScaleState,
  type Skipped,
  T_CLUSTER,
  T_COMPUTE,
  T_POOL,
  T_RG,
  T_SUB,
} from "./plan.js";
import { recordedChanges, resolvedInTrail, restoreEntries } from "./trail.js";

export const KIND = "scale-gpu-pool";

export const example = `version: 1
policies:
  - name: gpu-cost-guard
    description: GPU pools are capped while a cost alert fires, and restored when it resolves
    resourceTypes:
      - Microsoft.MachineLearningServices/workspaces/computes
      - Microsoft.ContainerService/managedClusters
      - Microsoft.ContainerService/managedClusters/agentPools
      - Microsoft.Resources/resourceGroups      # a budget's scope: every GPU pool under it
    triggers:
      - alert: "gpu-cost-*"                     # Fired caps, Resolved restores
      - budget: "ml-*"
    kind: ${KIND}
    params:
      maxNodes: 2                               # required, 0..5000
      minNodes: 0                               # optional, at most maxNodes
      pool: gpua100                             # optional: only pools / computes of this name
    mode: enforce
`;

const SUPPORTED = [T_COMPUTE, T_CLUSTER, T_POOL, T_RG, T_SUB];
const MAX_NODES = 5000;

export const paramsSchema = z
  .strictObject({
    maxNodes: z
      .number()
      .int()
      .min(0)
      .max(MAX_NODES)
      .describe("Upper node limit a GPU pool is capped to (only ever lowered)"),
    minNodes: z
      .number()
      .int()
      .min(0)
      .max(MAX_NODES)
      .optional()
      .describe("Lower node limit, at most maxNodes (only ever lowered)"),
    pool: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "expected a pool / compute name (letters, digits, '-', '_')")
      .optional()
      .describe(
        "Only the agent pool / compute cluster of this name; absent = every GPU pool under the target",
      ),
  })
  .refine((p) => p.minNodes === undefined || p.minNodes <= p.maxNodes, {
    message: "minNodes must not be greater than maxNodes",
    path: ["minNodes"],
  });
export type Params = z.infer<typeof paramsSchema>;

type Ctx = RemediationContext<Params>;

/** The audit trail is read in pages of this size, and at most this far back. */
const PAGE = 100;
const MAX_RECORDS = 2000;

/** This kind's records for the target, newest first (bounded: at most MAX_RECORDS are read), from
 *  `from` (ISO) on when given. */
async function* trail(ctx: Ctx, from?: string): AsyncGenerator<AuditRecord> {
  const resourceId = ctx.target.resourceId.toLowerCase();
  const records = readHistory(
    ctx.history,
    { resourceId: ctx.target.resourceId, kind: KIND, limit: PAGE, ...(from ? { from } : {}) },
    MAX_RECORDS,
  );
  for await (const r of records) if (r.kind === KIND && r.resourceId.toLowerCase() === resourceId) yield r;
}

/** What to restore: the recorded changes per pool, each pool as read now (undefined = gone since). */
async function readRestore(
  ctx: Ctx,
): Promise<{ entries: RestoreEntry[]; records: string[]; skipped: Skipped[]; openAlerts: string[] }> {
  const { changes, records, openAlerts } = await recordedChanges(trail(ctx), ctx.signal);
  if (openAlerts.length > 0) return { entries: [], records, skipped: [], openAlerts };
  const { entries, skipped } = restoreEntries(changes.values(), ctx.target.resourceId);
  for (const entry of entries) entry.unit = await orNotFound(() => readUnit(ctx.clients, entry.id));
  return { entries, records, skipped, openAlerts };
}

/** A Resolved is recorded after its alert fired: only records from then on need to be read (minus a
 *  minute of clock skew), not the pool's whole history. */
function resolvedNotBefore(signal: Ctx["signal"]): string | undefined {
  const fired = Date.parse(signal.alert?.firedAt ?? signal.time);
  return Number.isNaN(fired) ? undefined : new Date(fired - 60_000).toISOString();
}

function supports(resourceType: string): boolean {
  return SUPPORTED.some((t) => sameType(t, resourceType));
}

/** Reads the target's pools (apply) and its governing tags. */
async function readTarget(ctx: Ctx, id: ResourceId, state: ScaleState): Promise<Record<string, string>> {
  const { clients } = ctx;
  const apply = state.direction === "apply";
  const keep = (unit: PoolUnit) => {
    const why = ineligible(unit);
    if (why) state.skipped.push({ id: unit.id, reason: why });
    else state.units.push(unit);
  };
  if (sameType(id.type, T_COMPUTE)) {
    const [[, ws]] = id.names as [[string, string]];
    const workspace = await clients.machineLearning(id.subscriptionId).workspaces.get(rgOf(id), ws);
    const { unit, tags } = await readAml(clients, id);
    if (apply) keep(unit);
    return { ...tagsOf(workspace), ...tags };
  }
  if (sameType(id.type, T_POOL)) {
    const [[, cluster]] = id.names as [[string, string]];
    const c = await clients.containerService(id.subscriptionId).managedClusters.get(rgOf(id), cluster);
    if (apply) keep(await readAksPool(clients, id));
    return tagsOf(c);
  }
  if (sameType(id.type, T_CLUSTER)) {
    if (!apply)
      return tagsOf(await clients.containerService(id.subscriptionId).managedClusters.get(rgOf(id), id.name));
    const got = await collectCluster(clients, id, ctx.params.pool, true);
    state.units = got.units;
    state.skipped = got.skipped;
    return got.tags;
  }
  if (apply) {
    // Budget scope: tags of the resource group / subscription are not read (no Resources client);
    // each pool's own opt-out tags are honoured while collecting.
    const got = await collectScope(clients, id, ctx.params.pool);
    state.units = got.units;
    state.skipped = got.skipped;
  }
  return {};
}

export const remediation: Remediation<Params, ScaleState, ScaleData> = {
  kind: KIND,
  description:
    "Caps GPU pool node limits (AML compute clusters, AKS GPU user pools) and restores them when the alert resolves",
  example,
  services: ["machineLearning", "containerService"],
  permissions: {
    actions: [
      "Microsoft.MachineLearningServices/workspaces/read",
      "Microsoft.MachineLearningServices/workspaces/computes/read",
      "Microsoft.MachineLearningServices/workspaces/computes/write",
      "Microsoft.MachineLearningServices/locations/*/read",
      "Microsoft.ContainerService/managedClusters/read",
      "Microsoft.ContainerService/managedClusters/agentPools/read",
      "Microsoft.ContainerService/managedClusters/agentPools/write",
      "Microsoft.ContainerService/locations/*/read",
    ],
  },
  paramsSchema,

  supports,

  async read(ctx): Promise<Current<ScaleState>> {
    const targetId = ctx.target.resourceId;
    const id = parseTargetId(targetId);
    if (!supports(id.type)) {
      throw new RemediationError("UnsupportedType", `${KIND} does not act on ${id.type}`, {
        step: "read",
        resourceId: targetId,
      });
    }
    try {
      const state: ScaleState = { direction: direction(ctx.signal), target: id.id, units: [], skipped: [] };
      const tags = await readTarget(ctx, id, state);
      if (state.direction === "restore") {
        // What to restore comes from the audit trail, and exactly the pools it names are read.
        const r = await readRestore(ctx);
        state.restore = { entries: r.entries, records: r.records, openAlerts: r.openAlerts };
        state.skipped = r.skipped;
      } else if (await resolvedInTrail(trail(ctx, resolvedNotBefore(ctx.signal)), ctx.signal)) {
        state.alreadyResolved = true;
      }
      return { state, tags };
    } catch (err) {
      throw asRemediationError(err, { step: "read", resourceId: targetId });
    }
  },

  plan(current, ctx): Plan<ScaleData> {
    return current.state.direction === "restore"
      ? planRestore(current.state)
      : planApply(current.state, ctx.params);
  },

  async apply(plan: ChangePlan<ScaleData>, ctx) {
    for (const p of plan.data.units) {
      try {
        if (p.unit.type === "aml") await writeAml(ctx.clients, p);
        else await writeAks(ctx.clients, p);
      } catch (err) {
        // 412: someone wrote in between; a redelivery re-reads and re-plans.
        throw asRemediationError(err, {
          step: "apply",
          resourceId: ctx.target.resourceId,
          statuses: { 412: { code: "ConcurrentChange", retryable: true } },
        });
      }
      ctx.log.info(
        { kind: KIND, pool: p.unit.id, direction: plan.data.direction, set: p.set },
        "gpu pool limits written",
      );
    }
    return plan.changes;
  },

  async verify(plan: ChangePlan<ScaleData>, ctx): Promise<VerifyResult> {
    const problems: string[] = [];
    for (const p of plan.data.units) {
      let fresh: PoolUnit;
      try {
        fresh = await readUnit(ctx.clients, p.unit.id);
      } catch (err) {
        throw asRemediationError(err, { step: "verify", resourceId: ctx.target.resourceId });
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
