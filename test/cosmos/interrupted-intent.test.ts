/**
 * Settling an interrupted intent on Cosmos DB: the next holder looks for the intent's record among
 * the records written after it with point reads by their deterministic IDs — never a query. A query
 * here ran on a decision's path (a redelivery after a failed write) and, on the local stand-in that
 * scans its whole container per query, stalled a 10,000-event burst (docs/performance.md). Counted
 * on the wire: a query added back to this path makes this fail.
 */
import dc from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import type { CosmosClient } from "@azure/cosmos";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { recordId } from "../../shared/audit/chain.js";
import { CosmosAuditStore } from "../../shared/cosmos/audit-store.js";
import { createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { CosmosResourceGate } from "../../shared/cosmos/resource-gate.js";
import type { GateSession, Intent } from "../../shared/ports/resource-gate.js";
import { input, RG, workspaceIntent } from "../audit/contract.js";

let cosmos: EmbeddedCosmos;
let client: CosmosClient;
let gate: CosmosResourceGate;
let cosmosPort = -1;
const seen: string[] = [];

function onRequest(message: unknown): void {
  const req = (message as { request: IncomingMessage }).request;
  if (req.socket.localPort !== cosmosPort) return;
  const kind = req.headers["x-ms-documentdb-isquery"]
    ? " query"
    : req.headers["x-ms-cosmos-is-query-plan-request"]
      ? " query-plan"
      : req.headers["x-ms-cosmos-is-batch-request"]
        ? " batch"
        : "";
  seen.push(`${req.method}${kind} ${decodeURIComponent(req.url ?? "").replace(/^.*\/colls\/audit/, "")}`);
}

beforeAll(async () => {
  const tls = await loadOrCreateLocalTls();
  cosmos = await startEmbeddedCosmos({ port: 0, tls });
  cosmosPort = cosmos.port;
  client = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
  const { audit } = await ensureContainers(client, "interrupted");
  gate = new CosmosResourceGate(audit, new CosmosAuditStore(audit, { retentionDays: 0 }));
  dc.subscribe("http.server.request.start", onRequest);
});

afterAll(async () => {
  dc.unsubscribe("http.server.request.start", onRequest);
  client?.dispose();
  await cosmos?.close();
});

const t = (s: number) => new Date(Date.parse("2025-06-01T12:00:00.000Z") + s * 1000);
let n = 0;
const resource = () => `${RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-interrupted-${++n}`;

async function enter(resourceId: string, cause: string, at: number): Promise<GateSession> {
  const e = await gate.enter(resourceId, cause, { leaseMs: 10_000, now: t(at) });
  if (e.status !== "entered") throw new Error(`expected to enter, got ${e.status}`);
  return e.session;
}

function intentFor(resourceId: string, cause: string): Intent {
  const signal = { source: "eventgrid", id: cause.split("|")[0] } as unknown as Intent["signal"];
  return workspaceIntent(resourceId, cause, signal, t(0));
}

/** A holder that committed one record, then recorded an intent, appended `appended` records (the
 *  head document not advanced yet) and vanished; the next holder enters once the lease ran out. */
async function interruptedAfter(appended: number) {
  const id = resource();
  const s1 = await enter(id, "evt-1|x", 0);
  await s1.commit(input({ resourceId: id, outcome: "compliant", changes: [] }), {
    causes: { "evt-1|x": "done" },
  });
  const s2 = await enter(id, "evt-2|x", 1);
  await s2.recordIntent(intentFor(id, "evt-2|x"));
  const written = [];
  for (let i = 0; i < appended; i++) written.push(await s2.append(input({ resourceId: id })));
  const s3 = await enter(id, "evt-3|x", 20);
  expect(s3.interrupted).toMatchObject({ cause: "evt-2|x", seqBefore: 1 });
  return { id, s3, written };
}

describe("settling an interrupted intent (Cosmos DB)", () => {
  it("finds the records written after the intent, past a head that lags, with point reads only", async () => {
    const { id, s3, written } = await interruptedAfter(2);
    seen.length = 0;
    const since = await s3.recordsSince(s3.interrupted!);
    // Newest first; the head document still says seq 1, the records at 2 and 3 are found anyway.
    expect(since.map((r) => r.seq)).toEqual([3, 2]);
    expect(since.map((r) => r.hash)).toEqual([written[1]!.hash, written[0]!.hash]);
    // One point read per record after the intent, and the one that finds the end: no query.
    expect(seen).toEqual([2, 3, 4].map((seq) => `GET /docs/${recordId(id, seq)}`));
  });

  it("nothing written after the intent: one point read", async () => {
    const { id, s3 } = await interruptedAfter(0);
    seen.length = 0;
    expect(await s3.recordsSince(s3.interrupted!)).toEqual([]);
    expect(seen).toEqual([`GET /docs/${recordId(id, 2)}`]);
  });
});
