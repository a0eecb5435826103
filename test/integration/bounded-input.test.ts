/**
 * Hostile and odd input over the real local host, on every route that takes a body or a query:
 * nesting 5,000 / 10,000 deep → 400 naming the limit, oversized → 413, nothing recorded or written;
 * the same routes still answer normal payloads; duplicate and unknown audit query parameters (also
 * `__proto__`) reach the function and are refused naming the parameter; 500 answers never carry
 * internal error text (it goes to the log only).
 */
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import functions from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { startLocalHost } from "../../dev/host.js";
import { type LocalStack, startLocalStack } from "../../dev/stack.js";
import { handleResourceEvent } from "../../functions/resource-events.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { InputError } from "../../shared/errors.js";
import { createLogger } from "../../shared/log.js";
import { MAX_JSON_DEPTH } from "../../shared/signals/body.js";
import { armWriteEvent } from "../helpers/stack.js";

const SUB = "00000000-0000-0000-0000-0000000000e7";
const ST = `/subscriptions/${SUB}/resourceGroups/rg-edge/providers/Microsoft.Storage/storageAccounts/stedge001`;
const APPROVAL_ID = "0f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f";
const INTERNAL = "connect ECONNREFUSED 127.0.0.1:18081";

const seed: Seed = {
  resources: [
    {
      id: ST,
      name: "stedge001",
      type: "Microsoft.Storage/storageAccounts",
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      tags: {},
      properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
    },
  ],
};

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), "utf8");

const logLines: string[] = [];
let stack: LocalStack;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "driftguard-edge-"));
  const policyFile = path.join(dir, "p.yaml");
  await writeFile(
    policyFile,
    "version: 1\npolicies:\n  - name: storage-private\n    resourceTypes: [Microsoft.Storage/storageAccounts]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n",
  );
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed,
    policyFile,
    functionKey: "edge-test-key-0123456789",
    log: createLogger({ level: "debug", destination: { write: (s: string) => void logLines.push(s) } }),
    lroPollIntervalMs: 0,
    retry: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
    env: {
      TEAMS_BOT_APP_ID: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
      // Never reached (no valid token is sent), and never the Internet.
      TEAMS_BOT_JWKS_URL: "http://127.0.0.1:9/keys",
    },
  });
});

afterAll(async () => {
  await stack?.close();
});

const key = () => stack.functionKey;
const webhook = () =>
  `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${key()}`;

interface Route {
  name: string;
  url: () => string;
  headers: Record<string, string>;
  /** Wraps a nested JSON text into this route's body. */
  body: (nested: string) => string;
}

const routes: Route[] = [
  {
    name: "Event Grid webhook (Event Grid schema)",
    url: webhook,
    headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
    body: (n) => n,
  },
  {
    name: "Event Grid webhook (one CloudEvent)",
    url: webhook,
    headers: { "content-type": "application/cloudevents+json; charset=utf-8" },
    body: (n) =>
      `{"specversion":"1.0","id":"1","source":"/subscriptions/${SUB}","type":"Microsoft.Resources.ResourceWriteSuccess","time":"2026-01-01T00:00:00Z","data":${n}}`,
  },
  {
    name: "/api/alerts",
    url: () => `${stack.functionsUrl}/api/alerts`,
    headers: { "content-type": "application/json", "x-functions-key": "" },
    body: (n) => `{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{},"alertContext":${n}}}`,
  },
  {
    name: "/api/teams/messages",
    url: () => `${stack.functionsUrl}/api/teams/messages`,
    headers: { "content-type": "application/json", authorization: "Bearer not-a-valid-token" },
    body: (n) => `{"type":"invoke","name":"adaptiveCard/action","value":${n}}`,
  },
  {
    name: "/api/approvals/{id} (form)",
    url: () => `${stack.functionsUrl}/api/approvals/${APPROVAL_ID}`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: (n) => `decision=approve&token=${n}`,
  },
];

function post(route: Route, body: string): Promise<Response> {
  const headers = { ...route.headers };
  if ("x-functions-key" in headers) headers["x-functions-key"] = key();
  return fetch(route.url(), { method: "POST", headers, body });
}

async function allRecords(): Promise<AuditRecord[]> {
  const res = await fetch(`${stack.functionsUrl}/api/audit?limit=1000`, {
    headers: { "x-functions-key": key() },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: AuditRecord[] }).items;
}

type ErrorBody = { error: { code: string; message: string; path: string } };

