/**
 * One sweep of the estate (docs/sweep.md): one Resource Graph pass over the union of the sweeping
 * policies' types, page by page (`$skipToken`, 1,000 rows), each row evaluated locally against
 * every sweeping kind; the non-compliant subjects go through the normal pipeline (`dispatch.ts`),
 * at most `maxChanges` of them change anything, the rest are `over-limit`. After each page the
 * non-compliant IDs are written as posture parts and the cursor is saved (`checkpoint`), so a run
 * cut short continues from the next page with the same run ID (its earlier candidates are then
 * duplicates in their resources' gates).
 */
import { randomUUID } from "node:crypto";
import type { ResourceGraphClient } from "../azure/resource-graph.js";
import { RemediationError } from "../errors.js";
import { exemptionOf } from "../opt-out.js";
import type { Pipeline } from "../pipeline.js";
import { mostRestrictive, type Policy } from "../policy/schema.js";
import { POSTURE_PART_SIZE, type PolicyPosture, type SweepStore } from "../ports/sweep-store.js";
import type { SweepRow } from "../remediations/types.js";
import { MAX_ERRORS, MAX_EXEMPTION_NOTES, type SweepCursor, toRow } from "./cursor.js";
import { dispatchCandidate } from "./dispatch.js";
import { type CandidateResult, type ExemptionNote, emptyCounts, type SweepReport } from "./report.js";
import {
  buildQuery,
  buildTagsQuery,
  mayGovern,
  selectSweep,
  subscriptionBatches,
  sweepSubscriptions,
} from "./select.js";
import { type Found, findSubjects } from "./subjects.js";

export interface SweepDeps {
  pipeline: Pipeline;
  graph: ResourceGraphClient;
  /** Posture parts and the run summary; absent = report only (tests, CLI without a store). */
  store?: SweepStore;
  /** `DRIFTGUARD_SWEEP_MAX_CHANGES`. */
  maxChanges: number;
  /** `DRIFTGUARD_SWEEP_SUBSCRIPTIONS`. */
  subscriptions: readonly string[];
}

export interface SweepOptions {
  trigger: "timer" | "cli";
  dryRun?: boolean;
  policyNames?: readonly string[];
  subscriptions?: readonly string[];
  /** Overrides `DRIFTGUARD_SWEEP_MAX_CHANGES` (CLI `--max-changes`). */
  maxChanges?: number;
  actor?: string;
  /** Rows per Resource Graph page (at most 1,000; tests use fewer). */
  pageSize?: number;
  /** A cursor saved by a run cut short: continue it. */
  resume?: SweepCursor;
  /** Saves the cursor after each page (the timer keeps it with the lease). */
  checkpoint?(cursor: SweepCursor): Promise<void>;
  /** After each candidate and page: rows read, rows Resource Graph announced so far, candidates, changes. */
  onProgress?(p: { rows: number; total: number; candidates: number; changes: number }): void;
  onCandidate?(c: CandidateResult): void;
}

