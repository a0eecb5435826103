/**
 * NCRONTAB, as Azure Functions timer triggers take it (six fields: second minute hour day month
 * day-of-week; `*`, numbers, lists, ranges and `/` steps; day-of-week 0–6, Sunday = 0). Only what
 * driftguard needs: validate a schedule and find its longest gap between two runs, which is how
 * stale an anchor may get before `audit verify` warns (twice that).
 */
const FIELDS = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day-of-week", min: 0, max: 6 },
] as const;

export interface Schedule {
  text: string;
  /** Allowed values of each field, in field order. */
  sets: readonly (readonly number[])[];
}

function parseField(raw: string, min: number, max: number, name: string): number[] {
  const out = new Set<number>();
  for (const part of raw.split(",")) {
    const m = /^(\*|\d{1,2}(?:-\d{1,2})?)(?:\/(\d{1,2}))?$/.exec(part);
    if (!m) throw new Error(`${name} field '${raw}' is not a number, list, range or step`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    let [lo, hi] = [min, max];
    if (m[1] !== "*") {
      const [a, b] = m[1]!.split("-").map(Number);
      lo = a!;
      hi = b ?? (m[2] === undefined ? a! : max);
    }
    if (step < 1 || lo < min || hi > max || lo > hi)
      throw new Error(`${name} field '${raw}' is outside ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

/** Parses a six-field NCRONTAB expression; throws an Error saying which field is wrong. */
export function parseSchedule(text: string): Schedule {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 6 || parts[0] === "")
    throw new Error(`expected six fields (second minute hour day month day-of-week), got '${text}'`);
  return { text, sets: parts.map((p, i) => parseField(p, FIELDS[i]!.min, FIELDS[i]!.max, FIELDS[i]!.name)) };
}

/**
 * The longest time between two consecutive runs, over up to 400 days from `from` (a schedule that
 * runs once a year still has a gap; the scan stops early for schedules that run very often);
 * undefined when it runs at most once in that window.
 */
export function longestGapMs(schedule: Schedule, from = new Date()): number | undefined {
  const [seconds, minutes, hours, monthDays, months, weekDays] = schedule.sets as number[][];
  const day0 = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  let previous: number | undefined;
  let gap: number | undefined;
  let seen = 0;
  for (let d = 0; d < 400 && seen < 200_000; d++) {
    const day = new Date(day0 + d * 86_400_000);
    if (!months!.includes(day.getUTCMonth() + 1)) continue;
    if (!monthDays!.includes(day.getUTCDate()) || !weekDays!.includes(day.getUTCDay())) continue;
    for (const h of hours!)
      for (const m of minutes!)
        for (const s of seconds!) {
          const t = day.getTime() + ((h * 60 + m) * 60 + s) * 1000;
          if (previous !== undefined) gap = Math.max(gap ?? 0, t - previous);
          previous = t;
          seen++;
        }
  }
  return gap;
}
