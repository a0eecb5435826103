/**
 * The simulator against real ARM shapes for what lives on or under another resource: Azure Monitor
 * diagnostic settings (the extension resource `{resourceId}/providers/Microsoft.Insights/
 * diagnosticSettings/{name}`, read and written by driftguard's own REST client) and a storage
 * account's blob service (`…/blobServices/default`). Same method as arm-shapes.test.ts: seed each
 * fixture, read it back raw and as driftguard reads it, write it as driftguard writes it (the kinds
 * enable-diagnostic-logs and protect-model-storage included).
 */
import { describe, expect, it } from "vitest";
import {
  desiredProperties,
  settingView,
} from "../../shared/remediations/enable-diagnostic-logs/compliance.js";
import { remediation as enableDiagnosticLogs } from "../../shared/remediations/enable-diagnostic-logs/kind.js";
import { remediation as protectModelStorage } from "../../shared/remediations/protect-model-storage/kind.js";
import { blobProtectionOf } from "../../shared/remediations/protect-model-storage/protection.js";
import { kindContext, runKind } from "../remediations/kind-run.js";
import { armSignal } from "../remediations/resource-fixtures.js";
import {
  expectedBody,
  loadShapeFixture,
  responseRecorder,
  shapeProblems,
  withoutFields,
} from "./arm-shapes.js";
import { renamed, shapePolicy, useShapeSimulator } from "./shape-sim.js";

const RG = "rg-arm-shapes";
const SUB = "00000000-0000-0000-0000-000000000001";
const settingFixture = loadShapeFixture("diagnostic-setting");
const blobFixture = loadShapeFixture("blob-service");
const vault = expectedBody(loadShapeFixture("key-vault"), "get");
const account = expectedBody(loadShapeFixture("storage-account"), "get");
const WORKSPACE = expectedBody(settingFixture, "createOrUpdate").properties.workspaceId as string;

const { env, raw } = useShapeSimulator(() => {
  const blob = expectedBody(blobFixture, "get");
  return [
    vault,
    renamed(vault, "kv-shapes", "kv-kind"),
    account,
    blob,
    renamed(account, "stshapes001", "stshapes002"),
    renamed(blob, "stshapes001", "stshapes002"),
    renamed(account, "stshapes001", "stshapes003"),
    expectedBody(settingFixture, "get"),
    renamed(expectedBody(settingFixture, "get"), "kv-shapes", "kv-kind"),
  ];
});

