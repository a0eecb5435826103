import { describe, expect, it } from "vitest";
import { parseAlertDelivery, parseMonitorAlert } from "../../shared/signals/alerts.js";
import type { Signal } from "../../shared/signals/types.js";
import { expectInputError, expectNoPersonalData, fixture, SUB } from "./helpers.js";

const WS_LOWER = `/subscriptions/${SUB}/resourcegroups/ml-prod/providers/microsoft.machinelearningservices/workspaces/ml-ws`;
const METRIC_ALERT_ID = `/subscriptions/${SUB}/providers/Microsoft.AlertsManagement/alerts/b9569717-bc32-442f-add5-83a997729330`;

describe("common alert schema: metric alerts", () => {
  it("parses a Fired metric alert", () => {
    expect(parseMonitorAlert(fixture("alert-metric-fired.json"))).toEqual({
      source: "monitor",
      type: "alert.Fired",
      id: METRIC_ALERT_ID,
      dedupeKey: `alert:${METRIC_ALERT_ID}:Fired`,
      time: "2024-07-19T13:58:24.371Z",
      subscriptionId: SUB,
      trigger: { alert: "gpu-cost-ml-ws", condition: "Fired" },
      // ARM lower-cases alert target IDs: kept as given
      targets: [
        {
          resourceId: WS_LOWER,
          resourceType: "microsoft.machinelearningservices/workspaces",
          subscriptionId: SUB,
        },
      ],
      alert: {
        alertId: METRIC_ALERT_ID,
        ruleName: "gpu-cost-ml-ws",
        condition: "Fired",
        severity: "Sev2",
        signalType: "Metric",
        firedAt: "2024-07-19T13:58:24.371Z",
        dimensions: { ComputeName: "gpu-cluster", ResourceId: "3efad9dc-3d50-4eac-9c87-8b3fd6f97e4e" },
      },
    } satisfies Signal);
  });

  it("parses the Resolved twin: own dedupe key, time = resolvedDateTime", () => {
    const s = parseMonitorAlert(fixture("alert-metric-resolved.json"));
    expect(s.type).toBe("alert.Resolved");
    expect(s.trigger).toEqual({ alert: "gpu-cost-ml-ws", condition: "Resolved" });
    expect(s.dedupeKey).toBe(`alert:${METRIC_ALERT_ID}:Resolved`);
    expect(s.time).toBe("2024-07-19T14:03:16.224Z");
    expect(s.alert?.resolvedAt).toBe("2024-07-19T14:03:16.224Z");
    expect(s.alert?.firedAt).toBe("2024-07-19T13:58:24.371Z");
  });

  it("merges dimensions over every allOf condition (first value wins)", () => {
    const body = fixture("alert-metric-fired.json");
    const cond = body.data.alertContext.condition.allOf[0];
    body.data.alertContext.condition.allOf.push({
      ...cond,
      metricName: "GPU Utilization",
      dimensions: [
        { name: "NodeId", value: 7 },
        { name: "ComputeName", value: "ignored-second-value" },
      ],
    });
    expect(parseMonitorAlert(body).alert?.dimensions).toEqual({
      ComputeName: "gpu-cluster",
      ResourceId: "3efad9dc-3d50-4eac-9c87-8b3fd6f97e4e",
      NodeId: "7",
    });
  });

  it("one target per alertTargetIDs entry (duplicates collapsed)", () => {
    const body = fixture("alert-metric-fired.json");
    const other = `/subscriptions/${SUB}/resourcegroups/ml-prod/providers/microsoft.machinelearningservices/workspaces/ml-ws2`;
    body.data.essentials.alertTargetIDs = [
      WS_LOWER,
      other,
      WS_LOWER.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"),
    ];
    expect(parseMonitorAlert(body).targets.map((t) => t.resourceId)).toEqual([WS_LOWER, other]);
  });
});

describe("common alert schema: log search and activity log alerts", () => {
  it("parses a Log Alerts V2 Fired alert with its dimension", () => {
    const s = parseMonitorAlert(fixture("alert-log-fired.json"));
    expect(s.trigger).toEqual({ alert: "token-burst-per-subscription", condition: "Fired" });
    expect(s.alert?.dimensions).toEqual({ ApimSubscriptionId: "team-research" });
    expect(s.alert?.signalType).toBe("Log");
    expect(s.targets[0]!.resourceType).toBe("microsoft.apimanagement/service");
  });

  it("parses the Log Alerts V2 Resolved alert", () => {
    const s = parseMonitorAlert(fixture("alert-log-resolved.json"));
    expect(s.type).toBe("alert.Resolved");
    expect(s.alert?.dimensions).toEqual({ ApimSubscriptionId: "team-research" });
  });

  it("reads the older log alert form: Dimensions, or a single-row SearchResults table", () => {
    const s = parseMonitorAlert(fixture("alert-log-legacy-searchresults.json"));
    expect(s.alert?.dimensions).toEqual({ Computer: "gpu-node-07" });
    const withDims = fixture("alert-log-legacy-searchresults.json");
    withDims.data.alertContext.Dimensions = [{ name: "Computer", value: "gpu-node-09" }];
    expect(parseMonitorAlert(withDims).alert?.dimensions).toEqual({ Computer: "gpu-node-09" });
    const twoRows = fixture("alert-log-legacy-searchresults.json");
    twoRows.data.alertContext.SearchResults.tables[0].rows.push([
      "Perf",
      "gpu-node-08",
      "2024-07-19T13:45:00Z",
      95,
    ]);
    expect(parseMonitorAlert(twoRows).alert?.dimensions).toEqual({});
  });

  it("parses an activity log alert, keeping its correlation ID and none of its claims", () => {
    const s = parseMonitorAlert(fixture("alert-activitylog-fired.json"));
    expect(s.correlationId).toBe("7e2c4a90-1f3b-4d5e-8a6b-9c0d1e2f3a4b");
    expect(s.targets[0]!.resourceType).toBe(
      "microsoft.network/networkSecurityGroups/securityRules".toLowerCase(),
    );
    expect(s.alert?.signalType).toBe("Activity Log");
    expectNoPersonalData(s);
    expect(JSON.stringify(s)).not.toContain("caller");
  });

  it("parseAlertDelivery routes alerts to the alert parser", () => {
    expect(parseAlertDelivery(fixture("alert-log-fired.json"))).toEqual(
      parseMonitorAlert(fixture("alert-log-fired.json")),
    );
  });
});

