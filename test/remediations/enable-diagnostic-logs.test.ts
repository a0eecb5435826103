/**
 * `enable-diagnostic-logs` against the HTTPS Azure simulator with the real clients (diagnostic
 * settings over REST at 2021-05-01-preview): a missing setting is created with one PUT on each
 * supported type (Storage: on its blob service), an existing one pointing elsewhere or missing a
 * group is corrected and keeps what else it had, a foreign setting is never touched, a deleted
 * setting is back within the one delete event (parsed from a real Event Grid payload: its
 * extension resource ID maps to the resource, whose tags decide opt-out); diagnostic settings have
 * no ETag, so the setting is read again right before the PUT; failures name their step.
 */
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { armWriteEvent } from "../../dev/arm-event-builder.js";
import type { ArmResource } from "../../dev/azure-sim/index.js";
import type { Policy } from "../../shared/policy/schema.js";
import { decideLogs, settingView } from "../../shared/remediations/enable-diagnostic-logs/compliance.js";
import { remediation as edl, KIND } from "../../shared/remediations/enable-diagnostic-logs/kind.js";
import { parseEventGridDelivery } from "../../shared/signals/eventgrid.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { expectChange, kindContext, planOnly, remediationFailure, runKind } from "./kind-run.js";
import { useKindSimulator } from "./kind-sim.js";
import {
  apimService,
  armSignal,
  cognitive,
  cosmos,
  diagnosticSetting,
  ids,
  mlWorkspace,
  requestsTo,
  storage,
  T,
  vault,
  writesTo,
} from "./resource-fixtures.js";

const SUB = "00000000-0000-0000-0000-0000000000e3";
const id = ids(SUB, "rg-logs");
const LAW = id.workspace("law-security");
const OTHER_LAW = id.workspace("law-elsewhere");
const API = "2021-05-01-preview";
const setting = (scope: string, name = "driftguard") =>
  `${scope}/providers/Microsoft.Insights/diagnosticSettings/${name}`;
const blob = (accountId: string) => `${accountId}/blobServices/default`;

const POLICY: Policy = {
  name: "audit-logs-on",
  resourceTypes: [T.kv, T.cog, T.ws, T.apim, T.cosmos, T.st, T.blob],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: { workspaceId: LAW },
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 50,
};

const FOREIGN = {
  workspaceId: OTHER_LAW,
  logs: [{ category: "AuditEvent", enabled: true }],
  metrics: [{ category: "AllMetrics", enabled: true }],
};

const SEED: ArmResource[] = [
  vault(id.kv("kv-logs")),
  cognitive(id.cog("oai-logs")),
  mlWorkspace(id.ws("mlw-logs")),
  apimService(id.apim("apim-logs")),
  cosmos(id.cosmos("cosmos-logs")),
  storage(id.st("stlogs")),
  storage(id.st("stblobevent")),
  vault(id.kv("kv-compliant")),
  diagnosticSetting(id.kv("kv-compliant"), "driftguard", {
    workspaceId: LAW,
    logs: [{ categoryGroup: "audit", enabled: true }],
  }),
  vault(id.kv("kv-elsewhere")),
  diagnosticSetting(id.kv("kv-elsewhere"), "driftguard", {
    workspaceId: OTHER_LAW,
    logs: [
      { categoryGroup: "audit", enabled: false },
      { categoryGroup: "allLogs", enabled: false },
    ],
    metrics: [{ category: "AllMetrics", enabled: true }],
  }),
  vault(id.kv("kv-foreign")),
  diagnosticSetting(id.kv("kv-foreign"), "ops-team", FOREIGN),
  vault(id.kv("kv-covered")),
  diagnosticSetting(id.kv("kv-covered"), "secops", {
    workspaceId: LAW,
    logs: [{ categoryGroup: "allLogs", enabled: true }],
  }),
  vault(id.kv("kv-raced")),
  vault(id.kv("kv-throttled")),
  vault(id.kv("kv-forbidden")),
  vault(id.kv("kv-flaky")),
];

const env = useKindSimulator(() => ({ resources: SEED }));

