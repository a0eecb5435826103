/**
 * Telemetry over the local stack, with in-memory exporters standing in for Application Insights:
 * the whole sample scenario (every kind; events with names, UPNs and IP addresses in their claims;
 * secret rotations with real values; approvals with signed tokens) runs through the real HTTP
 * routes, then every exported span, metric and log record is scanned like the audit trail is:
 * no secret value, key, token or personal claim may appear. And the telemetry is there: one trace
 * per signal, decision spans, Azure SDK spans for ARM/Key Vault calls, Cosmos spans, the metrics.
 */
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { InMemoryLogRecordExporter } from "@opentelemetry/sdk-logs";
import { AggregationTemporality, InMemoryMetricExporter } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { DECISIONS_TOPIC } from "../dev/event-grid/driftguard.js";
import { type LocalStack, startLocalStack } from "../dev/stack.js";
import { approvalPageLink } from "../shared/approvals/notifier.js";
import { LOCAL_STACK_PSEUDONYM_KEY, LOCAL_STACK_SIGNING_KEY } from "../shared/config.js";
import { createLogger } from "../shared/log.js";
import type { Approval } from "../shared/ports/approval-store.js";
import { METRIC, withSpan } from "../shared/telemetry/api.js";
import {
  activeTelemetry,
  initTelemetry,
  resetTelemetry,
  telemetrySettings,
} from "../shared/telemetry/setup.js";

const spans = new InMemorySpanExporter();
const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const logs = new InMemoryLogRecordExporter();
let stack: LocalStack;
const approvalLinks: string[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  await initTelemetry({ mode: "off" }, { memory: { spans, metrics, logs } });
  const log = createLogger({
    level: "debug",
    destination: { write: (line: string) => void logLines.push(line) },
  });
  // The shipped policies, with NSG rules needing approval, so tokens and approvals are in the run.
  const policies = parse(await readFile("policies/default.yaml", "utf8")) as {
    policies: { name: string; mode?: string }[];
  };
  for (const p of policies.policies) if (p.name === "no-internet-inbound") p.mode = "approval";
  const policyFile = path.join(await mkdtemp(path.join(tmpdir(), "driftguard-telemetry-")), "policies.yaml");
  await writeFile(policyFile, stringify(policies));
  stack = await startLocalStack({
    policyFile,
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    log,
    lroPollIntervalMs: 0,
    retry: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
    // Decisions are published too: the published events are scanned like the telemetry.
    events: { publish: true },
    notifier: (config) => ({
      requestApproval: async (approval: Approval) => {
        approvalLinks.push(
          await approvalPageLink(approval, config.publicUrl ?? "", config.approvers.signingKey),
        );
      },
    }),
  });
  // ARM throttles once (Retry-After 0): the SDK retries, the metric counts it.
  stack.sim.addFault({
    method: "PATCH",
    path: "Microsoft.Storage/storageAccounts",
    status: 429,
    retryAfter: 0,
  });
  // The sample scenario, as `npm start` replays it.
  const dir = path.resolve("dev", "sample-events");
  for (const file of (await readdir(dir)).sort()) {
    const body = await readFile(path.join(dir, file), "utf8");
    const json = JSON.parse(body) as unknown;
    const eventGrid =
      Array.isArray(json) || (typeof json === "object" && json !== null && "specversion" in json);
    const res = await fetch(
      eventGrid
        ? `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${stack.functionKey}`
        : `${stack.functionsUrl}/api/alerts`,
      {
        method: "POST",
        headers: eventGrid
          ? Array.isArray(json)
            ? { "content-type": "application/json", "aeg-event-type": "Notification" }
            : { "content-type": "application/cloudevents+json" }
          : { "content-type": "application/json", "x-functions-key": stack.functionKey },
        body,
      },
    );
    await res.text();
  }
  // An approval decided through the page with its signed token.
  for (const link of approvalLinks) {
    const url = new URL(link);
    await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        token: url.searchParams.get("token") ?? "",
        decision: "approve",
      }).toString(),
    }).then((r) => r.text());
  }
  await stack.host.runTimer("expireApprovals"); // counts pending approvals for the gauge
  await activeTelemetry().flush();
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await resetTelemetry();
});

function exported(): string {
  const spanData = spans.getFinishedSpans().map((s) => ({
    name: s.name,
    attributes: s.attributes,
    events: s.events,
    status: s.status,
    links: s.links,
  }));
  const metricData = metrics.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
  const logData = logs.getFinishedLogRecords().map((l) => ({ body: l.body, attributes: l.attributes }));
  return JSON.stringify({ spanData, metricData, logData });
}

