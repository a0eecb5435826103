/**
 * Opt-out tags (docs/policies.md#opt-out-tag), tag names case-insensitive as in ARM:
 * - `driftguard:exclude` = `true`: the resource is never changed (no end).
 * - `driftguard:exclude-until` = an ISO 8601 date or date-time: exempt until then. A date means to the
 *   end of that day, UTC; a date-time without an offset is UTC. After it, the resource is treated
 *   normally again. A value that does not parse is *not* an exemption (it is reported as such).
 * Events and sweeps decide with `exemptionOf(tags, now)`; the pipeline names the exemption and its
 * end in the `excluded` record, the sweep in its report.
 */
export const EXCLUDE_TAG = "driftguard:exclude";
export const EXCLUDE_UNTIL_TAG = "driftguard:exclude-until";

export type Exemption =
  /** Exempt: permanently (`until` absent) or until `until` (ISO 8601, UTC). */
  | { exempt: true; tag: string; value: string; until?: string }
  /**
   * Not exempt. `ended`: an `exclude-until` that has passed; `invalid`: one that does not parse
   * (why, in `problem`). Both are reported by the sweep so that a person can fix or drop the tag.
   */
  | { exempt: false; ended?: { tag: string; value: string; until: string }; invalid?: InvalidExemption };

export interface InvalidExemption {
  tag: string;
  value: string;
  problem: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?$/;
const MAX_VALUE_LENGTH = 64;

/** The last millisecond an `exclude-until` value covers (UTC), or why it does not parse. */
export function exemptionEnd(value: string): { until: Date } | { problem: string } {
  const v = value.trim();
  const problem = {
    problem: "expected an ISO 8601 date (2025-12-31) or date-time (2025-12-31T18:00:00Z)",
  };
  if (v.length === 0 || v.length > MAX_VALUE_LENGTH) return problem;
  const date = DATE.exec(v);
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (!validDay(y, m, d)) return { problem: `${v} is not a calendar date` };
    // A date means "to the end of that day", UTC.
    return { until: new Date(Date.UTC(y, m - 1, d + 1) - 1) };
  }
  const dt = DATE_TIME.exec(v);
  if (!dt) return problem;
  const [y, m, d, hh, mm, ss] = [1, 2, 3, 4, 5, 6].map((i) => Number(dt[i] ?? 0)) as number[];
  if (!validDay(y!, m!, d!) || hh! > 23 || mm! > 59 || ss! > 59)
    return { problem: `${v} is not a valid date-time` };
  const offset = dt[8] && dt[8] !== "Z" ? dt[8] : "Z";
  const ms = Date.parse(
    `${v.slice(0, 10)}T${v.slice(11, 16)}:${String(ss).padStart(2, "0")}${frac(dt[7])}${offset}`,
  );
  if (Number.isNaN(ms)) return { problem: `${v} is not a valid date-time` };
  return { until: new Date(ms) };
}

function frac(digits: string | undefined): string {
  return digits ? `.${digits.slice(0, 3).padEnd(3, "0")}` : "";
}

function validDay(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function tagEntry(tags: Readonly<Record<string, string>>, name: string): [string, string] | undefined {
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === name) return [k, String(v ?? "")];
  return undefined;
}

/** Whether `tags` exempt a resource at `now`, and by which tag until when. */
export function exemptionOf(tags: Readonly<Record<string, string>> | undefined, now: Date): Exemption {
  if (!tags) return { exempt: false };
  const exclude = tagEntry(tags, EXCLUDE_TAG);
  if (exclude && exclude[1].trim().toLowerCase() === "true")
    return { exempt: true, tag: EXCLUDE_TAG, value: exclude[1] };
  const until = tagEntry(tags, EXCLUDE_UNTIL_TAG);
  if (!until) return { exempt: false };
  const value = until[1].trim().slice(0, MAX_VALUE_LENGTH);
  const end = exemptionEnd(until[1]);
  if ("problem" in end)
    return { exempt: false, invalid: { tag: EXCLUDE_UNTIL_TAG, value, problem: end.problem } };
  const iso = end.until.toISOString();
  if (end.until.getTime() < now.getTime())
    return { exempt: false, ended: { tag: EXCLUDE_UNTIL_TAG, value, until: iso } };
  return { exempt: true, tag: EXCLUDE_UNTIL_TAG, value, until: iso };
}

/** One line for records and reports: which tag exempts the resource, and until when. */
export function describeExemption(e: Extract<Exemption, { exempt: true }>): string {
  return e.until
    ? `resource is exempt until ${e.until} (tag ${e.tag}=${e.value})`
    : `resource carries the opt-out tag ${e.tag}=true`;
}

/** Whether the tags exempt the resource now (`driftguard:exclude=true`, or an `exclude-until` not yet passed). */
export function isOptedOut(
  tags: Readonly<Record<string, string>> | undefined,
  now: Date = new Date(),
): boolean {
  return exemptionOf(tags, now).exempt;
}