describe("common alert schema: rejections", () => {
  it("rejects a wrong or missing schemaId", () => {
    const a = fixture("alert-metric-fired.json");
    a.schemaId = "Microsoft.Insights/activityLogs";
    expectInputError(() => parseMonitorAlert(a), { code: "UnsupportedSchema", path: "schemaId" });
    expectInputError(() => parseAlertDelivery(a), { code: "UnsupportedSchema", path: "schemaId" });
    const b = fixture("alert-metric-fired.json");
    delete b.schemaId;
    expectInputError(() => parseAlertDelivery(b), { code: "UnsupportedSchema", path: "schemaId" });
    expectInputError(() => parseAlertDelivery([a]), { code: "InvalidAlert", path: "" });
  });

  it("rejects alert target IDs that are not resource IDs, naming the index", () => {
    const body = fixture("alert-metric-fired.json");
    body.data.essentials.alertTargetIDs = [WS_LOWER, "wcus-r2-gen2"];
    expectInputError(() => parseMonitorAlert(body), {
      code: "InvalidResourceId",
      path: "data.essentials.alertTargetIDs[1]",
    });
    const dots = fixture("alert-metric-fired.json");
    dots.data.essentials.alertTargetIDs = [`${WS_LOWER}/../../other`];
    expectInputError(() => parseMonitorAlert(dots), {
      code: "InvalidResourceId",
      path: "data.essentials.alertTargetIDs[0]",
    });
    const empty = fixture("alert-metric-fired.json");
    empty.data.essentials.alertTargetIDs = [];
    expectInputError(() => parseMonitorAlert(empty), {
      code: "InvalidAlert",
      path: "data.essentials.alertTargetIDs",
    });
    const num = fixture("alert-metric-fired.json");
    num.data.essentials.alertTargetIDs = [42];
    expectInputError(() => parseMonitorAlert(num), {
      code: "InvalidResourceId",
      path: "data.essentials.alertTargetIDs[0]",
    });
  });

  it("rejects bad dates and an unknown monitorCondition", () => {
    const a = fixture("alert-metric-fired.json");
    a.data.essentials.firedDateTime = "22/03/2019 13:58";
    expectInputError(() => parseMonitorAlert(a), {
      code: "InvalidAlert",
      path: "data.essentials.firedDateTime",
    });
    const b = fixture("alert-metric-resolved.json");
    delete b.data.essentials.resolvedDateTime;
    expectInputError(() => parseMonitorAlert(b), {
      code: "InvalidAlert",
      path: "data.essentials.resolvedDateTime",
    });
    const c = fixture("alert-metric-resolved.json");
    c.data.essentials.resolvedDateTime = "2024-07-19T10:00:00Z";
    expectInputError(() => parseMonitorAlert(c), {
      code: "InvalidAlert",
      path: "data.essentials.resolvedDateTime",
      message: /before firedDateTime/,
    });
    const d = fixture("alert-metric-fired.json");
    d.data.essentials.monitorCondition = "Acknowledged";
    expectInputError(() => parseMonitorAlert(d), {
      code: "InvalidAlert",
      path: "data.essentials.monitorCondition",
    });
    const e = fixture("alert-metric-fired.json");
    e.data.essentials.severity = "Sev9";
    expectInputError(() => parseMonitorAlert(e), { code: "InvalidAlert", path: "data.essentials.severity" });
  });

  it("rejects malformed dimensions with their full path", () => {
    const body = fixture("alert-metric-fired.json");
    body.data.alertContext.condition.allOf[0].dimensions[1] = { name: "", value: "x" };
    expectInputError(() => parseMonitorAlert(body), {
      code: "InvalidAlert",
      path: "data.alertContext.condition.allOf[0].dimensions[1].name",
    });
  });

  it("rejects a missing alertRule", () => {
    const body = fixture("alert-log-fired.json");
    delete body.data.essentials.alertRule;
    expectInputError(() => parseMonitorAlert(body), {
      code: "InvalidAlert",
      path: "data.essentials.alertRule",
    });
  });

  it("rejects payloads over 256 KB with 413", () => {
    const body = fixture("alert-log-legacy-searchresults.json");
    body.data.alertContext.SearchQuery = "x".repeat(262_144);
    expectInputError(() => parseMonitorAlert(body), { code: "PayloadTooLarge", path: "", status: 413 });
    expectInputError(() => parseAlertDelivery(body), { code: "PayloadTooLarge", path: "", status: 413 });
  });
});
