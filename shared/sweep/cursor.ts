/** The sweep's cursor (kept with the lease between pages) and the Resource Graph row it reads. */
import type { PolicyPosture } from "../ports/sweep-store.js";
import type { SweepRow } from "../remediations/types.js";
import { isPlainObject } from "../signals/common.js";
import type { ExemptionNote, SweepReport } from "./report.js";

/** Progress kept with the lease: enough to continue the run from its next page. */
export interface SweepCursor {
  v: 1;
  runId: string;
  startedAt: string;
  trigger: "timer" | "cli";
  dryRun: boolean;
  policyNames: string[];
  subscriptions: string[] | null;
  maxChanges: number;
  batch: number;
  skipToken?: string;
  partSeq: number;
  changes: number;
  counts: PolicyPosture[];
  exemptions: ExemptionNote[];
  exemptionsNotListed: number;
  errors: { resourceId: string; message: string }[];
  graph: SweepReport["graph"];
}

export const MAX_EXEMPTION_NOTES = 1000;
export const MAX_ERRORS = 100;

export function isSweepCursor(v: unknown): v is SweepCursor {
  return (
    isPlainObject(v) &&
    v.v === 1 &&
    typeof v.runId === "string" &&
    typeof v.startedAt === "string" &&
    typeof v.batch === "number" &&
    Array.isArray(v.counts)
  );
}

export function toRow(raw: Record<string, unknown>): SweepRow | undefined {
  const { id, name, type } = raw;
  if (typeof id !== "string" || typeof type !== "string" || typeof name !== "string") return undefined;
  const tags: Record<string, string> = {};
  if (isPlainObject(raw.tags)) for (const [k, v] of Object.entries(raw.tags)) tags[k] = String(v ?? "");
  return {
    id,
    name,
    type,
    ...(typeof raw.kind === "string" && raw.kind !== "" ? { kind: raw.kind } : {}),
    subscriptionId: typeof raw.subscriptionId === "string" ? raw.subscriptionId : (id.split("/")[2] ?? ""),
    resourceGroup: typeof raw.resourceGroup === "string" ? raw.resourceGroup : "",
    ...(typeof raw.location === "string" ? { location: raw.location } : {}),
    tags,
    properties: isPlainObject(raw.properties) ? raw.properties : {},
  };
}
