/**
 * The caller's effective permissions, as ARM answers them at any scope:
 * `GET {scope}/providers/Microsoft.Authorization/permissions` → `{value: [{actions, notActions,
 * dataActions, notDataActions}]}`. By default the simulated caller may do everything; tests narrow
 * it per scope prefix (`PUT /_sim/permissions`) to see what `driftguard doctor` reports.
 */
import { z } from "zod";

export const permissionSetSchema = z.strictObject({
  /** Applies at and under this scope (case-insensitive); absent = everywhere. */
  scope: z.string().optional(),
  actions: z.array(z.string()),
  notActions: z.array(z.string()).default([]),
  dataActions: z.array(z.string()).default([]),
  notDataActions: z.array(z.string()).default([]),
});
export type PermissionSet = z.infer<typeof permissionSetSchema>;

const EVERYTHING: PermissionSet = { actions: ["*"], notActions: [], dataActions: ["*"], notDataActions: [] };

export class PermissionTable {
  private sets: PermissionSet[] = [];

  /** Replaces the table; an empty list means "everything allowed" again. */
  set(sets: PermissionSet[]): void {
    this.sets = sets;
  }

  list(): PermissionSet[] {
    return this.sets.length ? this.sets : [EVERYTHING];
  }

  /** The sets that apply at `scope` (those whose scope is a prefix of it). */
  at(scope: string): Omit<PermissionSet, "scope">[] {
    if (!this.sets.length) return [EVERYTHING];
    const s = scope.toLowerCase();
    return this.sets
      .filter((p) => !p.scope || s === p.scope.toLowerCase() || s.startsWith(`${p.scope.toLowerCase()}/`))
      .map(({ scope: _scope, ...rest }) => rest);
  }
}

/** `…/providers/Microsoft.Authorization/permissions` → the scope before it, else undefined. */
export function permissionsScope(path: string): string | undefined {
  const m = /^(\/subscriptions\/[^/]+(?:\/.*)?)\/providers\/Microsoft\.Authorization\/permissions$/i.exec(
    path,
  );
  return m?.[1];
}
