/**
 * Decision events are never lost (docs/events.md#not-one-lost): every way a record is written — the
 * gate's commit batch, session appends, direct appends — queues its event in the same write, the
 * publisher sends it right after and removes the entry only on success, and the timer sends what is
 * left in chain order. Run against the in-memory stores and the Cosmos DB adapters over the embedded
 * HTTPS Cosmos server.
 */
import type { Container } from "@azure/cosmos";
import { afterAll, describe, expect, it } from "vitest";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { resourceKey } from "../../shared/audit/chain.js";
import type { AuditRecord, Outcome } from "../../shared/audit/types.js";
import { CosmosAuditStore } from "../../shared/cosmos/audit-store.js";
import { createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { CosmosResourceGate } from "../../shared/cosmos/resource-gate.js";
import type { DecisionCloudEvent } from "../../shared/events/decision-event.js";
import { DecisionPublisher, type EventSink, type PublisherOptions } from "../../shared/events/publisher.js";
import { InMemoryAuditStore } from "../../shared/fakes/audit-store.js";
import { InMemoryResourceGate } from "../../shared/fakes/resource-gate.js";
import { silentLogger } from "../../shared/log.js";
import type { AuditStore } from "../../shared/ports/audit-store.js";
import type { EventOutbox, OutboxSelection } from "../../shared/ports/event-outbox.js";
import type { ResourceGate } from "../../shared/ports/resource-gate.js";
import { input, STORAGE, WORKSPACE } from "../audit/contract.js";

/** A topic double: records what it accepted; `down` makes it refuse like a topic answering 503. */
class RecordingSink implements EventSink {
  readonly accepted: DecisionCloudEvent[] = [];
  readonly calls: number[] = [];
  down = false;
  async send(events: DecisionCloudEvent[]): Promise<void> {
    this.calls.push(events.length);
    if (this.down) throw Object.assign(new Error("Service Unavailable"), { statusCode: 503 });
    this.accepted.push(...structuredClone(events));
  }
}

interface Stores {
  audit: AuditStore;
  gate: ResourceGate;
  outbox: EventOutbox;
  raw?: Container;
}

let cosmos: EmbeddedCosmos | undefined;
let db = 0;
afterAll(async () => cosmos?.close());

const variants: [string, (selection: OutboxSelection) => Promise<Stores>][] = [
  [
    "in memory",
    async (selection) => {
      const audit = new InMemoryAuditStore({ events: selection });
      return { audit, gate: new InMemoryResourceGate(audit), outbox: audit.outbox! };
    },
  ],
  [
    "Cosmos DB",
    async (selection) => {
      const tls = await loadOrCreateLocalTls();
      cosmos ??= await startEmbeddedCosmos({ port: 0, tls });
      const client = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
      const c = await ensureContainers(client, `events-${process.pid}-${++db}`);
      const audit = new CosmosAuditStore(c.audit, { retentionDays: 0, events: selection });
      return { audit, gate: new CosmosResourceGate(c.audit, audit), outbox: audit.outbox!, raw: c.audit };
    },
  ],
];

const NOW = new Date("2025-03-01T10:00:00Z");

/** A publisher of the stores' outbox to `sink`, as CloudEvents from `source`. */
function publisherOf(
  s: Stores,
  sink: EventSink,
  source: string,
  opts: Partial<Omit<PublisherOptions, "outbox" | "sink" | "source">> = {},
) {
  return new DecisionPublisher({ outbox: s.outbox, sink, source, log: silentLogger, ...opts });
}
const later = (ms: number) => () => new Date(Date.now() + ms);

async function commitOne(
  gate: ResourceGate,
  resourceId: string,
  cause: string,
  outcome: Outcome = "remediated",
) {
  const entry = await gate.enter(resourceId, cause, { leaseMs: 60_000, now: NOW });
  if (entry.status !== "entered") throw new Error(`not entered: ${entry.status}`);
  return entry.session.commit(input({ resourceId, outcome, signal: { ...input().signal, id: cause } }), {
    causes: { [cause]: "done" },
  });
}

describe.each(variants)("decision events, %s", (_name, open) => {
  it("a committed record is published once, as the record, and its outbox entry is gone", async () => {
    const s = await open({});
    const sink = new RecordingSink();
    const publisher = publisherOf(s, sink, "/driftguard/test");
    const record = await commitOne(s.gate, WORKSPACE, "c1");
    await publisher.settled();
    expect(sink.accepted).toHaveLength(1);
    const event = sink.accepted[0]!;
    expect(event).toMatchObject({
      specversion: "1.0",
      id: record.id,
      type: "Driftguard.Decision.Remediated",
      source: "/driftguard/test",
      subject: WORKSPACE,
      time: record.time,
      datacontenttype: "application/json",
    });
    // The data is the record exactly as the audit query returns it.
    const { items } = await s.audit.query({ resourceId: WORKSPACE });
    expect(event.data).toEqual(items[0]);
    expect(await s.outbox.pending(10)).toEqual([]);
  });

  it("every way a record is written queues its event: commit, session append, direct append", async () => {
    const s = await open({});
    const entry = await s.gate.enter(STORAGE, "c2", { leaseMs: 60_000, now: NOW });
    if (entry.status !== "entered") throw new Error("not entered");
    const appended = await entry.session.append(input({ resourceId: STORAGE, outcome: "failed" }));
    const committed = await entry.session.commit(input({ resourceId: STORAGE, outcome: "reverted" }), {
      causes: { c2: "done" },
    });
    const direct = await s.audit.append(input({ resourceId: STORAGE, outcome: "compliant" }));
    const pending = await s.outbox.pending(10);
    expect(pending.map((p) => [p.recordId, p.seq])).toEqual([
      [appended.id, 1],
      [committed.id, 2],
      [direct.id, 3],
    ]);
    for (const p of pending) expect((await s.outbox.recordOf(p))?.hash).toBe(p.hash);
  });

  it("a topic outage leaves the events queued; the timer sends them in chain order, none twice", async () => {
    const s = await open({});
    const sink = new RecordingSink();
    const publisher = publisherOf(s, sink, "/driftguard/test", { minAgeMs: 0, pauseMs: 0 });
    sink.down = true;
    const a1 = await commitOne(s.gate, WORKSPACE, "o1");
    const b1 = await commitOne(s.gate, STORAGE, "o2", "failed");
    await publisher.settled();
    expect(sink.accepted).toEqual([]);
    sink.down = false;
    // Back up: a new record of the workspace must not overtake its pending predecessor.
    const a2 = await commitOne(s.gate, WORKSPACE, "o3", "compliant");
    await publisher.settled();
    expect(sink.accepted).toEqual([]);
    const report = await publisher.publishPending();
    expect(report).toMatchObject({ published: 3, orphansRemoved: 0 });
    const ids = sink.accepted.map((e) => e.id);
    expect(new Set(ids).size).toBe(3);
    expect(ids.sort()).toEqual([a1.id, a2.id, b1.id].sort());
    expect(ids.indexOf(a1.id)).toBeLessThan(ids.indexOf(a2.id));
    expect(await s.outbox.pending(10)).toEqual([]);
    // Nothing left: another run sends nothing.
    expect((await publisher.publishPending()).published).toBe(0);
    // And the next record is sent at once again.
    const a3 = await commitOne(s.gate, WORKSPACE, "o4");
    await publisher.settled();
    expect(sink.accepted.at(-1)?.id).toBe(a3.id);
  });

  it("the timer leaves young entries to their writer, and publishes nothing it cannot match to a record", async () => {
    const s = await open({});
    const sink = new RecordingSink();
    sink.down = true;
    const writer = publisherOf(s, sink, "/driftguard/a");
    const record = await commitOne(s.gate, WORKSPACE, "y1");
    await writer.settled();
    sink.down = false;
    const timer = publisherOf(s, sink, "/driftguard/a");
    expect((await timer.publishPending()).published).toBe(0); // younger than 30 s
    if (s.raw) {
      // An entry whose record never landed (the stand-in applies a failed batch halfway).
      await s.raw.items.upsert({
        id: "orphan-evt-0",
        pk: resourceKey(STORAGE),
        docType: "outbox",
        resourceId: STORAGE,
        seq: 7,
        recordId: `${resourceKey(STORAGE)}-0000000007`,
        hash: "f".repeat(64),
        atMs: Date.now() - 60_000,
      });
    }
    const old = publisherOf(s, sink, "/driftguard/a", { clock: later(60_000) });
    const report = await old.publishPending();
    expect(report.published).toBe(1);
    expect(report.orphansRemoved).toBe(s.raw ? 1 : 0);
    expect(sink.accepted.map((e) => e.id)).toEqual([record.id]);
    expect(await s.outbox.pending(10)).toEqual([]);
  });

  it("DRIFTGUARD_EVENTS_OUTCOMES: only the listed outcomes are queued and published", async () => {
    const s = await open({ outcomes: ["remediated", "failed"] });
    const sink = new RecordingSink();
    const publisher = publisherOf(s, sink, "/driftguard/t");
    const kept = await commitOne(s.gate, WORKSPACE, "f1", "remediated");
    await commitOne(s.gate, WORKSPACE, "f2", "compliant");
    const failed = await commitOne(s.gate, WORKSPACE, "f3", "failed");
    await publisher.settled();
    expect(sink.accepted.map((e) => [e.id, e.type])).toEqual([
      [kept.id, "Driftguard.Decision.Remediated"],
      [failed.id, "Driftguard.Decision.Failed"],
    ]);
    // The compliant record in between needed no query: the chain's order was known.
    expect(await s.outbox.pending(10)).toEqual([]);
  });

  it("many resources and records: exactly one event per record by ID, each resource in chain order", async () => {
    const s = await open({});
    const sink = new RecordingSink();
    const publisher = publisherOf(s, sink, "/driftguard/t", { minAgeMs: 0, pauseMs: 0 });
    const written: AuditRecord[] = [];
    const ids = [WORKSPACE, STORAGE, `${WORKSPACE}x`];
    for (let i = 0; i < 12; i++) {
      sink.down = i % 4 === 1 || i % 4 === 2; // an outage now and then
      written.push(await commitOne(s.gate, ids[i % 3]!, `m${i}`));
      await publisher.settled();
      if (i % 5 === 4) await publisher.publishPending();
    }
    sink.down = false;
    await publisher.publishPending();
    const seen = sink.accepted.map((e) => e.id);
    expect(new Set(seen).size).toBe(written.length);
    expect([...new Set(seen)].sort()).toEqual(written.map((r) => r.id).sort());
    for (const id of ids) {
      const seqs = sink.accepted.filter((e) => e.subject === id).map((e) => e.data.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });
});
