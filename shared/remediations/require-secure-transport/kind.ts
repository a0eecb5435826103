/**
 * `require-secure-transport` (docs/policies.md#require-secure-transport): HTTPS only and a TLS floor
 * (`params.minimumTlsVersion`, 1.2 or 1.3), raised but never lowered (`compliance.ts`):
 *
 * - Storage accounts: `supportsHttpsTrafficOnly: true`, `minimumTlsVersion` ≥ `TLS1_2`/`TLS1_3`.
 *   One PATCH (synchronous). Both fields always go together: arm-storage's serializer only emits
 *   `properties` for some field names and leaves out a PATCH of `enableHttpsTrafficOnly` alone; the
 *   field that needs no change is sent with the value read.
 * - Cosmos DB accounts: `minimalTlsVersion` ≥ `Tls12` (Cosmos DB has no 1.3: a 1.3 floor is Tls12
 *   there). PATCH, long-running (Azure-AsyncOperation, polled to the end).
 * - Web and function apps (`Microsoft.Web/sites`): `httpsOnly: true` on the site (PATCH) and
 *   `minTlsVersion` ≥ `1.2`/`1.3` in the site's web configuration (`…/config/web`, PATCH): one write
 *   per resource that needs one.
 *
 * **None of these types has an ETag**, so no `If-Match`: right before each write the resource is read
 * again and the run fails retryably (`ResourceChanged`) when a field the plan was made from changed.
 */
import { z } from "zod";
import type { Change } from "../../audit/types.js";
import { withStep } from "../../errors.js";
import { assertProvisioned, assertUnchanged, provisioningStateOf, tagsOf } from "../arm-helpers.js";
import {
  applyWrite,
  describeChanges,
  resolveTypedTarget,
  type TypedTarget,
  verifyReadBack,
} from "../kind-steps.js";
import type { ChangePlan, Current, Plan, Remediation, RemediationContext, VerifyResult } from "../types.js";
import { canonicalType, type SupportedType, type TlsFloor, transportChanges } from "./compliance.js";
import { transportSweep } from "./sweep.js";

export const KIND = "require-secure-transport";
export { SUPPORTED_TYPES } from "./compliance.js";

export const example = `version: 1
policies:
  - name: secure-transport
    description: Storage, Cosmos DB and web/function apps accept HTTPS with TLS 1.2 or newer only
    resourceTypes:
      - Microsoft.Storage/storageAccounts
      - Microsoft.DocumentDB/databaseAccounts
      - Microsoft.Web/sites
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: ${KIND}
    params:
      minimumTlsVersion: "1.2"          # or "1.3"; a higher setting is never lowered
    mode: enforce
`;

export const paramsSchema = z.strictObject({
  minimumTlsVersion: z
    .enum(["1.2", "1.3"])
    .default("1.2")
    .describe(
      'TLS floor: "1.2" or "1.3" (Cosmos DB has no 1.3 and gets Tls12). A resource already above it is never lowered',
    ),
});
export type Params = z.infer<typeof paramsSchema>;

/** What `read` found: only the deciding fields, named as in ARM's `properties`. */
export interface TransportState {
  resourceId: string;
  resourceType: SupportedType;
  /** Storage `{supportsHttpsTrafficOnly, minimumTlsVersion}`, Cosmos DB `{minimalTlsVersion}`, site `{httpsOnly}`; absent fields left out. */
  properties: Record<string, unknown>;
  /** Sites only: `{minTlsVersion}` of `…/config/web`. */
  webConfig?: Record<string, unknown>;
  provisioningState: string | null;
}

export interface TransportData {
  resourceType: SupportedType;
  /** The deciding fields as planned (compared with a fresh read before each write). */
  planned: Record<string, unknown>;
  plannedWebConfig?: Record<string, unknown>;
}

type Ctx = RemediationContext<Params>;

type Target = TypedTarget<SupportedType>;

const resolveTarget = (resourceId: string, step: "read" | "apply" | "verify"): Target =>
  resolveTypedTarget(KIND, resourceId, step, canonicalType);

/** `{name: value}` for the values that are present. */
function present(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null));
}

async function readSite(t: Target, ctx: Ctx) {
  const site = await ctx.clients.appService(t.id.subscriptionId).webApps.get(t.resourceGroup, t.name);
  return { site, properties: present({ httpsOnly: site.httpsOnly }) };
}

async function readWebConfig(t: Target, ctx: Ctx): Promise<Record<string, unknown>> {
  const config = await ctx.clients
    .appService(t.id.subscriptionId)
    .webApps.getConfiguration(t.resourceGroup, t.name);
  return present({ minTlsVersion: config.minTlsVersion });
}

async function readResource(
  t: Target,
  ctx: Ctx,
): Promise<{ state: TransportState; tags: Record<string, string> }> {
  const sub = t.id.subscriptionId;
  const base = { resourceId: t.id.id, resourceType: t.type };
  switch (t.type) {
    case "Microsoft.Storage/storageAccounts": {
      const acct = await ctx.clients.storage(sub).storageAccounts.getProperties(t.resourceGroup, t.name);
      return {
        state: {
          ...base,
          properties: present({
            supportsHttpsTrafficOnly: acct.enableHttpsTrafficOnly,
            minimumTlsVersion: acct.minimumTlsVersion,
          }),
          provisioningState: provisioningStateOf(acct) ?? null,
        },
        tags: tagsOf(acct),
      };
    }
    case "Microsoft.DocumentDB/databaseAccounts": {
      const acct = await ctx.clients.cosmosDb(sub).databaseAccounts.get(t.resourceGroup, t.name);
      return {
        state: {
          ...base,
          properties: present({ minimalTlsVersion: acct.minimalTlsVersion }),
          provisioningState: provisioningStateOf(acct) ?? null,
        },
        tags: tagsOf(acct),
      };
    }
    case "Microsoft.Web/sites": {
      const [{ site, properties }, webConfig] = await Promise.all([readSite(t, ctx), readWebConfig(t, ctx)]);
      return {
        state: { ...base, properties, webConfig, provisioningState: provisioningStateOf(site) ?? null },
        tags: tagsOf(site),
      };
    }
  }
}

