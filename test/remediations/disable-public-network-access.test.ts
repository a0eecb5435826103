/**
 * `disable-public-network-access` against the HTTPS Azure simulator, with the real SDK clients:
 * each supported type ends `Disabled` after exactly one write, compliant resources are not
 * written, the online endpoint PUT keeps the rest of the endpoint, throttling and transient
 * errors recover through the SDK's retry, permanent errors and failed provisioning surface as
 * RemediationError naming the step and the resource.
 */
import https from "node:https";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ArmResource, startAzureSimulator } from "../../dev/azure-sim/index.js";
import type { Change } from "../../shared/audit/types.js";
import { AzureClients } from "../../shared/azure/clients.js";
import type { Policy } from "../../shared/policy/schema.js";
import { classicIfMatchOnce, tagsOf } from "../../shared/remediations/arm-helpers.js";
import {
  changesFor,
  remediation as dpna,
  KIND,
  type Params,
  type PublicNetworkAccessState,
} from "../../shared/remediations/disable-public-network-access/kind.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import type { RemediationContext } from "../../shared/remediations/types.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { expectChange, kindContext, planOnly, remediationFailure, runKind } from "./kind-run.js";
import { useKindSimulator } from "./kind-sim.js";
import { armSignal } from "./resource-fixtures.js";

type Sim = Awaited<ReturnType<typeof startAzureSimulator>>;

const SUB = "00000000-0000-0000-0000-0000000000d1";
const RG = "rg-ai";
const PROV = `/subscriptions/${SUB}/resourceGroups/${RG}/providers`;
const TENANT = "11111111-1111-1111-1111-111111111111";

const T = {
  ws: "Microsoft.MachineLearningServices/workspaces",
  ep: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
  st: "Microsoft.Storage/storageAccounts",
  kv: "Microsoft.KeyVault/vaults",
  cog: "Microsoft.CognitiveServices/accounts",
} as const;

const wsId = (n: string) => `${PROV}/Microsoft.MachineLearningServices/workspaces/${n}`;
const epId = (ws: string, n: string) => `${wsId(ws)}/onlineEndpoints/${n}`;
const stId = (n: string) => `${PROV}/Microsoft.Storage/storageAccounts/${n}`;
const kvId = (n: string) => `${PROV}/Microsoft.KeyVault/vaults/${n}`;
const cogId = (n: string) => `${PROV}/Microsoft.CognitiveServices/accounts/${n}`;

function workspace(name: string, pna: string | undefined, tags: Record<string, string> = {}): ArmResource {
  return {
    id: wsId(name),
    name,
    type: T.ws,
    location: "westeurope",
    tags: { env: "prod", owner: "ml-team", ...tags },
    identity: { type: "SystemAssigned" },
    sku: { name: "Basic", tier: "Basic" },
    properties: {
      friendlyName: `Workspace ${name}`,
      storageAccount: stId("stwsdefault"),
      keyVault: kvId("kv-ws-default"),
      ...(pna === undefined ? {} : { publicNetworkAccess: pna }),
    },
  };
}

function endpoint(ws: string, name: string, pna: string | undefined): ArmResource {
  return {
    id: epId(ws, name),
    name,
    type: T.ep,
    location: "westeurope",
    kind: "Managed",
    tags: { app: "scoring", costCenter: "cc-42" },
    identity: { type: "SystemAssigned" },
    properties: {
      authMode: "Key",
      description: "scoring endpoint for the churn model",
      properties: { "azureml.onlineendpointid": `ep-${name}`, team: "ds" },
      traffic: { blue: 90, green: 10 },
      ...(pna === undefined ? {} : { publicNetworkAccess: pna }),
    },
  };
}

function storage(name: string, pna: string | undefined, blob: boolean | undefined): ArmResource {
  return {
    id: stId(name),
    name,
    type: T.st,
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags: { data: "training" },
    properties: {
      minimumTlsVersion: "TLS1_2",
      supportsHttpsTrafficOnly: true,
      networkAcls: { bypass: "AzureServices", defaultAction: "Allow", ipRules: [], virtualNetworkRules: [] },
      ...(pna === undefined ? {} : { publicNetworkAccess: pna }),
      ...(blob === undefined ? {} : { allowBlobPublicAccess: blob }),
    },
  };
}

