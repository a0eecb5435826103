/**
 * `disable-local-auth` in a sweep: all three types keep their deciding property in Resource
 * Graph's `resources` table (`properties.disableLocalAuth` of Cognitive Services and Cosmos DB
 * accounts, `properties.allowSharedKeyAccess` of storage accounts), so a row decides on its own with
 * the same rule `read` and `verify` use (`compliance.ts`): a compliant resource costs no ARM request.
 */
import type { SweepRow, SweepSubject, SweepSupport } from "../types.js";
import { canonicalType, LOCAL_AUTH_PROPERTY, localAuthChanges, type SupportedType } from "./compliance.js";

/** The deciding property as the row shows it (absent when the row has none). */
export interface LocalAuthRowState {
  resourceType: SupportedType;
  properties: Record<string, unknown>;
}

export const localAuthSweep: SweepSupport<unknown, LocalAuthRowState> = {
  reads: "none",
  rowTypes: (types) =>
    types.flatMap((t) => {
      const c = canonicalType(t);
      return c ? [c.toLowerCase()] : [];
    }),
  subjects(row: SweepRow): SweepSubject<LocalAuthRowState>[] {
    const type = canonicalType(row.type);
    if (!type) return [];
    const name = LOCAL_AUTH_PROPERTY[type].name;
    const value = row.properties?.[name];
    return [
      {
        resourceId: row.id,
        resourceType: type,
        tags: row.tags,
        state: { resourceType: type, properties: value === undefined ? {} : { [name]: value } },
      },
    ];
  },
  finding(subject) {
    const changes = localAuthChanges(subject.state.resourceType, subject.state.properties);
    if (changes.length === 0) return undefined;
    return changes
      .map(
        (c) =>
          `${c.path.replace(/^properties\./, "")} is ${c.from === null ? "unset" : String(c.from)}: keys are accepted`,
      )
      .join(", ");
  },
};
