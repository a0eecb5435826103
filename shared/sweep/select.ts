/**
 * What a sweep covers (pure): which policies sweep, which Resource Graph types to query (one
 * pass for all of them), which subscriptions, and which policy governs each subject.
 *
 * A policy sweeps unless it says `sweep: false`, its mode is `off`, or its kind cannot sweep;
 * `--policy` narrows the run to named policies. A subject counts only for the **first policy of its
 * kind** whose `resourceTypes` and `scope` match it (triggers do not apply) — the policy events about
 * it would use — and only when that policy sweeps.
 */
import { InputError } from "../errors.js";
import { inScope } from "../policy/match.js";
import type { Policy } from "../policy/schema.js";
import type { RemediationRegistry } from "../remediations/registry.js";
import type { AnyRemediation, SweepSubject, SweepSupport } from "../remediations/types.js";
import { isUnderScope, parseResourceId, sameType } from "../resource-id.js";

export interface SweepingKind {
  remediation: AnyRemediation;
  sweep: SweepSupport;
  /** Every policy of the kind, in file order (first match decides). */
  policies: Policy[];
  /** The policies of the kind that take part in this run. */
  sweeping: Policy[];
  /** Resource Graph types (lower-case) whose rows this kind looks at. */
  rowTypes: Set<string>;
  /** Whether some sweeping policy of the kind names the type. */
  covers(resourceType: string): boolean;
  /** The policy (and its params) governing a subject of the kind, if it sweeps in this run. */
  governing(resourceId: string, resourceType: string): { policy: string; params: unknown } | undefined;
}

export interface SweepSelection {
  kinds: SweepingKind[];
  /** The sweeping policies, in file order. */
  policies: Policy[];
  /** Union of the kinds' row types, sorted: the one query's `type in~ (…)`. */
  rowTypes: string[];
}

export function sweeps(policy: Policy, remediation: AnyRemediation | undefined): boolean {
  return !!remediation?.sweep && policy.sweep !== false && policy.mode !== "off";
}

/** The sweeping policies and kinds; an unknown or non-sweeping `--policy` is an InputError. */
export function selectSweep(
  policies: readonly Policy[],
  registry: RemediationRegistry,
  policyNames: readonly string[] = [],
): SweepSelection {
  for (const name of policyNames) {
    const p = policies.find((x) => x.name === name);
    if (!p) throw new InputError("UnknownPolicy", `no policy named '${name}' in the policy file`, "--policy");
    const r = registry.get(p.kind);
    if (!r?.sweep)
      throw new InputError(
        "PolicyCannotSweep",
        `policy '${name}' (kind ${p.kind}) does not sweep`,
        "--policy",
      );
    if (!sweeps(p, r))
      throw new InputError(
        "PolicyNotSwept",
        `policy '${name}' does not sweep (${p.mode === "off" ? "mode off" : "sweep: false"})`,
        "--policy",
      );
  }
  const wanted = (p: Policy) => policyNames.length === 0 || policyNames.includes(p.name);
  const kinds: SweepingKind[] = [];
  for (const remediation of registry.all) {
    if (!remediation.sweep) continue;
    const ofKind = policies.filter((p) => p.kind === remediation.kind);
    const sweeping = ofKind.filter((p) => sweeps(p, remediation) && wanted(p));
    if (sweeping.length === 0) continue;
    const types = [...new Set(sweeping.flatMap((p) => p.resourceTypes))];
    const kind: SweepingKind = {
      remediation,
      sweep: remediation.sweep,
      policies: ofKind,
      sweeping,
      rowTypes: new Set(remediation.sweep.rowTypes(types).map((t) => t.toLowerCase())),
      covers: (type) => types.some((t) => sameType(t, type)),
      governing: (resourceId, resourceType) => {
        const p = policyFor(kind, { resourceId, resourceType });
        return p ? { policy: p.name, params: p.params } : undefined;
      },
    };
    kinds.push(kind);
  }
  const names = new Set(kinds.flatMap((k) => k.sweeping.map((p) => p.name)));
  return {
    kinds,
    policies: policies.filter((p) => names.has(p.name)),
    rowTypes: [...new Set(kinds.flatMap((k) => [...k.rowTypes]))].sort(),
  };
}

/** The policy that governs `subject` for its kind, if it sweeps in this run. */
export function policyFor(
  kind: SweepingKind,
  subject: Pick<SweepSubject, "resourceId" | "resourceType">,
): Policy | undefined {
  const target = { resourceId: subject.resourceId, resourceType: subject.resourceType, subscriptionId: "" };
  const first = kind.policies.find(
    (p) => p.resourceTypes.some((t) => sameType(t, subject.resourceType)) && inScope(p, target),
  );
  return first && kind.sweeping.includes(first) ? first : undefined;
}

/** Whether any sweeping policy of the kind could govern something under `rowId` (skips per-row reads). */
export function mayGovern(kind: SweepingKind, rowId: string): boolean {
  return kind.sweeping.some(
    (p) => p.scope.length === 0 || p.scope.some((s) => isUnderScope(rowId, s) || isUnderScope(s, rowId)),
  );
}

/**
 * The subscriptions to query: `--subscription` when given; else the policies' scopes when every
 * sweeping policy is scoped (each scope names its subscription); else `DRIFTGUARD_SWEEP_SUBSCRIPTIONS`
 * (with the scoped ones); else null — every subscription the identity can read (tenant scope).
 */
export function sweepSubscriptions(
  selection: SweepSelection,
  configured: readonly string[],
  requested: readonly string[] = [],
): string[] | null {
  const norm = (s: string) => s.toLowerCase();
  if (requested.length > 0) return [...new Set(requested.map(norm))];
  const scoped = selection.policies.flatMap((p) =>
    p.scope.map((s) => norm(parseResourceId(s).subscriptionId)),
  );
  const unscoped = selection.policies.some((p) => p.scope.length === 0);
  if (!unscoped) return [...new Set(scoped)];
  if (configured.length > 0) return [...new Set([...configured.map(norm), ...scoped])];
  return null;
}

/** Batches of at most `size` subscriptions (Microsoft's advice: fewer than 300 per query). */
export function subscriptionBatches(subs: readonly string[] | null, size = 300): (string[] | undefined)[] {
  if (subs === null) return [undefined];
  const out: string[][] = [];
  for (let i = 0; i < subs.length; i += size) out.push(subs.slice(i, i + size));
  return out;
}

const SAFE_TYPE = /^[a-z0-9.]+(\/[a-z0-9.]+)+$/;

/** The one Resource Graph query of a run: every row of the types, ordered by ID for stable pages. */
export function buildQuery(rowTypes: readonly string[]): string {
  for (const t of rowTypes) if (!SAFE_TYPE.test(t)) throw new Error(`unexpected resource type '${t}'`);
  return [
    "resources",
    `| where type in~ (${rowTypes.map((t) => `'${t}'`).join(", ")})`,
    "| project id, name, type, kind, subscriptionId, resourceGroup, location, tags, properties",
    "| order by id asc",
  ].join(" ");
}

const SAFE_ID = /^\/subscriptions\/[A-Za-z0-9_\-.()~ /]+$/;

/** Tags of named resources (an online endpoint's workspace), for exemptions a row does not carry. */
export function buildTagsQuery(ids: readonly string[]): string {
  for (const id of ids)
    if (!SAFE_ID.test(id) || id.includes("'")) throw new Error(`unexpected resource ID '${id}'`);
  return `resources | where id in~ (${ids.map((id) => `'${id}'`).join(", ")}) | project id, tags`;
}
