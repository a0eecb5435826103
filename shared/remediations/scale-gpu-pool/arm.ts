/**
 * Azure SDK reads and writes of GPU pools for `scale-gpu-pool`: AML compute clusters
 * (`computeOperations`) and AKS agent pools (`agentPools`), one pool at a time or every pool
 * under a cluster, resource group or subscription. Deciding what to change is in `plan.ts`.
 */
import type { AzureClients } from "../../azure/clients.js";
import { RemediationError } from "../../errors.js";
import { isOptedOut } from "../../opt-out.js";
import { parseResourceId, type ResourceId, sameType } from "../../resource-id.js";
import { tagsOf } from "../arm-helpers.js";
import {
  type AksUnit,
  type AmlField,
  type AmlUnit,
  fieldValue,
  ineligible,
  type PlannedUnit,
  type PoolUnit,
  type Skipped,
  T_COMPUTE,
} from "./plan.js";

export function rgOf(id: ResourceId): string {
  if (!id.resourceGroup)
    throw new RemediationError("InvalidTarget", `'${id.id}' has no resource group`, {
      step: "read",
      resourceId: id.id,
    });
  return id.resourceGroup;
}

export async function readAml(
  clients: AzureClients,
  id: ResourceId,
): Promise<{ unit: AmlUnit; tags: Record<string, string> }> {
  const [[, ws], [, name]] = id.names as [[string, string], [string, string]];
  const ml = clients.machineLearning(id.subscriptionId);
  const rg = rgOf(id);
  const compute = await ml.computeOperations.get(rg, ws, name);
  return {
    unit: toAmlUnit(compute.properties, id.id, id.subscriptionId, rg, ws, name),
    tags: tagsOf(compute),
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

export async function readAksPool(clients: AzureClients, id: ResourceId): Promise<AksUnit> {
  const [[, cluster], [, name]] = id.names as [[string, string], [string, string]];
  const rg = rgOf(id);
  const pool = await clients.containerService(id.subscriptionId).agentPools.get(rg, cluster, name);
  return toAksUnit(id.subscriptionId, rg, cluster, clusterIdOf(id), { ...pool, name: pool.name ?? name });
}

function clusterIdOf(poolId: ResourceId): string {
  return poolId.id.split("/").slice(0, -2).join("/");
}

/** Reads one pool by ID (for verify / restore). */
export async function readUnit(clients: AzureClients, unitId: string): Promise<PoolUnit> {
  const id = parseResourceId(unitId);
  return sameType(id.type, T_COMPUTE) ? (await readAml(clients, id)).unit : readAksPool(clients, id);
}

export interface Collected {
  units: PoolUnit[];
  skipped: Skipped[];
  tags: Record<string, string>;
}

export async function collectCluster(
  clients: AzureClients,
  id: ResourceId,
  nameFilter: string | undefined,
  strictName: boolean,
): Promise<Collected> {
  const rg = rgOf(id);
  const cs = clients.containerService(id.subscriptionId);
  const cluster = await cs.managedClusters.get(rg, id.name);
  const tags = tagsOf(cluster);
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

export async function collectScope(
  clients: AzureClients,
  scope: ResourceId,
  nameFilter: string | undefined,
): Promise<Collected> {
  const sub = scope.subscriptionId;
  const out: Collected = { units: [], skipped: [], tags: {} };
  const ml = clients.machineLearning(sub);
  const workspaces = scope.resourceGroup
    ? ml.workspaces.listByResourceGroup(scope.resourceGroup)
    : ml.workspaces.listBySubscription();
  for await (const ws of workspaces) {
    if (!ws.id || !ws.name) continue;
    const wsId = parseResourceId(ws.id);
    const wsTags = tagsOf(ws);
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
      const why = isOptedOut({ ...wsTags, ...tagsOf(compute) })
        ? "excluded by tag driftguard:exclude"
        : ineligible(unit);
      if (why) out.skipped.push({ id: unit.id, reason: why });
      else out.units.push(unit);
    }
  }
  const cs = clients.containerService(sub);
  const clusters = scope.resourceGroup
    ? cs.managedClusters.listByResourceGroup(scope.resourceGroup)
    : cs.managedClusters.list();
  for await (const cluster of clusters) {
    if (!cluster.id || !cluster.name) continue;
    const cId = parseResourceId(cluster.id);
    const rg = rgOf(cId);
    const excluded = isOptedOut(tagsOf(cluster));
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

export async function writeAml(clients: AzureClients, p: PlannedUnit): Promise<void> {
  const unit = p.unit as AmlUnit;
  const ml = clients.machineLearning(unit.subscriptionId);
  const fresh = (await readAml(clients, parseResourceId(unit.id))).unit;
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
    { ...clients.lro },
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

export async function writeAks(clients: AzureClients, p: PlannedUnit): Promise<void> {
  const unit = p.unit as AksUnit;
  const cs = clients.containerService(unit.subscriptionId);
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
    ...clients.lro,
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
