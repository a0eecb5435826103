/**
 * Policy-as-code schema (docs/policies.md#policy-file-format). A policy is data: validated with zod on load, every error
 * reported with its path. Kind-specific `params` are validated by the kind's own schema from the
 * remediation registry (see `load.ts`).
 */
import { z } from "zod";
import { isResourceId } from "../resource-id.js";
import { BUDGET_THRESHOLD_TYPES } from "../signals/budget.js";
import type { BudgetThresholdType } from "../signals/types.js";

export const MODES = ["enforce", "approval", "dry-run", "off"] as const;
export type PolicyMode = (typeof MODES)[number];

/** Restrictiveness order: a later mode is more restrictive. */
const RESTRICTIVENESS: Record<PolicyMode, number> = { enforce: 0, approval: 1, "dry-run": 2, off: 3 };

/** The most restrictive of the given modes wins (global `DRIFTGUARD_MODE` vs policy `mode`). */
export function mostRestrictive(...modes: PolicyMode[]): PolicyMode {
  return modes.reduce((a, b) => (RESTRICTIVENESS[b] > RESTRICTIVENESS[a] ? b : a), "enforce");
}

const glob = z.string().min(1).max(256);

/** `Actual` / `actual` → `Actual`: the policy file may spell Azure's threshold types in any case. */
const budgetThresholdType = z.preprocess(
  (v) =>
    typeof v === "string"
      ? (BUDGET_THRESHOLD_TYPES.find((t) => t.toLowerCase() === v.toLowerCase()) ?? v)
      : v,
  z.enum(BUDGET_THRESHOLD_TYPES),
);

/** One schema per trigger key; a trigger names exactly one of them. */
const TRIGGER_SCHEMAS = {
  eventGrid: z.strictObject({ eventGrid: glob }),
  keyVault: z.strictObject({ keyVault: glob }),
  alert: z.strictObject({ alert: glob }),
  // Which budget notifications apply: actual spend past the threshold, spend forecast past it, or
  // both. Default `[Actual]`: a forecast is a prediction, not spend.
  budget: z.strictObject({
    budget: glob,
    thresholdTypes: z
      .preprocess((v) => (typeof v === "string" ? [v] : v), z.array(budgetThresholdType).min(1))
      .optional(),
  }),
  manual: z.strictObject({ manual: glob }),
};
type TriggerKey = keyof typeof TRIGGER_SCHEMAS;
const TRIGGER_KEYS = Object.keys(TRIGGER_SCHEMAS) as TriggerKey[];

export type PolicyTrigger = { [K in TriggerKey]: z.output<(typeof TRIGGER_SCHEMAS)[K]> }[TriggerKey];

/**
 * Picks the trigger's schema by its key and validates with it, so an error names the field inside
 * the trigger (`triggers[1].thresholdTypes[0]`) rather than "matches none of the alternatives".
 */
export const triggerSchema = z.unknown().transform((raw, ctx): PolicyTrigger => {
  const keys =
    typeof raw === "object" && raw !== null && !Array.isArray(raw)
      ? Object.keys(raw).filter((k): k is TriggerKey => Object.hasOwn(TRIGGER_SCHEMAS, k))
      : [];
  if (keys.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: `a trigger has exactly one of ${TRIGGER_KEYS.join(", ")}`,
    });
    return z.NEVER;
  }
  const result = TRIGGER_SCHEMAS[keys[0]!].safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues)
      ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
    return z.NEVER;
  }
  return result.data;
});

/** Threshold types a `budget` trigger acts on when it names none. */
export const DEFAULT_BUDGET_THRESHOLD_TYPES: readonly BudgetThresholdType[] = ["Actual"];

const resourceType = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+(\/[A-Za-z][A-Za-z0-9]*)+$/,
    "expected an ARM resource type like Microsoft.Network/networkSecurityGroups",
  );

export const policySchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lower-case letters, digits and '-', at most 63 characters"),
  description: z.string().max(1000).optional(),
  resourceTypes: z.array(resourceType).min(1),
  triggers: z.array(triggerSchema).min(1),
  kind: z.string().min(1),
  params: z.record(z.string(), z.unknown()).default({}),
  mode: z.enum(MODES).default("enforce"),
  scope: z
    .array(
      z
        .string()
        .refine(
          (s) => isResourceId(s),
          "expected a resource ID prefix like /subscriptions/<id>/resourceGroups/<rg>",
        ),
    )
    .default([]),
  maxActionsPerHour: z.number().int().min(1).max(100_000).default(20),
  /** `false`: a sweep of the estate leaves this policy's resources alone for its kind (events still
   *  apply). `true` on a kind that cannot sweep is an error (load.ts). Absent: the kind sweeps if it can. */
  sweep: z.boolean().optional(),
});

export const policyFileSchema = z.strictObject({
  version: z.literal(1),
  policies: z.array(policySchema).min(1),
});

export type Policy = z.infer<typeof policySchema>;
export type PolicyFile = z.infer<typeof policyFileSchema>;
