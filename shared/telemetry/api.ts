/**
 * What the app uses to emit telemetry: spans, the four driftguard metrics and log correlation.
 * Only `@opentelemetry/api` is imported here — without a registered SDK (the default) every call is
 * a no-op, so nothing is sent anywhere unless `initTelemetry` (setup.ts) turned telemetry on.
 * Attribute values are redacted before export (redact.ts); never put secrets in them anyway.
 */
import {
  type Attributes,
  type Counter,
  type Histogram,
  metrics,
  type ObservableGauge,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

export const TELEMETRY_NAME = "driftguard";

export const METRIC = {
  decisions: "driftguard.decisions",
  decisionDuration: "driftguard.decision.duration",
  approvalsPending: "driftguard.approvals.pending",
  armThrottled: "driftguard.arm.throttled",
} as const;

interface Instruments {
  decisions: Counter;
  decisionDuration: Histogram;
  armThrottled: Counter;
  approvalsPending: ObservableGauge;
}

let instruments: Instruments | undefined;
let pendingApprovals: number | undefined;

/** The global meter provider is fixed once an SDK registers: instruments are made after that. */
function meterInstruments(): Instruments {
  if (!instruments) {
    const meter = metrics.getMeter(TELEMETRY_NAME);
    const approvalsPending = meter.createObservableGauge(METRIC.approvalsPending, {
      description: "Approval requests waiting for a decision (as last counted by this instance)",
    });
    approvalsPending.addCallback((result) => {
      if (pendingApprovals !== undefined) result.observe(pendingApprovals);
    });
    instruments = {
      decisions: meter.createCounter(METRIC.decisions, {
        description: "Decisions taken, by kind, outcome and policy",
      }),
      decisionDuration: meter.createHistogram(METRIC.decisionDuration, {
        description: "Time from a signal to its decision",
        unit: "ms",
      }),
      armThrottled: meter.createCounter(METRIC.armThrottled, {
        description: "ARM answers 429 (throttled), before the SDK's own retry",
      }),
      approvalsPending,
    };
  }
  return instruments;
}

/** Forget instruments made before an SDK was registered (setup.ts and tests call this). */
export function resetInstruments(): void {
  instruments = undefined;
}

export function recordDecision(d: {
  kind?: string;
  outcome: string;
  policy?: string;
  durationMs?: number;
}): void {
  const attributes: Attributes = {
    "driftguard.kind": d.kind ?? "none",
    "driftguard.outcome": d.outcome,
    "driftguard.policy": d.policy ?? "none",
  };
  const m = meterInstruments();
  m.decisions.add(1, attributes);
  if (d.durationMs !== undefined) m.decisionDuration.record(d.durationMs, attributes);
}

export function recordArmThrottled(attributes: Attributes = {}): void {
  meterInstruments().armThrottled.add(1, attributes);
}

export function setPendingApprovals(count: number): void {
  pendingApprovals = count;
  meterInstruments();
}

/** Runs `fn` in a new active span (a child of the current one); failures are recorded on it. */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return trace.getTracer(TELEMETRY_NAME).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.name ?? "Error" });
      span.setAttribute("error.type", (err as { code?: string })?.code ?? (err as Error)?.name ?? "Error");
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Trace and span IDs of the active span, for log lines (empty without telemetry). */
export function traceIds(): { trace_id?: string; span_id?: string } {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
