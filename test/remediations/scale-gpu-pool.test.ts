/**
 * `scale-gpu-pool` against the HTTPS Azure simulator with the real SDK clients: Fired alerts and
 * budgets cap GPU pools only (system and CPU pools untouched), repeats write nothing, Resolved
 * restores exactly the values the audit trail recorded and leaves pools a person changed alone,
 * throttling and transient errors recover, permanent errors surface as RemediationError.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ArmResource, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { type LocalTls, loadOrCreateLocalTls } from "../../dev/tls.js";
import type { AuditQuery, AuditRecord, Change, Outcome } from "../../shared/audit/types.js";
import { AzureClients, staticTokenCredential } from "../../shared/azure/clients.js";
import { RemediationError } from "../../shared/errors.js";
import { validatePolicyObject } from "../../shared/policy/load.js";
import type { Policy } from "../../shared/policy/schema.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import {
  KIND,
  type Params as ScaleGpuPoolParams,
  remediation as scaleGpuPool,
  paramsSchema as scaleGpuPoolParamsSchema,
} from "../../shared/remediations/scale-gpu-pool/kind.js";
import {
  changePath,
  isGpuVmSize,
  limitPool,
  parseChangePath,
  type ScaleData,
} from "../../shared/remediations/scale-gpu-pool/plan.js";
import type { AuditHistory, ChangePlan, Plan, RemediationContext } from "../../shared/remediations/types.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { kindContext, runKind } from "./kind-run.js";

type Sim = Awaited<ReturnType<typeof startAzureSimulator>>;

const SUB = "00000000-0000-0000-0000-0000000000a7";
const RG = "rg-ml";
const RG_ID = `/subscriptions/${SUB}/resourceGroups/${RG}`;
const SUB_ID = `/subscriptions/${SUB}`;
const PROV = `${RG_ID}/providers`;
const WS_ID = `${PROV}/Microsoft.MachineLearningServices/workspaces/ws1`;
const GPU_COMPUTE_ID = `${WS_ID}/computes/gpu-cluster`;
const CPU_COMPUTE_ID = `${WS_ID}/computes/cpu-cluster`;
const AKS_ID = `${PROV}/Microsoft.ContainerService/managedClusters/aks1`;
const POOL_ID = (p: string) => `${AKS_ID}/agentPools/${p}`;

const T = {
  compute: "Microsoft.MachineLearningServices/workspaces/computes",
  cluster: "Microsoft.ContainerService/managedClusters",
  pool: "Microsoft.ContainerService/managedClusters/agentPools",
  rg: "Microsoft.Resources/resourceGroups",
  sub: "Microsoft.Resources/subscriptions",
} as const;

function amlCompute(
  id: string,
  vmSize: string,
  max: number,
  min: number,
  tags: Record<string, string> = {},
): ArmResource {
  return {
    id,
    name: id.split("/").pop()!,
    type: T.compute,
    location: "westeurope",
    tags,
    properties: {
      computeType: "AmlCompute",
      computeLocation: "westeurope",
      provisioningState: "Succeeded",
      properties: {
        vmSize,
        vmPriority: "Dedicated",
        osType: "Linux",
        scaleSettings: { maxNodeCount: max, minNodeCount: min, nodeIdleTimeBeforeScaleDown: "PT120S" },
      },
    },
  };
}

function seedResources(): ArmResource[] {
  return [
    {
      id: RG_ID,
      name: RG,
      type: T.rg,
      location: "westeurope",
      tags: { costCenter: "ml" },
      properties: { provisioningState: "Succeeded" },
    },
    {
      id: WS_ID,
      name: "ws1",
      type: "Microsoft.MachineLearningServices/workspaces",
      location: "westeurope",
      tags: { team: "research", env: "prod" },
      identity: { type: "SystemAssigned" },
      sku: { name: "Basic", tier: "Basic" },
      properties: { friendlyName: "Research", publicNetworkAccess: "Disabled" },
    },
    amlCompute(GPU_COMPUTE_ID, "Standard_NC24ads_A100_v4", 8, 0, { env: "gpu" }),
    amlCompute(CPU_COMPUTE_ID, "Standard_D4s_v3", 6, 0),
    {
      id: AKS_ID,
      name: "aks1",
      type: T.cluster,
      location: "westeurope",
      tags: { team: "platform" },
      identity: { type: "SystemAssigned" },
      sku: { name: "Base", tier: "Standard" },
      properties: {
        kubernetesVersion: "1.30.5",
        dnsPrefix: "aks1",
        provisioningState: "Succeeded",
        agentPoolProfiles: [
          {
            name: "system",
            mode: "System",
            vmSize: "Standard_D4s_v5",
            count: 3,
            enableAutoScaling: false,
            osType: "Linux",
            type: "VirtualMachineScaleSets",
          },
          {
            name: "gpua100",
            mode: "User",
            vmSize: "Standard_NC24ads_A100_v4",
            count: 6,
            minCount: 0,
            maxCount: 10,
            enableAutoScaling: true,
            osType: "Linux",
            type: "VirtualMachineScaleSets",
            nodeTaints: ["sku=gpu:NoSchedule"],
          },
          {
            name: "cpu",
            mode: "User",
            vmSize: "Standard_D8s_v5",
            count: 2,
            minCount: 1,
            maxCount: 5,
            enableAutoScaling: true,
            osType: "Linux",
            type: "VirtualMachineScaleSets",
          },
        ],
      },
    },
  ];
}

const POLICY: Policy = {
  name: "gpu-cost-cap",
  resourceTypes: [T.compute, T.cluster, T.pool, T.rg, T.sub],
  triggers: [{ alert: "gpu-cost-*" }, { budget: "ml-*" }],
  kind: KIND,
  params: { maxNodes: 2 },
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

function typeOf(id: string): string {
  if (/\/agentPools\/[^/]+$/i.test(id)) return T.pool;
  if (/\/managedClusters\/[^/]+$/i.test(id)) return T.cluster;
  if (/\/computes\/[^/]+$/i.test(id)) return T.compute;
  if (/\/resourceGroups\/[^/]+$/i.test(id)) return T.rg;
  return T.sub;
}

let seq = 0;
function alert(resourceId: string, condition: "Fired" | "Resolved", alertId = "alert-gpu-1"): Signal {
  seq++;
  return {
    source: "monitor",
    type: `alert.${condition}`,
    id: alertId, // as the parser does: the signal's ID is Monitor's alert ID
    dedupeKey: `alert:${alertId}:${condition}`,
    time: new Date().toISOString(),
    subscriptionId: SUB,
    trigger: { alert: "gpu-cost-high", condition },
    targets: [{ resourceId, resourceType: typeOf(resourceId), subscriptionId: SUB }],
    alert: {
      alertId,
      ruleName: "gpu-cost-high",
      condition,
      severity: "Sev2",
      signalType: "Metric",
      dimensions: {},
    },
  };
}

function budget(scope: string): Signal {
  seq++;
  return {
    source: "budget",
    type: "budget",
    id: `budget-${seq}`,
    dedupeKey: `budget-${seq}`,
    time: new Date().toISOString(),
    subscriptionId: SUB,
    trigger: { budget: "ml-monthly" },
    targets: [{ resourceId: scope, resourceType: typeOf(scope), subscriptionId: SUB }],
    budget: { budgetName: "ml-monthly", scope, spent: 9100, budget: 10000, threshold: 90, unit: "EUR" },
  };
}

/** An audit trail in memory: newest first, filtered like the real store. */
class FakeHistory implements AuditHistory {
  readonly records: AuditRecord[] = [];
  queries: AuditQuery[] = [];
  add(r: {
    resourceId: string;
    outcome: Outcome;
    changes: Change[];
    followUp?: Record<string, unknown>;
    signalType?: string;
    /** The cause's ID: Monitor's alert ID (default the one `alert()` uses) or a budget notification's. */
    signalId?: string;
    step?: string;
  }): void {
    const n = this.records.length + 1;
    this.records.push({
      id: `rec-${n}`,
      seq: n,
      prevHash: "x",
      hash: "y",
      time: new Date(Date.UTC(2030, 0, 1, 0, n)).toISOString(),
      subscriptionId: SUB,
      resourceId: r.resourceId,
      resourceType: typeOf(r.resourceId),
      signal: {
        source: r.signalType === "budget" ? "budget" : "monitor",
        type: r.signalType ?? "alert.Fired",
        id: r.signalId ?? (r.signalType === "budget" ? `budget-${n}` : "alert-gpu-1"),
        correlationId: null,
      },
      policy: POLICY.name,
      kind: KIND,
      mode: "enforce",
      outcome: r.outcome,
      changes: r.changes,
      actor: "driftguard",
      durationMs: 5,
      ...(r.step ? { error: { code: "Http500", message: "boom", step: r.step } } : {}),
      ...(r.followUp ? { followUp: r.followUp } : {}),
    });
  }
  async query(q: AuditQuery) {
    this.queries.push(q);
    const items = this.records
      .filter(
        (r) =>
          (!q.resourceId || r.resourceId.toLowerCase() === q.resourceId.toLowerCase()) &&
          (!q.kind || r.kind === q.kind),
      )
      .reverse();
    // page in twos, to exercise continuation
    const start = q.continuationToken ? Number(q.continuationToken) : 0;
    const page = items.slice(start, start + 2);
    return { items: page, continuationToken: start + 2 < items.length ? String(start + 2) : null };
  }
}

