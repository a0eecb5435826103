/** Cosmos-specific behaviour of the audit store: crash repair around the chain head, truncation,
 *  retention, parameterised SQL, TLS trust, idempotent container set-up. */
import type { Container, CosmosClient } from "@azure/cosmos";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { recordId, resourceKey } from "../../shared/audit/chain.js";
import { CosmosAuditStore } from "../../shared/cosmos/audit-store.js";
import { AUDIT_INDEXING_POLICY, createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { input, NSG_RULE, WORKSPACE } from "../audit/contract.js";

let cosmos: EmbeddedCosmos;
let client: CosmosClient;
let ca: string;
let n = 0;

beforeAll(async () => {
  const tls = await loadOrCreateLocalTls();
  ca = tls.cert;
  cosmos = await startEmbeddedCosmos({ port: 0, tls });
  client = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca });
});

afterAll(async () => {
  client?.dispose();
  await cosmos?.close();
});

async function fresh(retentionDays = 0): Promise<{ store: CosmosAuditStore; container: Container }> {
  const { audit } = await ensureContainers(client, `a${++n}`);
  return { store: new CosmosAuditStore(audit, { retentionDays }), container: audit };
}

const headId = (rid: string) => `${resourceKey(rid)}-head`;

describe("CosmosAuditStore on the embedded server", () => {
  it("serves HTTPS with the local certificate; a client that does not trust it is refused", async () => {
    expect(cosmos.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const untrusting = createCosmosClient({
      endpoint: cosmos.endpoint,
      key: cosmos.key,
      requestTimeoutMs: 3000,
    });
    await expect(untrusting.databases.readAll().fetchAll()).rejects.toThrow(/certificate|self.signed|CERT/i);
    untrusting.dispose();
  });

  it("ensureContainers is idempotent and safe when several processes start at once", async () => {
    const name = `setup-${n++}`;
    const others = [0, 1, 2].map(() =>
      createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca }),
    );
    const all = await Promise.all(others.map((c) => ensureContainers(c, name)));
    expect(all.map((c) => c.audit.id)).toEqual(["audit", "audit", "audit"]);
    const again = await ensureContainers(client, name);
    const { resource } = await again.audit.read();
    expect(resource?.partitionKey?.paths).toEqual(["/pk"]);
    expect(resource?.indexingPolicy?.includedPaths?.map((p) => p.path)).toEqual(
      AUDIT_INDEXING_POLICY.includedPaths?.map((p) => p.path),
    );
    for (const c of others) c.dispose();
    await expect(ensureContainers(client, "bad name; DROP")).rejects.toThrow(/COSMOS_DATABASE/);
  });

  it("stores records append-only with a head hint, index fields and no TTL when retention is 0", async () => {
    const { store, container } = await fresh(0);
    const r1 = await store.append(input());
    const { resource: doc } = await container.item(r1.id, resourceKey(WORKSPACE)).read();
    expect(doc).toMatchObject({
      docType: "record",
      pk: resourceKey(WORKSPACE),
      rid: WORKSPACE.toLowerCase(),
      sk: `${r1.time}|${r1.id}`,
      hash: r1.hash,
    });
    expect(doc?.ttl).toBeUndefined();
    const { resource: head } = await container.item(headId(WORKSPACE), resourceKey(WORKSPACE)).read();
    expect(head).toMatchObject({ docType: "head", seq: 1, hash: r1.hash, recordId: r1.id });
    // Heads never show up in queries.
    const page = await store.query({});
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toEqual(r1);

    const { store: kept, container: c2 } = await fresh(400);
    const r = await kept.append(input());
    expect((await c2.item(r.id, resourceKey(WORKSPACE)).read()).resource?.ttl).toBe(400 * 86400);
    expect((await c2.item(headId(WORKSPACE), resourceKey(WORKSPACE)).read()).resource?.ttl).toBeUndefined();
  });

  it("repairs a stale or missing head (crash between record and head write) by walking forward", async () => {
    const { store, container } = await fresh();
    const pk = resourceKey(WORKSPACE);
    const a = await store.append(
      input({ signal: { source: "eventgrid", type: "t", id: "e1", correlationId: null } }),
    );
    await store.append(input({ signal: { source: "eventgrid", type: "t", id: "e2", correlationId: null } }));
    await store.append(input({ signal: { source: "eventgrid", type: "t", id: "e3", correlationId: null } }));
    // Crash simulation 1: the head still names seq 1.
    const { resource: head } = await container.item(headId(WORKSPACE), pk).read();
    await container.item(headId(WORKSPACE), pk).replace({ ...head, seq: 1, hash: a.hash, recordId: a.id });
    const r4 = await new CosmosAuditStore(container, { retentionDays: 0 }).append(
      input({ signal: { source: "eventgrid", type: "t", id: "e4", correlationId: null } }),
    );
    expect(r4.seq).toBe(4);
    // Crash simulation 2: the head was never written.
    await container.item(headId(WORKSPACE), pk).delete();
    const r5 = await store.append(
      input({ signal: { source: "eventgrid", type: "t", id: "e5", correlationId: null } }),
    );
    expect(r5.seq).toBe(5);
    expect(r5.prevHash).toBe(r4.hash);
    const { resource: repaired } = await container.item(headId(WORKSPACE), pk).read();
    expect(repaired).toMatchObject({ seq: 5, hash: r5.hash });
    expect(await store.verify()).toEqual({ chains: 1, records: 5, breaks: [] });
  });

  it("a retried create whose first response was lost does not duplicate the decision", async () => {
    const { store, container } = await fresh();
    const first = await store.append(input());
    // Simulate "the create reached the server but its response was lost, and the head was not
    // advanced": put the head back, then append the same decision again.
    const pk = resourceKey(WORKSPACE);
    await container.item(headId(WORKSPACE), pk).delete();
    const again = await store.append(input());
    expect(again).toEqual(first);
    // A different decision still appends after it.
    const next = await store.append(input({ outcome: "compliant", changes: [] }));
    expect(next.seq).toBe(2);
    expect(next.prevHash).toBe(first.hash);
    expect(await store.verify()).toEqual({ chains: 1, records: 2, breaks: [] });
  });

  it("detects a truncated tail through the head, and an edit that the head's hash contradicts", async () => {
    const { store, container } = await fresh();
    const pk = resourceKey(NSG_RULE);
    for (let i = 0; i < 3; i++) await store.append(input({ resourceId: NSG_RULE }));
    await container.item(recordId(NSG_RULE, 3), pk).delete();
    const report = await store.verify();
    expect(report.breaks).toEqual([
      {
        resourceId: NSG_RULE,
        recordId: recordId(NSG_RULE, 3),
        seq: 3,
        reason: expect.stringMatching(/truncated/),
      },
    ]);
    // Deleting every record leaves the head as witness.
    await container.item(recordId(NSG_RULE, 1), pk).delete();
    await container.item(recordId(NSG_RULE, 2), pk).delete();
    expect((await store.verify()).breaks[0]?.reason).toMatch(/no record of this resource exists/);
  });

  it("with retention on, tolerates the oldest records having expired (TTL) but not a gap in the middle", async () => {
    const { store, container } = await fresh(30);
    const pk = resourceKey(WORKSPACE);
    for (let i = 0; i < 5; i++) await store.append(input());
    await container.item(recordId(WORKSPACE, 1), pk).delete();
    await container.item(recordId(WORKSPACE, 2), pk).delete();
    expect((await store.verify()).breaks).toEqual([]);
    await container.item(recordId(WORKSPACE, 4), pk).delete();
    expect((await store.verify()).breaks[0]).toMatchObject({
      seq: 5,
      reason: expect.stringMatching(/seq gap/),
    });
  });

  it("queries are parameterised: SQL-looking filter values match nothing and break nothing", async () => {
    const { store } = await fresh();
    await store.append(input());
    for (const evil of ["' OR 1=1 --", '" OR true --', "x) OR (1=1", "remediated' OR c.outcome != '"]) {
      expect((await store.query({ policy: evil })).items).toEqual([]);
      expect((await store.query({ actor: evil })).items).toEqual([]);
      expect((await store.query({ kind: evil })).items).toEqual([]);
    }
    expect((await store.query({ policy: "ml-workspace-private" })).items).toHaveLength(1);
  });

  it("20 concurrent appends on each of 3 resources from 3 clients keep every chain linear", async () => {
    const name = `conc-${n++}`;
    const stores = await Promise.all(
      [0, 1, 2].map(
        async () =>
          new CosmosAuditStore(
            (
              await ensureContainers(
                createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca }),
                name,
              )
            ).audit,
            { retentionDays: 0 },
          ),
      ),
    );
    const rids = [WORKSPACE, NSG_RULE, `${WORKSPACE}/onlineEndpoints/ep1`];
    const all = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        stores[i % 3]!.append(
          input({
            resourceId: rids[Math.floor(i / 20)]!,
            signal: { source: "eventgrid", type: "t", id: `evt-${i}`, correlationId: null },
          }),
        ),
      ),
    );
    for (const rid of rids) {
      const seqs = all.filter((r) => r.resourceId === rid).map((r) => r.seq);
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
    expect(await stores[0]!.verify()).toEqual({ chains: 3, records: 60, breaks: [] });
  });
});
