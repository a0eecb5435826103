/**
 * Behaviour every implementation of the audit store and the ports must share. Written once, run
 * against the in-memory stores (test/audit/memory.test.ts) and the Cosmos DB adapters over the
 * embedded HTTPS Cosmos server (test/cosmos/stores.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeRecordHash, GENESIS_HASH, recordId } from "../../shared/audit/chain.js";
import { toRecordSignal } from "../../shared/audit/record.js";
import type { AuditRecord, AuditRecordInput } from "../../shared/audit/types.js";
import { InputError } from "../../shared/errors.js";
import type { ActionLimit } from "../../shared/ports/action-limit.js";
import type { Approval, ApprovalStore } from "../../shared/ports/approval-store.js";
import type { AuditStore } from "../../shared/ports/audit-store.js";
import type { Intent, ResourceGate } from "../../shared/ports/resource-gate.js";
import { LeaseLostError } from "../../shared/ports/resource-gate.js";
import type { Signal } from "../../shared/signals/types.js";

export const SUB = "11111111-2222-3333-4444-555555555555";
export const SUB2 = "99999999-8888-7777-6666-555555555555";
export const RG = `/subscriptions/${SUB}/resourceGroups/rg-ai`;
export const NSG_RULE = `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-ml/securityRules/allow-ssh`;
export const WORKSPACE = `${RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-prod`;
export const STORAGE = `/subscriptions/${SUB2}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata`;

export function input(overrides: Partial<AuditRecordInput> = {}): AuditRecordInput {
  return {
    time: "2025-03-01T10:00:00.000Z",
    subscriptionId: SUB,
    resourceId: WORKSPACE,
    resourceType: "Microsoft.MachineLearningServices/workspaces",
    signal: {
      source: "eventgrid",
      type: "Microsoft.Resources.ResourceWriteSuccess",
      id: "evt-1",
      correlationId: "corr-1",
    },
    policy: "ml-workspace-private",
    kind: "disable-public-network-access",
    mode: "enforce",
    outcome: "remediated",
    changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
    actor: "driftguard",
    durationMs: 42,
    ...overrides,
  };
}

/** A real-shaped ARM event (Event Grid schema) with personal claims, as a parser would see it. */
/** An intent to close an ML workspace, as the pipeline records before its write (gate tests). */
export function workspaceIntent(
  resourceId: string,
  cause: string,
  signal: Intent["signal"],
  plannedAt: Date,
): Intent {
  return {
    id: `intent-${Math.random().toString(36).slice(2, 10)}`,
    cause,
    plannedAt: plannedAt.toISOString(),
    seqBefore: 0,
    policy: "ml-workspace-private",
    kind: "disable-public-network-access",
    params: {},
    mode: "enforce",
    signal,
    recordSignal: input().signal,
    target: {
      resourceId,
      resourceType: "Microsoft.MachineLearningServices/workspaces",
      subscriptionId: SUB,
    },
    changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
    changesHash: "a".repeat(64),
    summary: "Disable public network access",
    reverts: false,
    actor: "driftguard",
  };
}

export const ARM_EVENT = {
  id: "5e4b6c1a-0f1e-4c55-9d1b-2f7f8a1b0c01",
  topic: `/subscriptions/${SUB}`,
  subject: NSG_RULE,
  eventType: "Microsoft.Resources.ResourceWriteSuccess",
  eventTime: "2025-03-01T09:59:58.123Z",
  dataVersion: "2",
  data: {
    authorization: { scope: NSG_RULE, action: "Microsoft.Network/networkSecurityGroups/securityRules/write" },
    claims: {
      name: "Alice Example",
      upn: "alice.example@contoso.com",
      ipaddr: "203.0.113.77",
      oid: "0b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
      appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alice.example@contoso.com",
    },
    correlationId: "7f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
    httpRequest: {
      clientRequestId: "abc",
      clientIpAddress: "203.0.113.77",
      method: "PUT",
      url: `https://management.azure.com${NSG_RULE}?api-version=2023-09-01`,
    },
    operationName: "Microsoft.Network/networkSecurityGroups/securityRules/write",
    resourceProvider: "Microsoft.Network",
    resourceUri: NSG_RULE,
    status: "Succeeded",
    subscriptionId: SUB,
    tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
  },
};

export const PERSONAL_STRINGS = [
  "Alice Example",
  "alice.example@contoso.com",
  "203.0.113.77",
  "0b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
];
export const SECRET_VALUE = "s3cr3t-Value-9f8e7d6c5b4a";

