/**
 * The open approval of a resource and kind (`listPendingFor`), for the in-memory store and for
 * Cosmos DB (the embedded server over HTTPS, real `@azure/cosmos` client; "second instance" = a
 * second client): pending and not past `expiresAt` only, the resource ID in any casing, newest
 * first; a decided approval drops out. In Cosmos DB the query is one equality on an indexed field
 * that only pending documents carry.
 */
import type { Container, CosmosClient } from "@azure/cosmos";
import { afterAll, describe, expect, it } from "vitest";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { CosmosApprovalStore } from "../../shared/cosmos/approval-store.js";
import {
  APPROVALS_INDEXING_POLICY,
  createCosmosClient,
  ensureContainers,
} from "../../shared/cosmos/client.js";
import { InMemoryApprovalStore } from "../../shared/fakes/approval-store.js";
import type { ApprovalStore } from "../../shared/ports/approval-store.js";
import { approval, STORAGE, WORKSPACE } from "../audit/contract.js";

let cosmos: EmbeddedCosmos | undefined;
const clients: CosmosClient[] = [];
let n = 0;

interface Stores {
  store: ApprovalStore;
  second: ApprovalStore;
  /** The stored documents (Cosmos DB only). */
  container?: Container;
}

async function cosmosStores(): Promise<Stores> {
  const tls = await loadOrCreateLocalTls();
  cosmos ??= await startEmbeddedCosmos({ port: 0, tls });
  const a = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
  const b = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca: tls.cert });
  clients.push(a, b);
  const db = `approvals-${process.pid}-${++n}`;
  const [x, y] = await Promise.all([ensureContainers(a, db), ensureContainers(b, db)]);
  return {
    store: new CosmosApprovalStore(x.approvals),
    second: new CosmosApprovalStore(y.approvals),
    container: x.approvals,
  };
}

function memoryStores(): Stores {
  const store = new InMemoryApprovalStore();
  return { store, second: store };
}

afterAll(async () => {
  for (const c of clients.splice(0)) c.dispose();
  await cosmos?.close();
});

const KIND = "disable-public-network-access";
const NOW = new Date("2025-06-01T12:00:00.000Z");
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000).toISOString();
const on = (resourceId: string) => ({
  resourceId,
  resourceType: "Microsoft.MachineLearningServices/workspaces",
  subscriptionId: resourceId.split("/")[2]!,
});

