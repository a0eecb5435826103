/**
 * Azure Monitor action-group webhook, common alert schema (`schemaId: "azureMonitorCommonAlertSchema"`)
 * → Signal: metric, log search (current `condition.allOf[].dimensions` and the older `Dimensions` /
 * `SearchResults` forms) and activity log alerts, Fired and Resolved. One target per
 * `alertTargetIDs` entry, strictly parsed, casing kept as ARM sent it (often lower case).
 * `parseAlertDelivery` also routes Cost Management budget notifications to `budget.ts`.
 */
import { z } from "zod";
import { InputError } from "../errors.js";
import {
  type BudgetParseOptions,
  isCommonSchemaBudget,
  LEGACY_BUDGET_SCHEMA_ID,
  parseCommonSchemaBudget,
  parseLegacyBudget,
} from "./budget.js";
import { isoTimeAssumingUtc, isPlainObject, resourceIdAt, targetOf } from "./common.js";
import { parseOrThrow } from "./errors.js";
import { compact } from "./grid-event.js";
import type { AlertDetail, Signal, SignalTarget } from "./types.js";

export const COMMON_ALERT_SCHEMA_ID = "azureMonitorCommonAlertSchema";
/** Azure Monitor's own ceiling for a common-schema alert. */
export const MAX_ALERT_BYTES = 262_144;
const MAX_DIMENSIONS = 256;

const dimension = z.object({
  name: z.string().min(1).max(256),
  value: z
    .union([z.string(), z.number(), z.boolean()])
    .transform((v) => String(v))
    .pipe(z.string().max(1024)),
});
const dimensionList = z.array(dimension).max(MAX_DIMENSIONS).nullish();

const essentialsSchema = z.object({
  alertId: z.string().min(1).max(1024),
  alertRule: z.string().min(1).max(512),
  severity: z
    .string()
    .regex(/^Sev[0-4]$/, "expected Sev0 … Sev4")
    .nullish(),
  signalType: z.string().max(64).nullish(),
  monitorCondition: z.enum(["Fired", "Resolved"]),
  monitoringService: z.string().max(128).nullish(),
  alertTargetIDs: z.array(z.unknown()).min(1, "an alert needs at least one target").max(500),
  // Service Health alerts send these without an offset (7 fraction digits, UTC).
  firedDateTime: isoTimeAssumingUtc,
  resolvedDateTime: isoTimeAssumingUtc.nullish(),
});

const alertSchema = z.object({
  schemaId: z.literal(COMMON_ALERT_SCHEMA_ID),
  data: z.object({
    essentials: essentialsSchema,
    alertContext: z.unknown().optional(),
  }),
});

/** The parts of `alertContext` that carry dimensions; validated where present. */
const contextDimensions = z.object({
  condition: z
    .object({
      allOf: z
        .array(z.object({ dimensions: dimensionList }))
        .max(100)
        .nullish(),
    })
    .nullish(),
  Dimensions: dimensionList,
  dimensions: dimensionList,
  correlationId: z.unknown().optional(),
});

/** Older log alerts: a single-row `SearchResults` table also names the alerted dimension values. */
const searchResults = z.object({
  tables: z
    .array(
      z.object({
        columns: z.array(z.object({ name: z.string(), type: z.string().optional() })),
        rows: z.array(z.array(z.unknown())),
      }),
    )
    .min(1),
});

function mergeDimensions(ctx: unknown): { dimensions: Record<string, string>; correlationId?: string } {
  const dimensions: Record<string, string> = {};
  if (!isPlainObject(ctx)) return { dimensions };
  const c = parseOrThrow(contextDimensions, ctx, "data.alertContext", "InvalidAlert");
  const add = (list: { name: string; value: string }[] | null | undefined) => {
    for (const d of list ?? []) {
      if (!(d.name in dimensions) && Object.keys(dimensions).length < MAX_DIMENSIONS)
        dimensions[d.name] = d.value;
    }
  };
  for (const cond of c.condition?.allOf ?? []) add(cond.dimensions);
  add(c.Dimensions);
  add(c.dimensions);
  if (Object.keys(dimensions).length === 0) {
    const sr = searchResults.safeParse(ctx.SearchResults);
    const table = sr.success ? sr.data.tables[0] : undefined;
    if (table && table.rows.length === 1) {
      table.columns.forEach((col, i) => {
        const v = table.rows[0]![i];
        if (
          !col.name.startsWith("$") &&
          (typeof v === "string" || typeof v === "number") &&
          String(v).length <= 1024
        ) {
          if ((col.type ?? "string") === "string") dimensions[col.name] = String(v);
        }
      });
    }
  }
  const correlationId =
    typeof c.correlationId === "string" && c.correlationId.length <= 256 ? c.correlationId : undefined;
  return { dimensions, correlationId };
}

