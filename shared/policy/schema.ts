/**
 * Policy-as-code schema (CONTRACT §8). A policy is data: validated with zod on load, every error
 * reported with its path. Kind-specific `params` are validated by the kind's own schema from the
 * remediation registry (see `load.ts`).
 */
import { z } from "zod";
import { isResourceId } from "../resource-id.js";

export const MODES = ["enforce", "approval", "dry-run", "off"] as const;
export type PolicyMode = (typeof MODES)[number];

/** Restrictiveness order: a later mode is more restrictive. */
const RESTRICTIVENESS: Record<PolicyMode, number> = { enforce: 0, approval: 1, "dry-run": 2, off: 3 };

/** The most restrictive of the given modes wins (global `DRIFTGUARD_MODE` vs policy `mode`). */
export function mostRestrictive(...modes: PolicyMode[]): PolicyMode {
  return modes.reduce((a, b) => (RESTRICTIVENESS[b] > RESTRICTIVENESS[a] ? b : a), "enforce");
}

const glob = z.string().min(1).max(256);

export const triggerSchema = z.union([
  z.strictObject({ eventGrid: glob }),
  z.strictObject({ keyVault: glob }),
  z.strictObject({ alert: glob }),
  z.strictObject({ budget: glob }),
  z.strictObject({ manual: glob }),
]);
export type PolicyTrigger = z.infer<typeof triggerSchema>;

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
});

export const policyFileSchema = z.strictObject({
  version: z.literal(1),
  policies: z.array(policySchema).min(1),
});

export type Policy = z.infer<typeof policySchema>;
export type PolicyFile = z.infer<typeof policyFileSchema>;