describe("nesting depth is bounded on every route that takes a body", () => {
  const arrays = (d: number) => `${"[".repeat(d)}${"]".repeat(d)}`;
  const objects = (d: number) => `${'{"a":'.repeat(d)}1${"}".repeat(d)}`;

  for (const route of routes) {
    it(`${route.name}: depth 5,000 and 10,000 → 400 naming the limit; nothing recorded or written`, async () => {
      const before = (await allRecords()).length;
      const writes = stack.sim.writes().length;
      for (const nested of [arrays(5_000), arrays(10_000), objects(10_000)]) {
        const res = await post(route, route.body(nested));
        expect(res.status).toBe(400);
        const body = (await res.json()) as ErrorBody;
        expect(body.error.code).toBe("TooDeeplyNested");
        expect(body.error.message).toContain(`limit of ${MAX_JSON_DEPTH} levels`);
        expect(typeof body.error.path).toBe("string");
      }
      expect((await allRecords()).length).toBe(before);
      expect(stack.sim.writes().length).toBe(writes);
    });
  }

  it("names where the limit is crossed", async () => {
    const res = await post(routes[2]!, routes[2]!.body(arrays(5_000)));
    const body = (await res.json()) as ErrorBody;
    // alertContext is at depth 3, so 62 more arrays reach the limit.
    expect(body.error.path).toBe(`data.alertContext${"[0]".repeat(62)}`);
  });

  it("oversized bodies → 413 on every route", async () => {
    const big = `"${"x".repeat(1_100_000)}"`;
    for (const route of routes) {
      const res = await post(route, route.body(big));
      expect(res.status, route.name).toBe(413);
      expect(((await res.json()) as ErrorBody).error.code, route.name).toBe("PayloadTooLarge");
    }
  });
});

describe("in Azure the host hands the function parsed events: the function bounds them too", () => {
  const context = () => new functions.InvocationContext({ functionName: "resourceEvents" });

  it("a parsed event 100,000 levels deep is refused (TooDeeplyNested) without a stack overflow", async () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const event = { ...armWriteEvent(ST), data: deep };
    const before = (await allRecords()).length;
    const err = await handleResourceEvent(event, context()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe("TooDeeplyNested");
    expect((err as InputError).path).toBe(`data${".a".repeat(63)}`);
    expect((await allRecords()).length).toBe(before);
  });

  it("a SubscriptionDeletedEvent is acknowledged (no throw, nothing recorded)", async () => {
    const before = (await allRecords()).length;
    const [event] = JSON.parse(fixture("acknowledged/eg-subscription-deleted.json"));
    await expect(handleResourceEvent(event, context())).resolves.toBeUndefined();
    expect((await allRecords()).length).toBe(before);
  });
});

describe("the same routes still answer normal payloads", () => {
  it("Event Grid: an ARM write is remediated and recorded", async () => {
    const res = await post(routes[0]!, JSON.stringify([armWriteEvent(ST)]));
    expect(res.status).toBe(200);
    const records = (await allRecords()).filter((r) => r.resourceId === ST);
    expect(records.map((r) => r.outcome)).toEqual(["remediated"]);
    expect(stack.sim.getResource(ST)?.properties).toMatchObject({ publicNetworkAccess: "Disabled" });
  });

  it("Event Grid: SubscriptionDeletedEvent is acknowledged in both schemas, nothing recorded", async () => {
    const before = (await allRecords()).length;
    const eg = await post(routes[0]!, fixture("acknowledged/eg-subscription-deleted.json"));
    expect(eg.status).toBe(200);
    const ce = await fetch(webhook(), {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json; charset=utf-8" },
      body: fixture("acknowledged/ce-subscription-deleted.json"),
    });
    expect(ce.status).toBe(200);
    expect((await allRecords()).length).toBe(before);
    expect(logLines.join("")).toContain("Event Grid system event acknowledged");
  });

  it("alerts: a Service Health alert without a UTC offset is accepted (no policy: ignored, nothing recorded)", async () => {
    const before = (await allRecords()).length;
    const res = await post(routes[2]!, fixture("alert-servicehealth-fired.json"));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { decisions: { outcome: string; reason: string }[] };
    expect(body.decisions).toEqual([
      expect.objectContaining({
        outcome: "ignored",
        reason: "no policy matches: no policy covers resource type Microsoft.Resources/subscriptions",
      }),
    ]);
    expect((await allRecords()).length).toBe(before);
  });

  it("teams: a well-formed activity is parsed and then refused for its token (401)", async () => {
    const res = await post(routes[3]!, routes[3]!.body('{"action":{"verb":"approve"}}'));
    expect(res.status).toBe(401);
    expect(((await res.json()) as ErrorBody).error.path).toBe("authorization");
  });

  it("teams: a body that is not JSON is a 400 naming the body", async () => {
    const res = await post(routes[3]!, "{not json");
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({ code: "InvalidJson", path: "" });
  });

  it("approvals: a normal form with a bad token is refused as before (403 page)", async () => {
    const res = await post(routes[4]!, "decision=approve&token=abc");
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("invalid or has expired");
  });
});