function vault(name: string, pna: string | undefined): ArmResource {
  return {
    id: kvId(name),
    name,
    type: T.kv,
    location: "westeurope",
    tags: { secrets: "ml" },
    properties: {
      tenantId: TENANT,
      sku: { family: "A", name: "standard" },
      enableRbacAuthorization: true,
      vaultUri: `https://${name}.vault.azure.net/`,
      networkAcls: {
        bypass: "AzureServices",
        defaultAction: "Allow",
        ipRules: [{ value: "203.0.113.0/24" }],
      },
      ...(pna === undefined ? {} : { publicNetworkAccess: pna }),
    },
  };
}

function cognitive(name: string, pna: string | undefined, kind = "OpenAI"): ArmResource {
  return {
    id: cogId(name),
    name,
    type: T.cog,
    location: "swedencentral",
    kind,
    sku: { name: "S0" },
    tags: { model: "gpt-4o" },
    properties: {
      customSubDomainName: name,
      endpoint: `https://${name}.openai.azure.com/`,
      ...(pna === undefined ? {} : { publicNetworkAccess: pna }),
    },
  };
}

const SEED_RESOURCES: ArmResource[] = [
  // one open resource per type, for the per-type apply test
  workspace("ws-open", "Enabled"),
  endpoint("ws-open", "ep-open", "Enabled"),
  storage("stopen", "Enabled", true),
  vault("kv-open", "Enabled"),
  cognitive("oai-open", "Enabled"),
  // already compliant
  workspace("ws-closed", "Disabled"),
  endpoint("ws-closed", "ep-closed", "Disabled"),
  storage("stclosed", "Disabled", false),
  vault("kv-closed", "disabled"),
  cognitive("oai-closed", "Disabled", "CognitiveServices"),
  // edge cases
  storage("stblobonly", "Disabled", true),
  storage("stdefaults", undefined, undefined),
  workspace("ws-parent", "Disabled", { "driftguard:exclude": "true", env: "dev" }),
  endpoint("ws-parent", "ep-child", "Enabled"),
  // one per fault test, so tests stay independent
  cognitive("oai-throttled", "Enabled"),
  workspace("ws-flaky", "Enabled"),
  cognitive("oai-forbidden", "Enabled"),
  storage("stbadrequest", "Enabled", true),
  vault("kv-forbidden", "Enabled"),
  workspace("ws-failed", "Enabled"),
  cognitive("oai-failed", "Enabled"),
  cognitive("oai-gone", "Enabled"),
  endpoint("ws-open", "ep-gone", "Enabled"),
  endpoint("ws-open", "ep-full", "Enabled"),
  vault("kv-gone", "Enabled"),
  cognitive("oai-raced", "Enabled"),
  workspace("ws-verify", "Enabled"),
  workspace("ws-canceled", "Enabled"),
  storage("stthrottled", "Enabled", true),
  vault("kv-flaky", "Enabled"),
];