describe("telemetry", () => {
  it("is off unless asked for, and fails fast on an unknown mode", () => {
    expect(telemetrySettings({})).toEqual({ mode: "off" });
    expect(telemetrySettings({ DRIFTGUARD_TELEMETRY: "console" })).toEqual({ mode: "console" });
    expect(
      telemetrySettings({
        APPLICATIONINSIGHTS_CONNECTION_STRING: "InstrumentationKey=00000000-0000-0000-0000-000000000000",
      }),
    ).toMatchObject({ mode: "azure-monitor" });
    expect(() => telemetrySettings({ DRIFTGUARD_TELEMETRY: "otlp" })).toThrow(/DRIFTGUARD_TELEMETRY/);
  });

  it("ran the scenario with approvals decided through the page", () => {
    expect(approvalLinks.length).toBeGreaterThan(0);
  });

  it("exports a trace per signal with decision, ARM/Key Vault and Cosmos spans, and the metrics", () => {
    const finished = spans.getFinishedSpans();
    const names = new Set(finished.map((s) => s.name));
    expect(names).toContain("driftguard.signal");
    expect(names).toContain("driftguard.decision");
    expect(names).toContain("cosmos.gate.enter");
    expect(names).toContain("cosmos.gate.session.commit");
    // The Azure SDK's own spans (ARM management clients, Key Vault) are children of decisions.
    const sdkSpans = finished.filter(
      (s) =>
        typeof s.attributes["az.namespace"] === "string" &&
        s.attributes["az.namespace"] !== "Microsoft.Messaging.EventGrid",
    );
    expect(sdkSpans.length).toBeGreaterThan(10);
    // Publishing decisions is traced too (after the commit, or by the publishEvents timer).
    expect(finished.some((s) => s.attributes["az.namespace"] === "Microsoft.Messaging.EventGrid")).toBe(true);
    const decisionIds = new Set(
      finished.filter((s) => s.name === "driftguard.decision").map((s) => s.spanContext().traceId),
    );
    expect(
      sdkSpans
        .filter((s) => !decisionIds.has(s.spanContext().traceId))
        .map((s) => [s.name, s.attributes["az.namespace"]]),
    ).toEqual([]);
    // A decision span covers one target; with several kinds it lists each kind's outcome, comma-separated.
    const outcomes = new Set(
      finished
        .filter((s) => s.name === "driftguard.decision")
        .flatMap((s) => String(s.attributes["driftguard.outcome"]).split(",")),
    );
    for (const o of ["remediated", "compliant", "excluded", "pending-approval"])
      expect(outcomes).toContain(o);

    const metricNames = new Set(
      metrics
        .getMetrics()
        .flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.descriptor.name))),
    );
    expect(metricNames).toContain(METRIC.decisions);
    expect(metricNames).toContain(METRIC.decisionDuration);
    expect(metricNames).toContain(METRIC.approvalsPending);
    expect(metricNames).toContain(METRIC.armThrottled);
    // Log lines are exported too, correlated with their trace.
    const records = logs.getFinishedLogRecords();
    expect(records.length).toBeGreaterThan(0);
    expect(records.some((r) => r.spanContext?.traceId && decisionIds.has(r.spanContext.traceId))).toBe(true);
    expect(logLines.some((l) => /"trace_id":"[0-9a-f]{32}"/.test(l))).toBe(true);
  });

  it("carries no secret value, key, token or personal claim", () => {
    expectNoSecrets(exported());
  });

  it("the published decision events carry no secret value, key, token or personal claim either", async () => {
    await stack.runtime.events?.settled();
    await stack.host.runTimer("publishEvents");
    const records = await stack.runtime.stores.audit.query({ limit: 1000 });
    const events = await stack.eventGrid.events(DECISIONS_TOPIC);
    expect(records.items.length).toBeGreaterThan(10);
    expect(new Set(events.map((e) => e.id))).toEqual(new Set(records.items.map((r) => r.id)));
    expectNoSecrets(JSON.stringify(events));
  });

  function expectNoSecrets(dump: string): void {
    const secrets: string[] = [
      stack.functionKey,
      stack.cosmosKey,
      LOCAL_STACK_SIGNING_KEY,
      LOCAL_STACK_PSEUDONYM_KEY,
      ...approvalLinks.map((l) => new URL(l).searchParams.get("token") ?? ""),
    ];
    for (const vault of Object.keys(stack.vaults))
      for (const name of ["storage-key", "openai-key", "db-password"])
        for (const v of stack.sim.listSecretVersions(vault, name)) secrets.push(v.value);
    for (const id of Object.keys(stack.seed.storageKeys ?? {}))
      for (const k of stack.sim.getStorageKeys(id)) secrets.push(k.value);
    const found = secrets.filter((s) => s.length >= 8 && dump.includes(s));
    expect(found).toEqual([]);
    // Personal claims from the sample events, and bearer tokens, never appear.
    for (const personal of ["Dana Scully", "@contoso", "198.51.100.", "Bearer "])
      expect(dump, personal).not.toContain(personal);
    expect(dump).not.toMatch(/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\./);
  }
});

describe("redaction at the source", () => {
  it("scrubs span attributes and events however they are set", async () => {
    await withSpan(
      "probe",
      {
        "url.full": "https://vault.example/secrets/x?sig=SIGNATURE-SECRET-1",
        "enduser.id": "someone@contoso.example",
      },
      async (span) => {
        span.setAttribute("http.request.header.authorization", "Bearer abc.def.ghi");
        span.setAttributes({ clientIpAddress: "203.0.113.9", detail: "password=hunter2-secret" });
        span.addEvent("retry", { message: "token=TOKEN-SECRET-2 from 203.0.113.10" });
        span.setStatus({ code: 2, message: "failed for jane@contoso.example" });
      },
    );
    await activeTelemetry().flush();
    const probe = spans.getFinishedSpans().find((s) => s.name === "probe")!;
    const dump = JSON.stringify({ a: probe.attributes, e: probe.events, s: probe.status });
    for (const leaked of [
      "SIGNATURE-SECRET-1",
      "someone@",
      "abc.def.ghi",
      "203.0.113.",
      "hunter2",
      "TOKEN-SECRET-2",
      "jane@",
    ])
      expect(dump, leaked).not.toContain(leaked);
    expect(probe.attributes["url.full"]).toBe("https://vault.example/secrets/x?sig=<redacted>");
  });
});