describe.each([
  ["in memory", memoryStores],
  ["Cosmos DB", cosmosStores],
] as const)("open approval of a resource and kind: %s", (_name, open) => {
  it("lists pending approvals not past their deadline, of this resource (any casing) and kind, newest first", async () => {
    const { store, second } = await open();
    const older = approval({ createdAt: at(-30), expiresAt: at(60), target: on(WORKSPACE) });
    const newer = approval({ createdAt: at(-10), expiresAt: at(60), target: on(WORKSPACE.toUpperCase()) });
    const others = [
      // Past its deadline (`expiresAt` = now counts as past), not yet expired by the timer.
      approval({ createdAt: at(-20), expiresAt: at(0), target: on(WORKSPACE) }),
      approval({ createdAt: at(-20), expiresAt: at(60), target: on(WORKSPACE), kind: "disable-local-auth" }),
      approval({ createdAt: at(-20), expiresAt: at(60), target: on(STORAGE) }),
      approval({ createdAt: at(-20), expiresAt: at(60), target: on(`${WORKSPACE}-2`) }),
    ];
    for (const a of [older, newer, ...others]) await store.create(a);

    const listed = await second.listPendingFor(WORKSPACE.toLowerCase(), KIND, NOW);
    expect(listed.map((a) => a.id)).toEqual([newer.id, older.id]);
    // What comes back is the approval as stored: no index fields, the etag to decide it with.
    expect(listed[0]).not.toHaveProperty("openFor");
    expect(listed[0]).not.toHaveProperty("expiresAtMs");
    expect(listed[0]!.target.resourceId).toBe(WORKSPACE.toUpperCase());
    expect(listed[0]!.etag).toBeTruthy();
    expect((await store.listPendingFor(STORAGE, KIND, NOW)).map((a) => a.id)).toEqual([others[2]!.id]);
    expect(await store.listPendingFor(WORKSPACE, "rotate-secret", NOW)).toEqual([]);
    // Before `others[0]`'s deadline it is open too.
    expect((await store.listPendingFor(WORKSPACE, KIND, new Date(at(-1)))).map((a) => a.id)).toEqual([
      newer.id,
      others[0]!.id,
      older.id,
    ]);
  });

  it("a decided approval (approved, rejected, expired, superseded) is no longer open", async () => {
    const { store, second } = await open();
    const all = [-40, -30, -20, -10].map((m) => approval({ createdAt: at(m), expiresAt: at(60) }));
    for (const a of all) await store.create(a);
    const [approved, rejected, expired, superseded] = all.map((a) => a);
    if (!approved || !rejected || !expired || !superseded) throw new Error("four approvals expected");
    expect((await second.listPendingFor(WORKSPACE, KIND, NOW)).map((a) => a.id)).toEqual(
      [...all].reverse().map((a) => a.id),
    );
    await second.closePending(approved.id, "approved", "p-aaaaaaaaaaaaaaaaaaaaaaaa", NOW, "teams");
    await store.closePending(rejected.id, "rejected", "p-bbbbbbbbbbbbbbbbbbbbbbbb", NOW, "approval-page");
    await store.closePending(expired.id, "expired", undefined, NOW);
    expect((await second.listPendingFor(WORKSPACE, KIND, NOW)).map((a) => a.id)).toEqual([superseded.id]);
    // Superseded: closed as expired naming its successor, in the one write.
    const noted = await second.closePending(superseded.id, "expired", undefined, NOW, undefined, approved.id);
    expect(noted).toMatchObject({ state: "expired", supersededBy: approved.id });
    expect((await store.get(superseded.id))?.supersededBy).toBe(approved.id);
    expect(await store.listPendingFor(WORKSPACE, KIND, NOW)).toEqual([]);
  });

  it("a close marks the record it owes (expired, rejected; an approval's is its due run) until markRecorded clears it", async () => {
    const { store, second } = await open();
    const [approved, rejected, expired, late] = [-40, -30, -20, -10].map((m) =>
      approval({ createdAt: at(m), expiresAt: m === -10 ? at(0) : at(60) }),
    );
    if (!approved || !rejected || !expired || !late) throw new Error("four approvals expected");
    for (const a of [approved, rejected, expired, late]) await store.create(a);
    expect(await second.listRecordDue()).toEqual([]);

    const ok = await store.closePending(approved.id, "approved", "p-aaaaaaaaaaaaaaaaaaaaaaaa", NOW, "teams");
    expect(ok?.recordDue).toBeUndefined();
    expect(ok?.run?.state).toBe("due");
    const no = await store.closePending(
      rejected.id,
      "rejected",
      "p-bbbbbbbbbbbbbbbbbbbbbbbb",
      new Date(at(1)),
    );
    expect(no).toMatchObject({ state: "rejected", recordDue: "rejected" });
    const gone = await second.closePending(expired.id, "expired", undefined, new Date(at(2)));
    expect(gone).toMatchObject({ state: "expired", recordDue: "expired" });
    // A decision after the deadline expires it instead (not granted): that expiry owes its record too.
    expect(
      await store.closePending(late.id, "approved", "p-cccccccccccccccccccccccc", new Date(at(3))),
    ).toBeUndefined();
    expect(await second.get(late.id)).toMatchObject({ state: "expired", recordDue: "expired" });

    // Oldest decision first, seen by another instance.
    expect((await second.listRecordDue()).map((a) => [a.id, a.recordDue])).toEqual([
      [rejected.id, "rejected"],
      [expired.id, "expired"],
      [late.id, "expired"],
    ]);
    const cleared = await second.markRecorded(rejected.id);
    expect(cleared?.state).toBe("rejected");
    expect(cleared).not.toHaveProperty("recordDue");
    expect(await store.markRecorded(rejected.id)).toBeUndefined();
    expect(await store.markRecorded("no-such-approval")).toBeUndefined();
    expect((await store.listRecordDue()).map((a) => a.id)).toEqual([expired.id, late.id]);
  });
});

describe("open approval of a resource and kind: Cosmos DB documents", () => {
  it("the query's key is indexed and carried by pending documents only", async () => {
    const { store, container } = await cosmosStores();
    if (!container) throw new Error("Cosmos DB stores come with their container");
    const { resource: def } = await container.read();
    const indexed = def?.indexingPolicy?.includedPaths?.map((p) => p.path) ?? [];
    expect(indexed).toEqual(APPROVALS_INDEXING_POLICY.includedPaths?.map((p) => p.path));
    expect(indexed).toEqual(
      expect.arrayContaining(["/openFor/?", "/state/?", "/expiresAtMs/?", "/recordDue/?"]),
    );

    const a = approval({ expiresAt: at(60), target: on(WORKSPACE.toUpperCase()) });
    await store.create(a);
    const doc = async () => (await container.item(a.id, a.id).read<Record<string, unknown>>()).resource!;
    expect((await doc()).openFor).toBe(`${WORKSPACE.toLowerCase()}|${KIND}`);
    await store.closePending(a.id, "rejected", "p-cccccccccccccccccccccccc", NOW);
    const closed = await doc();
    expect(closed.openFor).toBeUndefined();
    expect(closed.state).toBe("rejected");
  });
});
