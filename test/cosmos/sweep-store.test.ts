/**
 * The sweep store contract, for the in-memory store and for Cosmos DB (the embedded server over
 * HTTPS, real `@azure/cosmos` client; "second instance" = a second client): one lease holder at a
 * time, the cursor kept with the lease, posture runs newest first with filters and keyset paging,
 * a long non-compliant list split over parts and read back whole.
 */
import type { CosmosClient } from "@azure/cosmos";
import { afterAll, describe, expect, it } from "vitest";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { CosmosSweepStore } from "../../shared/cosmos/sweep-store.js";
import { InMemorySweepStore } from "../../shared/fakes/sweep-store.js";
import {
  POSTURE_PART_SIZE,
  type PolicyPosture,
  type PostureRun,
  SweepLeaseLostError,
  type SweepStore,
} from "../../shared/ports/sweep-store.js";

let cosmos: EmbeddedCosmos | undefined;
const clients: CosmosClient[] = [];
let n = 0;

async function cosmosPair(): Promise<[SweepStore, SweepStore]> {
  const tls = await loadOrCreateLocalTls();
  cosmos ??= await startEmbeddedCosmos({ port: 0, tls });
  const a = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
  const b = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
  clients.push(a, b);
  const db = `sweeps-${process.pid}-${++n}`;
  const [x, y] = await Promise.all([ensureContainers(a, db), ensureContainers(b, db)]);
  return [new CosmosSweepStore(x.sweeps), new CosmosSweepStore(y.sweeps)];
}

afterAll(async () => {
  for (const c of clients.splice(0)) c.dispose();
  await cosmos?.close();
});

const counts = (policy: string, nonCompliant = 0): PolicyPosture => ({
  policy,
  kind: "disable-public-network-access",
  scanned: 10,
  compliant: 10 - nonCompliant,
  nonCompliant,
  remediated: 0,
  pendingApproval: 0,
  excluded: 0,
  overLimit: 0,
  failed: 0,
});

const run = (runId: string, startedAt: string, policies: PolicyPosture[]): PostureRun => ({
  runId,
  startedAt,
  endedAt: startedAt,
  trigger: "timer",
  mode: "policy",
  subscriptions: null,
  resumed: false,
  policies,
});

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;

for (const [name, open] of [
  ["in memory", async () => [new InMemorySweepStore(), undefined] as const],
  ["Cosmos DB", cosmosPair],
] as const) {
  describe(`sweep store (${name})`, () => {
    it("lets one holder hold the lease; it expires; the cursor stays with the lease", async () => {
      const [store, other] = await open();
      const second = other ?? store;
      const t0 = new Date("2025-01-01T00:00:00Z");
      const a = await store.acquireLease("a", t0, 60_000);
      expect(a.acquired).toBe(true);
      const b = await second.acquireLease("b", new Date(t0.getTime() + 1_000), 60_000);
      expect(b).toMatchObject({ acquired: false, holder: "a" });
      if (!a.acquired) return;
      await a.lease.saveCursor({ runId: "r1", page: 3 }, new Date(t0.getTime() + 2_000));
      // Expired without a release (a crash): the next holder finds the cursor.
      const c = await second.acquireLease("c", new Date(t0.getTime() + 120_000), 60_000);
      expect(c.acquired).toBe(true);
      if (!c.acquired) return;
      expect(c.lease.cursor).toEqual({ runId: "r1", page: 3 });
      // The old holder has lost it.
      await expect(a.lease.renew(new Date(t0.getTime() + 121_000))).rejects.toBeInstanceOf(
        SweepLeaseLostError,
      );
      await c.lease.release();
      const d = await store.acquireLease("d", new Date(t0.getTime() + 122_000), 60_000);
      expect(d.acquired && d.lease.cursor).toBeUndefined();
      if (d.acquired) await d.lease.release({ runId: "kept" });
      const e = await second.acquireLease("e", new Date(t0.getTime() + 123_000), 60_000);
      expect(e.acquired && e.lease.cursor).toEqual({ runId: "kept" });
    }, 60_000);

    it("lets exactly one of two simultaneous acquirers win", async () => {
      const [store, other] = await open();
      const now = new Date("2025-02-01T00:00:00Z");
      const results = await Promise.all([
        store.acquireLease("x", now, 60_000),
        (other ?? store).acquireLease("y", now, 60_000),
      ]);
      expect(results.filter((r) => r.acquired)).toHaveLength(1);
    }, 60_000);

    it("returns runs newest first, filtered by time and policy, paged by continuation token", async () => {
      const [store] = await open();
      for (let i = 0; i < 5; i++)
        await store.saveRun(
          run(uuid(i), `2025-03-0${i + 1}T03:00:00.000Z`, [counts("p-a"), ...(i % 2 ? [counts("p-b")] : [])]),
        );
      const first = await store.queryRuns({ limit: 2 });
      expect(first.items.map((r) => r.runId)).toEqual([uuid(4), uuid(3)]);
      const second = await store.queryRuns({ limit: 2, continuationToken: first.continuationToken });
      expect(second.items.map((r) => r.runId)).toEqual([uuid(2), uuid(1)]);
      const third = await store.queryRuns({ limit: 2, continuationToken: second.continuationToken });
      expect(third.items.map((r) => r.runId)).toEqual([uuid(0)]);
      expect(third.continuationToken).toBeNull();
      const onlyB = await store.queryRuns({ policy: "p-b" });
      expect(onlyB.items.map((r) => r.runId)).toEqual([uuid(3), uuid(1)]);
      expect(onlyB.items.every((r) => r.policies.map((p) => p.policy).join() === "p-b")).toBe(true);
      const window = await store.queryRuns({ from: "2025-03-02T00:00:00Z", to: "2025-03-04T00:00:00Z" });
      expect(window.items.map((r) => r.runId)).toEqual([uuid(2), uuid(1)]);
    }, 60_000);

    it("reads a long non-compliant list back whole from its parts", async () => {
      const [store] = await open();
      const ids = Array.from(
        { length: POSTURE_PART_SIZE * 2 + 17 },
        (_, i) =>
          `/subscriptions/${uuid(1)}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st${i}`,
      );
      const runId = uuid(42);
      let seq = 0;
      for (let i = 0; i < ids.length; i += POSTURE_PART_SIZE)
        await store.savePart({
          runId,
          seq: seq++,
          policy: "p-a",
          resourceIds: ids.slice(i, i + POSTURE_PART_SIZE),
        });
      await store.saveRun(run(runId, "2025-04-01T03:00:00.000Z", [counts("p-a", ids.length), counts("p-b")]));
      const { items } = await store.queryRuns({ from: "2025-04-01T00:00:00Z" });
      expect(items).toHaveLength(1);
      expect(items[0]!.policies[0]!.nonCompliantResourceIds).toEqual(ids);
      expect(items[0]!.policies[1]!.nonCompliantResourceIds).toEqual([]);
    }, 60_000);
  });
}
