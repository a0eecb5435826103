/**
 * Several real kinds on one resource, each keeping to its own fields: the shipped policies
 * (policies/default.yaml, every mode set to enforce) over the HTTPS Azure simulator with the real
 * SDK clients. One write event that leaves a storage account open to the Internet and to shared keys,
 * on TLS 1.0 and with blob versioning off gets every storage kind's fix — one ARM write and one record
 * per kind, each write carrying only its kind's fields — and the account ends in the union of the
 * fixed states with nothing else changed. Redeliveries write and record nothing; Cosmos DB with key
 * auth and TLS 1.0 gets its two fixes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../shared/audit/types.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { CORS } from "../remediations/resource-fixtures.js";
import {
  allEnforce,
  changedPaths,
  driftedCosmos,
  driftedStorage,
  FOREIGN_LAW,
  fieldsOf,
  KINDS,
  kindOfWrite,
  SHIPPED_LAW,
  STORAGE_KINDS,
  seedOf,
  storageIds,
  writeEvent,
} from "./storage-kinds-setup.js";

const SUB = "00000000-0000-0000-0000-0000000000f1";
const id = storageIds(SUB);
const ACCOUNT = "Microsoft.Storage/storageAccounts";
const COSMOS = "Microsoft.DocumentDB/databaseAccounts";
const diag = (scope: string, name: string) =>
  `${scope}/providers/Microsoft.Insights/diagnosticSettings/${name}`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const recordsOf = async (resourceId: string): Promise<AuditRecord[]> =>
  (await h!.records()).filter((r) => r.resourceId.toLowerCase() === resourceId.toLowerCase());

describe("several real kinds on one storage account, each keeping to its own fields", () => {
  it("one write event that drifted every storage kind gets every fix: one write and one record per kind, the union of the fixed states, nothing else changed", async () => {
    const acct = id.account("stmodelsall");
    h = await startHarness({ seed: seedOf(driftedStorage(acct)), policies: allEnforce(), lro: "async" });
    const before = {
      account: structuredClone(h.sim.getResource(acct)!),
      blob: structuredClone(h.sim.getResource(id.blob("stmodelsall"))!),
      teamSetting: structuredClone(h.sim.getResource(diag(id.blob("stmodelsall"), "team-logs"))!),
    };

    const decisions = await h.handle(writeEvent(acct, ACCOUNT, SUB));
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual(STORAGE_KINDS.map((k) => [k, "remediated"]));

    // One write per kind, each carrying only its kind's fields; nothing written anywhere else.
    const writes = h.sim.writes();
    expect(writes.map(kindOfWrite).sort()).toEqual([...STORAGE_KINDS].sort());
    const byKind = new Map(writes.map((w) => [kindOfWrite(w), w]));
    expect(fieldsOf(byKind.get(KINDS.publicAccess)!)).toEqual([
      "allowBlobPublicAccess",
      "publicNetworkAccess",
    ]);
    expect(fieldsOf(byKind.get(KINDS.localAuth)!)).toEqual(["allowSharedKeyAccess"]);
    expect(fieldsOf(byKind.get(KINDS.transport)!)).toEqual(["minimumTlsVersion", "supportsHttpsTrafficOnly"]);
    for (const k of [KINDS.publicAccess, KINDS.localAuth, KINDS.transport])
      expect(byKind.get(k)!, k).toMatchObject({ method: "PATCH", path: acct });
    expect(byKind.get(KINDS.models)).toMatchObject({ method: "PUT", path: id.blob("stmodelsall") });
    expect(byKind.get(KINDS.logs)).toMatchObject({
      method: "PUT",
      path: diag(id.blob("stmodelsall"), "driftguard"),
    });
    // The blob service PUT changes only the protection fields of what it read.
    const blobBody = (byKind.get(KINDS.models)!.body as { properties: Record<string, unknown> }).properties;
    expect(changedPaths(before.blob.properties, blobBody).filter((p) => !SERVER_OWNED.test(p))).toEqual([
      "containerDeleteRetentionPolicy.days",
      "containerDeleteRetentionPolicy.enabled",
      "deleteRetentionPolicy.days",
      "isVersioningEnabled",
    ]);

    // The account ends in the union of the fixed states; nothing else on it changed.
    const after = h.sim.getResource(acct)!;
    expect(after.properties).toMatchObject({
      publicNetworkAccess: "Disabled",
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      supportsHttpsTrafficOnly: true,
      minimumTlsVersion: "TLS1_2",
    });
    expect(changedPaths(before.account, after).filter((p) => !SERVER_OWNED.test(p))).toEqual([
      "properties.allowBlobPublicAccess",
      "properties.allowSharedKeyAccess",
      "properties.minimumTlsVersion",
      "properties.publicNetworkAccess",
    ]);
    expect(after.tags).toEqual(before.account.tags);
    const blob = h.sim.getResource(id.blob("stmodelsall"))!;
    expect(blob.properties).toMatchObject({
      cors: CORS,
      changeFeed: { enabled: true, retentionInDays: 14 },
      isVersioningEnabled: true,
      deleteRetentionPolicy: { allowPermanentDelete: false, enabled: true, days: 30 },
      containerDeleteRetentionPolicy: { enabled: true, days: 30 },
    });
    expect(changedPaths(before.blob, blob).filter((p) => !SERVER_OWNED.test(p))).toEqual([
      "properties.containerDeleteRetentionPolicy.days",
      "properties.containerDeleteRetentionPolicy.enabled",
      "properties.deleteRetentionPolicy.days",
      "properties.isVersioningEnabled",
    ]);
    expect(h.sim.getResource(diag(id.blob("stmodelsall"), "driftguard"))!.properties).toMatchObject({
      workspaceId: SHIPPED_LAW,
      logs: [expect.objectContaining({ categoryGroup: "audit", enabled: true })],
    });
    // The team's own setting is left alone.
    expect(h.sim.getResource(diag(id.blob("stmodelsall"), "team-logs"))).toEqual(before.teamSetting);
    expect(before.teamSetting.properties).toMatchObject({ workspaceId: FOREIGN_LAW });

    // One record per kind, chained in policy order, all for the same signal; each names only its fields.
    const records = await recordsOf(acct);
    expect(records.map((r) => [r.kind, r.outcome, r.seq])).toEqual(
      STORAGE_KINDS.map((k, i) => [k, "remediated", i + 1]),
    );
    expect(new Set(records.map((r) => r.signal.id)).size).toBe(1);
    const paths = (k: string) =>
      records
        .find((r) => r.kind === k)!
        .changes.map((c) => c.path)
        .sort();
    expect(paths(KINDS.publicAccess)).toEqual([
      "properties.allowBlobPublicAccess",
      "properties.publicNetworkAccess",
    ]);
    expect(paths(KINDS.localAuth)).toEqual(["properties.allowSharedKeyAccess"]);
    expect(paths(KINDS.transport)).toEqual(["properties.minimumTlsVersion"]);
    expect(paths(KINDS.logs)).toEqual([
      expect.stringMatching(/^blobServices\/default\/diagnosticSettings\[driftguard\]/),
    ]);
    expect(paths(KINDS.models)).toEqual([
      "properties.containerDeleteRetentionPolicy.days",
      "properties.containerDeleteRetentionPolicy.enabled",
      "properties.deleteRetentionPolicy.days",
      "properties.isVersioningEnabled",
    ]);
    expect((await h.audit.verify()).breaks).toEqual([]);
  });

  it("a redelivery of the same event writes and records nothing; a later event finds every kind compliant", async () => {
    const acct = id.account("stmodelsdup");
    h = await startHarness({ seed: seedOf(driftedStorage(acct)), policies: allEnforce(), lro: "async" });
    const event = writeEvent(acct, ACCOUNT, SUB);
    await h.handle(event);
    const writes = h.sim.writes().length;
    expect(writes).toBe(5);

    const again = await h.handle(event);
    expect(again.map((d) => [d.kind, d.outcome, d.retry])).toEqual(
      STORAGE_KINDS.map((k) => [k, "duplicate", false]),
    );
    expect(h.sim.writes()).toHaveLength(writes);
    expect(await recordsOf(acct)).toHaveLength(5);

    const later = await h.handle(writeEvent(acct, ACCOUNT, SUB));
    expect(later.map((d) => [d.kind, d.outcome])).toEqual(STORAGE_KINDS.map((k) => [k, "compliant"]));
    expect(h.sim.writes()).toHaveLength(writes);
    expect((await recordsOf(acct)).map((r) => r.outcome)).toEqual([
      ...STORAGE_KINDS.map(() => "remediated"),
      ...STORAGE_KINDS.map(() => "compliant"),
    ]);
  });

  it("an event about the blob service runs the kinds that govern blob services, once each", async () => {
    const acct = id.account("stmodelsblob");
    h = await startHarness({ seed: seedOf(driftedStorage(acct)), policies: allEnforce(), lro: "async" });
    const decisions = await h.handle(
      writeEvent(id.blob("stmodelsblob"), "Microsoft.Storage/storageAccounts/blobServices", SUB),
    );
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.logs, "remediated"],
      [KINDS.models, "remediated"],
    ]);
    expect(h.sim.writes().map(kindOfWrite)).toEqual([KINDS.logs, KINDS.models]);
    // The account's own drift is left to the account's events.
    expect(h.sim.getResource(acct)!.properties).toMatchObject({
      publicNetworkAccess: "Enabled",
      allowSharedKeyAccess: true,
      minimumTlsVersion: "TLS1_0",
    });
  });
});

describe("a storage account and its blob service are one resource for writers", () => {
  it("an event about the account and one about its blob service at once, with slow writes: each blob service fix is written once and recorded once", async () => {
    const acct = id.account("stmodelsrace");
    h = await startHarness({ seed: seedOf(driftedStorage(acct)), policies: allEnforce(), lro: "async" });
    // ARM takes its time with the blob service and its settings: both deliveries plan before either
    // write lands, unless they queue behind one lease.
    h.sim.addFault({ method: "PUT", path: "^.*/blobServices/default$", status: 0, delayMs: 400, count: -1 });
    h.sim.addFault({ method: "PUT", path: "/diagnosticSettings/", status: 0, delayMs: 400, count: -1 });
    const deliver = async (s: ReturnType<typeof writeEvent>) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const ds = await h!.handle(s);
        if (!ds.some((d) => d.retry)) return ds;
      }
      throw new Error("never accepted");
    };
    const [onAccount, onBlob] = await Promise.all([
      deliver(writeEvent(acct, ACCOUNT, SUB)),
      deliver(writeEvent(id.blob("stmodelsrace"), "Microsoft.Storage/storageAccounts/blobServices", SUB)),
    ]);
    expect(onAccount.map((d) => d.kind)).toEqual([...STORAGE_KINDS]);
    expect(onBlob.map((d) => d.kind)).toEqual([KINDS.logs, KINDS.models]);
    expect(h.sim.writes().map(kindOfWrite).sort()).toEqual([...STORAGE_KINDS].sort());
    // Both decide as the account: one gate, one chain.
    expect(new Set([...onAccount, ...onBlob].map((d) => d.target.resourceId))).toEqual(new Set([acct]));
    const records = await recordsOf(acct);
    for (const k of [KINDS.logs, KINDS.models])
      expect(
        records
          .filter((r) => r.kind === k)
          .map((r) => r.outcome)
          .sort(),
        k,
      ).toEqual(["compliant", "remediated"]);
    expect(records).toHaveLength(7);
    expect((await h.audit.verify()).breaks).toEqual([]);
  });
});

