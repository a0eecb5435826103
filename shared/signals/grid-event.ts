/** One event of an Event Grid delivery after envelope validation, whatever its schema. */
export interface GridEvent {
  schema: "eventgrid" | "cloudevents";
  id: string;
  /** `eventType` (Event Grid schema) / `type` (CloudEvents). */
  type: string;
  /** Normalised ISO 8601 (`eventTime` / `time`). */
  time: string;
  subject?: string;
  /** `topic` (Event Grid schema) / `source` (CloudEvents): the publisher's resource ID. */
  topic?: string;
  data: unknown;
  /** Path prefix of this event in the delivery: `[i]` for arrays, `""` for a single CloudEvent. */
  path: string;
  /** Field names as this schema spells them, for error paths. */
  fields: { type: "eventType" | "type"; topic: "topic" | "source"; time: "eventTime" | "time" };
}

/** Drops undefined properties so Signals compare and serialise cleanly. */
export function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
