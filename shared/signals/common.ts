/** Helpers shared by the signal parsers: ISO 8601 times, strict resource IDs, header lookup. */
import { z } from "zod";
import { InputError } from "../errors.js";
import { parseResourceId, type ResourceId, ResourceIdError } from "../resource-id.js";
import { joinPath } from "./errors.js";
import type { SignalTarget } from "./types.js";

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?$/i;

/**
 * Validates an ISO 8601 date-time with an explicit offset (Azure sends 7 fractional digits, e.g.
 * `2019-03-22T13:58:24.3713213Z`, or `+00:00`) and returns it normalised to `toISOString()`.
 * Returns undefined when invalid (calendar-checked: no 2021-02-30, no hour 24). A time without an
 * offset is invalid unless `zoneless: "utc"` is given: some Monitor alerts (Service Health) send
 * `2021-11-17T05:34:48.0623172`, which Azure means as UTC.
 */
export function normalizeIsoTime(
  raw: string,
  opts: { zoneless?: "reject" | "utc" } = {},
): string | undefined {
  const m = ISO_DATE_TIME.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = "0", frac = "", given] = m;
  if (given === undefined && opts.zoneless !== "utc") return undefined;
  const off = given ?? "Z";
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  if (off.toUpperCase() !== "Z") {
    const [oh, om] = off.slice(1).split(":").map(Number) as [number, number];
    if (oh > 14 || om > 59) return undefined;
  }
  const ms = frac === "" ? "" : `.${frac.padEnd(3, "0").slice(0, 3)}`;
  const t = Date.parse(
    `${y}-${mo}-${d}T${h}:${mi}:${s.padStart(2, "0")}${ms}${off.toUpperCase() === "Z" ? "Z" : off}`,
  );
  if (Number.isNaN(t)) return undefined;
  return new Date(t).toISOString();
}

/** zod schema: ISO 8601 date-time string with a time zone → normalised ISO string. */
export const isoTime = z.string().transform((raw, ctx) => {
  const t = normalizeIsoTime(raw);
  if (t === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `'${raw.slice(0, 64)}' is not an ISO 8601 date-time with a time zone`,
    });
    return z.NEVER;
  }
  return t;
});

/** zod schema: like `isoTime`, but a time without an offset is taken as UTC (Monitor alert times). */
export const isoTimeAssumingUtc = z.string().transform((raw, ctx) => {
  const t = normalizeIsoTime(raw, { zoneless: "utc" });
  if (t === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `'${raw.slice(0, 64)}' is not an ISO 8601 date-time`,
    });
    return z.NEVER;
  }
  return t;
});

/** Parses an ARM resource ID strictly; a bad one throws InputError `InvalidResourceId` at `path`. */
export function resourceIdAt(raw: unknown, path: string): ResourceId {
  if (typeof raw !== "string")
    throw new InputError("InvalidResourceId", "expected a resource ID string", path);
  try {
    return parseResourceId(raw);
  } catch (err) {
    const reason = err instanceof ResourceIdError ? err.message : "not a resource ID";
    throw new InputError("InvalidResourceId", `not a valid ARM resource ID: ${reason}`, path);
  }
}

export function targetOf(id: ResourceId): SignalTarget {
  return { resourceId: id.id, resourceType: id.type, subscriptionId: id.subscriptionId };
}

/** Case-insensitive header lookup (Node lower-cases, test code and other hosts may not). */
export function header(
  headers: Record<string, string | undefined> | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want && v !== undefined) return v;
  return undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Strips one trailing slash and lower-cases, for consistency comparisons of IDs. */
export function idKey(id: string): string {
  return id.replace(/\/+$/, "").toLowerCase();
}

export { joinPath };