describe("diagnostic settings (DiagnosticSettings_Get, _List, _CreateOrUpdate at 2021-05-01-preview)", () => {
  const f = settingFixture;
  const existing = expectedBody(f, "get");
  const settings = `${vault.id}/providers/Microsoft.Insights/diagnosticSettings`;

  it("GET of one and of the list over HTTPS keep every field of the examples; no ETag, no provisioning state", async () => {
    const one = await raw("GET", existing.id, f.sdk.apiVersion);
    expect(one.status).toBe(200);
    expect(shapeProblems(existing, one.body)).toEqual([]);
    expect(one.headers.etag).toBeUndefined();
    expect([one.body.etag, one.body.properties.provisioningState]).toEqual([undefined, undefined]);
    const list = await raw("GET", settings, f.sdk.apiVersion);
    expect(list.status).toBe(200);
    expect(shapeProblems(expectedBody(f, "list"), list.body)).toEqual([]);
  });

  it("driftguard's client reads what enable-diagnostic-logs decides on (an empty workspaceId is no workspace)", async () => {
    const listed = await env.clients.monitor().list(vault.id);
    expect(listed.map(settingView)).toEqual([
      { name: existing.name, workspaceId: null, logs: [{ categoryGroup: "allLogs", enabled: true }] },
    ]);
    const one = await env.clients.monitor().get(vault.id, existing.name);
    expect(one.properties.storageAccountId).toBe(existing.properties.storageAccountId);
    await expect(env.clients.monitor().get(vault.id, "driftguard")).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("PUT of what driftguard sends answers 200 in the example's shape, ID and type", async () => {
    const body = {
      properties: desiredProperties(undefined, { workspaceId: WORKSPACE, categoryGroups: ["audit"] }),
    };
    const put = await raw("PUT", `${settings}/driftguard`, f.sdk.apiVersion, body);
    expect(f.responses.createOrUpdate!.status).toContain(put.status);
    expect(shapeProblems(expectedBody(f, "createOrUpdate"), put.body)).toEqual([]);
    expect(put.body.type).toBe("Microsoft.Insights/diagnosticSettings");
    expect(put.body.id.toLowerCase()).toBe(`${settings}/driftguard`.toLowerCase());
    const viaClient = await env.clients.monitor().createOrUpdate(vault.id, "driftguard", body);
    expect(settingView(viaClient)).toEqual({
      name: "driftguard",
      workspaceId: WORKSPACE,
      logs: [{ categoryGroup: "audit", enabled: true }],
    });
    const again = await raw("GET", `${settings}/driftguard`, f.sdk.apiVersion);
    expect(shapeProblems(expectedBody(f, "createOrUpdate"), again.body)).toEqual([]);
  });

  it("accepts the example request's own shape: an empty workspaceId beside other destinations", async () => {
    const put = await raw("PUT", `${settings}/archive-too`, f.sdk.apiVersion, {
      properties: {
        storageAccountId: existing.properties.storageAccountId,
        workspaceId: "",
        metrics: [{ category: "AllMetrics", enabled: true, retentionPolicy: { enabled: false, days: 0 } }],
        logs: [{ category: "AuditEvent", enabled: true, retentionPolicy: { enabled: false, days: 0 } }],
      },
    });
    expect(put.status).toBe(200);
    expect(put.body.properties).toMatchObject({ workspaceId: "", logs: [{ category: "AuditEvent" }] });
  });

  it("enable-diagnostic-logs creates its setting beside the example's and verifies it; a second run is a noop", async () => {
    const target = renamed(vault, "kv-shapes", "kv-kind");
    const policy = shapePolicy("enable-diagnostic-logs", [target.type], { workspaceId: WORKSPACE });
    const run = () =>
      runKind(
        enableDiagnosticLogs,
        kindContext(enableDiagnosticLogs, armSignal(target.id, target.type, SUB), {
          policy,
          clients: env.clients,
        }),
      );
    const first = await run();
    expect(first.plan.action).toBe("change");
    expect(first.verified).toEqual({ ok: true });
    expect((await run()).plan.action).toBe("noop");
    const list = await raw(
      "GET",
      `${target.id}/providers/Microsoft.Insights/diagnosticSettings`,
      f.sdk.apiVersion,
    );
    expect(list.body.value.map((s: { name: string }) => s.name).sort()).toEqual([
      "archive-all",
      "driftguard",
    ]);
    expect(shapeProblems(expectedBody(f, "list"), list.body)).toEqual([]);
  });
});

describe("blob service (BlobServices_GetServiceProperties / _SetServiceProperties)", () => {
  const f = blobFixture;
  const body = expectedBody(f, "get");
  const blobServices = () => env.clients.storage(SUB).blobServices;

  it("GET over HTTPS keeps every field of the example", async () => {
    const res = await raw("GET", body.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    expect(shapeProblems(body, res.body)).toEqual([]);
  });

  it("the SDK model carries what protect-model-storage reads", async () => {
    const props = await blobServices().getServiceProperties(RG, account.name);
    expect(blobProtectionOf(props)).toEqual(blobProtectionOf(body.properties));
    expect(props.cors).toEqual(body.properties.cors);
  });

  it("PUT of the properties read, with protection on, answers 200 in the example's shape and keeps CORS and change feed", async () => {
    const {
      id: _i,
      name: _n,
      type: _t,
      sku: _s,
      systemData: _d,
      ...read
    } = await blobServices().getServiceProperties(RG, account.name);
    const rec = responseRecorder();
    await blobServices().setServiceProperties(
      RG,
      account.name,
      {
        ...read,
        isVersioningEnabled: true,
        deleteRetentionPolicy: { ...read.deleteRetentionPolicy, enabled: true, days: 30 },
        containerDeleteRetentionPolicy: { ...read.containerDeleteRetentionPolicy, enabled: true, days: 30 },
      },
      { onResponse: rec.onResponse },
    );
    const first = rec.first("PUT");
    expect(f.responses.setServiceProperties!.status).toContain(first?.status);
    expect(shapeProblems(expectedBody(f, "setServiceProperties"), first?.body)).toEqual([]);
    const after = await raw("GET", body.id, f.sdk.apiVersion);
    expect(shapeProblems(body, after.body)).toEqual([]);
    expect(after.body.properties).toMatchObject({
      isVersioningEnabled: true,
      cors: body.properties.cors,
      changeFeed: body.properties.changeFeed,
    });
  });

  it("an account whose blob service nobody set has one in the example's shape, with the account's sku", async () => {
    const fresh = renamed(body, "stshapes001", "stshapes003");
    const res = await raw("GET", fresh.id, f.sdk.apiVersion);
    expect(res.status).toBe(200);
    // A new account's defaults: CORS empty, blob soft delete off; the rest is absent until set.
    const defaults = withoutFields(fresh, [
      "properties.cors.corsRules",
      "properties.defaultServiceVersion",
      "properties.deleteRetentionPolicy.days",
      "properties.isVersioningEnabled",
      "properties.changeFeed",
      "properties.containerDeleteRetentionPolicy",
    ]);
    expect(shapeProblems(defaults, res.body)).toEqual([]);
    expect(res.body.properties.cors.corsRules).toEqual([]);
    expect(res.body.sku).toEqual(account.sku);
  });

  it("protect-model-storage ends compliant from the example's state and keeps the rest", async () => {
    const target = renamed(account, "stshapes001", "stshapes002");
    const run = await runKind(
      protectModelStorage,
      kindContext(protectModelStorage, armSignal(target.id, target.type, SUB), {
        policy: shapePolicy("protect-model-storage", [target.type]),
        clients: env.clients,
      }),
    );
    expect(run.plan.action).toBe("change");
    expect(run.verified).toEqual({ ok: true });
    const after = await raw("GET", `${target.id}/blobServices/default`, f.sdk.apiVersion);
    expect(shapeProblems(renamed(body, "stshapes001", "stshapes002"), after.body)).toEqual([]);
    expect(after.body.properties).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 30 },
      containerDeleteRetentionPolicy: { enabled: true, days: 30 },
      cors: body.properties.cors,
      changeFeed: body.properties.changeFeed,
      defaultServiceVersion: body.properties.defaultServiceVersion,
    });
  });
});
