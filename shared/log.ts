/** Structured logging (pino) with redaction by path; see `redact.ts`. */
import { pino } from "pino";
import { REDACT_PATHS, REDACTED } from "./redact.js";

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
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything (tests, CLI JSON mode). */
export const silentLogger: Logger = pino({ level: "silent" });
