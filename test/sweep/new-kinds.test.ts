/**
 * The five kinds of this round in a sweep, with the real engine, pipeline and SDK clients against the
 * simulator (its Resource Graph, its request log): per kind, `--dry-run` lists exactly the drifted
 * resource, a sweep fixes it with one ARM write and one `sweep` record, a second sweep finds nothing
 * and writes nothing; a kind whose state is in Resource Graph's `resources` table reads nothing for a
 * compliant resource, one whose state is not reads only the rows a sweeping policy governs, exactly
 * as often as docs/performance.md says. Expiring exemptions, for two of the kinds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArmResource, LoggedRequest } from "../../dev/azure-sim/index.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { validatePolicyText } from "../../shared/policy/load.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import type { CandidateResult, SweepReport } from "../../shared/sweep/report.js";
import { runSweep } from "../../shared/sweep/run.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { APIS, EXEMPT, LOCAL_AUTH, LOGS, MODELS, TRANSPORT, WORKSPACE } from "./new-kinds-estate.js";

const GRAPH = "/providers/microsoft.resourcegraph/resources";
const NEW_KINDS = [
  "disable-local-auth",
  "require-secure-transport",
  "enable-diagnostic-logs",
  "protect-model-storage",
  "require-api-subscription",
];

interface Swept {
  report: SweepReport;
  candidates: CandidateResult[];
  /** ARM requests of the run other than Resource Graph queries. */
  requests: LoggedRequest[];
  writes: LoggedRequest[];
  /** Records the run added. */
  records: AuditRecord[];
}

async function sweep(h: Harness, opts: { dryRun?: boolean } = {}): Promise<Swept> {
  const before = (await h.records()).length;
  h.sim.clearRequests();
  const candidates: CandidateResult[] = [];
  const report = await runSweep(
    { pipeline: h.pipeline, graph: h.clients.resourceGraph(), maxChanges: 50, subscriptions: [] },
    { trigger: "cli", dryRun: opts.dryRun === true, onCandidate: (c) => candidates.push(c) },
  );
  return {
    report,
    candidates,
    requests: h.sim.requests().filter((r) => r.path.toLowerCase().replace(/\/+$/, "") !== GRAPH),
    writes: h.sim.writes(),
    records: (await h.records()).slice(before),
  };
}

const under = (reqs: LoggedRequest[], id: string) =>
  reqs.filter((r) => r.path.toLowerCase().startsWith(id.toLowerCase()));
const gets = (reqs: LoggedRequest[], path: string) =>
  reqs
    .filter((r) => r.method === "GET" && r.path.toLowerCase().replace(/\/+$/, "") === path.toLowerCase())
    .map((r) => r.path);

/**
 * The life of one drifted resource through three sweeps: dry-run lists only it (one `dry-run`
 * record, no write), the sweep fixes it with one write (`outcome` record), the next finds nothing.
 * `eachRun` checks each run's reads (the same compliant estate is read in all three).
 */
async function expectDriftFixed(
  h: Harness,
  drifted: string,
  opts: { writePath: string; outcome?: "remediated" | "pending-approval"; eachRun(s: Swept): void },
) {
  const outcome = opts.outcome ?? "remediated";
  const dry = await sweep(h, { dryRun: true });
  expect(dry.candidates.map((c) => [c.resourceId, c.outcome])).toEqual([[drifted, "dry-run"]]);
  expect(dry.report.policies.flatMap((p) => p.nonCompliantResourceIds)).toEqual([drifted]);
  expect(dry.writes).toEqual([]);
  expect(dry.records.map((r) => [r.resourceId, r.outcome, r.signal.source])).toEqual([
    [drifted, "dry-run", "sweep"],
  ]);
  opts.eachRun(dry);

  const fix = await sweep(h);
  expect(fix.candidates.map((c) => [c.resourceId, c.outcome])).toEqual([[drifted, outcome]]);
  expect(fix.report.policies[0]).toMatchObject({
    nonCompliant: 1,
    remediated: outcome === "remediated" ? 1 : 0,
    pendingApproval: outcome === "pending-approval" ? 1 : 0,
    failed: 0,
  });
  expect(fix.writes.map((w) => w.path.toLowerCase())).toEqual(
    outcome === "remediated" ? [opts.writePath.toLowerCase()] : [],
  );
  expect(fix.records.map((r) => [r.resourceId, r.outcome, r.signal.source, r.signal.id])).toEqual([
    [drifted, outcome, "sweep", fix.report.runId],
  ]);
  opts.eachRun(fix);
  if (outcome !== "remediated") return;

  const again = await sweep(h);
  expect(again.candidates).toEqual([]);
  expect(again.report.policies[0]).toMatchObject({ nonCompliant: 0, remediated: 0, failed: 0 });
  expect(again.report.policies[0]!.compliant).toBe(again.report.policies[0]!.scanned);
  expect(again.writes).toEqual([]);
  expect(again.records).toEqual([]);
  opts.eachRun(again);
}