let tls: LocalTls;
let sim: Sim;
let clients: AzureClients;

beforeAll(async () => {
  tls = await loadOrCreateLocalTls();
});

beforeEach(async () => {
  sim = await startAzureSimulator({ port: 0, tls, seed: { resources: seedResources() } });
  clients = new AzureClients({
    armEndpoint: sim.url,
    credential: staticTokenCredential(),
    ca: tls.cert,
    vaultUrl: (v) => sim.vaults[v] ?? "https://127.0.0.1:1",
    disableChallengeResourceVerification: true,
    retry: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
    lroPollIntervalMs: 0,
  });
});

afterEach(async () => {
  await sim.close();
});

function ctxFor(
  signal: Signal,
  params: ScaleGpuPoolParams = { maxNodes: 2 },
  history: AuditHistory = new FakeHistory(),
): RemediationContext<ScaleGpuPoolParams> {
  return kindContext(scaleGpuPool, signal, { policy: POLICY, params, clients, history });
}

/** An enforce-mode run (shared runner) whose change must verify; the plan, for assertions. */
async function run(
  ctx: RemediationContext<ScaleGpuPoolParams>,
  opts: { apply?: boolean } = {},
): Promise<Plan<ScaleData>> {
  const { plan, verified } = await runKind(scaleGpuPool, ctx, opts);
  if (verified) expect(verified).toEqual({ ok: true });
  return plan;
}

function asChange(plan: Plan<ScaleData>): ChangePlan<ScaleData> {
  expect(plan.action).toBe("change");
  return plan as ChangePlan<ScaleData>;
}

const pool = (name: string) => sim.getResource(POOL_ID(name))?.properties as Record<string, unknown>;
const scale = (id: string) =>
  (sim.getResource(id)!.properties as { properties: { scaleSettings: Record<string, unknown> } }).properties
    .scaleSettings;

/** Records what a successful pipeline run would have written. */
function recordOf(
  history: FakeHistory,
  resourceId: string,
  plan: Plan<ScaleData>,
  outcome: Outcome = "remediated",
  signal?: Signal,
): void {
  const p = asChange(plan);
  history.add({
    resourceId,
    outcome,
    changes: p.changes,
    followUp: p.followUp,
    signalType: signal?.type ?? (p.reverts ? "alert.Resolved" : "alert.Fired"),
    signalId: signal?.id,
  });
}

