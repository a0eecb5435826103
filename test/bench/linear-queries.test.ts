/**
 * The bench's patch of the Cosmos DB stand-in's query engine (bench/lib/linear-queries.mjs): the
 * same answers as the package's own code, page by page, for every query shape driftguard and the
 * bench send — only the per-document copy is gone. Compared on documents shaped like the stored
 * ones (records, heads with leases and intents, outbox entries, approvals, posture runs), with
 * fields missing here and there, as stored documents have.
 */
import { describe, expect, it } from "vitest";
import {
  installLinearQueries,
  linearQueryCode,
  linearStripUndefined,
  standInQueryPackage,
} from "../../bench/lib/linear-queries.mjs";

const { query, helpers, executor } = standInQueryPackage();

type Doc = Record<string, unknown>;

function documents(count: number): Doc[] {
  let s = 12345;
  const rand = (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  return Array.from({ length: count }, (_, i) => {
    const pk = `pk${rand(12)}`;
    const base: Doc = {
      id: `doc-${i}`,
      pk,
      _rid: `rid${String(i).padStart(6, "0")}`,
      _ts: 1_700_000_000 + i,
    };
    switch (rand(6)) {
      case 0:
      case 1:
        return {
          ...base,
          docType: "record",
          rid: `/subscriptions/s/resourcegroups/rg/providers/x/y/${pk}`,
          sub: rand(2) ? "sub-a" : "sub-b",
          sk: `2025-01-0${1 + rand(9)}T00:00:00.000Z|${String(rand(1000)).padStart(10, "0")}`,
          seq: rand(40),
          kind: rand(2) ? "disable-public-network-access" : "disable-local-auth",
          outcome: ["remediated", "compliant", "failed"][rand(3)],
          signal: { source: rand(2) ? "eventgrid" : "sweep", id: `evt-${rand(50)}` },
          changes: rand(2) ? [{ path: "p", from: "a", to: undefined }] : [],
          ...(rand(4) ? { policy: "storage-private" } : {}),
        };
      case 2:
        return {
          ...base,
          docType: "head",
          resourceId: `/x/${pk}`,
          seq: rand(5),
          hash: "h",
          recordId: `${pk}-1`,
          ...(rand(3) ? { intent: { id: `i${i}` } } : {}),
          ...(rand(2) ? { lease: { untilMs: 1_000 * rand(100) } } : {}),
        };
      case 3:
        return {
          ...base,
          docType: "outbox",
          resourceId: `/x/${pk}`,
          seq: rand(1000),
          recordId: "r",
          hash: "h",
          atMs: i,
        };
      case 4:
        return {
          ...base,
          state: ["pending", "approved", "expired"][rand(3)],
          expiresAtMs: 1_000 * rand(100),
          ...(rand(2) ? { runDueAtMs: 1_000 * rand(100) } : {}),
          ...(rand(3) ? {} : { cardPostFailed: { at: "t" } }),
          createdAt: `2025-01-0${1 + rand(9)}`,
        };
      default:
        return {
          ...base,
          pk: "posture",
          docType: rand(2) ? "posture-run" : "posture-part",
          sk: `2025-02-0${1 + rand(9)}|${i}`,
          runId: `run-${rand(8)}`,
          policyNames: rand(2) ? ["storage-private"] : ["storage-private", "nsg"],
          count: rand(200_000),
        };
    }
  });
}

const docs = documents(600);
const aRecord = docs.find((d) => d.docType === "record" && d.policy && d.signal)! as Doc & { signal: Doc };
const aCounter = docs.find((d) => typeof d.count === "number" && (d.count as number) < 100_000)!;

const P = (params: Record<string, unknown>) =>
  Object.entries(params).map(([k, value]) => ({ name: `@${k}`, value }));

/** Every query shape of shared/cosmos/*.ts and bench/, with parameters. */
const QUERIES: { sql: string; parameters?: { name: string; value: unknown }[] }[] = [
  {
    sql: "SELECT TOP @top * FROM c WHERE c.docType = @docType AND c.pk = @pk AND c.rid = @rid ORDER BY c.sk DESC",
    parameters: P({
      top: 51,
      docType: "record",
      pk: "pk3",
      rid: "/subscriptions/s/resourcegroups/rg/providers/x/y/pk3",
    }),
  },
  {
    sql: "SELECT TOP @top * FROM c WHERE c.docType = @docType AND c.sub = @sub AND c.kind = @kind AND c.outcome = @outcome AND c.policy = @policy AND c.signal.source = @source AND c.sk >= @from AND c.sk < @to AND c.sk < @after ORDER BY c.sk DESC",
    parameters: P({
      top: 20,
      docType: "record",
      sub: aRecord.sub,
      kind: aRecord.kind,
      outcome: aRecord.outcome,
      policy: aRecord.policy,
      source: aRecord.signal.source,
      from: "2025-01-01",
      to: "2025-01-10",
      after: "2025-01-09T12",
    }),
  },
  { sql: 'SELECT * FROM c WHERE c.pk = @pk AND c.docType = "record"', parameters: P({ pk: "pk5" }) },
  { sql: 'SELECT * FROM c WHERE c.docType = "head"' },
  {
    sql: 'SELECT TOP @top c.resourceId FROM c WHERE c.docType = "head" AND IS_DEFINED(c.intent.id) AND (NOT IS_DEFINED(c.lease) OR c.lease.untilMs <= @now)',
    parameters: P({ top: 100, now: 50_000 }),
  },
  {
    sql: 'SELECT TOP @top c.id, c.resourceId, c.seq, c.recordId, c.hash, c.atMs FROM c WHERE c.docType = "outbox" ORDER BY c.seq ASC',
    parameters: P({ top: 30 }),
  },
  {
    sql: 'SELECT TOP 1 VALUE c.seq FROM c WHERE c.docType = "outbox" AND c.seq < @seq',
    parameters: P({ seq: 500 }),
  },
  {
    sql: 'SELECT c.resourceId, c.seq, c.hash, c.recordId FROM c WHERE c.docType = "head" AND c.seq > 0',
  },
  {
    sql: "SELECT TOP @top * FROM c WHERE c.state = @state AND IS_DEFINED(c.cardPostFailed) ORDER BY c.createdAt DESC",
    parameters: P({ top: 10, state: "pending" }),
  },
  { sql: "SELECT VALUE COUNT(1) FROM c WHERE c.state = @state", parameters: P({ state: "pending" }) },
  {
    sql: "SELECT * FROM c WHERE c.state = @state AND c.expiresAtMs <= @now",
    parameters: P({ state: "pending", now: 40_000 }),
  },
  {
    sql: "SELECT * FROM c WHERE c.state = @state AND c.runDueAtMs <= @now",
    parameters: P({ state: "approved", now: 60_000 }),
  },
  {
    sql: "SELECT TOP @top * FROM c WHERE c.pk = 'posture' AND c.docType = 'posture-run' AND c.sk >= @from AND ARRAY_CONTAINS(c.policyNames, @policy) ORDER BY c.sk DESC",
    parameters: P({ top: 11, from: "2025-02-03", policy: "nsg" }),
  },
  {
    sql: "SELECT * FROM c WHERE c.pk = 'posture' AND c.docType = 'posture-part' AND c.runId IN (@r0, @r1)",
    parameters: P({ r0: "run-1", r1: "run-4" }),
  },
  { sql: 'SELECT VALUE COUNT(1) FROM c WHERE c.docType = "record"' },
  {
    sql: 'SELECT * FROM c WHERE c.docType = "record" AND STARTSWITH(c.rid, @p)',
    parameters: P({ p: "/subscriptions/s/resourcegroups/rg/providers/x/y/pk1" }),
  },
  { sql: "SELECT TOP 200 * FROM c WHERE c.docType = @t", parameters: P({ t: "head" }) },
  // A conditional patch (the action limit) and a plain read of a container.
  { sql: "SELECT * FROM c WHERE c.id = @id AND (c.count < 100000)", parameters: P({ id: aCounter.id }) },
  { sql: "SELECT * FROM c" },
  // A join (a shape the patch leaves as it is) still runs.
  { sql: 'SELECT c.id FROM c JOIN n IN c.policyNames WHERE n = "nsg"' },
];

type Page = { result: unknown[]; continuation: { token: string } | null };

/** Every page of `sql` over `docs`, run with `code` and the given `stripUndefined`. */
function allPages(
  code: string,
  strip: (v: unknown) => unknown,
  docs: Doc[],
  q: (typeof QUERIES)[number],
  maxItemCount: number,
) {
  const original = helpers.stripUndefined;
  helpers.stripUndefined = strip;
  try {
    const pages: Page[] = [];
    let continuation: Page["continuation"] = null;
    do {
      const page = executor(docs, { code, parameters: q.parameters, maxItemCount, continuation }) as Page;
      pages.push(page);
      continuation = page.continuation;
    } while (continuation && pages.length < 1000);
    return pages;
  } finally {
    helpers.stripUndefined = original;
  }
}

describe("the stand-in's query engine, linear (bench/lib/linear-queries.mjs)", () => {
  it.each(QUERIES.map((q) => [q.sql, q] as const))("same pages as the package's own code: %s", (_sql, q) => {
    const code = query(q.sql).code as string;
    for (const maxItemCount of [7, 1000]) {
      const before = allPages(code, helpers.stripUndefined, docs, q, maxItemCount);
      const after = allPages(linearQueryCode(code), linearStripUndefined, docs, q, maxItemCount);
      expect(after).toEqual(before);
      // Not vacuous: the shapes that read documents find some here.
      expect(before.flatMap((p) => p.result).length).toBeGreaterThan(0);
    }
  });

  it("removes the per-document copy from the code of a scan (and leaves nothing else changed)", () => {
    const code = query("SELECT * FROM c WHERE c.pk = @pk").code as string;
    expect(code).toContain("[...$, {");
    const linear = linearQueryCode(code);
    expect(linear).not.toContain("[...$,");
    expect(linear).toContain("$.push(");
    expect(linear.replace(/\(\$\.push\((\{[^{}[\]]*\})\), \$\)/g, "[...$, $1]")).toBe(code);
  });

  it("strips undefined like the package: from arrays (unlike JSON) and objects, nested", () => {
    const value = [1, undefined, { a: undefined, b: [undefined, { c: 2, d: undefined }] }, null, "x"];
    expect(linearStripUndefined(value)).toEqual(helpers.stripUndefined(value));
    expect(linearStripUndefined(value)).toEqual([1, { b: [{ c: 2 }] }, null, "x"]);
  });

  it("installed, queries compiled afterwards answer as before", () => {
    const q = QUERIES[0]!;
    const before = query(q.sql).exec(docs, { parameters: q.parameters, maxItemCount: 5 });
    installLinearQueries();
    const compiled = query(q.sql);
    expect(compiled.code).not.toContain("[...$,");
    expect(compiled.exec(docs, { parameters: q.parameters, maxItemCount: 5 })).toEqual(before);
    expect(helpers.stripUndefined).toBe(linearStripUndefined);
  });
});