describe("sweep: true", () => {
  it("is valid on each of the five kinds, which now sweep; still an error on alert-only kinds", () => {
    const registry = builtinRegistry();
    for (const kind of NEW_KINDS) {
      const example = registry.get(kind)!.example.replace(/\n {4}mode:/, "\n    sweep: true\n    mode:");
      expect(example).toContain("sweep: true");
      expect(validatePolicyText(example, registry).issues, kind).toEqual([]);
      expect(registry.get(kind)!.sweep, kind).toBeDefined();
    }
    const gpu = registry
      .get("scale-gpu-pool")!
      .example.replace(/\n {4}mode:/, "\n    sweep: true\n    mode:");
    expect(validatePolicyText(gpu, registry).issues.map((i) => i.path)).toEqual(["policies[0].sweep"]);
  });
});

describe("disable-local-auth (state in the row: reads none)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ seed: { resources: LOCAL_AUTH.seed() }, policies: LOCAL_AUTH.policies() });
  }, 60_000);
  afterAll(() => h?.close());

  it("fixes the account that accepts keys, never reading a compliant one", async () => {
    expect(h.pipeline.deps.registry.get("disable-local-auth")!.sweep!.reads).toBe("none");
    await expectDriftFixed(h, LOCAL_AUTH.drifted, {
      writePath: LOCAL_AUTH.drifted,
      eachRun: (s) => {
        for (const id of LOCAL_AUTH.compliant) expect(under(s.requests, id), id).toEqual([]);
        expect(s.report.policies[0]!.scanned).toBe(4);
      },
    });
    expect(h.sim.getResource(LOCAL_AUTH.drifted)?.properties?.allowSharedKeyAccess).toBe(false);
  }, 60_000);
});

describe("disable-local-auth as shipped (approval)", () => {
  it("asks for approval instead of writing", async () => {
    const h = await startHarness({
      seed: { resources: LOCAL_AUTH.seed() },
      policies: LOCAL_AUTH.policies("approval"),
    });
    try {
      await expectDriftFixed(h, LOCAL_AUTH.drifted, {
        writePath: LOCAL_AUTH.drifted,
        outcome: "pending-approval",
        eachRun: (s) => {
          for (const id of LOCAL_AUTH.compliant) expect(under(s.requests, id), id).toEqual([]);
        },
      });
      expect(await h.approvals.countPending()).toBe(1);
      expect(h.sim.getResource(LOCAL_AUTH.drifted)?.properties?.allowSharedKeyAccess).toBe(true);
    } finally {
      await h.close();
    }
  }, 60_000);
});

describe("require-secure-transport (sites: one config/web read each)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ seed: { resources: TRANSPORT.seed() }, policies: TRANSPORT.policies() });
  }, 60_000);
  afterAll(() => h?.close());

  it("raises the site's TLS floor; Storage and Cosmos DB rows cost nothing, an out-of-scope site is not read", async () => {
    let run = 0;
    await expectDriftFixed(h, TRANSPORT.drifted, {
      writePath: `${TRANSPORT.drifted}/config/web`,
      eachRun: (s) => {
        run++;
        for (const id of TRANSPORT.compliantRows) expect(under(s.requests, id), id).toEqual([]);
        expect(under(s.requests, TRANSPORT.outOfScope)).toEqual([]);
        // The compliant site: exactly its config/web, once per sweep.
        expect(under(s.requests, TRANSPORT.compliantSite).map((r) => `${r.method} ${r.path}`)).toEqual([
          `GET ${TRANSPORT.compliantSite}/config/web`,
        ]);
        // The drifted site: the sweep's read, then (when fixed) the pipeline's read, write, verify.
        expect(gets(s.requests, `${TRANSPORT.drifted}/config/web`).length).toBeGreaterThanOrEqual(1);
        expect(s.report.policies[0]!.scanned).toBe(4);
        if (run === 3) expect(gets(s.requests, `${TRANSPORT.drifted}/config/web`)).toHaveLength(1);
      },
    });
    expect(h.sim.getResource(`${TRANSPORT.drifted}/config/web`)?.properties?.minTlsVersion).toBe("1.2");
    expect(h.sim.getResource(`${TRANSPORT.outOfScope}/config/web`)?.properties?.minTlsVersion).toBe("1.0");
  }, 60_000);
});

