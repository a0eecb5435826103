/**
 * Structured logging (pino) with redaction by path; see `redact.ts`. Each line carries the active
 * trace's `trace_id`/`span_id` when telemetry is on; where telemetry exports logs (Application
 * Insights), each line also becomes a log record of that trace (redacted again on export).
 */
import { Writable } from "node:stream";
import { type LogAttributes, logs, SeverityNumber } from "@opentelemetry/api-logs";
import { pino } from "pino";
import { REDACT_PATHS, REDACTED } from "./redact.js";
import { TELEMETRY_NAME, traceIds } from "./telemetry/api.js";
import { activeTelemetry } from "./telemetry/setup.js";

export type Logger = pino.Logger;

export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name ?? "driftguard",
    level: opts.level ?? process.env.DRIFTGUARD_LOG_LEVEL ?? "info",
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => traceIds(),
  };
  const destination = opts.destination ?? pino.destination(1);
  if (!activeTelemetry().exportsLogs) return pino(options, destination);
  return pino(options, pino.multistream([{ stream: destination }, { stream: telemetryLogStream() }]));
}

/** A logger that drops everything (tests, CLI JSON mode). */
export const silentLogger: Logger = pino({ level: "silent" });

const SEVERITY: Record<number, [SeverityNumber, string]> = {
  10: [SeverityNumber.TRACE, "TRACE"],
  20: [SeverityNumber.DEBUG, "DEBUG"],
  30: [SeverityNumber.INFO, "INFO"],
  40: [SeverityNumber.WARN, "WARN"],
  50: [SeverityNumber.ERROR, "ERROR"],
  60: [SeverityNumber.FATAL, "FATAL"],
};

/** Turns pino's (already redacted) JSON lines into telemetry log records. */
function telemetryLogStream(): Writable {
  const logger = logs.getLogger(TELEMETRY_NAME);
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      try {
        const {
          msg,
          level,
          time,
          trace_id: _t,
          span_id: _s,
          ...rest
        } = JSON.parse(chunk.toString("utf8")) as Record<string, unknown>;
        const attributes: LogAttributes = {};
        for (const [k, v] of Object.entries(rest))
          attributes[k] =
            v !== null && typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean);
        const [severityNumber, severityText] = SEVERITY[Number(level)] ?? [SeverityNumber.INFO, "INFO"];
        logger.emit({
          body: String(msg ?? ""),
          severityNumber,
          severityText,
          attributes,
          ...(typeof time === "string" ? { timestamp: new Date(time) } : {}),
        });
      } catch {
        // a line that is not JSON is not telemetry
      }
      done();
    },
  });
}
