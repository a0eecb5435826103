/**
 * A decision as a CloudEvent (docs/events.md): one event per audit record, `id` = the record's ID
 * (consumers deduplicate on it), `type` = `Driftguard.Decision.<Outcome in PascalCase>`, `subject` =
 * the resource ID, `time` = the record's time, `data` = the record exactly as `GET /api/audit`
 * returns it (already redacted at the source; nothing is added). Pure: no SDK.
 */
import { type AuditRecord, OUTCOMES, type Outcome } from "../audit/types.js";

export const DECISION_EVENT_PREFIX = "Driftguard.Decision.";

/** `pending-approval` → `PendingApproval`. */
export function pascalOutcome(outcome: Outcome): string {
  return outcome
    .split("-")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
}

export function decisionEventType(outcome: Outcome): string {
  return `${DECISION_EVENT_PREFIX}${pascalOutcome(outcome)}`;
}

/** Every event type driftguard publishes, one per record outcome. */
export const DECISION_EVENT_TYPES: readonly string[] = OUTCOMES.map(decisionEventType);

/** A CloudEvents 1.0 event as published (the JSON the topic receives). */
export interface DecisionCloudEvent {
  specversion: "1.0";
  id: string;
  type: string;
  source: string;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  data: AuditRecord;
}

/** `/driftguard/<instance>`: the CloudEvents `source` of every decision of one deployment. */
export function decisionSource(instanceName: string): string {
  return `/driftguard/${instanceName}`;
}

export function toDecisionEvent(record: AuditRecord, source: string): DecisionCloudEvent {
  return {
    specversion: "1.0",
    id: record.id,
    type: decisionEventType(record.outcome),
    source,
    subject: record.resourceId,
    time: record.time,
    datacontenttype: "application/json",
    data: record,
  };
}