describe("params and registration", () => {
  it("registers under its stable name and supports the documented types only", () => {
    expect(builtinRegistry().get(KIND)).toBe(scaleGpuPool);
    for (const t of Object.values(T)) expect(scaleGpuPool.supports(t)).toBe(true);
    expect(scaleGpuPool.supports(T.pool.toLowerCase())).toBe(true);
    expect(scaleGpuPool.supports("Microsoft.MachineLearningServices/workspaces")).toBe(false);
    expect(scaleGpuPool.supports("Microsoft.Compute/virtualMachineScaleSets")).toBe(false);
  });

  it("validates params strictly and names the offending field", () => {
    expect(scaleGpuPoolParamsSchema.parse({ maxNodes: 4, minNodes: 1, pool: "gpua100" })).toEqual({
      maxNodes: 4,
      minNodes: 1,
      pool: "gpua100",
    });
    const cases: [unknown, string][] = [
      [{}, "maxNodes"],
      [{ maxNodes: -1 }, "maxNodes"],
      [{ maxNodes: 2.5 }, "maxNodes"],
      [{ maxNodes: "2" }, "maxNodes"],
      [{ maxNodes: 2, minNodes: 3 }, "minNodes"],
      [{ maxNodes: 2, minNodes: -1 }, "minNodes"],
      [{ maxNodes: 2, pool: "" }, "pool"],
      [{ maxNodes: 2, pool: "../x" }, "pool"],
    ];
    for (const [input, path] of cases) {
      const r = scaleGpuPoolParamsSchema.safeParse(input);
      expect(r.success, JSON.stringify(input)).toBe(false);
      expect(r.error?.issues.map((i) => i.path.join("."))).toContain(path);
    }
    const extra = scaleGpuPoolParamsSchema.safeParse({ maxNodes: 2, maxnodes: 3 });
    expect(extra.success).toBe(false);
    expect(extra.error?.issues[0]?.code).toBe("unrecognized_keys");
  });

  it("a policy file with bad params for this kind is rejected with the param's path", () => {
    const registry = builtinRegistry();
    const bad = validatePolicyObject(
      { version: 1, policies: [{ ...POLICY, params: { maxNodes: 2, minNodes: 5 } }] },
      registry,
    );
    expect(bad.file).toBeUndefined();
    expect(bad.issues.map((i) => i.path)).toContain("policies[0].params.minNodes");
    const good = validatePolicyObject(
      { version: 1, policies: [{ ...POLICY, params: { maxNodes: 3, pool: "gpua100" } }] },
      registry,
    );
    expect(good.issues).toEqual([]);
    expect(good.file?.policies[0]?.params).toEqual({ maxNodes: 3, pool: "gpua100" });
  });

  it("recognises GPU VM sizes by the N-series prefix", () => {
    expect(isGpuVmSize("Standard_NC24ads_A100_v4")).toBe(true);
    expect(isGpuVmSize("standard_nd96asr_v4")).toBe(true);
    expect(isGpuVmSize("Standard_D8s_v5")).toBe(false);
    expect(isGpuVmSize(undefined)).toBe(false);
  });

  it("change paths name the pool relative to the target and parse back to the pool's ID", () => {
    const aks = { type: "aks" as const, id: POOL_ID("gpua100") };
    const aml = { type: "aml" as const, id: GPU_COMPUTE_ID };
    const cases: [typeof aks | typeof aml, string, "maxCount" | "count" | "maxNodeCount", string][] = [
      [aks, POOL_ID("gpua100"), "maxCount", "maxCount"],
      [aks, AKS_ID, "count", "agentPools[gpua100].count"],
      [aks, RG_ID, "maxCount", "managedClusters[aks1].agentPools[gpua100].maxCount"],
      [aks, SUB_ID, "maxCount", `resourceGroups[${RG}].managedClusters[aks1].agentPools[gpua100].maxCount`],
      [aml, GPU_COMPUTE_ID, "maxNodeCount", "properties.properties.scaleSettings.maxNodeCount"],
      [
        aml,
        RG_ID,
        "maxNodeCount",
        "workspaces[ws1].computes[gpu-cluster].properties.properties.scaleSettings.maxNodeCount",
      ],
    ];
    for (const [unit, target, field, path] of cases) {
      const full = {
        ...unit,
        subscriptionId: SUB,
        resourceGroup: RG,
        parent: "",
        name: "",
        enableAutoScaling: true,
      };
      expect(changePath(full, field, target)).toBe(path);
      expect(parseChangePath(path, target)).toEqual({ id: unit.id, type: unit.type, field });
    }
    expect(parseChangePath("properties.publicNetworkAccess", AKS_ID)).toBeUndefined();
    expect(parseChangePath("agentPools[../x].count", AKS_ID)).toBeUndefined();
  });

  it("only ever lowers limits (min(current, policy)), and keeps min ≤ max", () => {
    const base = {
      id: POOL_ID("p"),
      subscriptionId: SUB,
      resourceGroup: RG,
      parent: "aks1",
      name: "p",
      vmSize: "Standard_NC6",
    };
    expect(
      limitPool(
        { ...base, type: "aks", enableAutoScaling: true, count: 6, minCount: 3, maxCount: 10 },
        { maxNodes: 2 },
      ),
    ).toEqual([
      { field: "maxCount", from: 10, to: 2 },
      { field: "minCount", from: 3, to: 2 },
      { field: "count", from: 6, to: 2 },
    ]);
    expect(
      limitPool(
        { ...base, type: "aks", enableAutoScaling: true, count: 1, minCount: 1, maxCount: 1 },
        { maxNodes: 2 },
      ),
    ).toEqual([]);
    expect(
      limitPool(
        { ...base, type: "aks", enableAutoScaling: true, count: 4, minCount: 2, maxCount: 10 },
        { maxNodes: 6, minNodes: 0 },
      ),
    ).toEqual([
      { field: "maxCount", from: 10, to: 6 },
      { field: "minCount", from: 2, to: 0 },
    ]);
    expect(limitPool({ ...base, type: "aks", enableAutoScaling: false, count: 5 }, { maxNodes: 3 })).toEqual([
      { field: "count", from: 5, to: 3 },
    ]);
    expect(
      limitPool({ ...base, type: "aml", maxNodeCount: 8, minNodeCount: 4 }, { maxNodes: 2, minNodes: 1 }),
    ).toEqual([
      { field: "maxNodeCount", from: 8, to: 2 },
      { field: "minNodeCount", from: 4, to: 1 },
    ]);
    expect(limitPool({ ...base, type: "aml", maxNodeCount: 1, minNodeCount: 0 }, { maxNodes: 2 })).toEqual(
      [],
    );
  });
});

