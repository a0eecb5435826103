/**
 * `disable-public-network-access` in a sweep: every supported type keeps `publicNetworkAccess`
 * (and Storage's `allowBlobPublicAccess`) in Resource Graph's `resources` table, so a row decides
 * on its own — a compliant resource costs no ARM request. An online endpoint's exemption tags
 * include its workspace's (as `read` merges them): the sweep looks those up in Resource Graph.
 */
import type { Change } from "../../audit/types.js";
import type { SweepRow, SweepSubject, SweepSupport } from "../types.js";

/** What the kind decides on, as far as a Resource Graph row tells it. */
export interface RowState<T extends string> {
  resourceId: string;
  resourceType: T;
  publicNetworkAccess: string | null;
  allowBlobPublicAccess?: boolean | null;
  provisioningState: string | null;
}

const ENDPOINT_TYPE = "microsoft.machinelearningservices/workspaces/onlineendpoints";

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** The kind's sweep, given its own type table and decision (kind.ts passes them in). */
export function publicNetworkAccessSweep<T extends string>(kind: {
  canonicalType(type: string): T | undefined;
  changesFor(state: RowState<T>): Change[];
}): SweepSupport<unknown, RowState<T>> {
  return {
    reads: "none",
    rowTypes: (types) =>
      types.flatMap((t) => {
        const c = kind.canonicalType(t);
        return c ? [c.toLowerCase()] : [];
      }),
    subjects(row: SweepRow): SweepSubject<RowState<T>>[] {
      const type = kind.canonicalType(row.type);
      if (!type) return [];
      const p = row.properties ?? {};
      const state: RowState<T> = {
        resourceId: row.id,
        resourceType: type,
        publicNetworkAccess: str(p.publicNetworkAccess),
        provisioningState: str(p.provisioningState),
        ...(type.toLowerCase() === "microsoft.storage/storageaccounts"
          ? {
              allowBlobPublicAccess:
                typeof p.allowBlobPublicAccess === "boolean" ? p.allowBlobPublicAccess : null,
            }
          : {}),
      };
      return [
        {
          resourceId: row.id,
          resourceType: type,
          tags: row.tags,
          ...(type.toLowerCase() === ENDPOINT_TYPE
            ? { inheritTagsFrom: row.id.split("/").slice(0, -2).join("/") }
            : {}),
          state,
        },
      ];
    },
    finding(subject) {
      const changes = kind.changesFor(subject.state);
      if (changes.length === 0) return undefined;
      return changes
        .map((c) => `${c.path.replace(/^properties\./, "")} is ${c.from === null ? "unset" : String(c.from)}`)
        .join(", ");
    },
  };
}
