/**
 * Cost Management budget notifications → Signal. Two shapes reach the alert route:
 * - the common alert schema with `essentials.monitoringService: "CostAlerts"` and
 *   `alertContext.AlertData` (`BudgetName`, `Scope`, `BudgetThreshold`, `NotificationThresholdAmount`,
 *   `SpentAmount` as money strings like `"$11,111.00"`, `BudgetStartDate`, `ThresholdType`, `Unit`);
 * - the legacy action-group payload `schemaId: "AIP Budget Notification"` with PascalCase `data`
 *   (`BudgetName`, `SubscriptionId`, `ResourceGroup`, `SpendingAmount`, `Budget`,
 *   `NotificationThresholdAmount`, `Unit`, `BudgetStartDate` like `11/17/2021 5:40:29 PM -08:00`).
 * The target is the budget's scope (subscription or resource group). The threshold type — `Actual`
 * (spend has crossed the threshold) or `Forecasted` (spend is predicted to) — is in the trigger, so a
 * policy can choose which it acts on; the legacy payload carries none and is only sent for actual
 * spend, so it is `Actual`. `BudgetCreator` (an e-mail address) and other personal fields never enter
 * the Signal.
 */
import { z } from "zod";
import { InputError } from "../errors.js";
import type { ResourceId } from "../resource-id.js";
import { isoTimeAssumingUtc, isPlainObject, resourceIdAt, targetOf } from "./common.js";
import { parseOrThrow } from "./errors.js";
import { compact } from "./grid-event.js";
import type { BudgetDetail, BudgetThresholdType, Signal } from "./types.js";

export const LEGACY_BUDGET_SCHEMA_ID = "AIP Budget Notification";

/** Cost Management notification threshold types, as Azure spells them. */
export const BUDGET_THRESHOLD_TYPES = [
  "Actual",
  "Forecasted",
] as const satisfies readonly BudgetThresholdType[];

/** `ThresholdType` → canonical spelling (case-insensitive); null/empty means `Actual`. */
const thresholdType = z
  .string()
  .trim()
  .max(32)
  .nullish()
  .transform((raw, ctx): BudgetThresholdType => {
    if (raw === null || raw === undefined || raw === "") return "Actual";
    const known = BUDGET_THRESHOLD_TYPES.find((t) => t.toLowerCase() === raw.toLowerCase());
    if (!known) {
      ctx.addIssue({
        code: "custom",
        message: `'${raw}' is not a budget threshold type (expected ${BUDGET_THRESHOLD_TYPES.join(" or ")})`,
      });
      return z.NEVER;
    }
    return known;
  });

/** Budget names per the Cost Management REST API: `^[a-zA-Z0-9_-]+$`. */
const budgetName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{1,256}$/, "not a budget name (letters, digits, '_' and '-')");

/** Parses a money amount: `8000.0`, `"1111.32"`, `"$11,111.00"`, `"11.111,00 €"`. */
export function parseAmount(raw: string | number): number | undefined {
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : undefined;
  let s = raw.replace(/[^\d.,-]/g, "");
  if (s === "" || !/\d/.test(s)) return undefined;
  const lastDot = s.lastIndexOf(".");
  const lastComma = s.lastIndexOf(",");
  if (lastDot >= 0 && lastComma >= 0) {
    const dec = lastDot > lastComma ? "." : ",";
    const group = dec === "." ? "," : ".";
    s = s.split(group).join("").replace(dec, ".");
  } else if (lastComma >= 0) {
    s = /^-?\d{1,3}(,\d{3})+$/.test(s) ? s.split(",").join("") : s.replace(",", ".");
  }
  if (!/^-?\d+(\.\d+)?$/.test(s)) return undefined;
  return Number(s);
}

const money = z.union([z.number(), z.string().max(64)]).transform((raw, ctx) => {
  const n = parseAmount(raw);
  if (n === undefined) {
    ctx.addIssue({ code: "custom", message: `'${String(raw).slice(0, 32)}' is not an amount` });
    return z.NEVER;
  }
  return n;
});