const POLICY: Policy = {
  name: "ai-private",
  resourceTypes: [T.ws, T.ep, T.st, T.kv, T.cog],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: {},
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

const env = useKindSimulator(() => ({ resources: SEED_RESOURCES }));
const signalFor = (resourceId: string, resourceType: string) => armSignal(resourceId, resourceType, SUB);

function ctxFor(resourceId: string, resourceType: string): RemediationContext<Params> {
  return kindContext(dpna, signalFor(resourceId, resourceType), { policy: POLICY, clients: env.clients });
}

/** Writes that reached the simulator's handler for exactly this resource (not its children). */
function writesTo(resourceId: string) {
  return env.sim.writes().filter((w) => w.path.toLowerCase() === resourceId.toLowerCase());
}

function requestsTo(resourceId: string, method: string) {
  return env.sim
    .requests()
    .filter((r) => r.method === method && r.path.toLowerCase() === resourceId.toLowerCase());
}

/** Plain HTTPS GET on the simulator, as any client would read ARM (`?api-version=` required). */
function armGet(resourceId: string, apiVersion: string): Promise<{ status: number; body: ArmResource }> {
  const url = new URL(`${resourceId}?api-version=${apiVersion}`, env.sim.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: "GET", ca: env.tls.cert, headers: { authorization: "Bearer any-token" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function armRequest(
  method: string,
  url: URL,
): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method, ca: env.tls.cert, headers: { authorization: "Bearer any-token" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? JSON.parse(text) : undefined,
          });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** DELETE with plain HTTPS, following Azure-AsyncOperation until the operation ends. */
async function armDelete(resourceId: string, apiVersion: string): Promise<number> {
  const res = await armRequest("DELETE", new URL(`${resourceId}?api-version=${apiVersion}`, env.sim.url));
  const op = res.headers["azure-asyncoperation"];
  if (typeof op === "string") {
    for (let i = 0; i < 10; i++) {
      const status = await armRequest("GET", new URL(op));
      if ((status.body as { status?: string }).status !== "InProgress") break;
    }
  }
  return res.status;
}

const planFor = (resourceId: string, type: string) => planOnly(dpna, ctxFor(resourceId, type));

/** read → plan → apply → verify, the way the pipeline runs an enforce-mode remediation. */
async function remediate(resourceId: string, type: string) {
  const { current, plan, verified } = await runKind(dpna, ctxFor(resourceId, type));
  expectChange(plan);
  return { current, plan, verified: verified! };
}

function pnaOf(r: ArmResource | undefined): unknown {
  return (r?.properties as Record<string, unknown> | undefined)?.publicNetworkAccess;
}

beforeEach(() => {
  env.sim.clearFaults();
});

describe("registration and params", () => {
  it("is registered under its contract name and supports exactly the five types (case-insensitive)", () => {
    expect(builtinRegistry().get(KIND)).toBe(dpna);
    for (const t of Object.values(T)) {
      expect(dpna.supports(t)).toBe(true);
      expect(dpna.supports(t.toLowerCase())).toBe(true);
    }
    expect(dpna.supports("Microsoft.Network/networkSecurityGroups")).toBe(false);
    expect(dpna.supports("Microsoft.KeyVault/vaults/secrets")).toBe(false);
    expect(dpna.supports("Microsoft.MachineLearningServices/workspaces/computes")).toBe(false);
  });

  it("takes a strict empty params object", () => {
    expect(dpna.paramsSchema.parse({})).toEqual({});
    const bad = dpna.paramsSchema.safeParse({ force: true });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.code).toBe("unrecognized_keys");
  });

  it("refuses an unsupported or malformed target at step read, without calling Azure", async () => {
    const before = env.sim.requests().length;
    const nsg = `${PROV}/Microsoft.Network/networkSecurityGroups/nsg1`;
    const e1 = await remediationFailure(dpna.read(ctxFor(nsg, "Microsoft.Network/networkSecurityGroups")));
    expect(e1).toMatchObject({
      code: "UnsupportedResourceType",
      step: "read",
      resourceId: nsg,
      retryable: false,
    });
    const e2 = await remediationFailure(dpna.read(ctxFor("/subscriptions/x/../y", T.ws)));
    expect(e2).toMatchObject({ code: "InvalidResourceId", step: "read", retryable: false });
    expect(env.sim.requests().length).toBe(before);
  });
});

describe("apply on each supported type", () => {
  const cases = [
    { type: T.ws, id: wsId("ws-open"), api: "2024-04-01", tags: { env: "prod", owner: "ml-team" } },
    {
      type: T.ep,
      id: epId("ws-open", "ep-open"),
      api: "2024-04-01",
      tags: { app: "scoring", costCenter: "cc-42" },
    },
    { type: T.st, id: stId("stopen"), api: "2023-05-01", tags: { data: "training" } },
    { type: T.kv, id: kvId("kv-open"), api: "2023-07-01", tags: { secrets: "ml" } },
    { type: T.cog, id: cogId("oai-open"), api: "2024-10-01", tags: { model: "gpt-4o" } },
  ];

  it.each(cases)("$type: Enabled → Disabled with exactly one write, verified by read-back", async (c) => {
    const writesBefore = writesTo(c.id).length;
    const { current, plan, verified } = await remediate(c.id, c.type);

    expect(current.state.publicNetworkAccess).toBe("Enabled");
    expect(current.state.resourceType).toBe(c.type);
    // The endpoint inherits its workspace's tags, its own win.
    expect(current.tags).toEqual(
      c.type === T.ep ? { env: "prod", owner: "ml-team", app: "scoring", costCenter: "cc-42" } : c.tags,
    );
    const expected: Change[] = [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }];
    if (c.type === T.st) expected.push({ path: "properties.allowBlobPublicAccess", from: true, to: false });
    expect(plan.changes).toEqual(expected);
    expect(plan.summary).toContain(c.id.split("/").pop()!);
    expect(verified).toEqual({ ok: true });

    expect(writesTo(c.id).length - writesBefore).toBe(1);
    // The documented wire call: a PATCH carrying only the changed properties; a PUT of the whole endpoint.
    const write = writesTo(c.id).at(-1)!;
    // If-Match carries the etag read before the write — on the write only, never on the LRO polls
    // or the final GET that follow it.
    expect(write.headers["if-match"]).toBeTruthy();
    if (c.type !== T.ep) expect(write.headers["if-match"]).toBe(current.state.etag);
    const after = env.sim.requests().filter((r) => r.seq > write.seq);
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) expect(r.headers["if-match"]).toBeUndefined();
    if (c.type === T.ep) {
      expect(write.method).toBe("PUT");
    } else {
      expect(write.method).toBe("PATCH");
      expect(write.body).toEqual({
        properties:
          c.type === T.st
            ? { publicNetworkAccess: "Disabled", allowBlobPublicAccess: false }
            : { publicNetworkAccess: "Disabled" },
      });
    }
    const stored = env.sim.getResource(c.id);
    expect(pnaOf(stored)).toBe("Disabled");
    const viaHttps = await armGet(c.id, c.api);
    expect(viaHttps.status).toBe(200);
    expect(pnaOf(viaHttps.body)).toBe("Disabled");
    if (c.type === T.st) {
      expect((viaHttps.body.properties as Record<string, unknown>).allowBlobPublicAccess).toBe(false);
    }
    // Tags are untouched by the remediation.
    expect(tagsOf(viaHttps.body)).toEqual(c.tags);

    // Running it again finds nothing to do.
    const again = await planFor(c.id, c.type);
    expect(again.plan).toEqual({ action: "noop", reason: "public network access already disabled" });
  });

  it("the online endpoint PUT keeps every other field of the endpoint", async () => {
    const id = epId("ws-open", "ep-full");
    const original = SEED_RESOURCES.find((r) => r.id === id)!;
    const before = env.sim.getResource(id)!;
    expect(pnaOf(before)).toBe("Enabled");
    await remediate(id, T.ep);
    const after = env.sim.getResource(id)!;
    const strip = (r: ArmResource) => {
      const { etag: _e, systemData: _s, ...rest } = r;
      const {
        publicNetworkAccess: _p,
        provisioningState: _ps,
        ...props
      } = (rest.properties ?? {}) as Record<string, unknown>;
      return { ...rest, properties: props };
    };
    expect(strip(after)).toEqual(strip(original));
    const put = writesTo(id).at(-1)!;
    expect(put.method).toBe("PUT");
    expect(put.body).toMatchObject({
      location: "westeurope",
      kind: "Managed",
      tags: { app: "scoring", costCenter: "cc-42" },
      identity: { type: "SystemAssigned" },
      properties: {
        authMode: "Key",
        description: "scoring endpoint for the churn model",
        traffic: { blue: 90, green: 10 },
        properties: { team: "ds" },
        publicNetworkAccess: "Disabled",
      },
    });
  });
});

