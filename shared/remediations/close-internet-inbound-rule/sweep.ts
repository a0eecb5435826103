/**
 * `close-internet-inbound-rule` in a sweep: an NSG's row in Resource Graph holds its rules inline
 * (`properties.securityRules`), so each rule is judged from the row — no ARM request for a
 * compliant NSG. When a sweeping policy of the kind names the rule type, each custom rule is a
 * subject of its own (one record per rule removed, the same resource events about that rule
 * use); else the NSG is (one record for all its offending rules). Rules carry no tags: the
 * NSG's govern them, as in `read`.
 */
import { isPlainObject } from "../../signals/common.js";
import type { SweepRow, SweepSubject, SweepSupport } from "../types.js";
import { type NsgRule, offendingRules, type PortSpec } from "./rules.js";

const NSG_TYPE = "Microsoft.Network/networkSecurityGroups";
const RULE_TYPE = "Microsoft.Network/networkSecurityGroups/securityRules";

/** The rules a subject stands for: one rule, or every custom rule of the NSG. */
export interface InboundRuleRowState {
  rules: NsgRule[];
}

/** ARM's nested rule `{name, id, properties:{…}}` → the flattened shape `rules.ts` reads. */
function flatten(raw: unknown): NsgRule | undefined {
  if (!isPlainObject(raw)) return undefined;
  const props = isPlainObject(raw.properties) ? raw.properties : {};
  return {
    ...(props as NsgRule),
    ...(typeof raw.id === "string" ? { id: raw.id } : {}),
    ...(typeof raw.name === "string" ? { name: raw.name } : {}),
  };
}

export const inboundRuleSweep: SweepSupport<{ ports?: PortSpec[] }, InboundRuleRowState> = {
  reads: "none",
  rowTypes: (types) =>
    types.some((t) => [NSG_TYPE, RULE_TYPE].some((k) => k.toLowerCase() === t.toLowerCase()))
      ? [NSG_TYPE.toLowerCase()]
      : [],
  subjects(row: SweepRow, ctx): SweepSubject<InboundRuleRowState>[] {
    if (row.type.toLowerCase() !== NSG_TYPE.toLowerCase()) return [];
    const raw = row.properties?.securityRules;
    const rules = (Array.isArray(raw) ? raw : [])
      .map(flatten)
      .filter((r): r is NsgRule => r !== undefined && typeof r.name === "string" && r.name !== "");
    if (ctx.covers(RULE_TYPE)) {
      return rules.map((rule) => ({
        resourceId: `${row.id}/securityRules/${rule.name}`,
        resourceType: RULE_TYPE,
        tags: row.tags,
        state: { rules: [rule] },
      }));
    }
    return [{ resourceId: row.id, resourceType: NSG_TYPE, tags: row.tags, state: { rules } }];
  },
  finding(subject, params) {
    const offending = offendingRules(subject.state.rules, params.ports);
    if (offending.length === 0) return undefined;
    return `allows inbound traffic from the Internet: ${offending
      .map(
        (r) =>
          `'${r.name}' (${r.sourceAddressPrefix ?? r.sourceAddressPrefixes?.join(",") ?? "?"} → ${r.destinationPortRange ?? r.destinationPortRanges?.join(",") ?? "*"})`,
      )
      .join(", ")}`;
  },
};
