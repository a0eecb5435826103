/**
 * `close-internet-inbound-rule` (docs/policies.md#close-internet-inbound-rule): closes NSG security
 * rules that allow inbound traffic from the whole Internet — and only those.
 *
 * Targets:
 * - `Microsoft.Network/networkSecurityGroups/securityRules` (a write on one rule): only that rule
 *   is considered, read by its own ID. Gone or no longer offending → noop.
 * - `Microsoft.Network/networkSecurityGroups` (a write on the whole NSG): every rule in
 *   `securityRules` is considered; `defaultSecurityRules` never are.
 *
 * Which rules offend, and what happens to each, is decided by the pure functions in `rules.ts`
 * and `plan.ts` from the current state read in `read`, never from the event. A rule whose sources
 * mix the Internet with other sources is narrowed (`narrowMixedRules`, default on): only its
 * Internet prefixes go, written as a PUT of that rule with `If-Match` on its etag. A rule whose
 * only source is the Internet is deleted (`securityRules.beginDeleteAndWait`). Rules are written
 * one after the other, narrowings first (ARM serialises updates of one NSG; a
 * `409 AnotherOperationInProgress` is treated as retryable); nothing else is ever written. ARM's
 * DELETE takes no If-Match through the SDK, so right before any write every planned rule is read
 * again and compared with the planned definition: a rule changed in between is left alone — the
 * run fails with a retryable `RuleChanged` before any write, and the redelivery re-plans from the
 * new state. A rule already gone counts as removed.
 *
 * Every rule is recorded as `{path: "properties.securityRules[<name>]", from: <full rule
 * definition>, to: null | <narrowed definition>}` so that a person can restore it.
 */
import { z } from "zod";
import { RemediationError, type Step, withStep } from "../../errors.js";
import { parseTargetId } from "../arm-helpers.js";
import { unsupportedType } from "../kind-steps.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import { deleteRule, narrowRule, readNsgRules, readRule, ruleIdOf } from "./arm.js";
import {
  type InboundRuleData,
  type InboundRuleState,
  type NsgLocation,
  type PlannedRule,
  planInboundRules,
} from "./plan.js";
import { isOffending, parsePortSpec, sameDefinition, sameEffectiveDefinition, sameName } from "./rules.js";

export type {
  InboundRuleData,
  InboundRuleState,
  NsgLocation,
  PlannedDeletion,
  PlannedNarrowing,
} from "./plan.js";

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
      narrowMixedRules: true            # default: a rule mixing Internet and private sources keeps the private ones
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
  narrowMixedRules: z
    .boolean()
    .default(true)
    .describe(
      "A rule whose sources mix the Internet with other sources (e.g. 10.1.0.0/16 and 0.0.0.0/0) loses only its Internet prefixes and keeps serving the others; false deletes it like a rule whose only source is the Internet",
    ),
});
export type Params = z.infer<typeof paramsSchema>;

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
    throw unsupportedType(KIND, id.type, resourceId, step);
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