describe("several real kinds on one Cosmos DB account", () => {
  it("key auth and TLS 1.0 in one write: two fixes, one PATCH and one record each; audit logs already on stay untouched", async () => {
    const acct = id.cosmos("cosmos-chat-all");
    h = await startHarness({ seed: seedOf(driftedCosmos(acct)), policies: allEnforce(), lro: "async" });
    const before = structuredClone(h.sim.getResource(acct)!);

    const decisions = await h.handle(writeEvent(acct, COSMOS, SUB));
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.localAuth, "remediated"],
      [KINDS.transport, "remediated"],
      [KINDS.logs, "compliant"],
    ]);
    const writes = h.sim.writes();
    expect(writes.map((w) => [w.method, w.path, kindOfWrite(w), fieldsOf(w)])).toEqual([
      ["PATCH", acct, KINDS.localAuth, ["disableLocalAuth"]],
      ["PATCH", acct, KINDS.transport, ["minimalTlsVersion"]],
    ]);
    const after = h.sim.getResource(acct)!;
    expect(after.properties).toMatchObject({ disableLocalAuth: true, minimalTlsVersion: "Tls12" });
    expect(changedPaths(before, after).filter((p) => !SERVER_OWNED.test(p))).toEqual([
      "properties.disableLocalAuth",
      "properties.minimalTlsVersion",
    ]);
    const records = await recordsOf(acct);
    expect(records.map((r) => [r.kind, r.outcome, r.changes.map((c) => c.path)])).toEqual([
      [KINDS.localAuth, "remediated", ["properties.disableLocalAuth"]],
      [KINDS.transport, "remediated", ["properties.minimalTlsVersion"]],
      [KINDS.logs, "compliant", []],
    ]);
    const later = await h.handle(writeEvent(acct, COSMOS, SUB));
    expect(later.map((d) => [d.kind, d.outcome])).toEqual([
      [KINDS.localAuth, "compliant"],
      [KINDS.transport, "compliant"],
      [KINDS.logs, "compliant"],
    ]);
    expect(h.sim.writes()).toHaveLength(2);
  });
});

/** Fields ARM itself keeps up to date on a write (the simulator's too): not a kind's doing. */
const SERVER_OWNED = /(^|\.)(etag|systemData|provisioningState|lastModified\w*|changedTime)(\.|$)/i;
