/**
 * `close-internet-inbound-rule` (docs/policies.md#close-internet-inbound-rule): removes NSG security rules that allow inbound
 * traffic from the whole Internet — and only those.
 *
 * Targets:
 * - `Microsoft.Network/networkSecurityGroups/securityRules` (a write on one rule): only that rule
 *   is considered, read by its own ID. Gone or no longer offending → noop.
 * - `Microsoft.Network/networkSecurityGroups` (a write on the whole NSG): every rule in
 *   `securityRules` is considered; `defaultSecurityRules` never are.
 *
 * Which rules offend is decided by the pure functions in `rules.ts` (`offendingRules`), from
 * the current state read in `read`, never from the event. Each offending rule is deleted on its
 * own (`securityRules.beginDeleteAndWait`), one after the other (ARM serialises updates of one NSG;
 * a `409 AnotherOperationInProgress` is treated as retryable); nothing else is ever written. ARM's DELETE takes no
 * If-Match through the SDK, so right before the deletes every planned rule is read again and
 * compared with the planned definition: a rule changed in between (e.g. narrowed to a restricted
 * source) is not deleted — the run fails with a retryable `RuleChanged` before any delete, and
 * the redelivery re-plans from the new state. A rule already gone counts as removed.
 *
 * Every removed rule is recorded as `{path: "properties.securityRules[<name>]", from: <full rule
 * definition>, to: null}` so that a person can restore it.
 */
import { z } from "zod";
import type { Change } from "../../audit/types.js";
import { RemediationError, type Step, withStep } from "../../errors.js";
import { orNotFound, parseTargetId, tagsOf } from "../arm-helpers.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import {
  isOffending,
  type NsgRule,
  offendingRules,
  parsePortSpec,
  type RuleDefinition,
  ruleDefinition,
  sameDefinition,
  sameName,
} from "./rules.js";
import { inboundRuleSweep } from "./sweep.js";

export const KIND = "close-internet-inbound-rule";

export const NSG_TYPE = "Microsoft.Network/networkSecurityGroups";
export const RULE_TYPE = "Microsoft.Network/networkSecurityGroups/securityRules";