export const remediation: Remediation<Params, InboundRuleState, InboundRuleData> = {
  kind: KIND,
  description:
    "Closes NSG security rules that allow inbound traffic from the whole Internet (*, 0.0.0.0/0, ::/0, Internet, Any), optionally only those exposing given ports: a rule whose only source is the Internet is deleted, a rule mixing Internet and other sources loses only its Internet prefixes — never any other rule",
  example,
  services: ["network"],
  permissions: {
    actions: [
      "Microsoft.Network/networkSecurityGroups/read",
      "Microsoft.Network/networkSecurityGroups/securityRules/read",
      "Microsoft.Network/networkSecurityGroups/securityRules/write",
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
    return planInboundRules(current.state, ctx.params);
  },

  async apply(plan: ChangePlan<InboundRuleData>, ctx: Ctx) {
    const d = plan.data;
    const narrowings = d.narrowings ?? [];
    const all: { rule: PlannedRule; narrow: boolean }[] = [
      ...narrowings.map((rule) => ({ rule, narrow: true })),
      ...d.deletions.map((rule) => ({ rule, narrow: false })),
    ];
    // Act on current state: re-read every planned rule before writing any. ARM DELETE has no
    // If-Match through the SDK, so this comparison is the concurrency check for deletions.
    const current = await withStep({ step: "apply", resourceId: d.nsgId }, () =>
      Promise.all(all.map(async (p) => ({ ...p, now: await readRule(d, p.rule.name, ctx) }))),
    );
    const changed = current.filter(
      ({ rule, now }) =>
        now !== undefined && !(rule.etag && now.etag === rule.etag) && !sameDefinition(now, rule.definition),
    );
    if (changed.length > 0) {
      const stillOffending = changed.filter(({ now }) => isOffending(now!, ctx.params.ports)).length;
      throw new RemediationError(
        "RuleChanged",
        `security rule(s) ${changed.map(({ rule }) => `'${rule.name}'`).join(", ")} changed since they were read (${stillOffending} still offending); nothing was written — re-plan from the current state`,
        { step: "apply", resourceId: ctx.target.resourceId, retryable: true, statusCode: 412 },
      );
    }
    const done: string[] = [];
    for (const { rule, narrow, now } of current) {
      if (now === undefined) {
        ctx.log.info({ kind: KIND, nsg: d.nsgId, rule: rule.name }, "security rule already gone");
        continue;
      }
      try {
        if (narrow) await narrowRule(d, narrowings.find((n) => n.name === rule.name)!, ctx);
        else await deleteRule(d, rule.name, ctx);
      } catch (err) {
        if (!(err instanceof RemediationError)) throw err;
        // 409 (AnotherOperationInProgress: the NSG is busy with another update) clears on its own.
        const retryable = err.retryable || err.statusCode === 409;
        if (done.length === 0 && retryable === err.retryable) throw err;
        const already =
          done.length > 0
            ? ` (${narrow ? "narrowing" : "deleting"} '${rule.name}'; already done: ${done.map((n) => `'${n}'`).join(", ")})`
            : "";
        throw new RemediationError(err.code, `${err.message}${already}`, {
          step: "apply",
          resourceId: err.resourceId,
          retryable,
          statusCode: err.statusCode,
          cause: err,
        });
      }
      done.push(rule.name);
    }
    ctx.log.info(
      {
        kind: KIND,
        nsg: d.nsgId,
        narrowed: narrowings.map((n) => n.name),
        deleted: d.deletions.map((x) => x.name),
      },
      "Internet-open inbound rules closed",
    );
    return plan.changes;
  },

  async verify(plan: ChangePlan<InboundRuleData>, ctx: Ctx): Promise<VerifyResult> {
    const d = plan.data;
    const narrowings = d.narrowings ?? [];
    const [nsg, deleted, narrowed] = await withStep({ step: "verify", resourceId: d.nsgId }, () =>
      Promise.all([
        readNsgRules(d, ctx),
        Promise.all(d.deletions.map((p) => readRule(d, p.name, ctx))),
        Promise.all(narrowings.map((p) => readRule(d, p.name, ctx))),
      ]),
    );
    const problems: string[] = [];
    d.deletions.forEach((p, i) => {
      if (deleted[i] !== undefined) problems.push(`security rule '${p.name}' still exists`);
    });
    narrowings.forEach((p, i) => {
      const now = narrowed[i];
      if (now === undefined) problems.push(`security rule '${p.name}' (narrowed) no longer exists`);
      else if (!sameEffectiveDefinition(now, p.narrowed))
        problems.push(`security rule '${p.name}' is not the narrowed rule (${ruleIdOf(d, p.name)})`);
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
        if (!now) problems.push(`security rule '${u.name}' (not planned for change) is missing`);
        else if (!sameDefinition(now, u))
          problems.push(`security rule '${u.name}' (not planned for change) changed`);
      }
    }
    return problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join("; ") };
  },
};
