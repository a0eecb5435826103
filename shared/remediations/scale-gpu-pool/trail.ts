/**
 * What the audit trail says `scale-gpu-pool` changed, for a restore (pure: the records come in as
 * an iterable, newest first). Alerts arrive at least once and out of order, and several alert
 * rules may target one resource, so the trail also tells which alerts are still open.
 */
import type { AuditRecord, Change } from "../../audit/types.js";
import type { Signal } from "../../signals/types.js";
import { parseChangePath, type RestoreEntry, type Skipped } from "./plan.js";

/** A record whose changes a restore reverses. */
function isApplyRecord(r: AuditRecord): boolean {
  const dir = r.followUp?.direction;
  if (r.outcome === "remediated") return dir !== "restore";
  if (r.outcome === "failed") {
    // A failed apply may have been half-applied, so its planned changes count too (the per-field
    // check on restore leaves untouched fields alone). Failed records carry no followUp: a failed
    // *restore* is recognised by its Resolved signal.
    const step = r.error?.step;
    if (step !== "apply" && step !== "verify") return false;
    if (dir !== undefined) return dir === "apply";
    return !/resolved/i.test(r.signal?.type ?? "");
  }
  return false;
}

/** A record of a Monitor alert's Fired or Resolved signal. */
const isAlertRecord = (r: AuditRecord, condition: "fired" | "resolved") =>
  r.signal?.source === "monitor" && (r.signal.type ?? "").toLowerCase().endsWith(condition);

const sameAlert = (a: string | undefined, b: string | undefined) =>
  typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();

/** The alert this signal is about (Monitor's alert ID, one per firing; the parser makes it the
 *  signal's ID, which is what records keep), when it is an alert. */
function alertIdOf(signal: Signal): string | undefined {
  return signal.source === "monitor" ? signal.id : undefined;
}

/** Apply side: a Fired delivered after its own Resolved (at-least-once, unordered) must not cap again. */
export async function resolvedInTrail(trail: AsyncIterable<AuditRecord>, signal: Signal): Promise<boolean> {
  const id = alertIdOf(signal);
  if (!id) return false;
  for await (const r of trail) if (isAlertRecord(r, "resolved") && sameAlert(r.signal.id, id)) return true;
  return false;
}

/**
 * Restore side: newest-first scan back to the latest `reverted` record; per path, the newest change
 * wins. Also collects alerts that fired in that time and have not resolved (other than this one):
 * while one is open, the limits stay.
 */
export async function recordedChanges(
  trail: AsyncIterable<AuditRecord>,
  signal: Signal,
): Promise<{ changes: Map<string, Change>; records: string[]; openAlerts: string[] }> {
  const changes = new Map<string, Change>();
  const records: string[] = [];
  const fired = new Map<string, string>();
  const resolved = new Set<string>();
  const self = alertIdOf(signal)?.toLowerCase();
  for await (const r of trail) {
    if (r.outcome === "reverted") break;
    if (isAlertRecord(r, "fired") && r.signal.id) fired.set(r.signal.id.toLowerCase(), r.signal.id);
    if (isAlertRecord(r, "resolved") && r.signal.id) resolved.add(r.signal.id.toLowerCase());
    if (!isApplyRecord(r)) continue;
    records.push(r.id);
    for (const c of r.changes) if (!changes.has(c.path)) changes.set(c.path, c);
  }
  const openAlerts = [...fired].filter(([k]) => k !== self && !resolved.has(k)).map(([, v]) => v);
  return { changes, records, openAlerts };
}

/** The recorded changes grouped per pool (pools not read yet); paths that name no pool are skipped. */
export function restoreEntries(
  changes: Iterable<Change>,
  targetId: string,
): { entries: RestoreEntry[]; skipped: Skipped[] } {
  const byUnit = new Map<string, RestoreEntry>();
  const skipped: Skipped[] = [];
  for (const c of changes) {
    const p = parseChangePath(c.path, targetId);
    if (!p) {
      skipped.push({ id: c.path, reason: "recorded change path is not a pool field" });
      continue;
    }
    const key = p.id.toLowerCase();
    let entry = byUnit.get(key);
    if (!entry) {
      entry = { id: p.id, unit: undefined, fields: [] };
      byUnit.set(key, entry);
    }
    entry.fields.push({ field: p.field, path: c.path, from: c.from, to: c.to });
  }
  return { entries: [...byUnit.values()], skipped };
}