/** A port (`22`) or range (`"20-30"`); the message names what is wrong (range, order, `*`). */
const portSpecSchema = z
  .union([z.number(), z.string()], { error: 'expected a port number or a range string like "20-30"' })
  .superRefine((spec, ctx) => {
    try {
      parsePortSpec(spec);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });

export const example = `version: 1
policies:
  - name: no-internet-inbound
    description: NSG rules never allow SSH or RDP from the Internet
    resourceTypes:
      - Microsoft.Network/networkSecurityGroups
      - Microsoft.Network/networkSecurityGroups/securityRules
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: ${KIND}
    params:
      ports: [22, 3389, "5985-5986"]    # optional: leave out for any port
    mode: enforce
`;

export const paramsSchema = z.strictObject({
  ports: z
    .array(portSpecSchema)
    .min(1, "list at least one port, or leave ports out for any port")
    .max(256)
    .optional()
    .describe(
      'Only rules exposing any of these ports: a port 0-65535 (22) or a range "from-to" with from <= to ("20-30"); "*" is refused, leave ports out for any port',
    ),
});
export type Params = z.infer<typeof paramsSchema>;

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

export interface PlannedDeletion {
  name: string;
  id?: string;
  etag?: string;
  definition: RuleDefinition;
}

export interface InboundRuleData extends NsgLocation {
  deletions: PlannedDeletion[];
  /** Definitions of the NSG's other custom rules at plan time: verify checks they are unchanged. */
  untouched: RuleDefinition[];
}

type Ctx = RemediationContext<Params>;

interface Target extends NsgLocation {
  scope: "rule" | "nsg";
  ruleName?: string;
  resourceId: string;
}

function resolveTarget(resourceId: string, step: Step): Target {
  const id = parseTargetId(resourceId, step);
  const type = id.type.toLowerCase();
  const nsgPair = id.names[0];
  if (
    !id.resourceGroup ||
    !nsgPair ||
    (type !== NSG_TYPE.toLowerCase() && type !== RULE_TYPE.toLowerCase())
  ) {
    throw new RemediationError(
      "UnsupportedResourceType",
      `${KIND} does not support resource type '${id.type}'`,
      {
        step,
        resourceId,
        retryable: false,
      },
    );
  }
  const nsgName = nsgPair[1];
  const nsgId = `/subscriptions/${id.subscriptionId}/resourceGroups/${id.resourceGroup}/providers/${id.namespace}/${nsgPair[0]}/${nsgName}`;
  const base = {
    subscriptionId: id.subscriptionId,
    resourceGroup: id.resourceGroup,
    nsgName,
    nsgId,
    resourceId: id.id,
  };
  return type === RULE_TYPE.toLowerCase()
    ? { ...base, scope: "rule", ruleName: id.names[1]![1] }
    : { ...base, scope: "nsg" };
}

/** Drops everything the SDK adds that isn't part of the rule (keeps etag for change detection). */
function toRule(r: NsgRule): NsgRule {
  return { ...ruleDefinition(r), ...(r.etag ? { etag: r.etag } : {}) };
}

async function readNsgRules(
  loc: NsgLocation,
  ctx: Ctx,
): Promise<{ rules: NsgRule[]; tags: Record<string, string> } | undefined> {
  const nsg = await orNotFound(() =>
    ctx.clients.network(loc.subscriptionId).networkSecurityGroups.get(loc.resourceGroup, loc.nsgName),
  );
  if (!nsg) return undefined;
  return { rules: (nsg.securityRules ?? []).map((r) => toRule(r as NsgRule)), tags: tagsOf(nsg) };
}

async function readRule(loc: NsgLocation, name: string, ctx: Ctx): Promise<NsgRule | undefined> {
  const rule = await orNotFound(() =>
    ctx.clients.network(loc.subscriptionId).securityRules.get(loc.resourceGroup, loc.nsgName, name),
  );
  return rule ? toRule(rule as NsgRule) : undefined;
}

function describeRule(d: RuleDefinition): string {
  const src = [d.sourceAddressPrefix, ...(d.sourceAddressPrefixes ?? [])].filter(Boolean).join(",");
  const ports = [d.destinationPortRange, ...(d.destinationPortRanges ?? [])].filter(Boolean).join(",");
  return `'${d.name}' (${d.protocol ?? "*"} ${src || "?"} → ports ${ports || "*"})`;
}

export const remediation: Remediation<Params, InboundRuleState, InboundRuleData> = {
  kind: KIND,
  description:
    "Removes NSG security rules that allow inbound traffic from the whole Internet (*, 0.0.0.0/0, ::/0, Internet, Any), optionally only those exposing given ports — never any other rule",
  example,
  services: ["network"],
  permissions: {
    actions: [
      "Microsoft.Network/networkSecurityGroups/read",
      "Microsoft.Network/networkSecurityGroups/securityRules/read",
      "Microsoft.Network/networkSecurityGroups/securityRules/delete",
      "Microsoft.Network/locations/*/read",
    ],
  },
  paramsSchema,
  sweep: inboundRuleSweep,

  supports(resourceType: string): boolean {
    const t = resourceType.toLowerCase();
    return t === NSG_TYPE.toLowerCase() || t === RULE_TYPE.toLowerCase();
  },

  async read(ctx: Ctx): Promise<Current<InboundRuleState>> {
    const t = resolveTarget(ctx.target.resourceId, "read");
    return withStep({ step: "read", resourceId: t.resourceId }, async () => {
      const loc: NsgLocation = {
        subscriptionId: t.subscriptionId,
        resourceGroup: t.resourceGroup,
        nsgName: t.nsgName,
        nsgId: t.nsgId,
      };
      // The rule is read by its own ID (rule-level), the NSG for its tags and sibling rules.
      const [nsg, rule] = await Promise.all([
        readNsgRules(loc, ctx),
        t.scope === "rule" ? readRule(loc, t.ruleName!, ctx) : Promise.resolve(undefined),
      ]);
      const allRules = nsg?.rules ?? [];
      const state: InboundRuleState = {
        ...loc,
        scope: t.scope,
        ...(t.ruleName ? { ruleName: t.ruleName } : {}),
        exists: t.scope === "rule" ? nsg !== undefined && rule !== undefined : nsg !== undefined,
        candidates: t.scope === "rule" ? (rule && nsg ? [rule] : []) : allRules,
        allRules,
      };
      return { state, tags: nsg?.tags ?? {} };
    });
  },

  plan(current: Current<InboundRuleState>, ctx: Ctx): Plan<InboundRuleData> {
    const s = current.state;
    const ports = ctx.params.ports;
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
    const deletions: PlannedDeletion[] = offending.map((r) => ({
      name: r.name ?? "",
      ...(r.id ? { id: r.id } : {}),
      ...(r.etag ? { etag: r.etag } : {}),
      definition: ruleDefinition(r),
    }));
    const untouched = s.allRules
      .filter((r) => !deletions.some((d) => sameName(d.name, r.name)))
      .map((r) => ruleDefinition(r));
    const changes: Change[] = deletions.map((d) => ({
      path: `properties.securityRules[${d.name}]`,
      from: d.definition,
      to: null,
    }));
    return {
      action: "change",
      changes,
      summary: `Remove ${deletions.length === 1 ? "Internet-open inbound rule" : `${deletions.length} Internet-open inbound rules`} ${deletions.map((d) => describeRule(d.definition)).join(", ")} from NSG '${s.nsgName}'`,
      data: {
        subscriptionId: s.subscriptionId,
        resourceGroup: s.resourceGroup,
        nsgName: s.nsgName,
        nsgId: s.nsgId,
        deletions,
        untouched,
      },
    };
  },

  async apply(plan: ChangePlan<InboundRuleData>, ctx: Ctx) {
    const d = plan.data;
    // Act on current state: re-read every planned rule before deleting any. ARM DELETE has no
    // If-Match through the SDK, so this comparison is the concurrency check.
    const current = await withStep({ step: "apply", resourceId: d.nsgId }, () =>
      Promise.all(d.deletions.map(async (p) => ({ planned: p, now: await readRule(d, p.name, ctx) }))),
    );
    const changed = current.filter(
      ({ planned, now }) =>
        now !== undefined &&
        !(planned.etag && now.etag === planned.etag) &&
        !sameDefinition(now, planned.definition),
    );
    if (changed.length > 0) {
      const stillOffending = changed.filter(({ now }) => isOffending(now!, ctx.params.ports)).length;
      throw new RemediationError(
        "RuleChanged",
        `security rule(s) ${changed.map(({ planned }) => `'${planned.name}'`).join(", ")} changed since they were read (${stillOffending} still offending); nothing was deleted — re-plan from the current state`,
        { step: "apply", resourceId: ctx.target.resourceId, retryable: true, statusCode: 412 },
      );
    }
    const deleted: string[] = [];
    for (const { planned, now } of current) {
      if (now === undefined) {
        ctx.log.info({ kind: KIND, nsg: d.nsgId, rule: planned.name }, "security rule already gone");
        continue;
      }
      const ruleId = `${d.nsgId}/securityRules/${planned.name}`;
      try {
        await withStep({ step: "apply", resourceId: ruleId }, () =>
          orNotFound(() =>
            ctx.clients
              .network(d.subscriptionId)
              .securityRules.beginDeleteAndWait(d.resourceGroup, d.nsgName, planned.name, {
                ...ctx.clients.lro,
              }),
          ),
        );
      } catch (err) {
        if (!(err instanceof RemediationError)) throw err;
        // 409 (AnotherOperationInProgress: the NSG is busy with another update) clears on its own.
        const retryable = err.retryable || err.statusCode === 409;
        if (deleted.length === 0 && retryable === err.retryable) throw err;
        const already =
          deleted.length > 0
            ? ` (deleting '${planned.name}'; already deleted: ${deleted.map((n) => `'${n}'`).join(", ")})`
            : "";
        throw new RemediationError(err.code, `${err.message}${already}`, {
          step: "apply",
          resourceId: err.resourceId,
          retryable,
          statusCode: err.statusCode,
          cause: err,
        });
      }
      deleted.push(planned.name);
    }
    ctx.log.info({ kind: KIND, nsg: d.nsgId, deleted }, "Internet-open inbound rules removed");
    return plan.changes;
  },

  async verify(plan: ChangePlan<InboundRuleData>, ctx: Ctx): Promise<VerifyResult> {
    const d = plan.data;
    const [nsg, rules] = await withStep({ step: "verify", resourceId: d.nsgId }, () =>
      Promise.all([readNsgRules(d, ctx), Promise.all(d.deletions.map((p) => readRule(d, p.name, ctx)))]),
    );
    const problems: string[] = [];
    d.deletions.forEach((p, i) => {
      if (rules[i] !== undefined) problems.push(`security rule '${p.name}' still exists`);
    });
    if (!nsg) {
      problems.push(`NSG '${d.nsgName}' no longer exists`);
    } else {
      for (const p of d.deletions) {
        if (nsg.rules.some((r) => sameName(r.name, p.name)))
          problems.push(`NSG still lists security rule '${p.name}'`);
      }
      for (const u of d.untouched) {
        const now = nsg.rules.find((r) => sameName(r.name, u.name));
        if (!now) problems.push(`security rule '${u.name}' (not planned for removal) is missing`);
        else if (!sameDefinition(now, u))
          problems.push(`security rule '${u.name}' (not planned for removal) changed`);
      }
    }
    return problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join("; ") };
  },
};