describe("enable-diagnostic-logs (one diagnostic-settings list per row a sweeping policy governs)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ seed: { resources: LOGS.seed() }, policies: LOGS.policies() });
  }, 60_000);
  afterAll(() => h?.close());

  const list = (scope: string) => `${scope}/providers/Microsoft.Insights/diagnosticSettings`;

  it("creates the missing setting; each compliant row costs one list (Storage: on its blob service)", async () => {
    const [storage, foreign] = LOGS.compliant as [string, string];
    await expectDriftFixed(h, LOGS.drifted, {
      writePath: `${list(LOGS.drifted)}/driftguard`,
      eachRun: (s) => {
        expect(under(s.requests, storage).map((r) => `${r.method} ${r.path}`)).toEqual([
          `GET ${list(`${storage}/blobServices/default`)}`,
        ]);
        expect(under(s.requests, foreign).map((r) => `${r.method} ${r.path}`)).toEqual([
          `GET ${list(foreign)}`,
        ]);
        expect(under(s.requests, LOGS.outOfScope)).toEqual([]);
        expect(s.report.policies[0]!.scanned).toBe(3);
      },
    });
    const created = h.sim.getResource(`${list(LOGS.drifted)}/driftguard`);
    expect(created?.properties).toMatchObject({
      workspaceId: WORKSPACE,
      logs: [{ categoryGroup: "audit", enabled: true }],
    });
    // The foreign setting that already sent the logs was left alone.
    expect(h.sim.writes({ pathIncludes: LOGS.compliant[1] })).toEqual([]);
  }, 60_000);
});

describe("protect-model-storage (one blob-service read per governed, tagged account)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ seed: { resources: MODELS.seed() }, policies: MODELS.policies() });
  }, 60_000);
  afterAll(() => h?.close());

  it("protects the tagged account; untagged, FileStorage and out-of-scope accounts are not read", async () => {
    await expectDriftFixed(h, MODELS.drifted, {
      writePath: `${MODELS.drifted}/blobServices/default`,
      eachRun: (s) => {
        expect(under(s.requests, MODELS.compliant).map((r) => `${r.method} ${r.path}`)).toEqual([
          `GET ${MODELS.compliant}/blobServices/default`,
        ]);
        for (const id of [MODELS.untagged, MODELS.fileStorage, MODELS.outOfScope])
          expect(under(s.requests, id), id).toEqual([]);
        // Only tagged accounts with a blob service are model storage.
        expect(s.report.policies[0]!.scanned).toBe(2);
      },
    });
    expect(h.sim.getResource(`${MODELS.drifted}/blobServices/default`)?.properties).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 30 },
      containerDeleteRetentionPolicy: { enabled: true, days: 30 },
    });
    expect(
      h.sim.getResource(`${MODELS.untagged}/blobServices/default`)?.properties?.isVersioningEnabled,
    ).toBe(false);
  }, 60_000);
});