describe("already compliant: noop, zero writes", () => {
  it.each([
    { type: T.ws, id: wsId("ws-closed") },
    { type: T.ep, id: epId("ws-closed", "ep-closed") },
    { type: T.st, id: stId("stclosed") },
    { type: T.kv, id: kvId("kv-closed") },
    { type: T.cog, id: cogId("oai-closed") },
  ])("$type", async (c) => {
    const writesBefore = env.sim.writes().length;
    const { plan, current } = await planFor(c.id, c.type);
    expect(plan).toEqual({ action: "noop", reason: "public network access already disabled" });
    expect(changesFor(current.state)).toEqual([]);
    expect(env.sim.writes().length).toBe(writesBefore);
  });

  it("Key Vault's lower-case 'disabled' counts as disabled", async () => {
    const { current, plan } = await planFor(kvId("kv-closed"), T.kv);
    expect(current.state.publicNetworkAccess).toBe("disabled");
    expect(plan.action).toBe("noop");
  });
});

describe("companion flags and defaults", () => {
  it("storage already private but with anonymous blob access: only allowBlobPublicAccess changes", async () => {
    const id = stId("stblobonly");
    const { plan } = await remediate(id, T.st);
    expect(plan.changes).toEqual([{ path: "properties.allowBlobPublicAccess", from: true, to: false }]);
    const after = env.sim.getResource(id)!.properties!;
    expect(after.allowBlobPublicAccess).toBe(false);
    expect(after.publicNetworkAccess).toBe("Disabled");
  });

  it("absent properties (ARM default: enabled) are planned from null", async () => {
    const id = stId("stdefaults");
    const { plan } = await remediate(id, T.st);
    expect(plan.changes).toEqual([
      { path: "properties.publicNetworkAccess", from: null, to: "Disabled" },
      { path: "properties.allowBlobPublicAccess", from: null, to: false },
    ]);
    expect(env.sim.getResource(id)!.properties).toMatchObject({
      publicNetworkAccess: "Disabled",
      allowBlobPublicAccess: false,
      minimumTlsVersion: "TLS1_2",
    });
  });

  it("Key Vault: network ACLs (IP rules, default action) are left as they were", async () => {
    const acls = env.sim.getResource(kvId("kv-open"))!.properties!.networkAcls;
    expect(acls).toEqual({
      bypass: "AzureServices",
      defaultAction: "Allow",
      ipRules: [{ value: "203.0.113.0/24" }],
    });
  });

  it("an endpoint inherits its workspace's opt-out tag", async () => {
    const { current, plan } = await planFor(epId("ws-parent", "ep-child"), T.ep);
    expect(current.tags["driftguard:exclude"]).toBe("true");
    expect(current.tags.app).toBe("scoring");
    expect(current.tags.env).toBe("dev");
    expect(plan.action).toBe("change");
  });
});