/** `2022-11-01`, `2022-11-01T00:00:00Z`, `6/1/2018`, `11/17/2021 5:40:29 PM -08:00` → `YYYY-MM-DD`. */
export function parseBudgetStartDate(raw: string): string | undefined {
  const s = raw.trim();
  let y: number;
  let m: number;
  let d: number;
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/i.exec(s);
  const us =
    /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?(?:\s*[+-]\d{2}:\d{2})?)?$/i.exec(
      s,
    );
  if (iso) [y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  else if (us) [y, m, d] = [Number(us[3]), Number(us[1]), Number(us[2])];
  else return undefined;
  if (m < 1 || m > 12 || d < 1 || d > new Date(Date.UTC(y, m, 0)).getUTCDate()) return undefined;
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

const startDate = z
  .string()
  .max(64)
  .transform((raw, ctx) => {
    const d = parseBudgetStartDate(raw);
    if (d === undefined) {
      ctx.addIssue({ code: "custom", message: `'${raw.slice(0, 40)}' is not a date` });
      return z.NEVER;
    }
    return d;
  });

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const legacyPayload = z.object({
  schemaId: z.literal(LEGACY_BUDGET_SCHEMA_ID),
  data: z.object({
    SubscriptionId: z.string().trim().regex(GUID, "not a subscription ID"),
    ResourceGroup: z.string().trim().max(90).nullish(),
    BudgetName: budgetName,
    BudgetType: z.string().max(64).nullish(),
    SpendingAmount: money,
    Budget: money,
    NotificationThresholdAmount: money,
    Unit: z.string().trim().max(16).nullish(),
    BudgetStartDate: startDate.nullish(),
  }),
});

const costAlertPayload = z.object({
  schemaId: z.literal("azureMonitorCommonAlertSchema"),
  data: z.object({
    essentials: z.object({
      alertId: z.string().min(1).max(1024).nullish(),
      monitoringService: z.string().max(128).nullish(),
      firedDateTime: isoTimeAssumingUtc,
    }),
    alertContext: z.object({
      AlertCategory: z.string().max(64).nullish(),
      AlertData: z.object({
        BudgetName: budgetName,
        Scope: z.string().max(2048).nullish(),
        BudgetId: z.string().max(2048).nullish(),
        ThresholdType: thresholdType,
        BudgetType: z.string().max(64).nullish(),
        BudgetThreshold: money.nullish(),
        NotificationThresholdAmount: money.nullish(),
        SpentAmount: money.nullish(),
        ForecastedTotalForPeriod: money.nullish(),
        Unit: z.string().trim().max(16).nullish(),
        BudgetStartDate: startDate.nullish(),
      }),
    }),
  }),
});

/** Whether a common-alert-schema payload is a Cost Management budget alert. */
export function isCommonSchemaBudget(body: unknown): boolean {
  if (!isPlainObject(body) || !isPlainObject(body.data)) return false;
  const ess = isPlainObject(body.data.essentials) ? body.data.essentials : {};
  const ctx = isPlainObject(body.data.alertContext) ? body.data.alertContext : {};
  return (
    (typeof ess.monitoringService === "string" && ess.monitoringService.toLowerCase() === "costalerts") ||
    (typeof ess.signalType === "string" && /budget/i.test(ess.signalType)) ||
    (typeof ctx.AlertCategory === "string" && ctx.AlertCategory.toLowerCase() === "budgets")
  );
}

function budgetScope(raw: string, path: string): ResourceId {
  const id = resourceIdAt(raw, path);
  if (id.type !== "Microsoft.Resources/subscriptions" && id.type !== "Microsoft.Resources/resourceGroups") {
    throw new InputError(
      "UnsupportedBudgetScope",
      "a budget's scope must be a subscription or a resource group",
      path,
    );
  }
  return id;
}

function budgetSignal(args: {
  id: string;
  time: string;
  scope: ResourceId;
  name: string;
  thresholdType: BudgetThresholdType;
  start?: string;
  detail: Omit<BudgetDetail, "budgetName" | "scope" | "thresholdType">;
}): Signal {
  const { scope, name, detail } = args;
  const period = args.time.slice(0, 7);
  const dedupeKey = [
    "budget",
    scope.id.toLowerCase(),
    name.toLowerCase(),
    args.thresholdType.toLowerCase(),
    detail.threshold ?? "-",
    args.start ?? "-",
    period,
  ].join(":");
  return {
    source: "budget",
    type: "budget",
    id: args.id,
    dedupeKey,
    time: args.time,
    subscriptionId: scope.subscriptionId,
    trigger: { budget: name, thresholdType: args.thresholdType },
    targets: [targetOf(scope)],
    budget: compact<BudgetDetail>({
      budgetName: name,
      scope: scope.id,
      thresholdType: args.thresholdType,
      ...detail,
    }),
  };
}

export interface BudgetParseOptions {
  /** Clock for payloads without a timestamp (the legacy schema has none). */
  now?: () => Date;
}

/** Legacy `schemaId: "AIP Budget Notification"` payload. */
export function parseLegacyBudget(body: unknown, opts: BudgetParseOptions = {}): Signal {
  const p = parseOrThrow(legacyPayload, body, "", "InvalidBudgetNotification");
  const d = p.data;
  const rg = d.ResourceGroup ?? "";
  const scopeRaw =
    rg === ""
      ? `/subscriptions/${d.SubscriptionId}`
      : `/subscriptions/${d.SubscriptionId}/resourceGroups/${rg}`;
  const scope = budgetScope(scopeRaw, rg === "" ? "data.SubscriptionId" : "data.ResourceGroup");
  return budgetSignal({
    id: `${scope.id}/providers/Microsoft.Consumption/budgets/${d.BudgetName}`,
    time: (opts.now?.() ?? new Date()).toISOString(),
    scope,
    name: d.BudgetName,
    thresholdType: "Actual",
    start: d.BudgetStartDate ?? undefined,
    detail: compact({
      spent: d.SpendingAmount,
      budget: d.Budget,
      threshold: d.NotificationThresholdAmount,
      unit: d.Unit || undefined,
    }),
  });
}

/** Common alert schema budget alert (`monitoringService: "CostAlerts"`). */
export function parseCommonSchemaBudget(body: unknown): Signal {
  const p = parseOrThrow(costAlertPayload, body, "", "InvalidBudgetNotification");
  const a = p.data.alertContext.AlertData;
  const dataPath = "data.alertContext.AlertData";
  let scope: ResourceId;
  if (a.Scope) {
    scope = budgetScope(a.Scope, `${dataPath}.Scope`);
  } else if (a.BudgetId) {
    const m = /^(.*)\/providers\/Microsoft\.(?:Consumption|CostManagement)\/budgets\/([^/]+)\/?$/i.exec(
      a.BudgetId,
    );
    if (!m || m[2]!.toLowerCase() !== a.BudgetName.toLowerCase()) {
      throw new InputError(
        "InvalidBudgetNotification",
        "BudgetId is not the ID of budget BudgetName",
        `${dataPath}.BudgetId`,
      );
    }
    scope = budgetScope(m[1]!, `${dataPath}.BudgetId`);
  } else {
    throw new InputError(
      "InvalidBudgetNotification",
      "the budget's Scope (or BudgetId) is required",
      `${dataPath}.Scope`,
    );
  }
  return budgetSignal({
    id:
      p.data.essentials.alertId ??
      a.BudgetId ??
      `${scope.id}/providers/Microsoft.Consumption/budgets/${a.BudgetName}`,
    time: p.data.essentials.firedDateTime,
    scope,
    name: a.BudgetName,
    thresholdType: a.ThresholdType,
    start: a.BudgetStartDate ?? undefined,
    detail: compact({
      spent: a.SpentAmount ?? undefined,
      budget: a.BudgetThreshold ?? undefined,
      threshold: a.NotificationThresholdAmount ?? undefined,
      unit: a.Unit || undefined,
    }),
  });
}