describe("Fired / budget: apply the limits", () => {
  it("AML compute cluster: PATCHes maxNodeCount 8 → 2 with the doubly nested body, keeping the other settings", async () => {
    const ctx = ctxFor(alert(GPU_COMPUTE_ID, "Fired"));
    const current = await scaleGpuPool.read(ctx);
    expect(current.tags).toEqual({ team: "research", env: "gpu" }); // workspace tags merged under the compute's own
    const plan = asChange(await scaleGpuPool.plan(current, ctx));
    expect(plan.changes).toEqual([
      { path: "properties.properties.scaleSettings.maxNodeCount", from: 8, to: 2 },
    ]);
    expect(plan.reverts).toBeUndefined();
    const changes = await scaleGpuPool.apply(plan, ctx);
    expect(changes).toEqual(plan.changes); // nothing is known only after the write
    expect(await scaleGpuPool.verify({ ...plan, changes }, ctx)).toEqual({ ok: true });

    const writes = sim.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.method).toBe("PATCH");
    expect(writes[0]!.path.toLowerCase()).toBe(GPU_COMPUTE_ID.toLowerCase());
    expect(writes[0]!.body).toEqual({
      properties: {
        properties: {
          scaleSettings: { maxNodeCount: 2, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: "PT120S" },
        },
      },
    });
    expect(scale(GPU_COMPUTE_ID)).toEqual({
      maxNodeCount: 2,
      minNodeCount: 0,
      nodeIdleTimeBeforeScaleDown: "PT120S",
    });
    expect(
      (sim.getResource(GPU_COMPUTE_ID)!.properties as { properties: { vmSize: string } }).properties.vmSize,
    ).toBe("Standard_NC24ads_A100_v4");
  });

  it("AKS cluster without `pool`: only the GPU user pool changes (maxCount 2, count 2); system and cpu are not written", async () => {
    const ctx = ctxFor(alert(AKS_ID, "Fired"));
    const plan = asChange(await run(ctx));
    expect(plan.changes).toEqual([
      { path: "agentPools[gpua100].maxCount", from: 10, to: 2 },
      { path: "agentPools[gpua100].count", from: 6, to: 2 },
    ]);
    const writes = sim.writes();
    expect(writes.map((w) => `${w.method} ${w.path.toLowerCase()}`)).toEqual([
      `PUT ${POOL_ID("gpua100").toLowerCase()}`,
    ]);
    // GET → PUT of the whole pool, guarded by the GET's ETag
    expect(writes[0]!.headers["if-match"]).toMatch(/^W\/"|^"/);
    expect(writes[0]!.body).toMatchObject({
      properties: {
        maxCount: 2,
        count: 2,
        minCount: 0,
        enableAutoScaling: true,
        mode: "User",
        vmSize: "Standard_NC24ads_A100_v4",
      },
    });
    expect(pool("gpua100")).toMatchObject({
      maxCount: 2,
      count: 2,
      minCount: 0,
      enableAutoScaling: true,
      vmSize: "Standard_NC24ads_A100_v4",
      nodeTaints: ["sku=gpu:NoSchedule"],
    });
    expect(pool("system")).toMatchObject({ count: 3, mode: "System" });
    expect(pool("cpu")).toMatchObject({ count: 2, minCount: 1, maxCount: 5 });
    // the cluster's inline profile agrees with the child resource
    const profiles = (
      sim.getResource(AKS_ID)!.properties as { agentPoolProfiles: { name: string; maxCount?: number }[] }
    ).agentPoolProfiles;
    expect(profiles.find((p) => p.name === "gpua100")?.maxCount).toBe(2);
  });

  it("a repeated Fired alert does not ratchet further: noop, no write", async () => {
    await run(ctxFor(alert(AKS_ID, "Fired")));
    await run(ctxFor(alert(GPU_COMPUTE_ID, "Fired")));
    const before = sim.writes().length;
    const again = await run(ctxFor(alert(AKS_ID, "Fired")));
    expect(again).toEqual({ action: "noop", reason: expect.stringContaining("already within the limits") });
    const againAml = await run(ctxFor(alert(GPU_COMPUTE_ID, "Fired")));
    expect(againAml.action).toBe("noop");
    // a stricter policy still lowers further; a laxer one never raises
    const laxer = await run(ctxFor(alert(AKS_ID, "Fired"), { maxNodes: 5 }));
    expect(laxer.action).toBe("noop");
    expect(sim.writes()).toHaveLength(before);
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 2 });
  });

  it("named pool: a system or CPU pool is never touched; an unknown name fails the read", async () => {
    const sys = await run(ctxFor(alert(AKS_ID, "Fired"), { maxNodes: 1, pool: "system" }));
    expect(sys).toEqual({ action: "noop", reason: expect.stringContaining("system pool") });
    const cpu = await run(ctxFor(alert(AKS_ID, "Fired"), { maxNodes: 1, pool: "cpu" }));
    expect(cpu).toEqual({ action: "noop", reason: expect.stringContaining("not a GPU size") });
    const direct = await run(ctxFor(alert(POOL_ID("system"), "Fired"), { maxNodes: 1 }));
    expect(direct.action).toBe("noop");
    expect(sim.writes()).toHaveLength(0);
    const err = await scaleGpuPool
      .read(ctxFor(alert(AKS_ID, "Fired"), { maxNodes: 1, pool: "nope" }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({ code: "PoolNotFound", step: "read", resourceId: AKS_ID, retryable: false });
  });

  it("an agent pool target: tags are the cluster's, minNodes lowers minCount", async () => {
    const ctx = ctxFor(alert(POOL_ID("gpua100"), "Fired"), { maxNodes: 4, minNodes: 0 });
    const current = await scaleGpuPool.read(ctx);
    expect(current.tags).toEqual({ team: "platform" });
    const plan = asChange(await scaleGpuPool.plan(current, ctx));
    expect(plan.changes).toEqual([
      { path: "maxCount", from: 10, to: 4 },
      { path: "count", from: 6, to: 4 },
    ]);
  });

  it("a budget on the resource group scales every GPU pool under it (AML and AKS), nothing else", async () => {
    const ctx = ctxFor(budget(RG_ID));
    const plan = asChange(await run(ctx));
    expect(plan.changes).toEqual([
      {
        path: "workspaces[ws1].computes[gpu-cluster].properties.properties.scaleSettings.maxNodeCount",
        from: 8,
        to: 2,
      },
      { path: "managedClusters[aks1].agentPools[gpua100].maxCount", from: 10, to: 2 },
      { path: "managedClusters[aks1].agentPools[gpua100].count", from: 6, to: 2 },
    ]);
    const written = sim
      .writes()
      .map((w) => w.path.toLowerCase())
      .sort();
    expect(written).toEqual([GPU_COMPUTE_ID.toLowerCase(), POOL_ID("gpua100").toLowerCase()].sort());
    expect(scale(GPU_COMPUTE_ID).maxNodeCount).toBe(2);
    expect(scale(CPU_COMPUTE_ID).maxNodeCount).toBe(6);
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 2 });
  });

  it("a budget on the subscription finds the same pools; pools whose parent opts out are skipped", async () => {
    const ws = sim.getResource(WS_ID)!;
    sim.putResource({ ...ws, tags: { ...ws.tags, "driftguard:exclude": "true" } });
    const plan = asChange(await run(ctxFor(budget(SUB_ID))));
    expect(plan.changes.map((c) => c.path)).toEqual([
      `resourceGroups[${RG}].managedClusters[aks1].agentPools[gpua100].maxCount`,
      `resourceGroups[${RG}].managedClusters[aks1].agentPools[gpua100].count`,
    ]);
    expect(scale(GPU_COMPUTE_ID).maxNodeCount).toBe(8);
  });

  it("a budget has no 'Resolved': a budget signal always applies, even with a trail to restore", async () => {
    const history = new FakeHistory();
    recordOf(history, RG_ID, await run(ctxFor(budget(RG_ID), { maxNodes: 4 })));
    const plan = await run(ctxFor(budget(RG_ID), { maxNodes: 4 }, history));
    expect(plan.action).toBe("noop");
    expect(history.queries).toHaveLength(0);
  });

  it("dry-run: plan gives the exact changes, nothing is written", async () => {
    const plan = asChange(await run(ctxFor(alert(AKS_ID, "Fired")), { apply: false }));
    expect(plan.changes).toEqual([
      { path: "agentPools[gpua100].maxCount", from: 10, to: 2 },
      { path: "agentPools[gpua100].count", from: 6, to: 2 },
    ]);
    expect(plan.summary).toContain("aks1/gpua100");
    expect(sim.writes()).toHaveLength(0);
    expect(pool("gpua100")).toMatchObject({ maxCount: 10, count: 6 });
  });
});