const ctxFor = (resourceId: string, type: string, params: unknown = POLICY.params) =>
  kindContext(edl, armSignal(resourceId, type, SUB), { policy: POLICY, params, clients: env.clients });

const planFor = (resourceId: string, type: string, params?: unknown) =>
  planOnly(edl, ctxFor(resourceId, type, params));

const AUDIT_TO_LAW = { workspaceId: LAW, logs: [{ categoryGroup: "audit", enabled: true }] };

describe("a missing setting is created with one PUT", () => {
  it.each([
    { type: T.kv, rid: id.kv("kv-logs"), scope: id.kv("kv-logs"), prefix: "" },
    { type: T.cog, rid: id.cog("oai-logs"), scope: id.cog("oai-logs"), prefix: "" },
    { type: T.ws, rid: id.ws("mlw-logs"), scope: id.ws("mlw-logs"), prefix: "" },
    { type: T.apim, rid: id.apim("apim-logs"), scope: id.apim("apim-logs"), prefix: "" },
    { type: T.cosmos, rid: id.cosmos("cosmos-logs"), scope: id.cosmos("cosmos-logs"), prefix: "" },
    { type: T.st, rid: id.st("stlogs"), scope: blob(id.st("stlogs")), prefix: "blobServices/default/" },
    {
      type: T.blob,
      rid: blob(id.st("stblobevent")),
      scope: blob(id.st("stblobevent")),
      prefix: "",
    },
  ])("$type", async (c) => {
    const run = await runKind(edl, ctxFor(c.rid, c.type));
    expect(run.changes).toEqual([
      {
        path: `${c.prefix}diagnosticSettings[driftguard]`,
        from: null,
        to: { workspaceId: LAW, categoryGroups: ["audit"] },
      },
    ]);
    expect(run.verified).toEqual({ ok: true });
    const writes = env.sim.writes().filter((w) => w.path.toLowerCase().startsWith(c.rid.toLowerCase()));
    expect(writes.map((w) => [w.method, w.path, w.apiVersion, w.body])).toEqual([
      ["PUT", setting(c.scope), API, { properties: AUDIT_TO_LAW }],
    ]);
    expect(env.sim.getResource(setting(c.scope))!.properties).toMatchObject(AUDIT_TO_LAW);
    // The resource itself is never written.
    expect(writesTo(env.sim, c.rid)).toEqual([]);
    expect((await planFor(c.rid, c.type)).plan).toEqual({
      action: "noop",
      reason: "diagnostic setting 'driftguard' already sends audit logs to the workspace",
    });
  });
});

