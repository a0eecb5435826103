/**
 * Event subscriptions of the local Event Grid: their definition (validated with zod, errors name the
 * field) and Event Grid's filter semantics — `includedEventTypes`, `subjectBeginsWith`/`EndsWith`
 * (case-insensitive unless `isSubjectCaseSensitive`), and advanced filters (`StringIn`,
 * `StringNotIn`, `StringBeginsWith`, `StringEndsWith`, `StringContains`, case-insensitive as in
 * Event Grid) on `data.<path>`, `subject`, `id`, `topic`/`source`, `eventType`/`type`.
 */
import { z } from "zod";

const advancedFilter = z.object({
  operatorType: z.enum(["StringIn", "StringNotIn", "StringBeginsWith", "StringEndsWith", "StringContains"]),
  key: z.string().min(1).max(256),
  values: z.array(z.string().max(512)).min(1).max(25),
});

export const subscriptionSchema = z
  .object({
    /** Topic (custom or system) whose events this subscription receives. */
    topic: z.string().min(1).max(128),
    /** Webhook: https, or http on loopback (the local functions host). */
    endpoint: z
      .string()
      .max(4096)
      .refine((u) => {
        try {
          const url = new URL(u);
          return (
            url.protocol === "https:" ||
            (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname))
          );
        } catch {
          return false;
        }
      }, "endpoint must be an https URL (or http on loopback)"),
    filter: z
      .object({
        includedEventTypes: z.array(z.string().min(1).max(256)).max(100).optional(),
        subjectBeginsWith: z.string().max(1024).optional(),
        subjectEndsWith: z.string().max(1024).optional(),
        isSubjectCaseSensitive: z.boolean().optional(),
        advancedFilters: z.array(advancedFilter).max(25).optional(),
      })
      .strict()
      .default({}),
    maxEventsPerBatch: z.number().int().min(1).max(5000).default(1),
    preferredBatchSizeInKilobytes: z.number().int().min(1).max(1024).default(64),
    retryPolicy: z
      .object({
        maxDeliveryAttempts: z.number().int().min(1).max(30).default(30),
        eventTimeToLiveInMinutes: z.number().int().min(1).max(1440).default(1440),
      })
      .strict()
      .default({ maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }),
    /** Keep undeliverable events (`GET /_sim/deadletters`); false: drop them, as without a dead-letter destination. */
    deadLetter: z.boolean().default(true),
  })
  .strict();

export type SubscriptionDefinition = z.output<typeof subscriptionSchema>;
export type SubscriptionInput = z.input<typeof subscriptionSchema>;

/** An event in either schema, as stored and delivered. */
export type GridEventJson = Record<string, unknown>;

/** The envelope's type / subject / source whatever the schema. */
export function envelopeOf(e: GridEventJson): { type: string; subject: string; id: string; source: string } {
  const s = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    type: s(e.eventType ?? e.type),
    subject: s(e.subject),
    id: s(e.id),
    source: s(e.topic ?? e.source),
  };
}

function valueAt(e: GridEventJson, key: string): unknown {
  const env = envelopeOf(e);
  const k = key.toLowerCase();
  if (k === "eventtype" || k === "type") return env.type;
  if (k === "subject") return env.subject;
  if (k === "id") return env.id;
  if (k === "topic" || k === "source") return env.source;
  let v: unknown = e;
  for (const part of key.split(".")) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function advancedMatches(e: GridEventJson, f: z.output<typeof advancedFilter>): boolean {
  const raw = valueAt(e, f.key);
  const candidates = (Array.isArray(raw) ? raw : [raw]).filter((v) => typeof v === "string") as string[];
  const values = f.values.map((v) => v.toLowerCase());
  const any = (test: (c: string, v: string) => boolean) =>
    candidates.some((c) => values.some((v) => test(c.toLowerCase(), v)));
  switch (f.operatorType) {
    case "StringIn":
      return any((c, v) => c === v);
    case "StringNotIn":
      return !any((c, v) => c === v);
    case "StringBeginsWith":
      return any((c, v) => c.startsWith(v));
    case "StringEndsWith":
      return any((c, v) => c.endsWith(v));
    case "StringContains":
      return any((c, v) => c.includes(v));
  }
}

/** Whether the subscription's filter lets the event through (Event Grid's rules). */
export function matches(sub: Pick<SubscriptionDefinition, "filter">, e: GridEventJson): boolean {
  const f = sub.filter;
  const env = envelopeOf(e);
  if (f.includedEventTypes && !f.includedEventTypes.some((t) => t.toLowerCase() === env.type.toLowerCase()))
    return false;
  const fold = (s: string) => (f.isSubjectCaseSensitive ? s : s.toLowerCase());
  if (f.subjectBeginsWith && !fold(env.subject).startsWith(fold(f.subjectBeginsWith))) return false;
  if (f.subjectEndsWith && !fold(env.subject).endsWith(fold(f.subjectEndsWith))) return false;
  return (f.advancedFilters ?? []).every((a) => advancedMatches(e, a));
}

/** Event Grid's retry schedule after each failed attempt (10 s, 30 s, 1 min, 5 min, 10 min, 30 min,
 *  1 h, 3 h, 6 h, then every 12 h), before any time compression. */
export const RETRY_SCHEDULE_MS = [10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600].map((s) => s * 1000);
export const RETRY_EVERY_MS_AFTER = 12 * 3600_000;

export function retryDelayMs(failedAttempts: number): number {
  return RETRY_SCHEDULE_MS[failedAttempts - 1] ?? RETRY_EVERY_MS_AFTER;
}

/** Webhook answers Event Grid does not retry: the event is dead-lettered (or dropped) at once. */
export const NO_RETRY_STATUSES: readonly number[] = [400, 401, 403, 413];
