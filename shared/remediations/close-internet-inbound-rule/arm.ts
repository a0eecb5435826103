/**
 * The SDK reads and writes of `close-internet-inbound-rule`: the NSG with its rules, one rule by
 * its own ID, a rule's DELETE (long-running, no If-Match through the SDK) and a narrowed rule's
 * PUT (long-running, `If-Match` on the first request only; a `412` is re-read once, see `kind.ts`).
 */
import type { SecurityRule } from "@azure/arm-network";
import { asRemediationError, httpStatusOf, RemediationError, withStep } from "../../errors.js";
import { classicIfMatchOnce, orNotFound, tagsOf } from "../arm-helpers.js";
import type { RemediationContext } from "../types.js";
import type { NsgLocation, PlannedNarrowing } from "./plan.js";
import { type NsgRule, ruleDefinition, sameDefinition } from "./rules.js";

type Ctx = RemediationContext<unknown>;

/** Drops everything the SDK adds that isn't part of the rule (keeps etag for change detection). */
function toRule(r: NsgRule): NsgRule {
  return { ...ruleDefinition(r), ...(r.etag ? { etag: r.etag } : {}) };
}

export function ruleIdOf(loc: NsgLocation, name: string): string {
  return `${loc.nsgId}/securityRules/${name}`;
}

export async function readNsgRules(
  loc: NsgLocation,
  ctx: Ctx,
): Promise<{ rules: NsgRule[]; tags: Record<string, string> } | undefined> {
  const nsg = await orNotFound(() =>
    ctx.clients.network(loc.subscriptionId).networkSecurityGroups.get(loc.resourceGroup, loc.nsgName),
  );
  if (!nsg) return undefined;
  return { rules: (nsg.securityRules ?? []).map((r) => toRule(r as NsgRule)), tags: tagsOf(nsg) };
}

export async function readRule(loc: NsgLocation, name: string, ctx: Ctx): Promise<NsgRule | undefined> {
  const rule = await orNotFound(() =>
    ctx.clients.network(loc.subscriptionId).securityRules.get(loc.resourceGroup, loc.nsgName, name),
  );
  return rule ? toRule(rule as NsgRule) : undefined;
}

/** Deletes one rule (a rule already gone counts as deleted). */
export async function deleteRule(loc: NsgLocation, name: string, ctx: Ctx): Promise<void> {
  await withStep({ step: "apply", resourceId: ruleIdOf(loc, name) }, () =>
    orNotFound(() =>
      ctx.clients
        .network(loc.subscriptionId)
        .securityRules.beginDeleteAndWait(loc.resourceGroup, loc.nsgName, name, { ...ctx.clients.lro }),
    ),
  );
}

function putRule(loc: NsgLocation, n: PlannedNarrowing, etag: string | undefined, ctx: Ctx) {
  const { name: _name, id: _id, ...fields } = n.narrowed;
  const body: SecurityRule = { ...(fields as SecurityRule) };
  return ctx.clients
    .network(loc.subscriptionId)
    .securityRules.beginCreateOrUpdateAndWait(loc.resourceGroup, loc.nsgName, n.name, body, {
      ...ctx.clients.lro,
      ...classicIfMatchOnce(etag),
    });
}

/**
 * Writes the narrowed rule with `If-Match` on the etag it was planned from. On `412` the rule is
 * read again: when its definition is still the planned one (only its etag moved, e.g. another
 * rule of the NSG changed) it is written once more with the new etag; otherwise nothing is written
 * and the run fails with the retryable `RuleChanged`.
 */
export async function narrowRule(loc: NsgLocation, n: PlannedNarrowing, ctx: Ctx): Promise<void> {
  const resourceId = ruleIdOf(loc, n.name);
  try {
    await putRule(loc, n, n.etag, ctx);
    return;
  } catch (err) {
    if (httpStatusOf(err) !== 412) throw asRemediationError(err, { step: "apply", resourceId });
    ctx.log.info({ resourceId }, "security rule changed since read (412); re-reading once");
  }
  const now = await withStep({ step: "apply", resourceId }, () => readRule(loc, n.name, ctx));
  if (!now || !sameDefinition(now, n.definition)) {
    throw new RemediationError(
      "RuleChanged",
      `security rule '${n.name}' ${now ? "changed" : "was deleted"} while being narrowed; nothing was written to it — re-plan from the current state`,
      { step: "apply", resourceId, retryable: true, statusCode: 412 },
    );
  }
  await withStep(
    {
      step: "apply",
      resourceId,
      statuses: {
        412: {
          code: "PreconditionFailed",
          message: `security rule '${n.name}' changed again between read and write (If-Match failed twice)`,
          retryable: true,
        },
      },
    },
    () => putRule(loc, n, now.etag, ctx),
  );
}
