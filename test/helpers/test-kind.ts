/**
 * A test-only remediation kind: turns off shared-key access on Storage accounts
 * (`properties.allowSharedKeyAccess: false`, one ARM PATCH through the real Storage SDK against the
 * simulator). It exists so that the tests can govern one resource with two kinds while the shipped
 * kinds have no resource type in common; it follows the `Remediation` contract exactly (current
 * state → plan → apply → verify by reading back).
 */
import { z } from "zod";
import { withStep } from "../../shared/errors.js";
import { modularIfMatch, parseTargetId, tagsOf } from "../../shared/remediations/arm-helpers.js";
import type { Remediation } from "../../shared/remediations/types.js";

export const TEST_KIND = "test-no-shared-key";
const STORAGE = "Microsoft.Storage/storageAccounts";

interface State {
  allowSharedKeyAccess: boolean | null;
}

async function readAccount(ctx: Parameters<Remediation["read"]>[0]) {
  const t = parseTargetId(ctx.target.resourceId);
  const acct = await ctx.clients
    .storage(t.subscriptionId)
    .storageAccounts.getProperties(t.resourceGroup!, t.name);
  return { t, acct };
}

export const noSharedKey: Remediation<Record<string, never>, State, null> = {
  kind: TEST_KIND,
  description: "Test-only: sets allowSharedKeyAccess to false on Storage accounts",
  example: `version: 1
policies:
  - name: storage-no-shared-key
    resourceTypes: [${STORAGE}]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: ${TEST_KIND}
`,
  services: ["storage"],
  permissions: { actions: [`${STORAGE}/read`, `${STORAGE}/write`] },
  paramsSchema: z.strictObject({}) as unknown as z.ZodType<Record<string, never>>,
  supports: (type) => type.toLowerCase() === STORAGE.toLowerCase(),
  async read(ctx) {
    const { acct } = await withStep({ step: "read", resourceId: ctx.target.resourceId }, () =>
      readAccount(ctx),
    );
    return {
      state: {
        allowSharedKeyAccess:
          typeof acct.allowSharedKeyAccess === "boolean" ? acct.allowSharedKeyAccess : null,
      },
      tags: tagsOf(acct),
    };
  },
  plan(current) {
    if (current.state.allowSharedKeyAccess === false)
      return { action: "noop", reason: "shared-key access is already off" };
    return {
      action: "change",
      changes: [
        { path: "properties.allowSharedKeyAccess", from: current.state.allowSharedKeyAccess, to: false },
      ],
      summary: "Turn off shared-key access",
      data: null,
    };
  },
  async apply(plan, ctx) {
    await withStep({ step: "apply", resourceId: ctx.target.resourceId }, async () => {
      const t = parseTargetId(ctx.target.resourceId);
      await ctx.clients
        .storage(t.subscriptionId)
        .storageAccounts.update(
          t.resourceGroup!,
          t.name,
          { allowSharedKeyAccess: false },
          modularIfMatch(undefined),
        );
    });
    return plan.changes;
  },
  async verify(_plan, ctx) {
    const { acct } = await withStep({ step: "verify", resourceId: ctx.target.resourceId }, () =>
      readAccount(ctx),
    );
    return acct.allowSharedKeyAccess === false
      ? { ok: true }
      : { ok: false, detail: `allowSharedKeyAccess is ${String(acct.allowSharedKeyAccess)}` };
  },
};