describe("audit query parameters reach the function as sent", () => {
  async function audit(qs: string): Promise<Response> {
    return fetch(`${stack.functionsUrl}/api/audit?${qs}`, { headers: { "x-functions-key": key() } });
  }

  it("a duplicate parameter is a 400 naming it", async () => {
    for (const [qs, param] of [
      ["limit=5&limit=6", "limit"],
      ["outcome=remediated&outcome=failed", "outcome"],
      ["format=json&limit=1&format=csv", "format"],
    ] as const) {
      const res = await audit(qs);
      expect(res.status, qs).toBe(400);
      expect(((await res.json()) as ErrorBody).error, qs).toMatchObject({
        code: "DuplicateParameter",
        path: param,
      });
    }
  });

  it("unknown parameters, prototype names included, are a 400 naming them", async () => {
    for (const param of ["__proto__", "constructor", "hasOwnProperty", "toString", "resourceid"]) {
      const res = await audit(`${encodeURIComponent(param)}=x`);
      expect(res.status, param).toBe(400);
      expect(((await res.json()) as ErrorBody).error, param).toMatchObject({
        code: "UnknownParameter",
        path: param,
      });
    }
  });

  it("known single parameters still work, JSON and CSV", async () => {
    expect((await audit("limit=5&outcome=remediated")).status).toBe(200);
    const csv = await audit("format=csv&limit=5");
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
  });
});

describe("500 answers carry no internal error text", () => {
  it("a failing store: /api/audit answers a generic 500; the reason is only in the log", async () => {
    const audit = stack.runtime.stores.audit;
    const original = audit.query;
    audit.query = async () => {
      throw new Error(INTERNAL);
    };
    try {
      const res = await fetch(`${stack.functionsUrl}/api/audit`, { headers: { "x-functions-key": key() } });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain("ECONNREFUSED");
      expect(text).not.toContain("18081");
      expect(JSON.parse(text)).toMatchObject({ error: { code: "InternalError", path: "" } });
    } finally {
      audit.query = original;
    }
    // The reason is logged, redacted (no IP address).
    expect(logLines.join("")).toContain("connect ECONNREFUSED <ip>:18081");
  });

  it("a failing pipeline: the Event Grid delivery answers 500 with failure codes only; /api/alerts a generic 500", async () => {
    const pipeline = stack.runtime.pipeline;
    const handleAll = pipeline.handleAll;
    const handle = pipeline.handle;
    pipeline.handleAll = async () => {
      throw new Error(INTERNAL);
    };
    pipeline.handle = async () => {
      throw new Error(INTERNAL);
    };
    try {
      const eg = await post(routes[0]!, JSON.stringify([armWriteEvent(ST)]));
      expect(eg.status).toBe(500);
      const egText = await eg.text();
      expect(egText).not.toContain("ECONNREFUSED");
      expect(JSON.parse(egText)).toMatchObject({
        error: { code: "DeliveryFailed" },
        failures: [{ index: 0, code: "InternalError" }],
      });
      const al = await post(routes[2]!, fixture("alert-metric-fired.json"));
      expect(al.status).toBe(500);
      expect(await al.text()).not.toContain("ECONNREFUSED");
    } finally {
      pipeline.handleAll = handleAll;
      pipeline.handle = handle;
    }
  });

  it("the host's own 500 (a function that throws) is generic too", async () => {
    const lines: string[] = [];
    const host = await startLocalHost({
      port: 0,
      functionKey: "k",
      log: createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } }),
      table: [
        {
          name: "boom",
          trigger: "http",
          route: "boom",
          methods: ["GET"],
          authLevel: "anonymous",
          handler: async () => {
            throw new Error(INTERNAL);
          },
        },
        {
          name: "events",
          trigger: "eventGrid",
          handler: async () => {
            throw new Error(INTERNAL);
          },
        },
      ],
    });
    try {
      const res = await fetch(`${host.url}/api/boom`);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain("ECONNREFUSED");
      const eg = await fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=events&code=k`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([armWriteEvent(ST)]),
      });
      expect(eg.status).toBe(500);
      expect(await eg.text()).not.toContain("ECONNREFUSED");
      expect(lines.join("")).toContain("connect ECONNREFUSED <ip>:18081");
    } finally {
      await host.close();
    }
  });
});