/** What the record builder makes of ARM_EVENT: a failed close-internet-inbound-rule with secrets in odd places. */
export function recordFromArmEvent(pseudonymKey: string): AuditRecordInput {
  const signal: Signal = {
    source: "eventgrid",
    type: ARM_EVENT.eventType,
    id: ARM_EVENT.id,
    dedupeKey: ARM_EVENT.id,
    correlationId: ARM_EVENT.data.correlationId,
    time: ARM_EVENT.eventTime,
    subscriptionId: SUB,
    trigger: { eventGrid: ARM_EVENT.eventType },
    targets: [
      {
        resourceId: NSG_RULE,
        resourceType: "Microsoft.Network/networkSecurityGroups/securityRules",
        subscriptionId: SUB,
      },
    ],
    caller: { objectId: ARM_EVENT.data.claims.oid, appId: ARM_EVENT.data.claims.appid },
    operationName: ARM_EVENT.data.operationName,
  };
  return input({
    resourceId: NSG_RULE,
    resourceType: "Microsoft.Network/networkSecurityGroups/securityRules",
    signal: toRecordSignal(signal, pseudonymKey),
    policy: "nsg-no-internet-inbound",
    kind: "close-internet-inbound-rule",
    outcome: "failed",
    changes: [
      {
        path: "properties.securityRules[allow-ssh]",
        from: {
          name: "allow-ssh",
          properties: {
            access: "Allow",
            direction: "Inbound",
            protocol: "Tcp",
            sourceAddressPrefix: "0.0.0.0/0",
            sourceAddressPrefixes: ["10.0.0.0/8", "192.168.1.10"],
            destinationAddressPrefix: "10.1.2.0/24",
            destinationPortRange: "22",
            description: `opened by ${ARM_EVENT.data.claims.upn} from ${ARM_EVENT.data.claims.ipaddr}`,
          },
          // A caller-side mistake: claims copied into a change. Must not survive.
          claims: ARM_EVENT.data.claims,
        },
        to: null,
      },
      { path: "properties.value", from: SECRET_VALUE, to: "<new>" },
      {
        path: "tags.connection",
        from: `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${SECRET_VALUE};`,
        to: null,
      },
    ],
    actor: "driftguard",
    reason: `rule created by <${ARM_EVENT.data.claims.upn}> from ${ARM_EVENT.data.claims.ipaddr}`,
    error: {
      code: "Http403",
      message: `AuthorizationFailed for ${ARM_EVENT.data.claims.upn} token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl sig=${SECRET_VALUE}`,
      step: "apply",
    },
    followUp: {
      requestedBy: { upn: ARM_EVENT.data.claims.upn, ipaddr: ARM_EVENT.data.claims.ipaddr },
      secret: SECRET_VALUE,
    },
  });
}

export interface AuditImpl {
  /** A fresh, empty store (and a second instance over the same storage, for cross-process concurrency). */
  open(): Promise<{ store: AuditStore; second: AuditStore; raw: RawAccess }>;
  close?(): Promise<void>;
}

/** Storage access behind the store's back. */
export interface RawAccess {
  /** Mutates one stored record in place (a direct edit in Cosmos). */
  tamper(resourceId: string, seq: number, mutate: (doc: Record<string, unknown>) => void): Promise<void>;
  /** Deletes one stored record. */
  remove(resourceId: string, seq: number): Promise<void>;
  /** Every stored document, serialised as stored. */
  dump(): Promise<string>;
}

async function allPages(store: AuditStore, q: Parameters<AuditStore["query"]>[0]): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let token: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const page = await store.query({ ...q, continuationToken: token });
    out.push(...page.items);
    token = page.continuationToken;
    if (!token) break;
  }
  return out;
}

/** Fields a store may add to a stored record document (Cosmos system properties, index fields). */
const STORAGE_FIELDS = [
  "_rid",
  "_self",
  "_etag",
  "_attachments",
  "_ts",
  "_lsn",
  "ttl",
  "pk",
  "docType",
  "rid",
  "sub",
  "sk",
];

const iso = (base: string, plusSeconds: number) =>
  new Date(Date.parse(base) + plusSeconds * 1000).toISOString();

