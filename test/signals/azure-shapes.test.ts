/**
 * Shapes Azure really sends that a strict reading of the docs would refuse: a Service Health alert
 * time without a UTC offset, Event Grid's own system events, and forecasted budget notifications.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAlertDelivery } from "../../shared/signals/alerts.js";
import { normalizeIsoTime } from "../../shared/signals/common.js";
import { parseEventGridDelivery } from "../../shared/signals/eventgrid.js";
import { parseSignalFile } from "../../shared/signals/replay.js";
import { expectInputError, expectNoPersonalData, fixture, SUB } from "./helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: fixtures are mutated structurally in tests
function acknowledgedFixture(name: string): any {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/events/acknowledged/${name}`, import.meta.url), "utf8"),
  );
}

describe("alert times without a UTC offset (Service Health)", () => {
  it("accepts a firedDateTime with 7 fraction digits and no offset, as UTC, normalised with Z", () => {
    const s = parseAlertDelivery(fixture("alert-servicehealth-fired.json"));
    expect(s.source).toBe("monitor");
    expect(s.time).toBe("2024-07-19T06:12:41.552Z");
    expect(s.alert?.firedAt).toBe("2024-07-19T06:12:41.552Z");
    expect(s.targets).toEqual([
      {
        resourceId: `/subscriptions/${SUB}`,
        resourceType: "Microsoft.Resources/subscriptions",
        subscriptionId: SUB,
      },
    ]);
    expect(s.trigger).toEqual({ alert: "ml-region-incident", condition: "Fired" });
    expectNoPersonalData(s);
  });

  it("takes a zone-less resolvedDateTime as UTC too, and still orders it against firedDateTime", () => {
    const ok = fixture("alert-servicehealth-fired.json");
    ok.data.essentials.monitorCondition = "Resolved";
    ok.data.essentials.resolvedDateTime = "2024-07-19T08:00:00.1234567";
    expect(parseAlertDelivery(ok).time).toBe("2024-07-19T08:00:00.123Z");
    const early = fixture("alert-servicehealth-fired.json");
    early.data.essentials.monitorCondition = "Resolved";
    early.data.essentials.resolvedDateTime = "2024-07-19T06:00:00";
    expectInputError(() => parseAlertDelivery(early), {
      code: "InvalidAlert",
      path: "data.essentials.resolvedDateTime",
      message: /before firedDateTime/,
    });
  });

  it("still refuses what is not a date-time, naming the field", () => {
    for (const bad of ["2024-07-19", "2024-07-19T25:00:00", "2024-02-30T10:00:00.0000000", "yesterday"]) {
      const a = fixture("alert-servicehealth-fired.json");
      a.data.essentials.firedDateTime = bad;
      expectInputError(() => parseAlertDelivery(a), {
        code: "InvalidAlert",
        path: "data.essentials.firedDateTime",
      });
    }
  });

  it("normalizeIsoTime treats a missing offset as UTC only when asked to", () => {
    expect(normalizeIsoTime("2021-11-17T05:34:48.0623172")).toBeUndefined();
    expect(normalizeIsoTime("2021-11-17T05:34:48.0623172", { zoneless: "utc" })).toBe(
      "2021-11-17T05:34:48.062Z",
    );
    expect(normalizeIsoTime("2021-11-17T05:34", { zoneless: "utc" })).toBe("2021-11-17T05:34:00.000Z");
    // An explicit offset is still honoured.
    expect(normalizeIsoTime("2021-11-17T05:34:48+02:00", { zoneless: "utc" })).toBe(
      "2021-11-17T03:34:48.000Z",
    );
    expect(normalizeIsoTime("2021-11-31T05:34:48", { zoneless: "utc" })).toBeUndefined();
  });
});

describe("Event Grid system events", () => {
  it("acknowledges SubscriptionDeletedEvent (Event Grid schema) without a signal", () => {
    const parsed = parseEventGridDelivery(acknowledgedFixture("eg-subscription-deleted.json"), {
      "aeg-event-type": "Notification",
      "content-type": "application/json",
    });
    expect(parsed).toEqual({
      kind: "signals",
      signals: [],
      acknowledged: [{ path: "[0]", type: "Microsoft.EventGrid.SubscriptionDeletedEvent" }],
    });
  });

  it("acknowledges it as a CloudEvent too, single or batched", () => {
    const batch = acknowledgedFixture("ce-subscription-deleted.json");
    expect(
      parseEventGridDelivery(batch, { "content-type": "application/cloudevents-batch+json" }),
    ).toMatchObject({ kind: "signals", signals: [], acknowledged: [{ path: "[0]" }] });
    expect(
      parseEventGridDelivery(batch[0], { "content-type": "application/cloudevents+json; charset=utf-8" }),
    ).toMatchObject({ kind: "signals", signals: [], acknowledged: [{ path: "" }] });
  });

  it("keeps the ARM events of a batch that also holds a system event", () => {
    const batch = [...fixture("eg-arm-batch.json"), ...acknowledgedFixture("eg-subscription-deleted.json")];
    const parsed = parseEventGridDelivery(batch, {});
    if (parsed.kind !== "signals") throw new Error("expected signals");
    expect(parsed.signals.map((s) => s.type)).toEqual([
      "Microsoft.Resources.ResourceWriteSuccess",
      "Microsoft.Resources.ResourceWriteSuccess",
      "Microsoft.Resources.ResourceDeleteSuccess",
    ]);
    expect(parsed.acknowledged).toEqual([
      { path: "[3]", type: "Microsoft.EventGrid.SubscriptionDeletedEvent" },
    ]);
  });

  it("still validates a system event's envelope, and still refuses other publishers' events", () => {
    const noTime = acknowledgedFixture("eg-subscription-deleted.json");
    delete noTime[0].eventTime;
    expectInputError(() => parseEventGridDelivery(noTime, {}), {
      code: "InvalidEvent",
      path: "[0].eventTime",
    });
    const storage = acknowledgedFixture("eg-subscription-deleted.json");
    storage[0].eventType = "Microsoft.Storage.BlobCreated";
    expectInputError(() => parseEventGridDelivery(storage, {}), {
      code: "UnsupportedEventType",
      path: "[0].eventType",
    });
  });

  it("replays to no signals (nothing to run)", () => {
    expect(parseSignalFile(acknowledgedFixture("eg-subscription-deleted.json"), "deleted.json")).toEqual([]);
  });
});

describe("budget threshold types", () => {
  it("keeps Actual and Forecasted in the trigger and the detail, for both payload shapes", () => {
    const actual = parseAlertDelivery(fixture("budget-common-actual.json"));
    expect(actual.trigger).toEqual({ budget: "ml-gpu-monthly", thresholdType: "Actual" });
    const forecast = parseAlertDelivery(fixture("budget-common-forecast-rg.json"));
    expect(forecast.trigger).toEqual({ budget: "ml-rg-quarterly", thresholdType: "Forecasted" });
    expect(forecast.budget?.thresholdType).toBe("Forecasted");
    // The legacy payload has no threshold type; Cost Management sends it for actual spend.
    const legacy = parseAlertDelivery(fixture("budget-legacy.json"), { now: () => new Date() });
    expect(legacy.trigger).toEqual({ budget: "ml-rg-monthly", thresholdType: "Actual" });
  });

  it("reads ThresholdType in any case; a missing or null one is Actual", () => {
    const lower = fixture("budget-common-forecast-rg.json");
    lower.data.alertContext.AlertData.ThresholdType = "forecasted";
    expect(parseAlertDelivery(lower).trigger).toMatchObject({ thresholdType: "Forecasted" });
    const none = fixture("budget-common-forecast-rg.json");
    delete none.data.alertContext.AlertData.ThresholdType;
    expect(parseAlertDelivery(none).trigger).toMatchObject({ thresholdType: "Actual" });
    const nul = fixture("budget-common-forecast-rg.json");
    nul.data.alertContext.AlertData.ThresholdType = null;
    expect(parseAlertDelivery(nul).trigger).toMatchObject({ thresholdType: "Actual" });
  });

  it("refuses an unknown threshold type, naming the field", () => {
    const odd = fixture("budget-common-actual.json");
    odd.data.alertContext.AlertData.ThresholdType = "Projected";
    expectInputError(() => parseAlertDelivery(odd), {
      code: "InvalidBudgetNotification",
      path: "data.alertContext.AlertData.ThresholdType",
      message: /Actual or Forecasted/,
    });
  });

  it("an actual and a forecasted notification of one budget are different causes", () => {
    const actual = fixture("budget-common-forecast-rg.json");
    actual.data.alertContext.AlertData.ThresholdType = "Actual";
    expect(parseAlertDelivery(actual).dedupeKey).not.toBe(
      parseAlertDelivery(fixture("budget-common-forecast-rg.json")).dedupeKey,
    );
  });
});
