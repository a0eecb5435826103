/**
 * The local Event Grid (dev/event-grid/) behaves as Event Grid does for what driftguard relies on:
 * `EventGridPublisherClient` publishes to its custom topics unchanged (key and token), unauthorised
 * or oversized publishes are refused; subscriptions filter, batch, retry on Event Grid's schedule
 * (compressed), never retry 400/401/403/413, and dead-letter what cannot be delivered; what a
 * webhook receives is what the SDK's `EventGridDeserializer` reads.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  AzureKeyCredential,
  EventGridDeserializer,
  EventGridPublisherClient,
  isSystemEvent,
} from "@azure/eventgrid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalEventGrid, startLocalEventGrid } from "../../dev/event-grid/index.js";
import { RETRY_SCHEDULE_MS } from "../../dev/event-grid/subscription.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { localStackCredential } from "../../shared/azure/local-credential.js";

const SCALE = 0.002; // 10 s → 20 ms, 30 s → 60 ms, 1 min → 120 ms, 5 min → 600 ms
let grid: LocalEventGrid;
let ca: string;

/** A webhook that answers the handshake and then whatever `answer` says, keeping what it got. */
interface Hook {
  url: string;
  bodies: { at: number; body: string; headers: http.IncomingHttpHeaders }[];
  answer: (n: number) => number;
  close(): Promise<void>;
}

async function webhook(answer: (n: number) => number = () => 200): Promise<Hook> {
  const hook: Hook = { url: "", bodies: [], answer, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (req.method === "OPTIONS") {
        res.writeHead(200, { "webhook-allowed-origin": String(req.headers["webhook-request-origin"]) });
        return res.end();
      }
      if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
        const code = (JSON.parse(body) as { data: { validationCode: string } }[])[0]!.data.validationCode;
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ validationResponse: code }));
      }
      hook.bodies.push({ at: Date.now(), body, headers: req.headers });
      res.writeHead(hook.answer(hook.bodies.length));
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  hook.close = () => new Promise((r) => server.close(() => r()));
  return hook;
}

const until = async (what: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
};

function armEvent(
  subject: string,
  provider = "Microsoft.Storage",
  type = "Microsoft.Resources.ResourceWriteSuccess",
) {
  return {
    id: crypto.randomUUID(),
    topic: "/subscriptions/00000000-0000-0000-0000-000000000001",
    subject,
    eventType: type,
    eventTime: new Date().toISOString(),
    dataVersion: "2",
    metadataVersion: "1",
    data: { resourceProvider: provider, resourceUri: subject, status: "Succeeded" },
  };
}

beforeAll(async () => {
  const tls = await loadOrCreateLocalTls();
  ca = tls.cert;
  grid = await startLocalEventGrid({ tls, timeScale: SCALE, topics: [{ name: "decisions" }] });
});
afterAll(async () => grid.close());

describe("custom topics", () => {
  const event = (id: string) => ({
    id,
    type: "Driftguard.Decision.Remediated",
    source: "/driftguard/test",
    subject: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st",
    time: new Date("2030-01-01T00:00:00Z"),
    datacontenttype: "application/json",
    data: { seq: 1 },
  });

  it("EventGridPublisherClient publishes unchanged, with the topic key (aeg-sas-key) and with a token", async () => {
    const endpoint = grid.topicEndpoint("decisions");
    const byKey = new EventGridPublisherClient(
      endpoint,
      "CloudEvent",
      new AzureKeyCredential(grid.topicKey("decisions")),
      {
        tlsOptions: { ca },
      },
    );
    await byKey.send([event("k-1"), event("k-2")]);
    const byToken = new EventGridPublisherClient(endpoint, "CloudEvent", localStackCredential(), {
      tlsOptions: { ca },
    });
    await byToken.send([event("t-1")]);
    const stored = grid.events("decisions");
    expect(stored.map((e) => e.id)).toEqual(["k-1", "k-2", "t-1"]);
    expect(stored[0]).toMatchObject({
      specversion: "1.0",
      type: "Driftguard.Decision.Remediated",
      time: "2030-01-01T00:00:00.000Z",
      data: { seq: 1 },
    });
  });

  it("refuses a wrong key, no credential and a token for another audience (401); over 1 MB is 413; a bad event is 400 naming it", async () => {
    const wrongKey = new EventGridPublisherClient(
      grid.topicEndpoint("decisions"),
      "CloudEvent",
      new AzureKeyCredential("not-the-key"),
      {
        tlsOptions: { ca },
        retryOptions: { maxRetries: 0 },
      },
    );
    await expect(wrongKey.send([event("x")])).rejects.toMatchObject({ statusCode: 401 });
    const armToken = new EventGridPublisherClient(
      grid.topicEndpoint("decisions"),
      "CloudEvent",
      { getToken: async () => localStackCredential().getToken("https://management.azure.com/.default") },
      { tlsOptions: { ca }, retryOptions: { maxRetries: 0 } },
    );
    await expect(armToken.send([event("x")])).rejects.toMatchObject({ statusCode: 401 });
    const key = new EventGridPublisherClient(
      grid.topicEndpoint("decisions"),
      "CloudEvent",
      new AzureKeyCredential(grid.topicKey("decisions")),
      {
        tlsOptions: { ca },
        retryOptions: { maxRetries: 0 },
      },
    );
    const big = { ...event("big"), data: { blob: "x".repeat(1024 * 1024) } };
    await expect(key.send([big])).rejects.toMatchObject({ statusCode: 413 });
    await expect(key.send([{ ...event("bad"), type: "" }])).rejects.toMatchObject({ statusCode: 400 });
    expect(grid.events("decisions").map((e) => e.id)).not.toContain("big");
  });

  it("a fault makes the topic answer 503 until it is over", async () => {
    const key = new EventGridPublisherClient(
      grid.topicEndpoint("decisions"),
      "CloudEvent",
      new AzureKeyCredential(grid.topicKey("decisions")),
      {
        tlsOptions: { ca },
        retryOptions: { maxRetries: 0 },
      },
    );
    grid.addFault({ topic: "decisions", status: 503, durationMs: 300 });
    await expect(key.send([event("during")])).rejects.toMatchObject({ statusCode: 503 });
    await new Promise((r) => setTimeout(r, 350));
    await key.send([event("after")]);
    const ids = grid.events("decisions").map((e) => e.id);
    expect(ids).toContain("after");
    expect(ids).not.toContain("during");
  });
});