function checkSize(body: unknown): void {
  const size = Buffer.byteLength(JSON.stringify(body) ?? "", "utf8");
  if (size > MAX_ALERT_BYTES) {
    throw new InputError(
      "PayloadTooLarge",
      `alert payload is ${size} bytes; the limit is ${MAX_ALERT_BYTES}`,
      "",
      413,
    );
  }
}

function checkSchemaId(body: unknown, allowed: string[]): string {
  if (!isPlainObject(body)) throw new InputError("InvalidAlert", "expected a JSON object", "");
  const id = body.schemaId;
  if (typeof id !== "string" || !allowed.includes(id)) {
    throw new InputError(
      "UnsupportedSchema",
      `schemaId must be ${allowed.map((a) => `'${a}'`).join(" or ")} (enable the common alert schema on the action group)`,
      "schemaId",
    );
  }
  return id;
}

/** Parses a common-alert-schema payload (a budget alert in that schema is routed to the budget parser). */
export function parseMonitorAlert(body: unknown): Signal {
  checkSize(body);
  checkSchemaId(body, [COMMON_ALERT_SCHEMA_ID]);
  if (isCommonSchemaBudget(body)) return parseCommonSchemaBudget(body);
  const p = parseOrThrow(alertSchema, body, "", "InvalidAlert");
  const e = p.data.essentials;

  const targets: SignalTarget[] = [];
  const seen = new Set<string>();
  e.alertTargetIDs.forEach((raw, i) => {
    const id = resourceIdAt(raw, `data.essentials.alertTargetIDs[${i}]`);
    const key = id.id.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      targets.push(targetOf(id));
    }
  });

  const resolvedAt = e.resolvedDateTime ?? undefined;
  if (e.monitorCondition === "Resolved" && resolvedAt === undefined) {
    throw new InputError(
      "InvalidAlert",
      "a Resolved alert needs resolvedDateTime",
      "data.essentials.resolvedDateTime",
    );
  }
  if (resolvedAt !== undefined && resolvedAt < e.firedDateTime) {
    throw new InputError(
      "InvalidAlert",
      "resolvedDateTime is before firedDateTime",
      "data.essentials.resolvedDateTime",
    );
  }
  const { dimensions, correlationId } = mergeDimensions(p.data.alertContext);

  const alert = compact<AlertDetail>({
    alertId: e.alertId,
    ruleName: e.alertRule,
    condition: e.monitorCondition,
    severity: e.severity ?? undefined,
    signalType: e.signalType ?? undefined,
    firedAt: e.firedDateTime,
    resolvedAt: e.monitorCondition === "Resolved" ? resolvedAt : undefined,
    dimensions,
  });
  return compact<Signal>({
    source: "monitor",
    type: `alert.${e.monitorCondition}`,
    id: e.alertId,
    dedupeKey: `alert:${e.alertId}:${e.monitorCondition}`,
    correlationId,
    time: e.monitorCondition === "Resolved" ? resolvedAt! : e.firedDateTime,
    subscriptionId: targets[0]!.subscriptionId,
    trigger: { alert: e.alertRule, condition: e.monitorCondition },
    targets,
    alert,
  });
}

/** The `/api/alerts` route: common alert schema (alerts and budget alerts) or the legacy budget payload. */
export function parseAlertDelivery(body: unknown, opts: BudgetParseOptions = {}): Signal {
  checkSize(body);
  const schemaId = checkSchemaId(body, [COMMON_ALERT_SCHEMA_ID, LEGACY_BUDGET_SCHEMA_ID]);
  if (schemaId === LEGACY_BUDGET_SCHEMA_ID) return parseLegacyBudget(body, opts);
  return parseMonitorAlert(body);
}