describe("existing settings", () => {
  it("compliant: noop, zero writes", async () => {
    const before = env.sim.writes().length;
    const { plan } = await planFor(id.kv("kv-compliant"), T.kv);
    expect(plan.action).toBe("noop");
    expect(env.sim.writes().length).toBe(before);
  });

  it("ours pointing elsewhere and missing a group is corrected; its metrics and other entries stay", async () => {
    const rid = id.kv("kv-elsewhere");
    const run = await runKind(edl, ctxFor(rid, T.kv, { workspaceId: LAW, categoryGroups: ["audit"] }));
    expect(run.changes).toEqual([
      { path: "diagnosticSettings[driftguard].properties.workspaceId", from: OTHER_LAW, to: LAW },
      { path: "diagnosticSettings[driftguard].properties.logs[audit].enabled", from: false, to: true },
    ]);
    expect(run.verified).toEqual({ ok: true });
    // Written back as read: each entry with the retention policy ARM shows (off).
    const noRetention = { retentionPolicy: { enabled: false, days: 0 } };
    expect(env.sim.getResource(setting(rid))!.properties).toEqual({
      workspaceId: LAW,
      logs: [
        { categoryGroup: "audit", enabled: true, ...noRetention },
        { categoryGroup: "allLogs", enabled: false, ...noRetention },
      ],
      metrics: [{ category: "AllMetrics", enabled: true, ...noRetention }],
      provisioningState: "Succeeded",
    });
    // allLogs wanted too: the group is enabled on the next run, nothing else changes.
    const more = await runKind(
      edl,
      ctxFor(rid, T.kv, { workspaceId: LAW, categoryGroups: ["audit", "allLogs"] }),
    );
    expect(more.changes).toEqual([
      { path: "diagnosticSettings[driftguard].properties.logs[allLogs].enabled", from: false, to: true },
    ]);
    expect(writesTo(env.sim, setting(rid))).toHaveLength(2);
  });

  it("a foreign setting is left untouched, ours is created beside it", async () => {
    const rid = id.kv("kv-foreign");
    const foreignBefore = env.sim.getResource(setting(rid, "ops-team"));
    await runKind(edl, ctxFor(rid, T.kv));
    expect(env.sim.getResource(setting(rid, "ops-team"))).toEqual(foreignBefore);
    expect(writesTo(env.sim, setting(rid, "ops-team"))).toEqual([]);
    expect(env.sim.getResource(setting(rid))!.properties).toMatchObject(AUDIT_TO_LAW);
  });

  it("another setting already sending the groups to the workspace: noop naming it (Azure refuses a duplicate)", async () => {
    const { plan } = await planFor(id.kv("kv-covered"), T.kv);
    expect(plan).toEqual({
      action: "noop",
      reason: "diagnostic setting 'secops' already sends audit logs to the workspace",
    });
    expect(writesTo(env.sim, setting(id.kv("kv-covered")))).toEqual([]);
  });

  it("the decision is a pure function of the listed settings", () => {
    const want = { workspaceId: LAW, categoryGroups: ["audit"] as const, settingName: "driftguard" };
    expect(decideLogs([], want)).toMatchObject({ compliant: false });
    expect(
      decideLogs(
        [
          settingView({
            name: "DriftGuard",
            properties: {
              workspaceId: LAW.toUpperCase(),
              logs: [{ categoryGroup: "allLogs", enabled: true }],
            },
          }),
        ],
        want,
      ),
    ).toEqual({ compliant: true, by: "DriftGuard" });
    // A per-category setting does not count as the category group.
    expect(
      decideLogs(
        [
          settingView({
            name: "x",
            properties: { workspaceId: LAW, logs: [{ category: "AuditEvent", enabled: true }] },
          }),
        ],
        want,
      ),
    ).toMatchObject({ compliant: false });
  });

  it("params: workspaceId must be a Log Analytics workspace; groups audit/allLogs; defaults", () => {
    expect(edl.paramsSchema.parse({ workspaceId: LAW })).toEqual({
      workspaceId: LAW,
      categoryGroups: ["audit"],
      settingName: "driftguard",
    });
    expect(edl.paramsSchema.safeParse({}).success).toBe(false);
    expect(edl.paramsSchema.safeParse({ workspaceId: id.kv("kv-logs") }).success).toBe(false);
    expect(edl.paramsSchema.safeParse({ workspaceId: LAW, categoryGroups: ["metrics"] }).success).toBe(false);
    expect(edl.paramsSchema.safeParse({ workspaceId: LAW, categoryGroups: ["audit", "audit"] }).success).toBe(
      false,
    );
    expect(edl.paramsSchema.safeParse({ workspaceId: LAW, settingName: "a/b" }).success).toBe(false);
  });
});

describe("no ETag: the setting is read again right before the PUT", () => {
  it("a setting created by someone else since the plan stops the write (ResourceChanged, retryable)", async () => {
    const rid = id.kv("kv-raced");
    const { ctx, plan } = await planFor(rid, T.kv);
    expectChange(plan);
    env.sim.putResource(diagnosticSetting(rid, "driftguard", { workspaceId: OTHER_LAW, logs: [] }));
    env.sim.clearRequests();
    const err = await remediationFailure(edl.apply(plan, ctx));
    expect(err).toMatchObject({ code: "ResourceChanged", step: "apply", retryable: true, resourceId: rid });
    expect(requestsTo(env.sim, setting(rid)).map((r) => r.method)).toEqual(["GET"]);
    // The redelivery re-plans from the new state: a correction, read-then-PUT.
    env.sim.clearRequests();
    const again = await runKind(edl, ctxFor(rid, T.kv));
    expect(again.changes!.map((c) => c.path)).toEqual([
      "diagnosticSettings[driftguard].properties.workspaceId",
      "diagnosticSettings[driftguard].properties.logs[audit].enabled",
    ]);
    expect(requestsTo(env.sim, setting(rid)).map((r) => r.method)).toEqual(["GET", "PUT", "GET"]);
  });
});

