/**
 * `rotate-secret` in a sweep: secrets are not in Resource Graph, so each in-scope vault's row is
 * expanded by listing its secrets' properties (`listPropertiesOfSecrets`: one data-plane list per
 * vault, paged by the vault — no value is read). A secret whose current version expires within the
 * policy's `rotateWithinDays` (or has expired) is a candidate; disabled secrets and those Key Vault
 * manages for a certificate are not rotated.
 */
import { asRemediationError } from "../../errors.js";
import type { SweepRow, SweepSubject, SweepSupport } from "../types.js";
import { SECRET_RESOURCE_TYPE } from "./plan.js";

const VAULT_TYPE = "microsoft.keyvault/vaults";
const DAY_MS = 24 * 3600_000;

/** A secret's current version as the vault lists it (metadata only). */
export interface SecretRowState {
  expiresOn?: string;
  enabled?: boolean;
  managed?: boolean;
}

export const secretSweep: SweepSupport<{ rotateWithinDays: number }, SecretRowState> = {
  reads: "per-row",
  rowTypes: (types) =>
    types.some((t) => t.toLowerCase() === SECRET_RESOURCE_TYPE.toLowerCase()) ? [VAULT_TYPE] : [],
  async subjects(row: SweepRow, ctx): Promise<SweepSubject<SecretRowState>[]> {
    if (row.type.toLowerCase() !== VAULT_TYPE) return [];
    const out: SweepSubject<SecretRowState>[] = [];
    try {
      for await (const p of ctx.clients.secrets(row.name).listPropertiesOfSecrets()) {
        if (!p.name) continue;
        const expires =
          p.expiresOn instanceof Date && !Number.isNaN(p.expiresOn.getTime()) ? p.expiresOn : undefined;
        out.push({
          resourceId: `${row.id}/secrets/${p.name}`,
          resourceType: SECRET_RESOURCE_TYPE,
          tags: { ...(p.tags ?? {}) },
          state: {
            ...(expires ? { expiresOn: expires.toISOString() } : {}),
            ...(p.enabled !== undefined ? { enabled: p.enabled } : {}),
            ...(p.managed ? { managed: true } : {}),
          },
        });
      }
    } catch (err) {
      throw asRemediationError(err, {
        step: "read",
        resourceId: row.id,
        secrets: [],
        doing: "listing secrets",
      });
    }
    return out;
  },
  finding(subject, params, now) {
    const s = subject.state;
    if (s.enabled === false || s.managed || !s.expiresOn) return undefined;
    const left = Date.parse(s.expiresOn) - now.getTime();
    if (left > params.rotateWithinDays * DAY_MS) return undefined;
    return left < 0
      ? `expired ${s.expiresOn}`
      : `expires ${s.expiresOn}, within ${params.rotateWithinDays} days`;
  },
};