describe("Resolved: restore what the audit trail recorded", () => {
  it("restores exactly the previous values, read from the trail (not from memory)", async () => {
    const history = new FakeHistory();
    recordOf(history, AKS_ID, await run(ctxFor(alert(AKS_ID, "Fired"))));
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 2 });
    // unrelated records in between: a compliant repeat, another kind's record
    history.add({ resourceId: AKS_ID, outcome: "compliant", changes: [] });
    history.add({
      resourceId: AKS_ID,
      outcome: "dry-run",
      changes: [{ path: "agentPools[gpua100].maxCount", from: 2, to: 1 }],
    });

    const ctx = ctxFor(alert(AKS_ID, "Resolved"), { maxNodes: 2 }, history);
    const plan = asChange(await run(ctx));
    expect(plan.reverts).toBe(true);
    expect(plan.changes).toEqual([
      { path: "agentPools[gpua100].maxCount", from: 2, to: 10 },
      { path: "agentPools[gpua100].count", from: 2, to: 6 },
    ]);
    expect(pool("gpua100")).toMatchObject({ maxCount: 10, count: 6, minCount: 0 });
    expect(history.queries[0]).toMatchObject({ resourceId: AKS_ID, kind: KIND });
    expect(sim.writes().map((w) => w.path.toLowerCase())).toEqual([
      POOL_ID("gpua100").toLowerCase(),
      POOL_ID("gpua100").toLowerCase(),
    ]);

    // after the restore is recorded, another Resolved finds nothing to restore
    recordOf(history, AKS_ID, plan, "reverted");
    const again = await run(ctxFor(alert(AKS_ID, "Resolved"), { maxNodes: 2 }, history));
    expect(again).toEqual({ action: "noop", reason: expect.stringContaining("nothing to restore") });
  });

  it("AML: restores maxNodeCount (and a lowered minNodeCount) with one PATCH", async () => {
    const ws = sim.getResource(GPU_COMPUTE_ID)!;
    sim.putResource(
      amlCompute(GPU_COMPUTE_ID, "Standard_NC24ads_A100_v4", 8, 3, ws.tags as Record<string, string>),
    );
    const history = new FakeHistory();
    recordOf(
      history,
      GPU_COMPUTE_ID,
      await run(ctxFor(alert(GPU_COMPUTE_ID, "Fired"), { maxNodes: 2, minNodes: 1 })),
    );
    expect(scale(GPU_COMPUTE_ID)).toMatchObject({ maxNodeCount: 2, minNodeCount: 1 });
    const plan = asChange(await run(ctxFor(alert(GPU_COMPUTE_ID, "Resolved"), { maxNodes: 2 }, history)));
    expect(plan.changes).toEqual([
      { path: "properties.properties.scaleSettings.maxNodeCount", from: 2, to: 8 },
      { path: "properties.properties.scaleSettings.minNodeCount", from: 1, to: 3 },
    ]);
    expect(scale(GPU_COMPUTE_ID)).toEqual({
      maxNodeCount: 8,
      minNodeCount: 3,
      nodeIdleTimeBeforeScaleDown: "PT120S",
    });
  });

  it("nothing on record → noop, no write", async () => {
    const plan = await run(ctxFor(alert(AKS_ID, "Resolved")));
    expect(plan).toEqual({ action: "noop", reason: expect.stringContaining("nothing to restore") });
    expect(sim.writes()).toHaveLength(0);
  });

  it("a person changed maxCount in between: the pool is left alone, noop with the reason", async () => {
    const history = new FakeHistory();
    recordOf(history, AKS_ID, await run(ctxFor(alert(AKS_ID, "Fired"))));
    const p = sim.getResource(POOL_ID("gpua100"))!;
    sim.putResource({ ...p, properties: { ...(p.properties as object), maxCount: 5 } });
    const before = sim.writes().length;
    const plan = await run(ctxFor(alert(AKS_ID, "Resolved"), { maxNodes: 2 }, history));
    expect(plan.action).toBe("noop");
    const reason = (plan as { reason: string }).reason;
    expect(reason).toContain("changed by someone");
    expect(reason).toContain("agentPools[gpua100].maxCount is 5, we set 2");
    expect(sim.writes()).toHaveLength(before);
    expect(pool("gpua100")).toMatchObject({ maxCount: 5, count: 2 });
  });

  it("budget scope: restores the untouched pools and skips the one a person changed (named in the summary)", async () => {
    const history = new FakeHistory();
    recordOf(history, RG_ID, await run(ctxFor(budget(RG_ID))));
    // a person raised the AKS pool's count by hand
    const p = sim.getResource(POOL_ID("gpua100"))!;
    sim.putResource({ ...p, properties: { ...(p.properties as object), count: 3 } });
    const resolved = alert(RG_ID, "Resolved");
    const plan = asChange(await run(ctxFor(resolved, { maxNodes: 2 }, history)));
    expect(plan.changes).toEqual([
      {
        path: "workspaces[ws1].computes[gpu-cluster].properties.properties.scaleSettings.maxNodeCount",
        from: 2,
        to: 8,
      },
    ]);
    expect(plan.summary).toContain("skipped");
    expect(plan.summary).toContain("aks1/gpua100");
    expect(plan.followUp).toMatchObject({
      direction: "restore",
      skipped: [expect.stringContaining("count is 3, we set 2")],
    });
    expect(scale(GPU_COMPUTE_ID).maxNodeCount).toBe(8);
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 3 });
  });

  it("several applies since the last restore: every pool changed is restored, the newest record of a field wins", async () => {
    const history = new FakeHistory();
    // an old episode, already reverted: must not be looked at again
    history.add({
      resourceId: AKS_ID,
      outcome: "remediated",
      changes: [{ path: "agentPools[gpua100].maxCount", from: 99, to: 10 }],
    });
    history.add({
      resourceId: AKS_ID,
      outcome: "reverted",
      changes: [{ path: "agentPools[gpua100].maxCount", from: 10, to: 99 }],
    });
    recordOf(history, AKS_ID, await run(ctxFor(alert(AKS_ID, "Fired"), { maxNodes: 4 })));
    recordOf(history, AKS_ID, await run(ctxFor(alert(AKS_ID, "Fired"), { maxNodes: 2 })));
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 2 });
    const plan = asChange(await run(ctxFor(alert(AKS_ID, "Resolved"), { maxNodes: 2 }, history)));
    // the newest record says 4 → 2; restoring it gives back what was there before that run
    expect(plan.changes).toEqual([
      { path: "agentPools[gpua100].maxCount", from: 2, to: 4 },
      { path: "agentPools[gpua100].count", from: 2, to: 4 },
    ]);
    expect(history.queries.length).toBeGreaterThan(1); // paged through the trail
  });

  it("a half-applied failed apply is restored too; a failed restore is not mistaken for an apply", async () => {
    const history = new FakeHistory();
    const plan = asChange(await run(ctxFor(budget(RG_ID))));
    // pretend the run failed after writing: recorded as failed (no followUp on failed records)
    history.add({
      resourceId: RG_ID,
      outcome: "failed",
      changes: plan.changes,
      step: "apply",
      signalType: "budget",
    });
    // and a failed restore attempt after it, which wrote nothing
    history.add({
      resourceId: RG_ID,
      outcome: "failed",
      changes: plan.changes.map((c) => ({ path: c.path, from: c.to, to: c.from })),
      step: "apply",
      signalType: "alert.Resolved",
    });
    const restore = asChange(await run(ctxFor(alert(RG_ID, "Resolved"), { maxNodes: 2 }, history)));
    expect(restore.changes).toEqual(plan.changes.map((c) => ({ path: c.path, from: c.to, to: c.from })));
    expect(scale(GPU_COMPUTE_ID).maxNodeCount).toBe(8);
    expect(pool("gpua100")).toMatchObject({ maxCount: 10, count: 6 });
  });

  it("two alerts on one cluster: the first Resolved keeps the limits while the other is still firing", async () => {
    const history = new FakeHistory();
    const fa = alert(AKS_ID, "Fired", "alert-a");
    recordOf(history, AKS_ID, await run(ctxFor(fa)), "remediated", fa);
    const fb = alert(AKS_ID, "Fired", "alert-b");
    expect((await run(ctxFor(fb, { maxNodes: 2 }, history))).action).toBe("noop");
    history.add({
      resourceId: AKS_ID,
      outcome: "compliant",
      changes: [],
      signalType: "alert.Fired",
      signalId: "alert-b",
    });

    const ra = alert(AKS_ID, "Resolved", "alert-a");
    const deferred = await run(ctxFor(ra, { maxNodes: 2 }, history));
    expect(deferred).toEqual({
      action: "noop",
      reason: expect.stringContaining("alert(s) alert-b fired since and have not resolved"),
    });
    history.add({
      resourceId: AKS_ID,
      outcome: "compliant",
      changes: [],
      signalType: "alert.Resolved",
      signalId: "alert-a",
    });
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 2 });

    const rb = alert(AKS_ID, "Resolved", "alert-b");
    const restored = asChange(await run(ctxFor(rb, { maxNodes: 2 }, history)));
    expect(restored.reverts).toBe(true);
    expect(pool("gpua100")).toMatchObject({ maxCount: 10, count: 6 });
  });

  it("a Fired delivered after its own Resolved does not cap again", async () => {
    const history = new FakeHistory();
    history.add({
      resourceId: AKS_ID,
      outcome: "compliant",
      changes: [],
      signalType: "alert.Resolved",
      signalId: "alert-late",
    });
    const plan = await run(ctxFor(alert(AKS_ID, "Fired", "alert-late"), { maxNodes: 2 }, history));
    expect(plan).toEqual({ action: "noop", reason: expect.stringContaining("already resolved") });
    expect(sim.writes()).toHaveLength(0);
    // another alert's Resolved does not stop a new firing
    const other = await run(ctxFor(alert(AKS_ID, "Fired", "alert-new"), { maxNodes: 2 }, history));
    expect(other.action).toBe("change");
  });

  it("a pool deleted since is skipped with the reason", async () => {
    const history = new FakeHistory();
    history.add({
      resourceId: AKS_ID,
      outcome: "remediated",
      changes: [{ path: "agentPools[gone].maxCount", from: 9, to: 2 }],
    });
    const plan = await run(ctxFor(alert(AKS_ID, "Resolved"), { maxNodes: 2 }, history));
    expect(plan).toEqual({ action: "noop", reason: expect.stringContaining("gone: pool no longer exists") });
  });
});

