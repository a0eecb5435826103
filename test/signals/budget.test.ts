import { describe, expect, it } from "vitest";
import { parseAlertDelivery, parseMonitorAlert } from "../../shared/signals/alerts.js";
import { parseAmount, parseBudgetStartDate } from "../../shared/signals/budget.js";
import type { Signal } from "../../shared/signals/types.js";
import { expectInputError, expectNoPersonalData, fixture, RG, SUB } from "./helpers.js";

const now = () => new Date("2024-07-20T10:00:00Z");

describe("budget notifications", () => {
  it("parses the common-schema actual-cost budget alert (subscription scope)", () => {
    expect(parseAlertDelivery(fixture("budget-common-actual.json"))).toEqual({
      source: "budget",
      type: "budget",
      id: `/subscriptions/${SUB}/providers/Microsoft.CostManagement/alerts/ml-gpu-monthly-80`,
      dedupeKey: `budget:/subscriptions/${SUB}:ml-gpu-monthly:actual:8000:2024-07-01:2024-07`,
      time: "2024-07-19T21:13:20.645Z",
      subscriptionId: SUB,
      trigger: { budget: "ml-gpu-monthly", thresholdType: "Actual" },
      targets: [
        {
          resourceId: `/subscriptions/${SUB}`,
          resourceType: "Microsoft.Resources/subscriptions",
          subscriptionId: SUB,
        },
      ],
      budget: {
        budgetName: "ml-gpu-monthly",
        scope: `/subscriptions/${SUB}`,
        thresholdType: "Actual",
        spent: 11111,
        budget: 10000,
        threshold: 8000,
        unit: "USD",
      },
    } satisfies Signal);
  });

  it("parseMonitorAlert routes a CostAlerts payload to the budget parser too", () => {
    expect(parseMonitorAlert(fixture("budget-common-actual.json")).source).toBe("budget");
  });

  it("parses a forecasted budget scoped to a resource group (scope taken from BudgetId)", () => {
    const s = parseAlertDelivery(fixture("budget-common-forecast-rg.json"));
    expect(s.targets).toEqual([
      { resourceId: RG, resourceType: "Microsoft.Resources/resourceGroups", subscriptionId: SUB },
    ]);
    expect(s.trigger).toEqual({ budget: "ml-rg-quarterly", thresholdType: "Forecasted" });
    expect(s.dedupeKey).toBe(`budget:${RG.toLowerCase()}:ml-rg-quarterly:forecasted:500:2024-07-01:2024-07`);
    expect(s.budget).toEqual({
      budgetName: "ml-rg-quarterly",
      scope: RG,
      thresholdType: "Forecasted",
      spent: 399.99,
      budget: 500,
      threshold: 500,
      unit: "USD",
    });
  });

  it("parses the legacy AIP Budget Notification payload", () => {
    expect(parseAlertDelivery(fixture("budget-legacy.json"), { now })).toEqual({
      source: "budget",
      type: "budget",
      id: `${RG}/providers/Microsoft.Consumption/budgets/ml-rg-monthly`,
      dedupeKey: `budget:${RG.toLowerCase()}:ml-rg-monthly:actual:8000:2024-07-01:2024-07`,
      time: "2024-07-20T10:00:00.000Z",
      subscriptionId: SUB,
      trigger: { budget: "ml-rg-monthly", thresholdType: "Actual" },
      targets: [{ resourceId: RG, resourceType: "Microsoft.Resources/resourceGroups", subscriptionId: SUB }],
      budget: {
        budgetName: "ml-rg-monthly",
        scope: RG,
        thresholdType: "Actual",
        spent: 1111.32,
        budget: 10000,
        threshold: 8000,
        unit: "USD",
      },
    } satisfies Signal);
  });

  it("legacy payload with an empty ResourceGroup targets the subscription", () => {
    const body = fixture("budget-legacy.json");
    body.data.ResourceGroup = "";
    const s = parseAlertDelivery(body, { now });
    expect(s.targets[0]).toEqual({
      resourceId: `/subscriptions/${SUB}`,
      resourceType: "Microsoft.Resources/subscriptions",
      subscriptionId: SUB,
    });
  });

  it("the same notification redelivered has the same dedupe key; the next threshold or month does not", () => {
    const a = parseAlertDelivery(fixture("budget-legacy.json"), { now });
    const again = parseAlertDelivery(fixture("budget-legacy.json"), {
      now: () => new Date("2024-07-20T10:05:00Z"),
    });
    expect(again.dedupeKey).toBe(a.dedupeKey);
    const higher = fixture("budget-legacy.json");
    higher.data.NotificationThresholdAmount = "10000.0";
    expect(parseAlertDelivery(higher, { now }).dedupeKey).not.toBe(a.dedupeKey);
    const nextMonth = parseAlertDelivery(fixture("budget-legacy.json"), {
      now: () => new Date("2024-08-02T00:00:00Z"),
    });
    expect(nextMonth.dedupeKey).not.toBe(a.dedupeKey);
  });

  it("never carries BudgetCreator (an e-mail address) into the Signal", () => {
    for (const f of ["budget-common-actual.json", "budget-common-forecast-rg.json", "budget-legacy.json"]) {
      expectNoPersonalData(parseAlertDelivery(fixture(f), { now }));
    }
  });

  it("rejects bad budget payloads naming the field", () => {
    const a = fixture("budget-legacy.json");
    a.data.SubscriptionId = "not-a-guid";
    expectInputError(() => parseAlertDelivery(a), {
      code: "InvalidBudgetNotification",
      path: "data.SubscriptionId",
    });
    const b = fixture("budget-legacy.json");
    delete b.data.BudgetName;
    expectInputError(() => parseAlertDelivery(b), {
      code: "InvalidBudgetNotification",
      path: "data.BudgetName",
    });
    const c = fixture("budget-legacy.json");
    c.data.SpendingAmount = "lots";
    expectInputError(() => parseAlertDelivery(c), {
      code: "InvalidBudgetNotification",
      path: "data.SpendingAmount",
    });
    const d = fixture("budget-legacy.json");
    d.data.BudgetStartDate = "13/45/2024";
    expectInputError(() => parseAlertDelivery(d), {
      code: "InvalidBudgetNotification",
      path: "data.BudgetStartDate",
    });
    const e = fixture("budget-legacy.json");
    e.data.ResourceGroup = "..";
    expectInputError(() => parseAlertDelivery(e), { code: "InvalidResourceId", path: "data.ResourceGroup" });
    const f = fixture("budget-common-actual.json");
    f.data.alertContext.AlertData.Scope = "/providers/Microsoft.Management/managementGroups/root";
    expectInputError(() => parseAlertDelivery(f), {
      code: "InvalidResourceId",
      path: "data.alertContext.AlertData.Scope",
    });
    const g = fixture("budget-common-actual.json");
    g.data.alertContext.AlertData.Scope = `${RG}/providers/Microsoft.Storage/storageAccounts/sa`;
    expectInputError(() => parseAlertDelivery(g), {
      code: "UnsupportedBudgetScope",
      path: "data.alertContext.AlertData.Scope",
    });
    const h = fixture("budget-common-forecast-rg.json");
    h.data.alertContext.AlertData.BudgetId = `${RG}/providers/Microsoft.Consumption/budgets/another`;
    expectInputError(() => parseAlertDelivery(h), {
      code: "InvalidBudgetNotification",
      path: "data.alertContext.AlertData.BudgetId",
    });
    const i = fixture("budget-common-actual.json");
    i.data.essentials.firedDateTime = "2024-07-19";
    expectInputError(() => parseAlertDelivery(i), {
      code: "InvalidBudgetNotification",
      path: "data.essentials.firedDateTime",
    });
    const j = fixture("budget-common-actual.json");
    j.data.alertContext.AlertData.BudgetName = "ml gpu; drop";
    expectInputError(() => parseAlertDelivery(j), {
      code: "InvalidBudgetNotification",
      path: "data.alertContext.AlertData.BudgetName",
    });
  });

  it("parses money and start dates in the shapes Cost Management sends", () => {
    expect(parseAmount("$11,111.00")).toBe(11111);
    expect(parseAmount("8000.0")).toBe(8000);
    expect(parseAmount("1111.32")).toBe(1111.32);
    expect(parseAmount("11.111,50 €")).toBe(11111.5);
    expect(parseAmount("0,8")).toBe(0.8);
    expect(parseAmount(42)).toBe(42);
    expect(parseAmount("USD")).toBeUndefined();
    expect(parseAmount("1.2.3")).toBeUndefined();
    expect(parseBudgetStartDate("11/17/2021 5:40:29 PM -08:00")).toBe("2021-11-17");
    expect(parseBudgetStartDate("6/1/2018")).toBe("2018-06-01");
    expect(parseBudgetStartDate("2022-11-01")).toBe("2022-11-01");
    expect(parseBudgetStartDate("2022-11-01T00:00:00Z")).toBe("2022-11-01");
    expect(parseBudgetStartDate("2/30/2024")).toBeUndefined();
    expect(parseBudgetStartDate("soon")).toBeUndefined();
  });
});
