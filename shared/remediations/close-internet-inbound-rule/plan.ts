/**
 * Pure planning of `close-internet-inbound-rule` (no Azure SDK here): from the rules read, which
 * offending rules are deleted and which are narrowed — a rule whose sources mix the Internet with
 * other sources (`["10.1.0.0/16", "0.0.0.0/0"]`) loses only its Internet prefixes and keeps serving
 * the rest (`narrowMixedRules`, default on); a rule whose only source is the Internet is deleted.
 * Every change records the rule as it was (`from`), so a person can put it back.
 */
import type { Change } from "../../audit/types.js";
import type { Plan } from "../types.js";
import {
  type NsgRule,
  offendingRules,
  type PortSpec,
  type RuleDefinition,
  ruleDefinition,
  sameName,
  withoutInternetSources,
} from "./rules.js";

/** Where the target NSG is. */
export interface NsgLocation {
  subscriptionId: string;
  resourceGroup: string;
  nsgName: string;
  nsgId: string;
}

export interface InboundRuleState extends NsgLocation {
  /** `rule`: the signal is about one rule; `nsg`: about the whole NSG. */
  scope: "rule" | "nsg";
  /** Rule-level only: the rule's name (from the target ID). */
  ruleName?: string;
  /** False when the NSG (or, rule-level, the rule) no longer exists. */
  exists: boolean;
  /** Rules under consideration: rule-level → the rule itself (when it exists); NSG-level → all `securityRules`. */
  candidates: NsgRule[];
  /** Every custom rule of the NSG as read (never `defaultSecurityRules`). */
  allRules: NsgRule[];
}

/** A rule planned for deletion or narrowing, as it was read. */
export interface PlannedRule {
  name: string;
  id?: string;
  etag?: string;
  definition: RuleDefinition;
}

export type PlannedDeletion = PlannedRule;

export interface PlannedNarrowing extends PlannedRule {
  /** The rule without its Internet source prefixes (what is written). */
  narrowed: RuleDefinition;
}

export interface InboundRuleData extends NsgLocation {
  deletions: PlannedDeletion[];
  /** Absent in plans made before rules were narrowed (an approval of an older version). */
  narrowings?: PlannedNarrowing[];
  /** Definitions of the NSG's other custom rules at plan time: verify checks they are unchanged. */
  untouched: RuleDefinition[];
}

export interface PlanParams {
  ports?: readonly PortSpec[];
  narrowMixedRules: boolean;
}

export function rulePath(name: string): string {
  return `properties.securityRules[${name}]`;
}

function describeRule(d: RuleDefinition): string {
  const src = [d.sourceAddressPrefix, ...(d.sourceAddressPrefixes ?? [])].filter(Boolean).join(",");
  const ports = [d.destinationPortRange, ...(d.destinationPortRanges ?? [])].filter(Boolean).join(",");
  return `'${d.name}' (${d.protocol ?? "*"} ${src || "?"} → ports ${ports || "*"})`;
}

function planned(r: NsgRule): PlannedRule {
  return {
    name: r.name ?? "",
    ...(r.id ? { id: r.id } : {}),
    ...(r.etag ? { etag: r.etag } : {}),
    definition: ruleDefinition(r),
  };
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : `${n} ${many}`;
}

/** The plan for the rules read: delete Internet-only rules, narrow mixed ones, touch nothing else. */
export function planInboundRules(s: InboundRuleState, params: PlanParams): Plan<InboundRuleData> {
  const { ports, narrowMixedRules } = params;
  if (!s.exists) {
    return {
      action: "noop",
      reason:
        s.scope === "rule"
          ? `security rule '${s.ruleName}' no longer exists`
          : `NSG '${s.nsgName}' no longer exists`,
    };
  }
  const offending = offendingRules(s.candidates, ports);
  if (offending.length === 0) {
    const portText = ports ? ` on ports ${ports.join(", ")}` : "";
    return {
      action: "noop",
      reason:
        s.scope === "rule"
          ? `security rule '${s.ruleName}' does not allow inbound traffic from the Internet${portText}`
          : `NSG '${s.nsgName}' has no rule allowing inbound traffic from the Internet${portText}`,
    };
  }
  const deletions: PlannedDeletion[] = [];
  const narrowings: PlannedNarrowing[] = [];
  for (const r of offending) {
    const narrowed = narrowMixedRules ? withoutInternetSources(r) : undefined;
    if (narrowed) narrowings.push({ ...planned(r), narrowed });
    else deletions.push(planned(r));
  }
  const touched = [...deletions, ...narrowings];
  const untouched = s.allRules
    .filter((r) => !touched.some((d) => sameName(d.name, r.name)))
    .map((r) => ruleDefinition(r));
  // In the NSG's order, so that a record reads like the NSG.
  const changes: Change[] = offending.map((r) => {
    const n = narrowings.find((x) => sameName(x.name, r.name));
    return n
      ? { path: rulePath(n.name), from: n.definition, to: n.narrowed }
      : { path: rulePath(r.name ?? ""), from: ruleDefinition(r), to: null };
  });
  const removal = `${plural(deletions.length, "Internet-open inbound rule", "Internet-open inbound rules")} ${deletions.map((d) => describeRule(d.definition)).join(", ")}`;
  const narrowing = `${plural(narrowings.length, "mixed-source rule", "mixed-source rules")} ${narrowings.map((n) => `${describeRule(n.definition)} to ${describeRule(n.narrowed).replace(/^'[^']*' /, "")}`).join(", ")}`;
  const summary =
    narrowings.length === 0
      ? `Remove ${removal} from NSG '${s.nsgName}'`
      : deletions.length === 0
        ? `Narrow ${narrowing} in NSG '${s.nsgName}' (only the Internet sources go)`
        : `Remove ${removal} and narrow ${narrowing} in NSG '${s.nsgName}' (only the Internet sources go)`;
  return {
    action: "change",
    changes,
    summary,
    data: {
      subscriptionId: s.subscriptionId,
      resourceGroup: s.resourceGroup,
      nsgName: s.nsgName,
      nsgId: s.nsgId,
      deletions,
      narrowings,
      untouched,
    },
  };
}
