/**
 * Telemetry is redacted at the source, like logs and records: every span attribute and event
 * attribute is checked when it is set, and log records before they are exported. Secret and
 * personal field names lose their value; string values go through `redactText` (tokens, SAS
 * signatures, keys in query strings, e-mail addresses, IP addresses).
 */
import type { Attributes, AttributeValue, Context } from "@opentelemetry/api";
import type { LogRecordProcessor, SdkLogRecord } from "@opentelemetry/sdk-logs";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { PERSONAL_FIELD_NAMES, REDACTED, redactText, SECRET_FIELD_NAMES } from "../redact.js";

const SENSITIVE = new Set([...SECRET_FIELD_NAMES, ...PERSONAL_FIELD_NAMES].map((n) => n.toLowerCase()));

/** `http.request.header.authorization` → `authorization`; `enduser.id` is personal too. */
function sensitiveKey(key: string): boolean {
  const lower = key.toLowerCase();
  if (lower.startsWith("enduser.") || lower.includes("header.authorization") || lower.includes("cookie"))
    return true;
  const last =
    lower
      .split(/[.[\]]/)
      .filter(Boolean)
      .at(-1) ?? lower;
  return SENSITIVE.has(last) && last !== "name";
}

export function redactAttribute(key: string, value: AttributeValue | undefined): AttributeValue | undefined {
  if (value === undefined) return value;
  if (sensitiveKey(key)) return REDACTED;
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value))
    return value.map((v) => (typeof v === "string" ? redactText(v) : v)) as AttributeValue;
  return value;
}

export function redactAttributes(attributes: Attributes | undefined): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes ?? {})) out[k] = redactAttribute(k, v);
  return out;
}

/** Redacts a span's attributes as they are set (instrumentations set them after start too). */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart(span: Span, _parent: Context): void {
    const attrs = span.attributes as Attributes;
    for (const [k, v] of Object.entries(attrs)) attrs[k] = redactAttribute(k, v);
    const setAttribute = span.setAttribute.bind(span);
    span.setAttribute = (key: string, value: AttributeValue) =>
      setAttribute(key, redactAttribute(key, value) as AttributeValue);
    span.setAttributes = (attributes: Attributes) => {
      for (const [k, v] of Object.entries(attributes)) if (v !== undefined) span.setAttribute(k, v);
      return span;
    };
    const addEvent = span.addEvent.bind(span);
    span.addEvent = ((name: string, attributesOrTime?: unknown, time?: unknown) =>
      attributesOrTime &&
      typeof attributesOrTime === "object" &&
      !Array.isArray(attributesOrTime) &&
      !(attributesOrTime instanceof Date)
        ? addEvent(name, redactAttributes(attributesOrTime as Attributes), time as never)
        : addEvent(name, attributesOrTime as never, time as never)) as Span["addEvent"];
    const setStatus = span.setStatus.bind(span);
    span.setStatus = (status) =>
      setStatus(status.message ? { ...status, message: redactText(status.message) } : status);
  }
  onEnd(_span: ReadableSpan): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** Redacts log records (body and attributes) before any exporter sees them. */
export class RedactingLogRecordProcessor implements LogRecordProcessor {
  onEmit(record: SdkLogRecord): void {
    if (typeof record.body === "string") record.setBody(redactText(record.body));
    record.setAttributes(redactAttributes(record.attributes as Attributes));
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
