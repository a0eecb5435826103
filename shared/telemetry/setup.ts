/**
 * Turning telemetry on. Off by default: nothing is sent anywhere unless
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING` is set: traces, metrics and logs go to Application
 *   Insights with `@azure/monitor-opentelemetry`, authenticated with the app's managed identity
 *   (Entra ID; the connection string carries no key that is used), or
 * - `DRIFTGUARD_TELEMETRY=console`: the same spans and metrics are printed to the console (local).
 * The Azure SDK clients' own spans (every ARM and Key Vault call) come from the SDK's tracing hook;
 * Cosmos DB calls are wrapped by `tracedStores`. Everything is redacted at the source (redact.ts).
 * The SDK packages are imported only when telemetry is on, so they cost nothing at cold start.
 */
import type { TokenCredential } from "@azure/core-auth";
import { context, metrics, trace } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { ConfigError } from "../errors.js";
import { resetInstruments } from "./api.js";

export type TelemetryMode = "off" | "console" | "azure-monitor" | "memory";

export interface Telemetry {
  mode: TelemetryMode;
  /** Whether log lines are exported as telemetry log records (Azure Monitor, tests). */
  exportsLogs: boolean;
  /** Exports everything pending (metrics are periodic otherwise). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export const TELEMETRY_OFF: Telemetry = {
  mode: "off",
  exportsLogs: false,
  flush: async () => undefined,
  shutdown: async () => undefined,
};

type Env = Record<string, string | undefined>;

export interface TelemetrySettings {
  mode: Exclude<TelemetryMode, "memory">;
  /** Application Insights connection string (Azure Monitor mode). */
  connectionString?: string;
}

/** The telemetry settings; an unknown `DRIFTGUARD_TELEMETRY` fails fast. */
export function telemetrySettings(env: Env): TelemetrySettings {
  const mode = telemetryModeOf(env);
  return mode === "azure-monitor"
    ? { mode, connectionString: env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim() }
    : { mode };
}

function telemetryModeOf(env: Env): Exclude<TelemetryMode, "memory"> {
  const raw = env.DRIFTGUARD_TELEMETRY?.trim().toLowerCase();
  if (raw && raw !== "off" && raw !== "console")
    throw new ConfigError(
      "DRIFTGUARD_TELEMETRY",
      `must be 'off' or 'console', got '${env.DRIFTGUARD_TELEMETRY}'`,
    );
  if (raw === "off") return "off";
  if (env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) return "azure-monitor";
  return raw === "console" ? "console" : "off";
}

/** In-memory exporters, for tests that inspect what would be exported. */
export interface MemoryExporters {
  spans: import("@opentelemetry/sdk-trace-base").InMemorySpanExporter;
  metrics: import("@opentelemetry/sdk-metrics").InMemoryMetricExporter;
  logs: import("@opentelemetry/sdk-logs").InMemoryLogRecordExporter;
}

let active: Telemetry | undefined;

export function activeTelemetry(): Telemetry {
  return active ?? TELEMETRY_OFF;
}

/**
 * Registers the global providers for the mode the settings ask for (once per process).
 * `credential`: the app's identity, for Azure Monitor ingestion with Entra ID.
 */
export async function initTelemetry(
  settings: TelemetrySettings,
  opts: { credential?: TokenCredential; memory?: MemoryExporters } = {},
): Promise<Telemetry> {
  if (active) return active;
  const mode: TelemetryMode = opts.memory ? "memory" : settings.mode;
  if (mode === "off") {
    active = TELEMETRY_OFF;
    return active;
  }
  await instrumentAzureSdk();
  if (mode === "azure-monitor") active = await startAzureMonitor(settings.connectionString, opts.credential);
  else active = await startLocal(mode, opts.memory);
  resetInstruments();
  return active;
}

/** Tests: forget the registered providers so another mode can be set up. */
export async function resetTelemetry(): Promise<void> {
  await active?.shutdown();
  active = undefined;
  trace.disable();
  metrics.disable();
  logs.disable();
  context.disable();
  resetInstruments();
}

/** The Azure SDK's tracing hook: every SDK operation and HTTP call becomes a span. */
async function instrumentAzureSdk(): Promise<void> {
  const [{ useInstrumenter }, { createOpenTelemetryInstrumenter }] = await Promise.all([
    import("@azure/core-tracing"),
    import("@azure/opentelemetry-instrumentation-azure-sdk"),
  ]);
  useInstrumenter(createOpenTelemetryInstrumenter());
}

async function startAzureMonitor(
  connectionString: string | undefined,
  credential?: TokenCredential,
): Promise<Telemetry> {
  const [{ useAzureMonitor, shutdownAzureMonitor }, { RedactingLogRecordProcessor, RedactingSpanProcessor }] =
    await Promise.all([import("@azure/monitor-opentelemetry"), import("./redact.js")]);
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString,
      ...(credential ? { credential } : {}),
    },
    // The SDK hook (above) gives ARM/Key Vault spans; Node's http module is not patched (ESM).
    instrumentationOptions: { azureSdk: { enabled: true }, http: { enabled: false } },
    spanProcessors: [new RedactingSpanProcessor()],
    logRecordProcessors: [new RedactingLogRecordProcessor()],
    enableLiveMetrics: false,
  });
  return {
    mode: "azure-monitor",
    exportsLogs: true,
    flush: async () => {
      const providers = [trace.getTracerProvider(), metrics.getMeterProvider(), logs.getLoggerProvider()];
      await Promise.all(providers.map((p) => (p as { forceFlush?: () => Promise<void> }).forceFlush?.()));
    },
    shutdown: () => shutdownAzureMonitor(),
  };
}

async function startLocal(mode: "console" | "memory", memory?: MemoryExporters): Promise<Telemetry> {
  const [traceSdk, metricsSdk, logsSdk, { AsyncLocalStorageContextManager }, redact] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/sdk-metrics"),
    import("@opentelemetry/sdk-logs"),
    import("@opentelemetry/context-async-hooks"),
    import("./redact.js"),
  ]);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const spanExporter = memory?.spans ?? new traceSdk.ConsoleSpanExporter();
  const tracerProvider = new traceSdk.BasicTracerProvider({
    spanProcessors: [new redact.RedactingSpanProcessor(), new traceSdk.SimpleSpanProcessor(spanExporter)],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  const reader = new metricsSdk.PeriodicExportingMetricReader({
    exporter: memory?.metrics ?? new metricsSdk.ConsoleMetricExporter(),
    exportIntervalMillis: memory ? 3_600_000 : 15_000,
  });
  const meterProvider = new metricsSdk.MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  // Console mode: pino already prints every log line (with trace IDs); only tests export them too.
  let loggerProvider: InstanceType<typeof logsSdk.LoggerProvider> | undefined;
  if (memory) {
    loggerProvider = new logsSdk.LoggerProvider({
      processors: [
        new redact.RedactingLogRecordProcessor(),
        new logsSdk.SimpleLogRecordProcessor({ exporter: memory.logs }),
      ],
    });
    logs.setGlobalLoggerProvider(loggerProvider);
  }
  return {
    mode,
    exportsLogs: !!loggerProvider,
    flush: async () => {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
      await loggerProvider?.forceFlush();
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      await loggerProvider?.shutdown();
    },
  };
}
