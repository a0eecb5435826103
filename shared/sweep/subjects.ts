/**
 * A page's rows → the subjects each sweeping kind finds in them, each with the policy that governs
 * it, in row order. Kinds that read nothing answer synchronously (no await per row). Kinds that read
 * per row (state outside Resource Graph's `resources` table) call Azure for each row they govern;
 * those reads run `PER_ROW_READS_IN_FLIGHT` at a time, so that a page of 1,000 diagnostic-logged
 * resources is not 1,000 round trips one after another — well within ARM's read quota per identity.
 */
import type { AzureClients } from "../azure/clients.js";
import type { Logger } from "../log.js";
import type { Policy } from "../policy/schema.js";
import type { SweepRow, SweepSubject } from "../remediations/types.js";
import { mayGovern, policyFor, type SweepingKind } from "./select.js";

export const PER_ROW_READS_IN_FLIGHT = 8;

export interface Found {
  kind: SweepingKind;
  subject: SweepSubject;
  policy: Policy;
}

export async function findSubjects(
  rows: readonly SweepRow[],
  kinds: readonly SweepingKind[],
  ctx: { clients: AzureClients; now: Date; log: Logger },
  /** A row a kind could not turn into subjects (a per-row read failed): reported, not fatal. */
  onError: (kind: SweepingKind, row: SweepRow, err: unknown) => void,
): Promise<Found[]> {
  const slots: (Found[] | Promise<Found[]>)[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const governed = (kind: SweepingKind, subjects: SweepSubject[]): Found[] =>
    subjects.flatMap((subject) => {
      const policy = policyFor(kind, subject);
      return policy ? [{ kind, subject, policy }] : [];
    });
  for (const row of rows) {
    for (const kind of kinds) {
      if (!kind.rowTypes.has(row.type.toLowerCase()) || !mayGovern(kind, row.id)) continue;
      const perRow = kind.sweep.reads === "per-row";
      while (perRow && inFlight.size >= PER_ROW_READS_IN_FLIGHT) await Promise.race(inFlight);
      let answer: SweepSubject[] | Promise<SweepSubject[]>;
      try {
        answer = kind.sweep.subjects(row, { ...ctx, covers: kind.covers, governing: kind.governing });
      } catch (err) {
        onError(kind, row, err);
        continue;
      }
      if (Array.isArray(answer)) {
        slots.push(governed(kind, answer));
        continue;
      }
      const slot = answer.then(
        (subjects) => governed(kind, subjects),
        (err: unknown) => {
          onError(kind, row, err);
          return [];
        },
      );
      const tracked = slot.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      slots.push(slot);
    }
  }
  return (await Promise.all(slots)).flat();
}