describe("faults", () => {
  it("a 429 with Retry-After: 1 on the PATCH recovers through the SDK's retry", async () => {
    const id = cogId("oai-throttled");
    const { ctx, plan } = await planFor(id, T.cog);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: id, status: 429, retryAfter: 1, count: 1 });
    const started = Date.now();
    await dpna.apply(plan, ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(requestsTo(id, "PATCH").length).toBe(2);
    expect(writesTo(id).length).toBe(1);
    expect(pnaOf(env.sim.getResource(id))).toBe("Disabled");
    expect(await dpna.verify(plan, ctx)).toEqual({ ok: true });
  });

  it("a 429 with Retry-After on the modular Storage client's PATCH recovers too", async () => {
    const id = stId("stthrottled");
    const { ctx, plan } = await planFor(id, T.st);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: id, status: 429, retryAfter: 1, count: 1 });
    const started = Date.now();
    await dpna.apply(plan, ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(requestsTo(id, "PATCH").length).toBe(2);
    expect(writesTo(id).length).toBe(1);
    expect(env.sim.getResource(id)!.properties).toMatchObject({
      publicNetworkAccess: "Disabled",
      allowBlobPublicAccess: false,
    });
  });

  it("a 503 once on the Key Vault PATCH recovers", async () => {
    const id = kvId("kv-flaky");
    const { ctx, plan } = await planFor(id, T.kv);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: id, status: 503, count: 1 });
    await dpna.apply(plan, ctx);
    expect(requestsTo(id, "PATCH").length).toBe(2);
    expect(writesTo(id).length).toBe(1);
    expect(pnaOf(env.sim.getResource(id))).toBe("Disabled");
  });

  it("a 500 once on the PATCH recovers", async () => {
    const id = wsId("ws-flaky");
    const { ctx, plan } = await planFor(id, T.ws);
    expectChange(plan);
    env.sim.addFault({ method: "PATCH", path: id, status: 500, count: 1 });
    await dpna.apply(plan, ctx);
    expect(requestsTo(id, "PATCH").length).toBe(2);
    expect(writesTo(id).length).toBe(1);
    expect(pnaOf(env.sim.getResource(id))).toBe("Disabled");
  });

  it.each([
    { status: 403, type: T.cog, id: cogId("oai-forbidden"), code: "AuthorizationFailed" },
    { status: 400, type: T.st, id: stId("stbadrequest"), code: "BadRequest" },
    { status: 403, type: T.kv, id: kvId("kv-forbidden"), code: "AuthorizationFailed" },
  ])("a permanent $status on $type → RemediationError step apply, resource unchanged", async (c) => {
    const { ctx, plan } = await planFor(c.id, c.type);
    expectChange(plan);
    const before = env.sim.getResource(c.id);
    env.sim.addFault({ method: "PATCH", path: c.id, status: c.status, count: -1 });
    const err = await remediationFailure(dpna.apply(plan, ctx));
    expect(err).toMatchObject({
      step: "apply",
      resourceId: c.id,
      statusCode: c.status,
      retryable: false,
      code: c.code,
    });
    expect(env.sim.getResource(c.id)).toEqual(before);
    expect(pnaOf(env.sim.getResource(c.id))).toBe("Enabled");
    expect(writesTo(c.id).length).toBe(0);
    // No retries on a permanent 4xx.
    expect(requestsTo(c.id, "PATCH").length).toBe(1);
  });

  it("a PATCH that answers provisioningState Failed → RemediationError ProvisioningFailed at step apply", async () => {
    const id = wsId("ws-failed");
    const { ctx, plan } = await planFor(id, T.ws);
    expectChange(plan);
    const failed = { ...workspace("ws-failed", "Disabled"), properties: { provisioningState: "Failed" } };
    env.sim.addFault({ method: "PATCH", path: id, status: 200, body: failed, count: 1 });
    const err = await remediationFailure(dpna.apply(plan, ctx));
    expect(err).toMatchObject({ code: "ProvisioningFailed", step: "apply", resourceId: id });
  });

  it("a long-running operation ending Failed → RemediationError at step apply, resource unchanged", async () => {
    const id = cogId("oai-failed");
    const { ctx, plan } = await planFor(id, T.cog);
    expectChange(plan);
    const before = env.sim.getResource(id);
    // The simulator runs writes as ARM does (PATCH → 200 + Azure-AsyncOperation); the operation
    // status then reports Failed.
    env.sim.addFault({
      method: "GET",
      path: "/operationStatuses/",
      status: 200,
      body: { status: "Failed", error: { code: "InternalError", message: "provisioning failed" } },
      count: -1,
    });
    const err = await remediationFailure(dpna.apply(plan, ctx));
    expect(err).toMatchObject({ code: "OperationFailed", step: "apply", resourceId: id, retryable: true });
    expect(err.message).toContain("provisioning failed");
    expect(requestsTo(id, "PATCH").length).toBe(1);
    expect(
      env.sim.requests({ method: "GET", pathIncludes: "/operationStatuses/" }).length,
    ).toBeGreaterThanOrEqual(1);
    expect(env.sim.getResource(id)).toEqual(before);
  });

  it("a long-running operation ending Canceled → RemediationError OperationCanceled at step apply", async () => {
    const id = wsId("ws-canceled");
    const { ctx, plan } = await planFor(id, T.ws);
    expectChange(plan);
    env.sim.addFault({
      method: "GET",
      path: "/operationStatuses/",
      status: 200,
      body: { status: "Canceled" },
      count: -1,
    });
    const err = await remediationFailure(dpna.apply(plan, ctx));
    expect(err).toMatchObject({ code: "OperationCanceled", step: "apply", resourceId: id });
    expect(pnaOf(env.sim.getResource(id))).toBe("Enabled");
  });

  it.each([
    { type: T.cog, id: cogId("oai-gone"), api: "2024-10-01" },
    { type: T.ep, id: epId("ws-open", "ep-gone"), api: "2024-04-01" },
    { type: T.kv, id: kvId("kv-gone"), api: "2023-07-01" },
  ])("$type deleted between read and apply → 404 RemediationError at step apply", async (c) => {
    const { ctx, plan } = await planFor(c.id, c.type);
    expectChange(plan);
    expect([200, 202, 204]).toContain(await armDelete(c.id, c.api));
    const err = await remediationFailure(dpna.apply(plan, ctx));
    expect(err).toMatchObject({ step: "apply", resourceId: c.id, statusCode: 404, retryable: false });
    expect(env.sim.getResource(c.id)).toBeUndefined();
  });

  it("a missing resource fails at step read with 404", async () => {
    const id = cogId("does-not-exist");
    const err = await remediationFailure(dpna.read(ctxFor(id, T.cog)));
    expect(err).toMatchObject({ step: "read", resourceId: id, statusCode: 404 });
  });

  it("a resource changed after read is not overwritten: If-Match → 412, retryable", async () => {
    const id = cogId("oai-raced");
    const { ctx, current, plan } = await planFor(id, T.cog);
    expectChange(plan);
    expect(current.state.etag).toBeTruthy();
    expect(plan.data.etag).toBe(current.state.etag);
    // Someone else writes the resource (new etag) before we apply.
    env.sim.putResource({
      ...env.sim.getResource(id)!,
      tags: { model: "gpt-4o", changedBy: "someone-else" },
    });
    const err = await remediationFailure(dpna.apply(plan, ctx));
    expect(err).toMatchObject({
      code: "PreconditionFailed",
      step: "apply",
      statusCode: 412,
      retryable: true,
    });
    expect(pnaOf(env.sim.getResource(id))).toBe("Enabled");
    // A redelivery re-reads and succeeds.
    const { verified } = await remediate(id, T.cog);
    expect(verified.ok).toBe(true);
    expect(env.sim.getResource(id)!.tags).toEqual({ model: "gpt-4o", changedBy: "someone-else" });
  });

  it("verify reports a resource that is still public, and a read failure at step verify", async () => {
    const id = wsId("ws-verify");
    const { ctx, plan } = await planFor(id, T.ws);
    expectChange(plan);
    expect(await dpna.verify(plan, ctx)).toEqual({
      ok: false,
      detail: 'properties.publicNetworkAccess is "Enabled", expected "Disabled"',
    });
    env.sim.addFault({ method: "GET", path: id, status: 403, count: -1 });
    const err = await remediationFailure(dpna.verify(plan, ctx));
    expect(err).toMatchObject({ step: "verify", resourceId: id, statusCode: 403 });
  });
});