export async function runSweep(deps: SweepDeps, opts: SweepOptions): Promise<SweepReport> {
  const { pipeline } = deps;
  const { policies, registry, clock, clients, log } = pipeline.deps;
  const resume = opts.resume;
  const selection = selectSweep(policies, registry, resume?.policyNames ?? opts.policyNames ?? []);
  const subscriptions =
    resume?.subscriptions !== undefined
      ? resume.subscriptions
      : sweepSubscriptions(selection, deps.subscriptions, opts.subscriptions ?? []);
  const cursor: SweepCursor = resume
    ? structuredClone(resume)
    : {
        v: 1,
        runId: randomUUID(),
        startedAt: clock.now().toISOString(),
        trigger: opts.trigger,
        dryRun: opts.dryRun === true,
        policyNames: [...(opts.policyNames ?? [])],
        subscriptions,
        maxChanges: opts.maxChanges ?? deps.maxChanges,
        batch: 0,
        partSeq: 0,
        changes: 0,
        counts: selection.policies.map((p) => emptyCounts(p.name, p.kind)),
        exemptions: [],
        exemptionsNotListed: 0,
        errors: [],
        graph: { queries: 0, pages: 0, rows: 0, throttled: 0, waitedMs: 0 },
      };
  const run = {
    runId: cursor.runId,
    startedAt: cursor.startedAt,
    dryRun: cursor.dryRun,
    actor: opts.actor ?? (cursor.trigger === "cli" ? "cli:sweep" : "driftguard"),
  };
  const counts = new Map(cursor.counts.map((c) => [c.policy, c]));
  const countsOf = (p: Policy) => {
    const c = counts.get(p.name) ?? emptyCounts(p.name, p.kind);
    counts.set(p.name, c);
    return c;
  };
  const nonCompliant = new Map<string, string[]>(); // this page's, by policy
  const allNonCompliant = new Map<string, string[]>(); // this process's share of the run, for the report
  const parentTags = new Map<string, Record<string, string>>();
  let graphSeen = { ...deps.graph.stats };
  /** Adds the Resource Graph client's requests since the last call to the run's totals. */
  const syncGraph = () => {
    const now = { ...deps.graph.stats };
    cursor.graph.queries += now.requests - graphSeen.requests;
    cursor.graph.throttled += now.throttled - graphSeen.throttled;
    cursor.graph.waitedMs += now.waitedMs - graphSeen.waitedMs;
    graphSeen = now;
  };
  let rowsSeen = cursor.graph.rows;
  let candidatesSeen = 0;
  let totalRows = rowsSeen;

  const note = (n: ExemptionNote) => {
    if (cursor.exemptions.length < MAX_EXEMPTION_NOTES) cursor.exemptions.push(n);
    else cursor.exemptionsNotListed++;
  };
  const fail = (resourceId: string, message: string) => {
    if (cursor.errors.length < MAX_ERRORS) cursor.errors.push({ resourceId, message: message.slice(0, 500) });
  };
  const progress = () =>
    opts.onProgress?.({
      rows: rowsSeen,
      total: Math.max(totalRows, rowsSeen),
      candidates: candidatesSeen,
      changes: cursor.changes,
    });

  /** Rows → subjects with their policy (per kind); remembers rows' tags for inheriting subjects. */
  function subjectsOf(rows: SweepRow[]): Promise<Found[]> {
    for (const row of rows) parentTags.set(row.id.toLowerCase(), row.tags);
    return findSubjects(rows, selection.kinds, { clients, now: clock.now(), log }, (kind, row, err) => {
      const e = err instanceof RemediationError ? `${err.code}: ${err.message}` : String(err);
      fail(row.id, `${kind.remediation.kind}: ${e}`);
      const first = kind.sweeping.find((p) => mayGovern({ ...kind, sweeping: [p] }, row.id));
      if (first) countsOf(first).failed++;
    });
  }

  /** Looks up in Resource Graph the tags of parents not seen yet (one query per page at most). */
  async function resolveParents(found: Found[], batch: string[] | undefined): Promise<void> {
    const missing = [
      ...new Set(
        found
          .map((f) => f.subject.inheritTagsFrom)
          .filter((id): id is string => !!id && !parentTags.has(id.toLowerCase())),
      ),
    ];
    for (let i = 0; i < missing.length; i += 100) {
      const ids = missing.slice(i, i + 100);
      const page = await deps.graph.queryPage({
        query: buildTagsQuery(ids),
        subscriptions: batch,
        top: 1000,
      });
      cursor.graph.pages++;
      for (const id of ids) parentTags.set(id.toLowerCase(), {});
      for (const raw of page.rows) {
        const row = toRow({ name: "", type: "", ...raw });
        if (row) parentTags.set(row.id.toLowerCase(), row.tags);
      }
    }
  }

  /** Counts a subject; a candidate to run comes back as a function (the only async part). */
  function decide(f: Found): (() => Promise<void>) | undefined {
    const { subject, policy, kind } = f;
    const c = countsOf(policy);
    c.scanned++;
    const inherited = subject.inheritTagsFrom
      ? parentTags.get(subject.inheritTagsFrom.toLowerCase())
      : undefined;
    const tags = inherited ? { ...inherited, ...subject.tags } : subject.tags;
    const now = clock.now();
    const exemption = exemptionOf(tags, now);
    if (exemption.exempt) {
      c.excluded++;
      note({
        resourceId: subject.resourceId,
        policy: policy.name,
        status: "exempt",
        tag: exemption.tag,
        value: exemption.value,
        ...(exemption.until ? { until: exemption.until } : {}),
      });
      return undefined;
    }
    if (exemption.ended)
      note({ resourceId: subject.resourceId, policy: policy.name, status: "ended", ...exemption.ended });
    if (exemption.invalid)
      note({ resourceId: subject.resourceId, policy: policy.name, status: "invalid", ...exemption.invalid });
    const finding = kind.sweep.finding(subject, policy.params, now);
    if (finding === undefined) {
      c.compliant++;
      return undefined;
    }
    c.nonCompliant++;
    candidatesSeen++;
    const ids = nonCompliant.get(policy.name) ?? [];
    nonCompliant.set(policy.name, ids);
    ids.push(subject.resourceId);
    const base = {
      resourceId: subject.resourceId,
      resourceType: subject.resourceType,
      policy: policy.name,
      kind: policy.kind,
      finding,
    };
    const mode = mostRestrictive(
      pipeline.deps.globalMode,
      policy.mode,
      cursor.dryRun ? "dry-run" : "enforce",
    );
    const mayWrite = mode === "enforce" || mode === "approval";
    if (mayWrite && cursor.changes >= cursor.maxChanges) {
      c.overLimit++;
      opts.onCandidate?.({
        ...base,
        outcome: "over-limit",
        reason: `past this sweep's limit of ${cursor.maxChanges} changes; left for the next run`,
      });
      return undefined;
    }
    return () => dispatched(c, ids, base, f);
  }

  async function dispatched(
    c: PolicyPosture,
    ids: string[],
    base: Omit<CandidateResult, "outcome">,
    { subject, policy }: Found,
  ): Promise<void> {
    const d = await dispatchCandidate(pipeline, run, subject, policy);
    if (d.isChange) cursor.changes++;
    switch (d.outcome) {
      case "remediated":
      case "reverted":
        c.remediated++;
        break;
      case "pending-approval":
        c.pendingApproval++;
        break;
      case "failed":
      case "deferred":
        c.failed++;
        break;
      case "compliant":
      case "excluded":
        // The snapshot was older than the resource: it is what the read says now.
        c.nonCompliant--;
        if (d.outcome === "compliant") c.compliant++;
        else c.excluded++;
        ids.pop();
        break;
    }
    opts.onCandidate?.({ ...base, ...d });
  }

  async function flushParts(): Promise<void> {
    for (const [policy, ids] of nonCompliant) {
      const all = allNonCompliant.get(policy) ?? [];
      allNonCompliant.set(policy, all);
      all.push(...ids);
      for (let i = 0; i < ids.length; i += POSTURE_PART_SIZE) {
        await deps.store?.savePart({
          runId: cursor.runId,
          seq: cursor.partSeq++,
          policy,
          resourceIds: ids.slice(i, i + POSTURE_PART_SIZE),
        });
      }
    }
    nonCompliant.clear();
  }

  const query = buildQuery(selection.rowTypes);
  const batches = selection.rowTypes.length === 0 ? [] : subscriptionBatches(subscriptions);
  progress();
  // Saved before the first page too, so that even a run cut short on its first page keeps its ID.
  if (!resume && batches.length > 0) await opts.checkpoint?.(structuredClone(cursor));
  for (; cursor.batch < batches.length; cursor.batch++, cursor.skipToken = undefined) {
    const batch = batches[cursor.batch];
    const fetchPage = (skipToken: string | undefined) => {
      const p = deps.graph.queryPage({
        query,
        subscriptions: batch,
        top: opts.pageSize ?? 1000,
        ...(skipToken ? { skipToken } : {}),
      });
      p.catch(() => undefined); // awaited below; a prefetch that fails is reported there
      return p;
    };
    let next = fetchPage(cursor.skipToken);
    do {
      const page = await next;
      // The next page is fetched while this one is evaluated.
      if (page.skipToken) next = fetchPage(page.skipToken);
      cursor.graph.pages++;
      if (!cursor.skipToken && page.totalRecords !== undefined) totalRows += page.totalRecords;
      const rows = page.rows.map(toRow);
      for (const [i, r] of rows.entries())
        if (!r)
          fail(String(page.rows[i]?.id ?? "(row without id)"), "Resource Graph row without id, name or type");
      const valid = rows.filter((r): r is SweepRow => r !== undefined);
      rowsSeen += page.rows.length;
      cursor.graph.rows = rowsSeen;
      const found = await subjectsOf(valid);
      await resolveParents(found, batch);
      for (const f of found) {
        const candidate = decide(f);
        if (candidate) {
          await candidate();
          progress();
        }
      }
      await flushParts();
      cursor.skipToken = page.skipToken;
      if (page.skipToken || cursor.batch + 1 < batches.length) {
        cursor.counts = [...counts.values()];
        syncGraph();
        const next = page.skipToken ? cursor : { ...cursor, batch: cursor.batch + 1, skipToken: undefined };
        await opts.checkpoint?.(structuredClone(next));
      }
      progress();
    } while (cursor.skipToken);
  }

  syncGraph();
  const report: SweepReport = {
    runId: cursor.runId,
    startedAt: cursor.startedAt,
    endedAt: clock.now().toISOString(),
    trigger: cursor.trigger,
    mode: cursor.dryRun ? "dry-run" : "policy",
    subscriptions,
    resumed: resume !== undefined,
    policies: selection.policies.map((p) => ({
      ...countsOf(p),
      nonCompliantResourceIds: allNonCompliant.get(p.name) ?? [],
    })),
    exemptions: cursor.exemptions,
    exemptionsNotListed: cursor.exemptionsNotListed,
    errors: cursor.errors,
    graph: cursor.graph,
    changes: cursor.changes,
  };
  await deps.store?.saveRun(report);
  log.info(
    {
      runId: report.runId,
      rows: report.graph.rows,
      queries: report.graph.queries,
      changes: report.changes,
      policies: report.policies.map(({ nonCompliantResourceIds: _, ...p }) => p),
    },
    "sweep finished",
  );
  return report;
}