export function describeAuditStoreContract(name: string, impl: AuditImpl): void {
  describe(`AuditStore contract: ${name}`, () => {
    afterAll(async () => {
      await impl.close?.();
    });

    it("appends a linear chain: seq from 1, prevHash links, hash recomputes", async () => {
      const { store } = await impl.open();
      const a = await store.append(input());
      const b = await store.append(
        input({ time: "2025-03-01T10:01:00.000Z", outcome: "compliant", changes: [] }),
      );
      expect(a.seq).toBe(1);
      expect(a.prevHash).toBe(GENESIS_HASH);
      expect(b.seq).toBe(2);
      expect(b.prevHash).toBe(a.hash);
      expect(computeRecordHash(b)).toBe(b.hash);
      expect(a.id).not.toBe(b.id);
      const other = await store.append(input({ resourceId: NSG_RULE }));
      expect(other.seq).toBe(1);
      const report = await store.verify();
      expect(report).toEqual({ chains: 2, records: 3, breaks: [] });
    });

    it("keeps one resource's chain linear under 20 concurrent appends from two store instances", async () => {
      const { store, second } = await impl.open();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? second : store).append(
            input({
              time: iso("2025-03-02T00:00:00Z", i),
              signal: { source: "eventgrid", type: "t", id: `e-${i}`, correlationId: null },
            }),
          ),
        ),
      );
      expect(results.map((r) => r.seq).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const bySeq = new Map(results.map((r) => [r.seq, r]));
      for (let s = 2; s <= 20; s++) expect(bySeq.get(s)!.prevHash).toBe(bySeq.get(s - 1)!.hash);
      // Every signal made it exactly once.
      expect(new Set(results.map((r) => r.signal.id)).size).toBe(20);
      const report = await store.verify({ resourceId: WORKSPACE });
      expect(report.breaks).toEqual([]);
      expect(report.records).toBe(20);
      const all = await allPages(store, { resourceId: WORKSPACE, limit: 7 });
      expect(all).toHaveLength(20);
    });

    it("verify names a record whose outcome was changed behind the store's back", async () => {
      const { store, raw } = await impl.open();
      for (let i = 0; i < 5; i++) await store.append(input({ time: iso("2025-03-03T00:00:00Z", i) }));
      await store.append(input({ resourceId: NSG_RULE }));
      await raw.tamper(WORKSPACE, 3, (doc) => {
        doc.outcome = "compliant";
      });
      const report = await store.verify();
      expect(report.chains).toBe(2);
      expect(report.breaks).toHaveLength(1);
      const br = report.breaks[0]!;
      expect(br.resourceId).toBe(WORKSPACE);
      expect(br.seq).toBe(3);
      expect(br.recordId).toMatch(/-0000000003$/);
      expect(br.reason).toMatch(/hash mismatch/);
      // The same record is named when only that resource is verified.
      expect((await store.verify({ resourceId: WORKSPACE })).breaks[0]?.seq).toBe(3);
      expect((await store.verify({ resourceId: NSG_RULE })).breaks).toEqual([]);
    });

    it("verify detects a re-hashed edit (prevHash link) and a deleted record (seq gap)", async () => {
      const { store, raw } = await impl.open();
      for (let i = 0; i < 4; i++) await store.append(input({ time: iso("2025-03-04T00:00:00Z", i) }));
      for (let i = 0; i < 4; i++)
        await store.append(input({ resourceId: NSG_RULE, time: iso("2025-03-04T00:00:00Z", i) }));
      // Forger edits record 2 and recomputes its own hash: record 3's prevHash no longer matches.
      await raw.tamper(WORKSPACE, 2, (doc) => {
        doc.outcome = "compliant";
        const rest: Record<string, unknown> = { ...doc };
        for (const f of STORAGE_FIELDS) delete rest[f];
        doc.hash = computeRecordHash(rest as unknown as AuditRecord);
      });
      await raw.remove(NSG_RULE, 2);
      const report = await store.verify();
      expect(report.breaks.map((b) => [b.resourceId, b.seq])).toEqual(
        [
          [WORKSPACE, 3],
          [NSG_RULE, 3],
        ].sort((x, y) => (String(x[0]).toLowerCase() < String(y[0]).toLowerCase() ? -1 : 1)),
      );
      const ws = report.breaks.find((b) => b.resourceId === WORKSPACE)!;
      expect(ws.reason).toMatch(/prevHash/);
      const nsg = report.breaks.find((b) => b.resourceId === NSG_RULE)!;
      expect(nsg.reason).toMatch(/seq gap/);
    });

    it("verify detects a deleted tail through the chain head; the next append does not reuse the seq", async () => {
      const { store, raw } = await impl.open();
      for (let i = 0; i < 3; i++) await store.append(input({ resourceId: NSG_RULE }));
      await raw.remove(NSG_RULE, 3);
      const report = await store.verify();
      expect(report.breaks).toEqual([
        {
          resourceId: NSG_RULE,
          recordId: recordId(NSG_RULE, 3),
          seq: 3,
          reason: expect.stringMatching(/truncated/),
        },
      ]);
      expect((await store.query({ resourceId: NSG_RULE })).items.map((r) => r.seq)).toEqual([2, 1]);
      const next = await store.append(input({ resourceId: NSG_RULE }));
      expect(next.seq).toBe(4);
      expect((await store.verify()).breaks[0]).toMatchObject({
        seq: 4,
        reason: expect.stringMatching(/seq gap/),
      });
      await raw.remove(NSG_RULE, 1);
      await raw.remove(NSG_RULE, 2);
      await raw.remove(NSG_RULE, 4);
      expect((await store.verify()).breaks[0]?.reason).toMatch(/no record of this resource exists/);
    });

    it("query: newest first by time then id, every filter, from inclusive / to exclusive", async () => {
      const { store } = await impl.open();
      const t0 = "2025-04-01T00:00:00.000Z";
      await store.append(input({ time: iso(t0, 0), outcome: "remediated" }));
      await store.append(input({ time: iso(t0, 60), outcome: "dry-run", mode: "dry-run", policy: "ml-dry" }));
      await store.append(
        input({
          time: iso(t0, 120),
          resourceId: NSG_RULE,
          kind: "close-internet-inbound-rule",
          policy: "nsg-open",
          outcome: "failed",
        }),
      );
      await store.append(
        input({
          time: iso(t0, 120),
          resourceId: STORAGE,
          subscriptionId: SUB2,
          kind: "rotate-secret",
          policy: "rotate",
          actor: "driftguard:approval",
          outcome: "approved",
        }),
      );
      await store.append(input({ time: "2025-04-01T00:03:00+01:00", outcome: "excluded" })); // = 23:03Z the day before
      const all = (await store.query({})).items;
      expect(all).toHaveLength(5);
      expect(new Set(all.slice(0, 2).map((r) => r.outcome))).toEqual(new Set(["approved", "failed"]));
      expect(all.slice(2).map((r) => r.outcome)).toEqual(["dry-run", "remediated", "excluded"]);
      const times = all.map((r) => Date.parse(r.time));
      for (let i = 1; i < times.length; i++) expect(times[i - 1]!).toBeGreaterThanOrEqual(times[i]!);
      // Equal times: ordered by id, descending.
      const tied = all.filter((r) => Date.parse(r.time) === Date.parse(iso(t0, 120)));
      expect(tied).toHaveLength(2);
      expect(tied[0]!.id > tied[1]!.id).toBe(true);
      expect(all[all.length - 1]!.outcome).toBe("excluded");

      const ids = async (q: Parameters<AuditStore["query"]>[0]) =>
        (await store.query(q)).items.map((r) => r.outcome).sort();
      expect(await ids({ resourceId: NSG_RULE })).toEqual(["failed"]);
      expect(
        await ids({ resourceId: NSG_RULE.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/") }),
      ).toEqual(["failed"]);
      expect(await ids({ subscriptionId: SUB2 })).toEqual(["approved"]);
      expect(await ids({ subscriptionId: SUB2.toUpperCase() })).toEqual(["approved"]);
      expect(await ids({ kind: "rotate-secret" })).toEqual(["approved"]);
      expect(await ids({ outcome: "dry-run" })).toEqual(["dry-run"]);
      expect(await ids({ policy: "nsg-open" })).toEqual(["failed"]);
      expect(await ids({ actor: "driftguard:approval" })).toEqual(["approved"]);
      expect(await ids({ from: iso(t0, 60) })).toEqual(["approved", "dry-run", "failed"]);
      expect(await ids({ to: iso(t0, 60) })).toEqual(["excluded", "remediated"]);
      expect(await ids({ from: iso(t0, 0), to: iso(t0, 120) })).toEqual(["dry-run", "remediated"]);
      expect(await ids({ from: "2025-04-01T01:00:00+01:00", to: "2025-04-01T00:01:00Z" })).toEqual([
        "remediated",
      ]);
      expect(
        await ids({
          resourceId: WORKSPACE,
          outcome: "dry-run",
          policy: "ml-dry",
          kind: "disable-public-network-access",
        }),
      ).toEqual(["dry-run"]);
      expect(await ids({ resourceId: WORKSPACE, outcome: "failed" })).toEqual([]);
    });

    it("paging: limit, opaque continuation tokens, every record exactly once while new records arrive", async () => {
      const { store, second } = await impl.open();
      const base = "2025-05-01T00:00:00.000Z";
      const resources = [WORKSPACE, NSG_RULE, STORAGE];
      for (let i = 0; i < 37; i++) {
        const r = resources[i % 3]!;
        await store.append(
          input({
            resourceId: r,
            subscriptionId: r === STORAGE ? SUB2 : SUB,
            time: iso(base, Math.floor(i / 2)),
          }),
        );
      }
      const first = await store.query({ limit: 10 });
      expect(first.items).toHaveLength(10);
      expect(typeof first.continuationToken).toBe("string");
      const seen = [...first.items];
      let token = first.continuationToken;
      let n = 0;
      while (token) {
        // Concurrent writers append newer records (time = later than anything on the first page).
        await second.append(
          input({
            resourceId: resources[n % 3]!,
            subscriptionId: resources[n % 3] === STORAGE ? SUB2 : SUB,
            time: iso(base, 3600 + n),
          }),
        );
        n++;
        const page = await store.query({ limit: 10, continuationToken: token });
        seen.push(...page.items);
        token = page.continuationToken;
      }
      expect(n).toBe(3);
      expect(seen).toHaveLength(37);
      expect(new Set(seen.map((r) => r.id)).size).toBe(37);
      expect(seen.every((r) => Date.parse(r.time) < Date.parse(iso(base, 3600)))).toBe(true);
      // Strictly newest first across pages.
      for (let i = 1; i < seen.length; i++) {
        const a = seen[i - 1]!;
        const b = seen[i]!;
        expect(Date.parse(a.time) > Date.parse(b.time) || (a.time === b.time && a.id > b.id)).toBe(true);
      }
      // A fresh query sees the new ones first.
      const fresh = await store.query({ limit: 3 });
      expect(fresh.items.every((r) => Date.parse(r.time) >= Date.parse(iso(base, 3600)))).toBe(true);
      // Exactly `limit` items left → no token on the last page.
      const exact = await store.query({ resourceId: STORAGE, limit: 1000 });
      expect(exact.continuationToken).toBeNull();
      const filtered = await allPages(store, { resourceId: WORKSPACE, limit: 4 });
      expect(filtered.map((r) => r.seq).sort((x, y) => x - y)).toEqual(
        Array.from({ length: filtered.length }, (_, i) => i + 1),
      );
      // Default limit 50.
      const many = await store.query({});
      expect(many.items).toHaveLength(40);
      expect(many.continuationToken).toBeNull();
    });

    it("rejects bad limits and forged continuation tokens with InputError naming the parameter", async () => {
      const { store } = await impl.open();
      await store.append(input());
      for (const limit of [0, 1001, 2.5, -1]) {
        await expect(store.query({ limit })).rejects.toMatchObject({ name: "InputError", path: "limit" });
      }
      for (const token of [
        "not-base64!",
        "eyJ2IjoyfQ",
        Buffer.from(JSON.stringify({ v: 1, k: "' OR 1=1 --" })).toString("base64url"),
        "x".repeat(5000),
      ]) {
        const err = await store.query({ continuationToken: token }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InputError);
        expect((err as InputError).path).toBe("continuationToken");
      }
      await expect(store.query({ from: "yesterday" })).rejects.toMatchObject({ path: "from" });
    });

    it("rejects malformed records without writing anything", async () => {
      const { store } = await impl.open();
      await expect(store.append(input({ resourceId: "/subscriptions/x/../../etc" }))).rejects.toMatchObject({
        path: "resourceId",
      });
      await expect(store.append(input({ time: "not a time" }))).rejects.toMatchObject({ path: "time" });
      await expect(store.append(input({ outcome: "done" as never }))).rejects.toMatchObject({
        path: "outcome",
      });
      expect((await store.query({})).items).toEqual([]);
      expect((await store.verify()).records).toBe(0);
    });

    it("stores no personal claim, secret value or token from a real-shaped ARM event; keeps rule CIDRs and names", async () => {
      const { store, raw } = await impl.open();
      const rec = await store.append(recordFromArmEvent("test-pseudonym-key"));
      const dump = await raw.dump();
      expect(dump).toContain("allow-ssh");
      for (const s of [...PERSONAL_STRINGS, SECRET_VALUE, "eyJhbGciOiJSUzI1NiJ9"])
        expect(dump).not.toContain(s);
      // Rule definition survives: CIDR prefixes, a rule's bare IP prefix, and the rule name.
      for (const s of ["0.0.0.0/0", "10.0.0.0/8", "10.1.2.0/24", "192.168.1.10"]) expect(dump).toContain(s);
      expect(rec.signal.caller?.id).toMatch(/^p-[0-9a-f]{24}$/);
      expect(rec.signal.caller?.appId).toBe(ARM_EVENT.data.claims.appid);
      expect(rec.error?.message).toContain("<email>");
      expect(rec.reason).toContain("<ip>");
      // The returned record is what is stored and it verifies.
      const [stored] = (await store.query({ resourceId: NSG_RULE })).items;
      expect(stored).toEqual(rec);
      expect((await store.verify()).breaks).toEqual([]);
    });
  });
}