describe("arm-helpers", () => {
  it("classicIfMatchOnce exposes If-Match to the first request only", () => {
    const opts = classicIfMatchOnce('W/"abc"');
    const headers = opts.requestOptions!.customHeaders;
    expect(Object.keys(headers)).toEqual(["If-Match"]);
    expect(headers["If-Match"]).toBe('W/"abc"');
    expect(Object.keys(headers)).toEqual([]);
    expect(classicIfMatchOnce(undefined)).toEqual({});
  });

  it("state never carries more than the decision fields", async () => {
    const { current } = await planFor(cogId("oai-closed"), T.cog);
    const keys = Object.keys(current.state as PublicNetworkAccessState).sort();
    expect(keys).toEqual(["etag", "provisioningState", "publicNetworkAccess", "resourceId", "resourceType"]);
  });
});

describe("against a simulator that completes writes at once (lro: sync)", () => {
  let syncSim: Sim;
  let syncClients: AzureClients;
  const cases = [
    { type: T.ws, res: workspace("sws", "Enabled") },
    { type: T.ep, res: endpoint("sws", "sep", "Enabled") },
    { type: T.st, res: storage("ssync", "Enabled", true) },
    { type: T.kv, res: vault("s-kv", "Enabled") },
    { type: T.cog, res: cognitive("s-oai", "Enabled") },
  ];

  beforeAll(async () => {
    syncSim = await startAzureSimulator({
      port: 0,
      tls: env.tls,
      seed: { resources: cases.map((c) => c.res) },
      lro: "sync",
    });
    syncClients = new AzureClients({ ...env.clients.settings, armEndpoint: syncSim.url });
  });

  afterAll(async () => {
    await syncSim?.close();
  });

  it.each(cases)("$type: Disabled after one write, no polling", async (c) => {
    const ctx = { ...ctxFor(c.res.id, c.type), clients: syncClients };
    const plan = await dpna.plan(await dpna.read(ctx), ctx);
    expectChange(plan);
    await dpna.apply(plan, ctx);
    expect(await dpna.verify(plan, ctx)).toEqual({ ok: true });
    expect(syncSim.writes().filter((w) => w.path.toLowerCase() === c.res.id.toLowerCase()).length).toBe(1);
    expect(syncSim.requests({ pathIncludes: "/operationStatuses/" })).toEqual([]);
    expect(pnaOf(syncSim.getResource(c.res.id))).toBe("Disabled");
  });
});

