/**
 * `require-secure-transport` in a sweep. Storage (`supportsHttpsTrafficOnly`, `minimumTlsVersion`)
 * and Cosmos DB (`minimalTlsVersion`) keep their fields in Resource Graph's `resources` table: their
 * rows decide on their own, with no ARM request. A site's `httpsOnly` is in its row too, but its TLS
 * floor (`minTlsVersion`) lives in its web configuration `…/config/web`, which Resource Graph keeps
 * in another table (`appserviceresources`), not in `resources`; a site row's `siteConfig` need not
 * carry it. So each site row a sweeping policy governs costs one ARM read, `GET …/config/web`
 * (the one `read` makes too); other rows none. Decisions use the same rules as `read` and `verify`
 * (`compliance.ts`): raised, never lowered.
 */
import { asRemediationError } from "../../errors.js";
import { parseResourceId } from "../../resource-id.js";
import { orNotFound } from "../arm-helpers.js";
import type { SweepContext, SweepRow, SweepSubject, SweepSupport } from "../types.js";
import { canonicalType, type SupportedType, type TlsFloor, transportChanges } from "./compliance.js";

/** The deciding fields as the row (and, for a site, its `config/web`) show them. */
export interface TransportRowState {
  resourceType: SupportedType;
  properties: Record<string, unknown>;
  /** Sites only: `{minTlsVersion}` of `…/config/web` as read. */
  webConfig?: Record<string, unknown>;
}

const FIELDS: Record<SupportedType, readonly string[]> = {
  "Microsoft.Storage/storageAccounts": ["supportsHttpsTrafficOnly", "minimumTlsVersion"],
  "Microsoft.DocumentDB/databaseAccounts": ["minimalTlsVersion"],
  "Microsoft.Web/sites": ["httpsOnly"],
};

function pick(properties: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => properties[f] !== undefined).map((f) => [f, properties[f]]));
}

/** `{minTlsVersion}` of the site's `config/web`, or undefined when the site is gone. */
async function readWebConfig(row: SweepRow, ctx: SweepContext): Promise<Record<string, unknown> | undefined> {
  const id = parseResourceId(row.id);
  try {
    const config = await orNotFound(() =>
      ctx.clients.appService(id.subscriptionId).webApps.getConfiguration(id.resourceGroup ?? "", id.name),
    );
    if (!config) return undefined;
    return config.minTlsVersion ? { minTlsVersion: config.minTlsVersion } : {};
  } catch (err) {
    throw asRemediationError(err, { step: "read", resourceId: row.id, doing: "reading config/web" });
  }
}

export const transportSweep: SweepSupport<{ minimumTlsVersion: TlsFloor }, TransportRowState> = {
  reads: "per-row",
  rowTypes: (types) =>
    types.flatMap((t) => {
      const c = canonicalType(t);
      return c ? [c.toLowerCase()] : [];
    }),
  async subjects(row, ctx): Promise<SweepSubject<TransportRowState>[]> {
    const type = canonicalType(row.type);
    if (!type) return [];
    const state: TransportRowState = {
      resourceType: type,
      properties: pick(row.properties ?? {}, FIELDS[type]),
    };
    if (type === "Microsoft.Web/sites") {
      // The one read: only for a site a sweeping policy governs.
      if (!ctx.governing(row.id, type)) return [];
      const webConfig = await readWebConfig(row, ctx);
      if (!webConfig) return [];
      state.webConfig = webConfig;
    }
    return [{ resourceId: row.id, resourceType: type, tags: row.tags, state }];
  },
  finding(subject, params) {
    const s = subject.state;
    const changes = transportChanges(s.resourceType, s.properties, params.minimumTlsVersion, s.webConfig);
    if (changes.length === 0) return undefined;
    return changes
      .map(
        (c) =>
          `${c.path.replace(/^properties\./, "")} is ${c.from === null ? "unset" : String(c.from)} (wanted ${String(c.to)})`,
      )
      .join(", ");
  },
};