describe("delivery", () => {
  it("validates the webhook, filters like Event Grid, and delivers what the SDK deserializes", async () => {
    const hook = await webhook();
    await grid.subscribe("filtered", {
      topic: "azure-subscriptions",
      endpoint: hook.url,
      filter: {
        includedEventTypes: ["Microsoft.Resources.ResourceWriteSuccess"],
        subjectBeginsWith: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG-ML",
        subjectEndsWith: "-prod",
        advancedFilters: [
          { operatorType: "StringIn", key: "data.resourceProvider", values: ["microsoft.storage"] },
        ],
      },
    });
    const rg = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml";
    const wanted = armEvent(`${rg}/providers/Microsoft.Storage/storageAccounts/st-prod`);
    grid.publishSystem("azure-subscriptions", [
      armEvent(`${rg}/providers/Microsoft.Network/networkSecurityGroups/nsg-prod`, "Microsoft.Network"), // provider
      armEvent(
        `${rg}/providers/Microsoft.Storage/storageAccounts/st-prod`,
        "Microsoft.Storage",
        "Microsoft.Resources.ResourceDeleteSuccess",
      ), // type
      armEvent(`${rg}/providers/Microsoft.Storage/storageAccounts/st-dev`), // ends with
      armEvent(
        `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/other/providers/Microsoft.Storage/storageAccounts/st-prod`,
      ), // begins with
      wanted,
    ]);
    await until(() => hook.bodies.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.bodies).toHaveLength(1);
    expect(hook.bodies[0]!.headers["aeg-event-type"]).toBe("Notification");
    expect(hook.bodies[0]!.headers["aeg-subscription-name"]).toBe("FILTERED");
    const events = await new EventGridDeserializer().deserializeEventGridEvents(hook.bodies[0]!.body);
    expect(events).toHaveLength(1);
    const [e] = events;
    expect(isSystemEvent("Microsoft.Resources.ResourceWriteSuccess", e!)).toBe(true);
    expect(e!.id).toBe(wanted.id);
    expect(e!.eventTime).toBeInstanceOf(Date);
    grid.unsubscribe("filtered");
    await hook.close();
  });

  it("refuses a subscription whose webhook fails the handshake", async () => {
    const hook = await webhook();
    await expect(
      grid.subscribe("no-handshake", {
        topic: "azure-subscriptions",
        endpoint: `${hook.url.replace(/\d+\/hook$/, "1")}/x`,
      }),
    ).rejects.toThrow(/handshake/);
    await expect(
      grid.subscribe("bad-filter", {
        topic: "azure-subscriptions",
        endpoint: hook.url,
        maxEventsPerBatch: 0,
      }),
    ).rejects.toThrow(/maxEventsPerBatch/);
    await hook.close();
  });

  it("batches by maxEventsPerBatch and preferredBatchSizeInKilobytes", async () => {
    const hook = await webhook();
    await grid.subscribe("batched", {
      topic: "key-vaults",
      endpoint: hook.url,
      maxEventsPerBatch: 3,
      preferredBatchSizeInKilobytes: 1,
    });
    const small = Array.from({ length: 7 }, (_, i) => ({ ...armEvent(`/s/${i}`), data: { i } }));
    grid.publishSystem("key-vaults", small);
    await until(() => hook.bodies.reduce((n, b) => n + (JSON.parse(b.body) as unknown[]).length, 0) === 7);
    expect(hook.bodies.map((b) => (JSON.parse(b.body) as unknown[]).length)).toEqual([3, 3, 1]);
    hook.bodies.length = 0;
    const large = Array.from({ length: 3 }, (_, i) => ({
      ...armEvent(`/l/${i}`),
      data: { pad: "x".repeat(700) },
    }));
    grid.publishSystem("key-vaults", large);
    await until(() => hook.bodies.length === 3); // ~900 bytes each: one per 1 KB batch
    grid.unsubscribe("batched");
    await hook.close();
  });

  it("retries a 5xx on Event Grid's schedule, and dead-letters once the attempts run out", async () => {
    const hook = await webhook(() => 503);
    await grid.subscribe("failing", {
      topic: "azure-subscriptions",
      endpoint: hook.url,
      filter: { subjectBeginsWith: "/retry" },
      retryPolicy: { maxDeliveryAttempts: 5, eventTimeToLiveInMinutes: 1440 },
    });
    const e = armEvent("/retry/one");
    grid.publishSystem("azure-subscriptions", [e]);
    await until(() => grid.deadLetters("failing").length === 1, 15_000);
    expect(hook.bodies).toHaveLength(5);
    const gaps = hook.bodies.slice(1).map((b, i) => b.at - hook.bodies[i]!.at);
    // Each wait is at least the scheduled delay (compressed), and in the schedule's order.
    for (const [i, gap] of gaps.entries())
      expect(gap).toBeGreaterThanOrEqual(RETRY_SCHEDULE_MS[i]! * SCALE - 5);
    expect(gaps[3]!).toBeGreaterThan(gaps[0]!);
    expect(hook.bodies.map((b) => b.headers["aeg-delivery-count"])).toEqual(["0", "1", "2", "3", "4"]);
    const [dl] = grid.deadLetters("failing");
    expect(dl).toMatchObject({
      id: e.id,
      deadLetterReason: "MaxDeliveryAttemptsExceeded",
      deliveryAttempts: 5,
      lastHttpStatusCode: 503,
    });
    expect(grid.deliveries("failing").map((d) => d.outcome)).toEqual([
      "retry",
      "retry",
      "retry",
      "retry",
      "dead-lettered",
    ]);
    grid.unsubscribe("failing");
    await hook.close();
  });

  it("never retries 400, 401, 403 or 413: the event is dead-lettered at once (or dropped without dead-lettering)", async () => {
    for (const status of [400, 401, 403, 413]) {
      const hook = await webhook(() => status);
      await grid.subscribe(`refusing-${status}`, {
        topic: "azure-subscriptions",
        endpoint: hook.url,
        filter: { subjectBeginsWith: `/no-retry/${status}` },
      });
      const e = armEvent(`/no-retry/${status}/x`);
      grid.publishSystem("azure-subscriptions", [e]);
      await until(() => grid.deadLetters(`refusing-${status}`).length === 1);
      await new Promise((r) => setTimeout(r, 100)); // past the first retry delay (20 ms)
      expect(hook.bodies).toHaveLength(1);
      expect(grid.deadLetters(`refusing-${status}`)[0]).toMatchObject({
        id: e.id,
        deadLetterReason: "NonRetriableError",
        deliveryAttempts: 1,
        lastHttpStatusCode: status,
      });
      grid.unsubscribe(`refusing-${status}`);
      await hook.close();
    }
    const hook = await webhook(() => 400);
    await grid.subscribe("dropping", {
      topic: "azure-subscriptions",
      endpoint: hook.url,
      filter: { subjectBeginsWith: "/drop" },
      deadLetter: false,
    });
    grid.publishSystem("azure-subscriptions", [armEvent("/drop/x")]);
    await until(() => grid.deliveries("dropping").length === 1);
    expect(grid.deliveries("dropping")[0]!.outcome).toBe("dropped");
    expect(grid.deadLetters("dropping")).toEqual([]);
    grid.unsubscribe("dropping");
    await hook.close();
  });

  it("dead-letters an event whose time to live runs out before its next attempt", async () => {
    const hook = await webhook(() => 500);
    // 1 minute TTL × 0.002 = 120 ms: attempts at 0, +20 ms, +60 ms; the next (+120 ms) would be past it.
    await grid.subscribe("short-ttl", {
      topic: "azure-subscriptions",
      endpoint: hook.url,
      filter: { subjectBeginsWith: "/ttl" },
      retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1 },
    });
    grid.publishSystem("azure-subscriptions", [armEvent("/ttl/x")]);
    await until(() => grid.deadLetters("short-ttl").length === 1);
    expect(grid.deadLetters("short-ttl")[0]).toMatchObject({
      deadLetterReason: "TimeToLiveExceeded",
      lastHttpStatusCode: 500,
    });
    expect(hook.bodies.length).toBeLessThan(30);
    grid.unsubscribe("short-ttl");
    await hook.close();
  });
});
