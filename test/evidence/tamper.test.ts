/**
 * What anchors add to the hash chain: an insider with write access to Cosmos DB (here: the real
 * `@azure/cosmos` client against the local stack's Cosmos stand-in) deletes a chain's newest record
 * and resets its head, deletes a resource's whole chain, or rewrites a record with every later hash
 * recomputed. Each leaves the chains self-consistent — the plain chain check says "ok" — and each
 * makes `driftguard audit verify` exit 1 naming the resource and the anchor. The anchors are real
 * blobs in Azurite, written with a bearer token.
 */
import https from "node:https";
import type { Container } from "@azure/cosmos";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeRecordHash, resourceKey } from "../../shared/audit/chain.js";
import type { AuditRecord, AuditRecordInput } from "../../shared/audit/types.js";
import { localToken } from "../../shared/azure/local-credential.js";
import { createCosmosClient } from "../../shared/cosmos/client.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import { runAudit } from "./cli-run.js";

const SUB = "00000000-0000-0000-0000-0000000000e1";
const id = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg-evidence/providers/Microsoft.Storage/storageAccounts/${name}`;
const TRUNCATED = id("sttruncated");
const DELETED = id("stdeleted");
const REWRITTEN = id("strewritten");
const UNTOUCHED = id("stuntouched");

let stack: TestStack;
let audit: Container;

const input = (resourceId: string, n: number): AuditRecordInput => ({
  time: new Date(Date.now() - 60_000 + n).toISOString(),
  subscriptionId: SUB,
  resourceId,
  resourceType: "Microsoft.Storage/storageAccounts",
  signal: {
    source: "eventgrid",
    type: "Microsoft.Resources.ResourceWriteSuccess",
    id: `ev-${n}`,
    correlationId: null,
  },
  policy: "storage-private",
  kind: "disable-public-network-access",
  mode: "enforce",
  outcome: n % 2 ? "remediated" : "compliant",
  changes: [],
  actor: "driftguard",
  durationMs: n,
});

/** Reads the documents of one chain straight from the container. */
async function chainDocs(resourceId: string): Promise<Record<string, unknown>[]> {
  const { resources } = await audit.items
    .query<Record<string, unknown>>({
      query: "SELECT * FROM c WHERE c.pk = @pk",
      parameters: [{ name: "@pk", value: resourceKey(resourceId) }],
    })
    .fetchAll();
  return resources;
}

/** A plain HTTPS request trusting only the local CA. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: stack.tls.cert, headers: { "x-ms-version": "2025-11-05", ...headers } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

beforeAll(async () => {
  stack = await startTestStack({
    seed: { resources: [] },
    policyYaml:
      "version: 1\npolicies:\n  - name: storage-private\n    resourceTypes: [Microsoft.Storage/storageAccounts]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n",
    blob: true,
  });
  const client = createCosmosClient({ endpoint: stack.cosmosUrl, key: stack.cosmosKey, ca: stack.tls.cert });
  audit = client.database("driftguard").container("audit");
  let n = 0;
  for (const r of [TRUNCATED, DELETED, REWRITTEN, UNTOUCHED])
    for (let i = 0; i < 4; i++) await stack.runtime.stores.audit.append(input(r, n++));
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe("audit verify against anchors", () => {
  it("says so before any anchor exists (and passes intact chains)", async () => {
    const r = await runAudit(stack.runtime, ["verify"]);
    expect(r.code).toBeUndefined();
    expect(r.out).toMatch(/^ok: 4 chain\(s\), 16 record\(s\) verified/m);
    expect(r.out).toMatch(/WARNING: no anchor exists yet/);
  });

  it("writes anchors as real blobs in Azurite, with a bearer token", async () => {
    const anchored = await runAudit(stack.runtime, ["anchor", "--json"]);
    expect(anchored.code).toBeUndefined();
    const { name, root, chains, records } = JSON.parse(anchored.out) as Record<string, unknown>;
    expect({ chains, records }).toEqual({ chains: 4, records: 16 });
    const container = stack.anchorContainerUrl!;
    expect(container).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/driftguard-anchors$/);
    const token = localToken("https://storage.azure.com/.default");
    const blob = await get(`${container}/${name}`, { authorization: `Bearer ${token}` });
    expect(blob.status).toBe(200);
    expect(JSON.parse(blob.body)).toMatchObject({ root, chains: 4, records: 16 });
    const list = await get(`${container}?restype=container&comp=list`, { authorization: `Bearer ${token}` });
    expect(list.body).toContain(`<Name>${name}</Name>`);
    // Azurite checks the token: none, or one for another audience, is refused.
    expect((await get(`${container}/${name}`)).status).toBeGreaterThanOrEqual(400);
    const wrong = await get(`${container}/${name}`, {
      authorization: `Bearer ${localToken("https://management.azure.com/.default")}`,
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatch(/audience/i);
    // Write-once: the same name cannot be written again.
    await expect(stack.runtime.anchors!.put(String(name), "{}")).rejects.toThrow(/409|exists/i);

    const ok = await runAudit(stack.runtime, ["verify"]);
    expect(ok.code).toBeUndefined();
    expect(ok.out).toMatch(/^ok: 4 chain\(s\), 16 record\(s\) verified/m);
    expect(ok.out).toMatch(/anchors: 1 read .* 4 anchored head\(s\) checked/);
    expect(ok.out).toMatch(/newest anchor: anchors\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-[0-9a-f]{16}\.json/);
  });

  it("fails naming the resource when its newest record is deleted and its head reset", async () => {
    const docs = await chainDocs(TRUNCATED);
    const records = docs.filter((d) => d.docType === "record").sort((a, b) => Number(a.seq) - Number(b.seq));
    const head = docs.find((d) => d.docType === "head")!;
    const last = records.at(-1)!;
    const previous = records.at(-2)!;
    await audit.item(String(last.id), String(last.pk)).delete();
    await audit.item(String(head.id), String(head.pk)).replace({
      ...head,
      seq: previous.seq,
      hash: previous.hash,
      recordId: previous.id,
    });
    // The chain alone is consistent again…
    expect((await stack.runtime.stores.audit.verify()).breaks).toEqual([]);
    // …but not with the anchor.
    const r = await runAudit(stack.runtime, ["verify"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      new RegExp(
        `BROKEN resource=${TRUNCATED.toLowerCase()} anchor=anchors/\\S+ seq=4 reason=the chain is shorter than anchored`,
      ),
    );
    expect(r.out).not.toContain(UNTOUCHED.toLowerCase());
  });

  it("fails naming the resource when its whole chain is deleted", async () => {
    for (const d of await chainDocs(DELETED)) await audit.item(String(d.id), String(d.pk)).delete();
    expect((await stack.runtime.stores.audit.verify()).breaks).toEqual([]);
    const r = await runAudit(stack.runtime, ["verify", "--json"]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as {
      anchorBreaks: { resourceId: string; anchor: string; reason: string }[];
    };
    expect(report.anchorBreaks.find((b) => b.resourceId === DELETED.toLowerCase())).toMatchObject({
      anchor: expect.stringMatching(/^anchors\//),
      reason: expect.stringMatching(/the chain is missing/),
    });
  });

  it("fails naming the resource when a record is rewritten with every later hash recomputed", async () => {
    const docs = await chainDocs(REWRITTEN);
    const records = docs
      .filter((d) => d.docType === "record")
      .sort((a, b) => Number(a.seq) - Number(b.seq)) as unknown as (AuditRecord & Record<string, unknown>)[];
    const storage = [
      "pk",
      "docType",
      "rid",
      "sub",
      "sk",
      "ttl",
      "_rid",
      "_self",
      "_etag",
      "_attachments",
      "_ts",
    ];
    const strip = (d: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(d).filter(([k]) => !storage.includes(k))) as unknown as AuditRecord;
    let prevHash = records[0]!.prevHash;
    for (const [i, doc] of records.entries()) {
      const record = strip(doc);
      if (i === 1) record.outcome = "excluded"; // the insider's edit
      record.prevHash = prevHash;
      record.hash = computeRecordHash(record);
      prevHash = record.hash;
      await audit.item(String(doc.id), String(doc.pk)).replace({ ...doc, ...record });
    }
    const head = docs.find((d) => d.docType === "head")!;
    await audit.item(String(head.id), String(head.pk)).replace({ ...head, hash: prevHash });
    expect((await stack.runtime.stores.audit.verify()).breaks).toEqual([]);
    const r = await runAudit(stack.runtime, ["verify"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      new RegExp(
        `BROKEN resource=${REWRITTEN.toLowerCase()} anchor=anchors/\\S+ seq=4 reason=record seq 4 is not the one anchored`,
      ),
    );
    // All three tamperings are named, the untouched chain is not.
    for (const res of [TRUNCATED, DELETED, REWRITTEN])
      expect(r.out).toContain(`resource=${res.toLowerCase()}`);
    expect(r.out).not.toContain(UNTOUCHED.toLowerCase());
    // --since later than every anchor reads none of them (and says how old the newest is).
    const since = await runAudit(stack.runtime, [
      "verify",
      "--since",
      new Date(Date.now() + 86_400_000).toISOString().slice(0, 10),
    ]);
    expect(since.out).toMatch(/anchors: 0 read since/);
    expect(since.out).toMatch(/newest anchor: anchors\//);
  });
});