describe("failures", () => {
  it("a 429 with Retry-After on the PUT recovers through the pipeline's retry", async () => {
    const rid = id.kv("kv-throttled");
    const { ctx, plan } = await planFor(rid, T.kv);
    expectChange(plan);
    env.sim.addFault({ method: "PUT", path: setting(rid), status: 429, retryAfter: 1, count: 1 });
    await edl.apply(plan, ctx);
    expect(requestsTo(env.sim, setting(rid), "PUT").map((r) => r.status)).toEqual([429, 200]);
    expect(await edl.verify(plan, ctx)).toEqual({ ok: true });
  });

  it("a 503 once on the list recovers; a persistent 500 fails at step read, retryable", async () => {
    const rid = id.kv("kv-flaky");
    const list = `${rid}/providers/Microsoft.Insights/diagnosticSettings`;
    env.sim.addFault({ method: "GET", path: `^${list}$`, status: 503, count: 1 });
    const { plan } = await planFor(rid, T.kv);
    expect(plan.action).toBe("change");
    env.sim.addFault({ method: "GET", path: `^${list}$`, status: 500, count: -1 });
    try {
      const err = await remediationFailure(edl.read(ctxFor(rid, T.kv)));
      expect(err).toMatchObject({ step: "read", resourceId: rid, statusCode: 500, retryable: true });
    } finally {
      env.sim.clearFaults();
    }
  });

  it("a permanent 403 on the PUT → RemediationError at step apply, not retried, no setting", async () => {
    const rid = id.kv("kv-forbidden");
    const { ctx, plan } = await planFor(rid, T.kv);
    expectChange(plan);
    env.sim.addFault({ method: "PUT", path: setting(rid), status: 403, count: -1 });
    try {
      const err = await remediationFailure(edl.apply(plan, ctx));
      expect(err).toMatchObject({
        step: "apply",
        statusCode: 403,
        code: "AuthorizationFailed",
        retryable: false,
      });
      expect(requestsTo(env.sim, setting(rid), "PUT")).toHaveLength(1);
      expect(env.sim.getResource(setting(rid))).toBeUndefined();
    } finally {
      env.sim.clearFaults();
    }
  });

  it("a resource that no longer exists is a noop (its own delete event matches the policy too)", async () => {
    const { plan } = await planFor(id.kv("kv-gone"), T.kv);
    expect(plan).toEqual({ action: "noop", reason: "the resource no longer exists: no logs to send" });
  });
});