describe("faults", () => {
  it("429 with Retry-After and a 500 during the AKS PUT are retried and the change lands", async () => {
    sim.addFault({ method: "PUT", path: "/agentPools/gpua100", status: 429, retryAfter: 0, count: 1 });
    sim.addFault({ method: "PUT", path: "/agentPools/gpua100", status: 500, count: 1 });
    await run(ctxFor(alert(AKS_ID, "Fired")));
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 2 });
    const puts = sim.requests({ method: "PUT", pathIncludes: "/agentPools/gpua100" });
    expect(puts.map((r) => r.status)).toEqual([429, 500, expect.any(Number)]);
    expect(sim.writes()).toHaveLength(1);
  });

  it("429 and 500 during the AML PATCH are retried", async () => {
    sim.addFault({ method: "PATCH", path: "/computes/gpu-cluster", status: 429, retryAfter: 0, count: 1 });
    sim.addFault({ method: "PATCH", path: "/computes/gpu-cluster", status: 500, count: 1 });
    await run(ctxFor(alert(GPU_COMPUTE_ID, "Fired")));
    expect(scale(GPU_COMPUTE_ID).maxNodeCount).toBe(2);
    expect(sim.requests({ method: "PATCH", pathIncludes: "/computes/gpu-cluster" })).toHaveLength(3);
  });

  it("a permanent failure surfaces as RemediationError with step 'apply'", async () => {
    sim.addFault({ method: "PUT", path: "/agentPools/gpua100", status: 500, count: -1 });
    const ctx = ctxFor(alert(AKS_ID, "Fired"));
    const plan = asChange(await scaleGpuPool.plan(await scaleGpuPool.read(ctx), ctx));
    const err = await scaleGpuPool.apply(plan, ctx).catch((e) => e);
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({ step: "apply", statusCode: 500, retryable: true });
    expect(pool("gpua100")).toMatchObject({ maxCount: 10, count: 6 });

    sim.clearFaults();
    sim.addFault({ method: "PATCH", path: "/computes/gpu-cluster", status: 403, count: -1 });
    const amlCtx = ctxFor(alert(GPU_COMPUTE_ID, "Fired"));
    const amlPlan = asChange(await scaleGpuPool.plan(await scaleGpuPool.read(amlCtx), amlCtx));
    const denied = await scaleGpuPool.apply(amlPlan, amlCtx).catch((e) => e);
    expect(denied).toMatchObject({
      name: "RemediationError",
      step: "apply",
      statusCode: 403,
      retryable: false,
    });
  });

  it("a change between plan and apply is not overwritten: retryable ConcurrentChange", async () => {
    const ctx = ctxFor(alert(AKS_ID, "Fired"));
    const plan = asChange(await scaleGpuPool.plan(await scaleGpuPool.read(ctx), ctx));
    const p = sim.getResource(POOL_ID("gpua100"))!;
    sim.putResource({ ...p, properties: { ...(p.properties as object), maxCount: 7 } });
    const err = await scaleGpuPool.apply(plan, ctx).catch((e) => e);
    expect(err).toMatchObject({
      name: "RemediationError",
      code: "ConcurrentChange",
      step: "apply",
      retryable: true,
    });
    expect(sim.writes()).toHaveLength(0);
  });

  it("412 on the PUT (ETag moved) is a retryable ConcurrentChange", async () => {
    sim.addFault({ method: "PUT", path: "/agentPools/gpua100", status: 412, count: 1 });
    const ctx = ctxFor(alert(AKS_ID, "Fired"));
    const plan = asChange(await scaleGpuPool.plan(await scaleGpuPool.read(ctx), ctx));
    const err = await scaleGpuPool.apply(plan, ctx).catch((e) => e);
    expect(err).toMatchObject({
      name: "RemediationError",
      code: "ConcurrentChange",
      step: "apply",
      statusCode: 412,
      retryable: true,
    });
    // the redelivery re-reads and re-plans
    await run(ctx);
    expect(pool("gpua100")).toMatchObject({ maxCount: 2, count: 2 });
  });

  it("a missing target fails the read with a typed error", async () => {
    const err = await scaleGpuPool.read(ctxFor(alert(`${WS_ID}/computes/nope`, "Fired"))).catch((e) => e);
    expect(err).toMatchObject({ name: "RemediationError", step: "read", statusCode: 404, retryable: false });
  });

  it("verify reports a read-back that differs", async () => {
    const ctx = ctxFor(alert(GPU_COMPUTE_ID, "Fired"));
    const plan = asChange(await scaleGpuPool.plan(await scaleGpuPool.read(ctx), ctx));
    const v = await scaleGpuPool.verify(plan, ctx);
    expect(v.ok).toBe(false);
    expect(v.detail).toContain("ws1/gpu-cluster.maxNodeCount is 8, expected 2");
  });
});