function changeTo(changes: readonly Change[], path: string): unknown {
  return changes.find((c) => c.path === path)?.to;
}

/** The writes, each right after a fresh read of what it writes; returns the last write's answer. */
async function write(t: Target, plan: ChangePlan<TransportData>, ctx: Ctx): Promise<unknown> {
  const sub = t.id.subscriptionId;
  const { planned, plannedWebConfig } = plan.data;
  switch (t.type) {
    case "Microsoft.Storage/storageAccounts": {
      const fresh = await readResource(t, ctx);
      assertUnchanged(planned, fresh.state.properties, t.id.id);
      const tls =
        changeTo(plan.changes, "properties.minimumTlsVersion") ?? fresh.state.properties.minimumTlsVersion;
      return ctx.clients.storage(sub).storageAccounts.update(t.resourceGroup, t.name, {
        enableHttpsTrafficOnly: true,
        ...(typeof tls === "string" ? { minimumTlsVersion: tls } : {}),
      });
    }
    case "Microsoft.DocumentDB/databaseAccounts": {
      const fresh = await readResource(t, ctx);
      assertUnchanged(planned, fresh.state.properties, t.id.id);
      return ctx.clients
        .cosmosDb(sub)
        .databaseAccounts.beginUpdateAndWait(
          t.resourceGroup,
          t.name,
          { minimalTlsVersion: String(changeTo(plan.changes, "properties.minimalTlsVersion")) },
          ctx.clients.lro,
        );
    }
    case "Microsoft.Web/sites": {
      const web = ctx.clients.appService(sub).webApps;
      let last: unknown;
      if (plan.changes.some((c) => c.path === "properties.httpsOnly")) {
        const fresh = await readSite(t, ctx);
        assertUnchanged(planned, fresh.properties, t.id.id);
        last = await web.update(t.resourceGroup, t.name, { httpsOnly: true });
        assertProvisioned(last, "apply", t.id.id);
      }
      const tls = changeTo(plan.changes, "properties.siteConfig.minTlsVersion");
      if (typeof tls === "string") {
        assertUnchanged(plannedWebConfig ?? {}, await readWebConfig(t, ctx), t.id.id);
        last = await web.updateConfiguration(t.resourceGroup, t.name, { minTlsVersion: tls });
      }
      return last;
    }
  }
}

function changesOf(state: TransportState, floor: TlsFloor): Change[] {
  return transportChanges(state.resourceType, state.properties, floor, state.webConfig);
}

export const remediation: Remediation<Params, TransportState, TransportData> = {
  kind: KIND,
  description:
    "HTTPS only and TLS 1.2+ (or 1.3): Storage supportsHttpsTrafficOnly + minimumTlsVersion, Cosmos DB minimalTlsVersion, web/function apps httpsOnly + minTlsVersion; never lowers a higher setting",
  example,
  services: ["storage", "cosmosDb", "appService"],
  permissions: {
    actions: [
      "Microsoft.Storage/storageAccounts/read",
      "Microsoft.Storage/storageAccounts/write",
      "Microsoft.DocumentDB/databaseAccounts/read",
      "Microsoft.DocumentDB/databaseAccounts/write",
      "Microsoft.DocumentDB/locations/*/read",
      "Microsoft.Web/sites/read",
      "Microsoft.Web/sites/write",
      "Microsoft.Web/sites/config/read",
      "Microsoft.Web/sites/config/write",
    ],
  },
  paramsSchema,
  sweep: transportSweep,

  supports(resourceType: string): boolean {
    return canonicalType(resourceType) !== undefined;
  },

  async read(ctx: Ctx): Promise<Current<TransportState>> {
    const t = resolveTarget(ctx.target.resourceId, "read");
    return withStep({ step: "read", resourceId: t.id.id }, () => readResource(t, ctx));
  },

  plan(current: Current<TransportState>, ctx: Ctx): Plan<TransportData> {
    const state = current.state;
    const changes = changesOf(state, ctx.params.minimumTlsVersion);
    if (changes.length === 0)
      return {
        action: "noop",
        reason: `HTTPS only and TLS ${ctx.params.minimumTlsVersion} or newer already required`,
      };
    const what = describeChanges(changes);
    return {
      action: "change",
      changes,
      summary: `Require secure transport on ${state.resourceType} '${state.resourceId.split("/").pop()}' (${what}): clients on plain HTTP or an older TLS version are refused`,
      data: {
        resourceType: state.resourceType,
        planned: state.properties,
        ...(state.webConfig ? { plannedWebConfig: state.webConfig } : {}),
      },
    };
  },

  async apply(plan: ChangePlan<TransportData>, ctx: Ctx): Promise<Change[]> {
    const t = resolveTarget(ctx.target.resourceId, "apply");
    return applyWrite(KIND, t.id.id, plan, ctx, () => write(t, plan, ctx), "secure transport required");
  },

  async verify(plan: ChangePlan<TransportData>, ctx: Ctx): Promise<VerifyResult> {
    const t = resolveTarget(ctx.target.resourceId, "verify");
    return verifyReadBack(
      t.id.id,
      plan.changes,
      async () => (await readResource(t, ctx)).state,
      (state) => changesOf(state, ctx.params.minimumTlsVersion),
    );
  },
};