/* ------------------------------------------------------------------------------------------ */

export interface PortsImpl {
  open(): Promise<{
    /** Two gate objects over the same storage ("two instances") and the audit store they write to. */
    gate: ResourceGate;
    gate2: ResourceGate;
    audit: AuditStore;
    actionLimit: ActionLimit;
    actionLimit2: ActionLimit;
    approvals: ApprovalStore;
    approvals2: ApprovalStore;
    rawApprovals(): Promise<string>;
  }>;
  close?(): Promise<void>;
}

export function approval(overrides: Partial<Approval> = {}): Approval {
  return {
    id: `apr-${Math.random().toString(36).slice(2, 10)}`,
    state: "pending",
    createdAt: "2025-06-01T10:00:00.000Z",
    expiresAt: "2025-06-02T10:00:00.000Z",
    policy: "ml-workspace-private",
    kind: "disable-public-network-access",
    target: {
      resourceId: WORKSPACE,
      resourceType: "Microsoft.MachineLearningServices/workspaces",
      subscriptionId: SUB,
    },
    signal: {
      source: "eventgrid",
      type: "Microsoft.Resources.ResourceWriteSuccess",
      id: "evt-9",
      dedupeKey: "evt-9",
      time: "2025-06-01T09:59:00.000Z",
      trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
      targets: [
        {
          resourceId: WORKSPACE,
          resourceType: "Microsoft.MachineLearningServices/workspaces",
          subscriptionId: SUB,
        },
      ],
      caller: {
        objectId: "0b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
        appId: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
      },
    },
    changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
    changesHash: "0".repeat(64),
    summary: "Disable public network access on ws-prod",
    reason: "policy-mode",
    ...overrides,
  };
}