describe("through the pipeline (harness): records and restart safety", () => {
  const policies = (mode = "enforce", params: Record<string, unknown> = { maxNodes: 2 }) => ({
    version: 1 as const,
    policies: [{ ...POLICY, mode, params }],
  });
  const open: Harness[] = [];
  afterEach(async () => {
    // harnesses that share a simulator: close the owner last
    for (const h of open.reverse()) await h.close();
    open.length = 0;
  });
  async function harness(opts: Partial<Parameters<typeof startHarness>[0]> = {}): Promise<Harness> {
    const h = await startHarness({ seed: { resources: seedResources() }, policies: policies(), ...opts });
    open.push(h);
    return h;
  }

  it("Fired → remediated; a new pipeline over the same audit trail turns Resolved into reverted with the exact old values", async () => {
    const first = await harness();
    const [fired] = await first.handle(alert(AKS_ID, "Fired", "alert-restart"));
    expect(fired).toMatchObject({ outcome: "remediated", kind: KIND, policy: POLICY.name });
    expect(fired!.record).toMatchObject({
      outcome: "remediated",
      resourceId: AKS_ID,
      changes: [
        { path: "agentPools[gpua100].maxCount", from: 10, to: 2 },
        { path: "agentPools[gpua100].count", from: 6, to: 2 },
      ],
    });
    const poolAfterFire = first.sim.getResource(POOL_ID("gpua100"))!.properties as Record<string, unknown>;
    expect(poolAfterFire).toMatchObject({ maxCount: 2, count: 2 });

    // "restart": a fresh pipeline (new clients, new ledger, nothing in memory) over the same trail and Azure
    const second = await harness({ audit: first.audit, sim: first.sim });
    expect(second.pipeline).not.toBe(first.pipeline);
    const [resolved] = await second.handle(alert(AKS_ID, "Resolved", "alert-restart"));
    expect(resolved).toMatchObject({ outcome: "reverted" });
    expect(resolved!.record!.changes).toEqual([
      { path: "agentPools[gpua100].maxCount", from: 2, to: 10 },
      { path: "agentPools[gpua100].count", from: 2, to: 6 },
    ]);
    expect(first.sim.getResource(POOL_ID("gpua100"))!.properties).toMatchObject({
      maxCount: 10,
      count: 6,
      minCount: 0,
    });

    const trail = await second.records();
    expect(trail.map((r) => r.outcome)).toEqual(["remediated", "reverted"]);
    expect((await second.audit.verify()).breaks).toEqual([]);

    // a second Resolved (another alert instance) finds nothing left to restore
    const [again] = await second.handle(alert(AKS_ID, "Resolved", "alert-restart-2"));
    expect(again).toMatchObject({
      outcome: "compliant",
      reason: expect.stringContaining("nothing to restore"),
    });
  });

  it("two alerts: limits stay until the last one resolves; a late Fired after its Resolved is compliant", async () => {
    const h = await harness();
    expect((await h.handle(alert(AKS_ID, "Fired", "x-a")))[0]).toMatchObject({ outcome: "remediated" });
    expect((await h.handle(alert(AKS_ID, "Fired", "x-b")))[0]).toMatchObject({ outcome: "compliant" });
    const [ra] = await h.handle(alert(AKS_ID, "Resolved", "x-a"));
    expect(ra).toMatchObject({ outcome: "compliant", reason: expect.stringContaining("x-b") });
    expect(h.sim.getResource(POOL_ID("gpua100"))!.properties).toMatchObject({ maxCount: 2, count: 2 });
    const [rb] = await h.handle(alert(AKS_ID, "Resolved", "x-b"));
    expect(rb).toMatchObject({ outcome: "reverted" });
    expect(h.sim.getResource(POOL_ID("gpua100"))!.properties).toMatchObject({ maxCount: 10, count: 6 });

    // out of order: Resolved first (nothing to restore), then its Fired arrives late
    expect((await h.handle(alert(AKS_ID, "Resolved", "x-c")))[0]).toMatchObject({ outcome: "compliant" });
    const writes = h.sim.writes().length;
    const [late] = await h.handle(alert(AKS_ID, "Fired", "x-c"));
    expect(late).toMatchObject({ outcome: "compliant", reason: expect.stringContaining("already resolved") });
    expect(h.sim.writes()).toHaveLength(writes);
  });

  it("a repeated Fired is recorded compliant and writes nothing", async () => {
    const h = await harness();
    expect((await h.handle(alert(GPU_COMPUTE_ID, "Fired", "a1")))[0]).toMatchObject({
      outcome: "remediated",
    });
    const writes = h.sim.writes().length;
    const [second] = await h.handle(alert(GPU_COMPUTE_ID, "Fired", "a2"));
    expect(second).toMatchObject({
      outcome: "compliant",
      reason: expect.stringContaining("already within the limits"),
    });
    expect(h.sim.writes()).toHaveLength(writes);
  });

  it("a person's change in between: Resolved is recorded compliant with the reason, the pool keeps their value", async () => {
    const h = await harness();
    await h.handle(alert(AKS_ID, "Fired", "a-person"));
    const p = h.sim.getResource(POOL_ID("gpua100"))!;
    h.sim.putResource({ ...p, properties: { ...(p.properties as object), maxCount: 5 } });
    const [resolved] = await h.handle(alert(AKS_ID, "Resolved", "a-person"));
    expect(resolved).toMatchObject({ outcome: "compliant" });
    expect(resolved!.record!.reason).toContain("changed by someone");
    expect(h.sim.getResource(POOL_ID("gpua100"))!.properties).toMatchObject({ maxCount: 5, count: 2 });
  });

  it("budget on the resource group → remediated for the scope; global dry-run records the exact changes and writes nothing", async () => {
    const dry = await harness({ mode: "dry-run" });
    const [d] = await dry.handle(budget(RG_ID));
    expect(d).toMatchObject({ outcome: "dry-run" });
    expect(d!.record!.changes).toHaveLength(3);
    expect(dry.sim.writes()).toHaveLength(0);

    const h = await harness();
    const [b] = await h.handle(budget(RG_ID));
    expect(b).toMatchObject({ outcome: "remediated" });
    expect(b!.record).toMatchObject({ resourceId: RG_ID, changes: d!.record!.changes });
    expect(
      (
        h.sim.getResource(GPU_COMPUTE_ID)!.properties as {
          properties: { scaleSettings: { maxNodeCount: number } };
        }
      ).properties.scaleSettings.maxNodeCount,
    ).toBe(2);
    expect(h.sim.getResource(POOL_ID("gpua100"))!.properties).toMatchObject({ maxCount: 2, count: 2 });
  });

  it("a permanent failure is recorded failed with step 'apply', and a later Resolved restores what was written", async () => {
    const h = await harness();
    // the AML write works, the AKS one keeps failing: a half-applied budget run
    h.sim.addFault({ method: "PUT", path: "/agentPools/gpua100", status: 403, count: -1 });
    const [b] = await h.handle(budget(RG_ID));
    expect(b).toMatchObject({ outcome: "failed", retry: false });
    expect(b!.record!.error).toMatchObject({ step: "apply", code: expect.any(String) });
    expect(b!.record!.changes).toHaveLength(3);
    h.sim.clearFaults();
    const [r] = await h.handle(alert(RG_ID, "Resolved", "after-failure"));
    expect(r).toMatchObject({ outcome: "reverted" });
    expect(r!.record!.changes).toEqual([
      {
        path: "workspaces[ws1].computes[gpu-cluster].properties.properties.scaleSettings.maxNodeCount",
        from: 2,
        to: 8,
      },
    ]);
  });
});
