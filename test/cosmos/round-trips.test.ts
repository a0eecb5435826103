/**
 * Cosmos DB requests on a decision's critical path, counted on the wire (every request the embedded
 * Cosmos DB server receives), over the local stack (one host process): a remediation is enter (one
 * conditional write; plus a read when this process has no hint of the resource's head) + action budget
 * + intent + record batch; a compliant decision is enter + record batch; a duplicate delivery is one
 * read. Counts, not timings: a request added to the path makes this fail.
 */
import dc from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { armWriteEvent, startTestStack, TEST_SUB, type TestStack } from "../helpers/stack.js";

const RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-roundtrips`;
const ids = Array.from(
  { length: 4 },
  (_, i) => `${RG}/providers/Microsoft.Storage/storageAccounts/strt00${i}`,
);

let stack: TestStack;
let cosmosPort = -1;
const seen: string[] = [];

function onRequest(message: unknown): void {
  const req = (message as { request: IncomingMessage }).request;
  if (req.socket.localPort !== cosmosPort) return;
  const batch = req.headers["x-ms-cosmos-is-batch-request"] ? " batch" : "";
  const query = req.headers["x-ms-documentdb-isquery"] ? " query" : "";
  seen.push(`${req.method}${batch}${query} ${(req.url ?? "").replace(/\/docs\/.*/, "/docs/…")}`);
}

async function decide(resourceId: string, eventId?: string): Promise<string[]> {
  seen.length = 0;
  const res = await stack.deliver([armWriteEvent(resourceId, eventId)]);
  expect(res.status).toBe(200);
  return [...seen];
}

beforeAll(async () => {
  stack = await startTestStack({
    seed: {
      resources: ids.map((id) => ({
        id,
        name: id.split("/").pop()!,
        type: "Microsoft.Storage/storageAccounts",
        location: "westeurope",
        kind: "StorageV2",
        sku: { name: "Standard_LRS", tier: "Standard" },
        tags: {},
        properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
      })),
    },
    policyYaml: `version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: enforce
    maxActionsPerHour: 100
`,
  });
  cosmosPort = Number(new URL(stack.cosmosUrl).port);
  dc.subscribe("http.server.request.start", onRequest);
  // Containers, account and budget documents exist after a first decision; count from then on.
  await decide(ids[3]!);
});

afterAll(async () => {
  dc.unsubscribe("http.server.request.start", onRequest);
  await stack?.close();
});

beforeEach(() => {
  seen.length = 0;
});

describe("Cosmos DB round trips per decision", () => {
  it("a remediation of a resource seen for the first time: 5 requests (its head is read, found missing, created)", async () => {
    const requests = await decide(ids[0]!);
    expect(requests).toEqual([
      "GET /dbs/driftguard/colls/audit/docs/…", // enter: read the head (404: none yet)
      "POST /dbs/driftguard/colls/audit/docs", // enter: create the head with the lease
      "PATCH /dbs/driftguard/colls/counters/docs/…", // action budget
      "PUT /dbs/driftguard/colls/audit/docs/…", // intent, before the ARM write
      "POST batch /dbs/driftguard/colls/audit/docs", // record + release, one transactional batch
    ]);
    const records = await stack.audit({ resourceId: ids[0]! });
    expect(records.map((r) => r.outcome)).toEqual(["remediated"]);
  });

  it("a compliant decision: 2 requests (enter, record batch); a remediation of a known resource: 4 (no read: the process remembers the head)", async () => {
    expect(await decide(ids[0]!)).toEqual([
      "PATCH /dbs/driftguard/colls/audit/docs/…",
      "POST batch /dbs/driftguard/colls/audit/docs",
    ]);
    // Drift again on a resource with a chain: enter + budget + intent + batch.
    stack.sim.putResource({
      ...stack.sim.getResource(ids[0]!)!,
      properties: { ...stack.sim.getResource(ids[0]!)!.properties, publicNetworkAccess: "Enabled" },
    });
    expect(await decide(ids[0]!)).toEqual([
      "PATCH /dbs/driftguard/colls/audit/docs/…",
      "PATCH /dbs/driftguard/colls/counters/docs/…",
      "PUT /dbs/driftguard/colls/audit/docs/…",
      "POST batch /dbs/driftguard/colls/audit/docs",
    ]);
    const records = await stack.audit({ resourceId: ids[0]! });
    expect(records.map((r) => r.outcome)).toEqual(["remediated", "compliant", "remediated"]);
    expect((await stack.runtime.stores.audit.verify({ resourceId: ids[0]! })).breaks).toEqual([]);
  });

  it("a duplicate delivery: one read confirms the cause was decided (a remembered head is never trusted for that); nothing is written", async () => {
    const eventId = crypto.randomUUID();
    await decide(ids[1]!, eventId);
    expect(await decide(ids[1]!, eventId)).toEqual(["GET /dbs/driftguard/colls/audit/docs/…"]);
    expect((await stack.audit({ resourceId: ids[1]! })).map((r) => r.outcome)).toEqual(["remediated"]);
    expect(stack.sim.writes({ pathIncludes: ids[1]!.split("/").pop()! })).toHaveLength(1);
  });
});

describe("the head hint is only a hint", () => {
  it("a head changed by another writer (here: a record appended outside the gate) costs one refused write and a read, and the chain stays intact", async () => {
    // This process remembers ids[2]'s head after its first decision; then the head changes behind it.
    await decide(ids[2]!);
    const {
      id: _id,
      seq: _seq,
      prevHash: _prev,
      hash: _hash,
      ...last
    } = (await stack.audit({ resourceId: ids[2]! }))[0]!;
    await stack.runtime.stores.audit.append({
      ...last,
      outcome: "compliant",
      changes: [],
      reason: "appended by another writer",
    });
    expect(await decide(ids[2]!)).toEqual([
      "PATCH /dbs/driftguard/colls/audit/docs/…", // If-Match with the remembered ETag: 412
      "GET /dbs/driftguard/colls/audit/docs/…", // the head as stored
      "PATCH /dbs/driftguard/colls/audit/docs/…", // enter
      "POST batch /dbs/driftguard/colls/audit/docs",
    ]);
    const records = await stack.audit({ resourceId: ids[2]! });
    expect(records.map((r) => r.seq)).toEqual([3, 2, 1]);
    expect((await stack.runtime.stores.audit.verify({ resourceId: ids[2]! })).breaks).toEqual([]);
  });
});