describe("through the pipeline, from Event Grid payloads", () => {
  const P = ids(SUB, "rg-logs-pipe");
  const policyYaml = (mode: string) => `
version: 1
policies:
  - name: audit-logs-on
    resourceTypes: [${T.kv}, ${T.st}, ${T.blob}]
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
      - eventGrid: Microsoft.Resources.ResourceDeleteSuccess
    kind: enable-diagnostic-logs
    params: { workspaceId: ${LAW} }
    mode: ${mode}
`;
  let h: Harness;

  /** The Signal Event Grid's payload for this event on `resourceUri` parses to. */
  function eventSignal(resourceUri: string, eventType: string): Signal {
    const event = armWriteEvent(resourceUri);
    event.eventType = eventType;
    const verb = eventType.includes("Delete") ? "delete" : "write";
    const data = event.data as Record<string, unknown>;
    data.operationName = `Microsoft.Insights/diagnosticSettings/${verb}`;
    const parsed = parseEventGridDelivery([event], { "content-type": "application/json" });
    if (parsed.kind !== "signals") throw new Error("expected signals");
    return parsed.signals[0]!;
  }

  beforeAll(async () => {
    h = await startHarness({
      seed: {
        resources: [
          vault(P.kv("kv-deleted")),
          diagnosticSetting(P.kv("kv-deleted"), "driftguard", AUDIT_TO_LAW),
          diagnosticSetting(P.kv("kv-deleted"), "ops-team", FOREIGN),
          vault(P.kv("kv-optout"), { "driftguard:exclude": "true" }),
          storage(P.st("stpipe")),
          storage(P.st("stdry")),
        ],
      },
      policies: policyYaml("enforce"),
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("a deleted setting is re-created within its one delete event; the foreign one is untouched", async () => {
    const rid = P.kv("kv-deleted");
    const foreign = h.sim.getResource(setting(rid, "ops-team"));
    // Someone deletes our setting (as in ARM, with any bearer token).
    expect(await deleteSetting(rid)).toBe(200);
    expect(h.sim.getResource(setting(rid))).toBeUndefined();

    const signal = eventSignal(setting(rid), "Microsoft.Resources.ResourceDeleteSuccess");
    expect(signal.targets).toEqual([{ resourceId: rid, resourceType: T.kv, subscriptionId: SUB }]);
    const [d] = await h.handle(signal);
    expect(d).toMatchObject({ outcome: "remediated", kind: KIND });
    expect(d!.record).toMatchObject({
      resourceId: rid,
      resourceType: T.kv,
      changes: [
        {
          path: "diagnosticSettings[driftguard]",
          from: null,
          to: { workspaceId: LAW, categoryGroups: ["audit"] },
        },
      ],
    });
    expect(h.sim.getResource(setting(rid))!.properties).toMatchObject(AUDIT_TO_LAW);
    expect(h.sim.getResource(setting(rid, "ops-team"))).toEqual(foreign);
    // Our own PUT comes back as a write event on the setting: compliant, nothing written.
    const [echo] = await h.handle(eventSignal(setting(rid), "Microsoft.Resources.ResourceWriteSuccess"));
    expect(echo).toMatchObject({ outcome: "compliant" });
    expect(writesTo(h.sim, setting(rid)).map((w) => w.method)).toEqual(["DELETE", "PUT"]);
  });

  it("an event on a setting of an opted-out vault: the vault's tags decide, excluded", async () => {
    const rid = P.kv("kv-optout");
    const [d] = await h.handle(
      eventSignal(setting(rid, "whatever"), "Microsoft.Resources.ResourceDeleteSuccess"),
    );
    expect(d).toMatchObject({ outcome: "excluded" });
    expect(h.sim.writes({ pathIncludes: "kv-optout" })).toEqual([]);
  });

  it("a storage account's blob service setting: the event names the blob service, the account's write event works too", async () => {
    const rid = P.st("stpipe");
    const signal = eventSignal(setting(blob(rid)), "Microsoft.Resources.ResourceDeleteSuccess");
    expect(signal.targets[0]).toMatchObject({ resourceId: blob(rid), resourceType: T.blob });
    const [d] = await h.handle(signal);
    expect(d).toMatchObject({ outcome: "remediated" });
    const [again] = await h.handle(armSignal(rid, T.st, SUB));
    expect(again).toMatchObject({ outcome: "compliant" });
    expect(writesTo(h.sim, setting(blob(rid)))).toHaveLength(1);
  });

  it("dry-run and approval write nothing", async () => {
    const dry = await startHarness({
      seed: {},
      policies: policyYaml("enforce"),
      mode: "dry-run",
      sim: h.sim,
    });
    const approval = await startHarness({ seed: {}, policies: policyYaml("approval"), sim: h.sim });
    try {
      const rid = P.st("stdry");
      const [d] = await dry.handle(armSignal(rid, T.st, SUB));
      expect(d).toMatchObject({ outcome: "dry-run" });
      const [a] = await approval.handle(armSignal(rid, T.st, SUB));
      expect(a).toMatchObject({ outcome: "pending-approval" });
      expect(approval.notifier.requests[0]!.summary).toMatch(
        /Create diagnostic setting 'driftguard'.*blob service/,
      );
      expect(h.sim.writes({ pathIncludes: "stdry" })).toEqual([]);
    } finally {
      await dry.close();
      await approval.close();
    }
  });

  async function deleteSetting(rid: string): Promise<number> {
    const ca = h.tls.cert;
    return new Promise<number>((resolve, reject) => {
      const req = https.request(
        new URL(`${setting(rid)}?api-version=${API}`, h.sim.url),
        { method: "DELETE", ca, headers: { authorization: "Bearer someone" } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }
});
