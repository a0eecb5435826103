/**
 * The in-memory store and the Cosmos DB store answer every query identically (property test):
 * same appends → same records (IDs, hashes), same pages, same continuation behaviour.
 */
import type { CosmosClient } from "@azure/cosmos";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import type { AuditQuery, AuditRecord, Outcome } from "../../shared/audit/types.js";
import { CosmosAuditStore } from "../../shared/cosmos/audit-store.js";
import { createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { InMemoryAuditStore } from "../../shared/fakes/audit-store.js";
import type { AuditStore } from "../../shared/ports/audit-store.js";
import { input, NSG_RULE, STORAGE, SUB, SUB2, WORKSPACE } from "../audit/contract.js";

let cosmos: EmbeddedCosmos;
let client: CosmosClient;
let n = 0;

beforeAll(async () => {
  const tls = await loadOrCreateLocalTls();
  cosmos = await startEmbeddedCosmos({ port: 0, tls });
  client = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
});

afterAll(async () => {
  client?.dispose();
  await cosmos?.close();
});

const RESOURCES = [WORKSPACE, NSG_RULE, STORAGE];
const OUTCOMES: Outcome[] = ["remediated", "failed", "dry-run", "compliant"];
const KINDS = ["disable-public-network-access", "close-internet-inbound-rule"];
const POLICIES = ["p-one", "p-two"];
const TIMES = [
  "2025-01-01T00:00:00.000Z",
  "2025-01-01T00:00:01Z",
  "2025-01-01T01:00:00+01:00",
  "2025-01-02T00:00:00.000Z",
];

const recordArb = fc.record({
  r: fc.integer({ min: 0, max: 2 }),
  t: fc.integer({ min: 0, max: TIMES.length - 1 }),
  o: fc.constantFrom(...OUTCOMES),
  k: fc.constantFrom(...KINDS),
  p: fc.constantFrom(...POLICIES),
});

const queryArb = fc.record(
  {
    resourceId: fc.constantFrom(...RESOURCES),
    subscriptionId: fc.constantFrom(SUB, SUB2),
    outcome: fc.constantFrom(...OUTCOMES),
    kind: fc.constantFrom(...KINDS),
    policy: fc.constantFrom(...POLICIES),
    from: fc.constantFrom(...TIMES),
    to: fc.constantFrom("2025-01-01T00:00:01.000Z", "2025-01-03T00:00:00Z"),
    limit: fc.integer({ min: 1, max: 7 }),
  },
  { requiredKeys: ["limit"] },
);

async function pages(store: AuditStore, q: AuditQuery): Promise<AuditRecord[][]> {
  const out: AuditRecord[][] = [];
  let token: string | null = null;
  do {
    const page = await store.query({ ...q, continuationToken: token });
    out.push(page.items);
    token = page.continuationToken;
  } while (token && out.length < 100);
  return out;
}

describe("in-memory ≡ Cosmos DB audit store", () => {
  it("same appends give the same records and every query the same pages", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 0, maxLength: 14 }),
        fc.array(queryArb, { minLength: 1, maxLength: 4 }),
        async (recs, queries) => {
          const memory = new InMemoryAuditStore();
          const { audit } = await ensureContainers(client, `eq${++n}`);
          const cosmosStore = new CosmosAuditStore(audit, { retentionDays: 0 });
          for (const [i, x] of recs.entries()) {
            const rid = RESOURCES[x.r]!;
            const rec = input({
              resourceId: rid,
              subscriptionId: rid === STORAGE ? SUB2 : SUB,
              time: TIMES[x.t]!,
              outcome: x.o,
              kind: x.k,
              policy: x.p,
              signal: { source: "eventgrid", type: "t", id: `e${i}`, correlationId: null },
            });
            expect(await cosmosStore.append(rec)).toEqual(await memory.append(rec));
          }
          for (const q of queries) {
            if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) continue;
            expect(await pages(cosmosStore, q)).toEqual(await pages(memory, q));
          }
          expect(await cosmosStore.verify()).toEqual(await memory.verify());
        },
      ),
      { numRuns: 25 },
    );
  });
});