describe("through the pipeline (harness)", () => {
  const POLICY_YAML = `
version: 1
policies:
  - name: ai-private
    description: AI resources are never reachable from the Internet
    resourceTypes:
      - Microsoft.MachineLearningServices/workspaces
      - Microsoft.MachineLearningServices/workspaces/onlineEndpoints
      - Microsoft.Storage/storageAccounts
      - Microsoft.KeyVault/vaults
      - Microsoft.CognitiveServices/accounts
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: disable-public-network-access
    params: {}
    mode: enforce
`;
  const targets = [
    { type: T.ws, id: wsId("hws"), res: workspace("hws", "Enabled") },
    { type: T.ep, id: epId("hws", "hep"), res: endpoint("hws", "hep", "Enabled") },
    { type: T.st, id: stId("hstorage"), res: storage("hstorage", "Enabled", true) },
    { type: T.kv, id: kvId("h-kv"), res: vault("h-kv", "Enabled") },
    { type: T.cog, id: cogId("h-oai"), res: cognitive("h-oai", "Enabled") },
  ];
  const expectedChanges = (type: string): Change[] => [
    { path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" },
    ...(type === T.st ? [{ path: "properties.allowBlobPublicAccess", from: true, to: false }] : []),
  ];
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      seed: {
        resources: [
          ...targets.map((t) => t.res),
          workspace("hws-excluded", "Disabled", { "driftguard:exclude": "true" }),
          endpoint("hws-excluded", "hep-excluded", "Enabled"),
          cognitive("h-oai-denied", "Enabled"),
          storage("hdry", "Enabled", true),
          cognitive("h-oai-dry", "Enabled"),
        ],
      },
      policies: POLICY_YAML,
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("five resource types end Disabled with one remediated record each, then compliant on the echo", async () => {
    for (const t of targets) {
      const writesBefore = h.sim.writes().length;
      const [decision] = await h.handle(signalFor(t.id, t.type));
      expect(decision).toMatchObject({
        outcome: "remediated",
        kind: KIND,
        policy: "ai-private",
        retry: false,
      });
      expect(decision!.record).toMatchObject({
        outcome: "remediated",
        kind: KIND,
        policy: "ai-private",
        mode: "enforce",
        resourceId: t.id,
        resourceType: t.type,
        subscriptionId: SUB,
        changes: expectedChanges(t.type),
      });
      expect(h.sim.writes().length - writesBefore).toBe(1);
      expect(pnaOf(h.sim.getResource(t.id))).toBe("Disabled");

      // Our own write raises another ResourceWriteSuccess: it finds the resource compliant and writes nothing.
      const [echo] = await h.handle(signalFor(t.id, t.type));
      expect(echo).toMatchObject({ outcome: "compliant", reason: "public network access already disabled" });
      expect(h.sim.writes().length - writesBefore).toBe(1);
    }
    const records = (await h.records()).filter((r) => targets.some((t) => t.id === r.resourceId));
    expect(records.map((r) => r.outcome)).toEqual(targets.flatMap(() => ["remediated", "compliant"]));
    expect(records.filter((r) => r.outcome === "compliant").every((r) => r.changes.length === 0)).toBe(true);
  });

  it("a duplicate delivery yields no record and no write", async () => {
    const signal = signalFor(cogId("h-oai"), T.cog);
    const [first] = await h.handle(signal);
    expect(first!.outcome).toBe("compliant");
    const recordsBefore = (await h.records()).length;
    const writesBefore = h.sim.writes().length;
    const [dup] = await h.handle(signal);
    expect(dup!.outcome).toBe("duplicate");
    expect((await h.records()).length).toBe(recordsBefore);
    expect(h.sim.writes().length).toBe(writesBefore);
  });

  it("an endpoint under an opted-out workspace is excluded and left public", async () => {
    const id = epId("hws-excluded", "hep-excluded");
    const [d] = await h.handle(signalFor(id, T.ep));
    expect(d).toMatchObject({ outcome: "excluded" });
    expect(pnaOf(h.sim.getResource(id))).toBe("Enabled");
    expect(h.sim.writes().filter((w) => w.path.toLowerCase() === id.toLowerCase())).toEqual([]);
  });

  it("dry-run records the exact changes and writes nothing", async () => {
    const dry = await startHarness({ seed: {}, policies: POLICY_YAML, mode: "dry-run", sim: h.sim });
    try {
      for (const [id, type] of [
        [stId("hdry"), T.st],
        [cogId("h-oai-dry"), T.cog],
      ] as const) {
        const writesBefore = h.sim.writes().length;
        const [d] = await dry.handle(signalFor(id, type));
        expect(d).toMatchObject({ outcome: "dry-run", mode: "dry-run", changes: expectedChanges(type) });
        expect(d!.record).toMatchObject({
          outcome: "dry-run",
          mode: "dry-run",
          resourceId: id,
          changes: expectedChanges(type),
        });
        expect(h.sim.writes().length).toBe(writesBefore);
        expect(pnaOf(h.sim.getResource(id))).toBe("Enabled");
      }
    } finally {
      await dry.close();
    }
  });

  it("a permanent 403 on the write → failed record naming step apply, with the planned changes", async () => {
    const id = cogId("h-oai-denied");
    h.sim.addFault({ method: "PATCH", path: id, status: 403, count: -1 });
    try {
      const [d] = await h.handle(signalFor(id, T.cog));
      expect(d).toMatchObject({ outcome: "failed", retry: false });
      expect(d!.record).toMatchObject({
        outcome: "failed",
        resourceId: id,
        changes: expectedChanges(T.cog),
        error: { code: "AuthorizationFailed", step: "apply" },
      });
      expect(pnaOf(h.sim.getResource(id))).toBe("Enabled");
    } finally {
      h.sim.clearFaults();
    }
  });
});