export function describePortsContract(name: string, impl: PortsImpl): void {
  describe(`Ports contract: ${name}`, () => {
    let p: Awaited<ReturnType<PortsImpl["open"]>>;
    beforeAll(async () => {
      p = await impl.open();
    });
    afterAll(async () => {
      await impl.close?.();
    });
    const t = (s: number) => new Date(Date.parse("2025-06-01T12:00:00.000Z") + s * 1000);

    const intentFor = (resourceId: string, cause: string): Intent =>
      workspaceIntent(resourceId, cause, approval().signal, t(0));
    const resource = () =>
      `${RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-${Math.random().toString(36).slice(2, 10)}`;
    const enterOk = async (
      g: ResourceGate,
      id: string,
      cause: string | readonly string[],
      at: number,
      leaseMs = 60_000,
    ) => {
      const e = await g.enter(id, cause, { leaseMs, now: t(at) });
      if (e.status !== "entered") throw new Error(`expected to enter, got ${e.status}`);
      return e.session;
    };

    it("gate: one holder per resource; busy while leased; taken over after expiry (old holder's writes refused)", async () => {
      const id = resource();
      const s1 = await enterOk(p.gate, id, "evt-a|x", 0);
      // Another cause for the same resource waits, on any instance.
      expect(await p.gate2.enter(id, "evt-b|x", { leaseMs: 60_000, now: t(30) })).toEqual({
        status: "busy",
        leaseUntil: t(60).toISOString(),
      });
      // Another resource is independent.
      await (await enterOk(p.gate2, resource(), "evt-b|y", 30)).leave({ causes: { "evt-b|y": "open" } });
      // Exactly at the lease's end it is over.
      const s2 = await enterOk(p.gate2, id, "evt-b|x", 60);
      // (In Azure the refused commit writes nothing; the local stand-in applies batches in order, so
      // its record may land, chained — the new holder walks past it either way.)
      await expect(
        s1.commit(input({ resourceId: id }), { causes: { "evt-a|x": "done" } }),
      ).rejects.toBeInstanceOf(LeaseLostError);
      const rec = await s2.commit(input({ resourceId: id, outcome: "compliant", changes: [] }), {
        causes: { "evt-b|x": "done" },
      });
      expect((await p.audit.verify({ resourceId: id })).breaks).toEqual([]);
      expect(await p.gate.enter(id, "evt-b|x", { leaseMs: 60_000, now: t(61) })).toEqual({ status: "done" });
      // evt-a was never decided: its redelivery enters.
      const s3 = await enterOk(p.gate, id, "evt-a|x", 62);
      expect(s3.interrupted).toBeUndefined();
      await s3.leave({ causes: { "evt-a|x": "open" } });
      const page = await p.audit.query({ resourceId: id });
      expect(page.items[0]).toEqual(rec);
    });

    it("gate: concurrent enters for one resource yield exactly one holder", async () => {
      const id = resource();
      const entries = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? p.gate : p.gate2).enter(id, `evt-${i}|x`, { leaseMs: 60_000, now: t(0) }),
        ),
      );
      expect(entries.filter((e) => e.status === "entered")).toHaveLength(1);
      expect(entries.filter((e) => e.status === "busy")).toHaveLength(9);
      await expect(p.gate.enter(id, "", { leaseMs: 1, now: t(0) })).rejects.toBeInstanceOf(InputError);
      await expect(p.gate.enter(id, "k", { leaseMs: 0, now: t(0) })).rejects.toBeInstanceOf(InputError);
    });

    it("gate: records chain in order; a decided cause is a duplicate; an interim (deferred) cause is remembered", async () => {
      const id = resource();
      const a = await enterOk(p.gate, id, "evt-1|x", 0);
      const r1 = await a.commit(input({ resourceId: id, outcome: "deferred", changes: [] }), {
        causes: { "evt-1|x": "deferred" },
      });
      const b = await enterOk(p.gate2, id, "evt-1|x", 1);
      expect(b.causeState("evt-1|x")).toBe("deferred");
      expect(b.causeState("evt-2|x")).toBeUndefined();
      // A second interim decision of the same cause writes nothing; the cause stays deferred.
      await b.leave({ causes: { "evt-1|x": "deferred" } });
      const c = await enterOk(p.gate, id, "evt-1|x", 2);
      const r2 = await c.commit(input({ resourceId: id }), { causes: { "evt-1|x": "done" } });
      expect([r1.seq, r2.seq]).toEqual([1, 2]);
      expect(r2.prevHash).toBe(r1.hash);
      expect(await p.gate2.enter(id, "evt-1|x", { leaseMs: 60_000, now: t(3) })).toEqual({ status: "done" });
      // A record appended outside the gate (CLI, tests) is walked past, never overwritten.
      const outside = await p.audit.append(input({ resourceId: id, outcome: "compliant", changes: [] }));
      expect(outside.seq).toBe(3);
      const d = await enterOk(p.gate2, id, "evt-3|x", 4);
      const mid = await d.append(input({ resourceId: id, outcome: "compliant", changes: [] }));
      const r4 = await d.commit(input({ resourceId: id }), { causes: { "evt-3|x": "done" } });
      expect([mid.seq, r4.seq]).toEqual([4, 5]);
      expect((await p.audit.verify({ resourceId: id })).breaks).toEqual([]);
    });

    it("gate: a kept intent is handed to the next holder (also after a crash), listed once the lease expired, cleared by a commit", async () => {
      const id = resource();
      const s1 = await enterOk(p.gate, id, "evt-1|x", 0);
      await s1.commit(input({ resourceId: id, outcome: "compliant", changes: [] }), {
        causes: { "evt-1|x": "done" },
      });
      const s2 = await enterOk(p.gate, id, "evt-2|x", 1, 10_000);
      const intent = intentFor(id, "evt-2|x");
      await s2.recordIntent(intent);
      // The holder "crashes": nothing more from it. Before the lease ends nobody else may enter.
      expect((await p.gate2.enter(id, "evt-3|x", { leaseMs: 10_000, now: t(5) })).status).toBe("busy");
      expect(await p.gate2.listInterrupted(t(5), 10)).not.toContain(id);
      expect(await p.gate2.listInterrupted(t(11), 1000)).toContain(id);
      const s3 = await enterOk(p.gate2, id, "evt-3|x", 11);
      expect(s3.interrupted).toMatchObject({
        id: intent.id,
        cause: "evt-2|x",
        seqBefore: 1,
        changes: intent.changes,
      });
      expect(await s3.recordsSince(s3.interrupted!)).toEqual([]);
      const completion = await s3.append(
        input({ resourceId: id, signal: { ...input().signal, id: "evt-2" } }),
      );
      expect((await s3.recordsSince(s3.interrupted!)).map((r) => r.id)).toEqual([completion.id]);
      await s3.commit(input({ resourceId: id, outcome: "compliant", changes: [] }), {
        causes: { "evt-3|x": "done", "evt-2|x": "done" },
      });
      expect(await p.gate.enter(id, "evt-2|x", { leaseMs: 10_000, now: t(12) })).toEqual({ status: "done" });
      const s4 = await enterOk(p.gate, id, "evt-4|x", 12);
      expect(s4.interrupted).toBeUndefined();
      // A failed record write keeps the intent: leave(keepIntent) hands it on without waiting for expiry.
      await s4.recordIntent(intentFor(id, "evt-4|x"));
      await s4.leave({ causes: { "evt-4|x": "open" }, keepIntent: true });
      const s5 = await enterOk(p.gate2, id, "evt-4|x", 13);
      expect(s5.interrupted?.cause).toBe("evt-4|x");
      await s5.leave({ causes: { "evt-4|x": "done" } });
      expect(await p.gate.listInterrupted(t(100_000), 1000)).not.toContain(id);
    });

    it("gate: one session decides several causes, each record with its cause; a crash between them leaves the first decided", async () => {
      const id = resource();
      const [a, b] = ["evt-7|x|kind-a", "evt-7|x|kind-b"];
      const s1 = await enterOk(p.gate, id, [a, b], 0, 10_000);
      expect(s1.causes).toEqual([a, b]);
      const r1 = await s1.commit(input({ resourceId: id, kind: "kind-a" }), {
        causes: { [a]: "done" },
        stay: true,
      });
      // Still the holder: others wait; the first cause is decided already.
      expect((await p.gate2.enter(id, "evt-8|x", { leaseMs: 10_000, now: t(1) })).status).toBe("busy");
      expect(s1.causeState(a)).toBe("done");
      expect(s1.causeState(b)).toBeUndefined();
      // The holder dies here. After the lease, a redelivery enters for both and finds only `b` open.
      const s2 = await enterOk(p.gate2, id, [a, b], 11);
      expect(s2.causeState(a)).toBe("done");
      expect(s2.causeState(b)).toBeUndefined();
      const r2 = await s2.commit(input({ resourceId: id, kind: "kind-b" }), { causes: { [b]: "done" } });
      expect([r1.seq, r2.seq]).toEqual([1, 2]);
      expect(r2.prevHash).toBe(r1.hash);
      expect(await p.gate.enter(id, [a, b], { leaseMs: 10_000, now: t(12) })).toEqual({ status: "done" });
      expect(await p.gate.enter(id, [a], { leaseMs: 10_000, now: t(12) })).toEqual({ status: "done" });
      await (await enterOk(p.gate, id, "evt-9|x", 13)).leave({ causes: {} });
      await expect(p.gate.enter(id, [], { leaseMs: 1, now: t(14) })).rejects.toBeInstanceOf(InputError);
      expect((await p.audit.verify({ resourceId: id })).breaks).toEqual([]);
    });

    it("gate: remembers the resource's recent fixes per kind (with the caller's pseudonym) across sessions and instances", async () => {
      const id = resource();
      const caller = { id: "p-0123456789abcdef01234567", appId: null };
      const remediated = (at: number, kind: string) =>
        input({
          resourceId: id,
          kind,
          time: t(at).toISOString(),
          signal: { ...input().signal, caller },
        });
      const s1 = await enterOk(p.gate, id, "fix-1|x", 0);
      await s1.commit(remediated(0, "kind-a"), { causes: { "fix-1|x": "done" } });
      const s2 = await enterOk(p.gate2, id, "fix-2|x", 1);
      await s2.commit(remediated(1, "kind-b"), { causes: { "fix-2|x": "done" } });
      const s3 = await enterOk(p.gate, id, "fix-3|x", 2);
      await s3.commit(input({ resourceId: id, kind: "kind-a", outcome: "compliant", changes: [] }), {
        causes: { "fix-3|x": "done" },
      });
      const s4 = await enterOk(p.gate2, id, "fix-4|x", 3);
      expect(s4.recentFixes("kind-a", t(-60))).toEqual([{ time: t(0).toISOString(), caller: caller.id }]);
      expect(s4.recentFixes("kind-b", t(-60)).map((f) => f.time)).toEqual([t(1).toISOString()]);
      expect(s4.recentFixes("kind-a", t(1))).toEqual([]);
      await s4.leave({ causes: {} });
    });

    it("action limit: never more than max per policy and clock hour, even under concurrency", async () => {
      const policy = `pol-${Math.random().toString(36).slice(2, 8)}`;
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          (i % 2 ? p.actionLimit : p.actionLimit2).tryConsume(policy, 7, t(i)),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(7);
      expect(await p.actionLimit.tryConsume(policy, 7, t(120))).toBe(false);
      // Another policy and the next clock hour have their own counters.
      expect(await p.actionLimit.tryConsume(`${policy}-b`, 7, t(0))).toBe(true);
      expect(await p.actionLimit.tryConsume(policy, 7, t(3600))).toBe(true);
      // A raised limit applies at once.
      expect(await p.actionLimit.tryConsume(policy, 8, t(60))).toBe(true);
      expect(await p.actionLimit.tryConsume(policy, 0, t(7200))).toBe(false);
      await expect(p.actionLimit.tryConsume(policy, -1, t(0))).rejects.toBeInstanceOf(InputError);
    });

    it("approvals: created pending without the caller's object ID, decided exactly once", async () => {
      const a = approval();
      const created = await p.approvals.create(a);
      expect(created.state).toBe("pending");
      expect(created.signal.caller).toEqual({ appId: "04b07795-8ddb-461a-bbee-02f9e1bf7b46" });
      expect(await p.rawApprovals()).not.toContain("0b3c4d5e-6f70-4182-93a4-b5c6d7e8f901");
      await expect(p.approvals.create(a)).rejects.toThrow(/already exists/);
      const got = await p.approvals2.get(a.id);
      expect(got?.summary).toBe(a.summary);
      expect(got?.etag).toBeTruthy();

      const decisions = await Promise.all([
        p.approvals.closePending(a.id, "approved", "p-aaaaaaaaaaaaaaaaaaaaaaaa", t(0)),
        p.approvals2.closePending(a.id, "rejected", "p-bbbbbbbbbbbbbbbbbbbbbbbb", t(0)),
        p.approvals.closePending(a.id, "approved", "p-cccccccccccccccccccccccc", t(1)),
      ]);
      const granted = decisions.filter((d) => d !== undefined);
      expect(granted).toHaveLength(1);
      const final = await p.approvals.get(a.id);
      expect(final?.state).toBe(granted[0]!.state);
      expect(final?.decidedBy).toBe(granted[0]!.decidedBy);
      expect(final?.decidedAt).toBeDefined();
      expect(
        await p.approvals.closePending(a.id, "rejected", "p-dddddddddddddddddddddddd", t(2)),
      ).toBeUndefined();
      expect(await p.approvals.get("no-such-approval")).toBeUndefined();
      expect(await p.approvals.closePending("no-such-approval", "approved", undefined, t(0))).toBeUndefined();
      expect(await p.approvals.get("../../etc")).toBeUndefined();
    });

    it("approvals: an approval starts a due run; run updates, due listing and refusals", async () => {
      const a = approval({ expiresAt: "2025-06-02T10:00:00.000Z" });
      const pendingBefore = await p.approvals.countPending();
      await p.approvals.create(a);
      expect(await p.approvals2.countPending()).toBe(pendingBefore + 1);
      // Refusals are kept on a pending approval only, newest last, bounded.
      const refusal = {
        by: "p-eeeeeeeeeeeeeeeeeeeeeeee",
        at: t(0).toISOString(),
        via: "teams" as const,
        reason: "self-approval refused",
      };
      expect((await p.approvals2.addRefusal(a.id, refusal))?.refusals).toEqual([refusal]);
      expect(
        await p.approvals.updateRun(a.id, { state: "done", attempts: 1, updatedAt: t(0).toISOString() }),
      ).toBeUndefined();
      const decided = await p.approvals.closePending(
        a.id,
        "approved",
        "p-aaaaaaaaaaaaaaaaaaaaaaaa",
        t(0),
        "approval-page",
      );
      expect(decided?.run).toMatchObject({ state: "due", attempts: 0, nextAttemptAt: t(0).toISOString() });
      expect(decided?.decidedVia).toBe("approval-page");
      expect(await p.approvals.countPending()).toBe(pendingBefore);
      expect((await p.approvals2.listDueRuns(t(0))).map((x) => x.id)).toContain(a.id);
      await p.approvals2.updateRun(a.id, {
        state: "due",
        attempts: 1,
        nextAttemptAt: t(60).toISOString(),
        lastError: { code: "Http503", message: "unavailable", step: "apply" },
        updatedAt: t(0).toISOString(),
      });
      expect((await p.approvals.listDueRuns(t(30))).map((x) => x.id)).not.toContain(a.id);
      expect((await p.approvals.listDueRuns(t(60))).map((x) => x.id)).toContain(a.id);
      const done = await p.approvals.updateRun(a.id, {
        state: "done",
        attempts: 2,
        outcome: "remediated",
        updatedAt: t(61).toISOString(),
      });
      expect(done?.run?.outcome).toBe("remediated");
      expect((await p.approvals.listDueRuns(t(100_000))).map((x) => x.id)).not.toContain(a.id);
      expect(await p.approvals.addRefusal(a.id, refusal)).toBeUndefined(); // no longer pending
    });

    it("approvals: not decidable after expiresAt (it becomes expired); listExpired lists pending ones due", async () => {
      const due = approval({ expiresAt: "2025-06-01T11:00:00.000Z" });
      const later = approval({ expiresAt: "2025-06-01T13:00:00.000Z" });
      const late = approval({ expiresAt: "2025-06-01T11:30:00.000Z" });
      for (const a of [due, later, late]) await p.approvals.create(a);
      const expired = await p.approvals.listExpired(t(0));
      const mine = expired.filter((a) => [due.id, later.id, late.id].includes(a.id));
      expect(mine.map((a) => a.id)).toEqual([due.id, late.id]);
      // Approving after expiry does not approve: the approval turns expired.
      expect(
        await p.approvals2.closePending(late.id, "approved", "p-aaaaaaaaaaaaaaaaaaaaaaaa", t(0)),
      ).toBeUndefined();
      expect((await p.approvals.get(late.id))?.state).toBe("expired");
      // The expiry sweep moves a due one to expired exactly once.
      const swept = await p.approvals.closePending(due.id, "expired", undefined, t(0));
      expect(swept?.state).toBe("expired");
      expect(await p.approvals.closePending(due.id, "expired", undefined, t(0))).toBeUndefined();
      expect((await p.approvals.listExpired(t(0))).map((a) => a.id)).not.toContain(due.id);
      // Still within its time: approvable.
      expect(
        (await p.approvals.closePending(later.id, "approved", "p-aaaaaaaaaaaaaaaaaaaaaaaa", t(0)))?.state,
      ).toBe("approved");
      await expect(p.approvals.create(approval({ id: "bad id/with slash" }))).rejects.toMatchObject({
        path: "id",
      });
    });
  });
}