describe("require-api-subscription (one API list per APIM service in scope)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ seed: { resources: APIS.seed() }, policies: APIS.policies() });
  }, 60_000);
  afterAll(() => h?.close());

  it("closes the open API, keeps the allowed one open, and lists each in-scope service's APIs once", async () => {
    let run = 0;
    await expectDriftFixed(h, APIS.drifted, {
      writePath: APIS.drifted,
      eachRun: (s) => {
        run++;
        expect(gets(s.requests, `${APIS.service}/apis`)).toHaveLength(1);
        // Nothing drifts in the last run: the list is the service's only request.
        if (run === 3)
          expect(under(s.requests, APIS.service).map((r) => `${r.method} ${r.path}`)).toEqual([
            `GET ${APIS.service}/apis`,
          ]);
        for (const id of APIS.compliant)
          expect(
            s.requests.filter((r) => r.path.toLowerCase() === id.toLowerCase()),
            id,
          ).toEqual([]);
        expect(under(s.requests, APIS.outOfScope)).toEqual([]);
        expect(s.report.policies[0]!.scanned).toBe(3);
      },
    });
    expect(h.sim.getResource(APIS.drifted)?.properties?.subscriptionRequired).toBe(true);
    expect(h.sim.getResource(`${APIS.service}/apis/health`)?.properties?.subscriptionRequired).toBe(false);
    expect(h.sim.getResource(`${APIS.outOfScope}/apis/open`)?.properties?.subscriptionRequired).toBe(false);
  }, 60_000);

  it("as shipped (approval): one pending approval, no write", async () => {
    const h2 = await startHarness({ seed: { resources: APIS.seed() }, policies: APIS.policies("approval") });
    try {
      await expectDriftFixed(h2, APIS.drifted, {
        writePath: APIS.drifted,
        outcome: "pending-approval",
        eachRun: (s) => expect(gets(s.requests, `${APIS.service}/apis`)).toHaveLength(1),
      });
      expect(h2.sim.getResource(APIS.drifted)?.properties?.subscriptionRequired).toBe(false);
    } finally {
      await h2.close();
    }
  }, 60_000);
});

describe("driftguard:exclude-until with two of the new kinds", () => {
  it("a future end is counted excluded with no record; a past end is swept by both kinds", async () => {
    const seed: ArmResource[] = EXEMPT.seed();
    const h = await startHarness({ seed: { resources: seed }, policies: EXEMPT.policies() });
    try {
      const s = await sweep(h);
      const byPolicy = Object.fromEntries(s.report.policies.map((p) => [p.policy, p]));
      for (const name of ["no-local-auth", "audit-logs-on"])
        expect(byPolicy[name], name).toMatchObject({
          scanned: 2,
          excluded: 1,
          nonCompliant: 1,
          remediated: 1,
          failed: 0,
          nonCompliantResourceIds: [EXEMPT.past],
        });
      expect(s.candidates.map((c) => [c.kind, c.resourceId, c.outcome]).sort()).toEqual(
        [
          ["disable-local-auth", EXEMPT.past, "remediated"],
          ["enable-diagnostic-logs", EXEMPT.past, "remediated"],
        ].sort(),
      );
      // The report names each exemption and its end; the ended one is noted too.
      expect(s.report.exemptions.filter((e) => e.resourceId === EXEMPT.future)).toEqual([
        expect.objectContaining({
          status: "exempt",
          tag: "driftguard:exclude-until",
          until: "2999-12-31T23:59:59.999Z",
        }),
        expect.objectContaining({
          status: "exempt",
          tag: "driftguard:exclude-until",
          until: "2999-12-31T23:59:59.999Z",
        }),
      ]);
      expect(s.report.exemptions.filter((e) => e.resourceId === EXEMPT.past).map((e) => e.status)).toEqual([
        "ended",
        "ended",
      ]);
      expect(s.records.filter((r) => r.resourceId === EXEMPT.future)).toEqual([]);
      expect(s.records.map((r) => [r.kind, r.outcome, r.signal.source]).sort()).toEqual(
        [
          ["disable-local-auth", "remediated", "sweep"],
          ["enable-diagnostic-logs", "remediated", "sweep"],
        ].sort(),
      );
      expect(under(s.writes, EXEMPT.future)).toEqual([]);
      expect(
        under(s.writes, EXEMPT.past)
          .map((w) => `${w.method} ${w.path}`)
          .sort(),
      ).toEqual(
        [
          `PATCH ${EXEMPT.past}`,
          `PUT ${EXEMPT.past}/blobServices/default/providers/Microsoft.Insights/diagnosticSettings/driftguard`,
        ].sort(),
      );
      expect(h.sim.getResource(EXEMPT.future)?.properties?.allowSharedKeyAccess).toBe(true);
      expect(h.sim.getResource(EXEMPT.past)?.properties?.allowSharedKeyAccess).toBe(false);
    } finally {
      await h.close();
    }
  }, 60_000);
});
