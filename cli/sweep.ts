/**
 * `driftguard sweep [--dry-run] [--policy NAME]... [--subscription ID]... [--max-changes N] [--json]`
 * (docs/cli.md#driftguard-sweep): sweeps the estate once, now. On a terminal a progress bar (rows
 * scanned, candidates, changes) on stderr, then a table by policy; `--json` prints one JSON line per
 * candidate and the summary last. Exit 0: nothing failed; 1: something failed (or another sweep
 * holds the lease); 2: bad arguments.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import type { LeasedSweepResult } from "../shared/sweep/leased.js";
import {
  type CandidateResult,
  candidateLine,
  type ExemptionNote,
  type SweepReport,
  summaryLine,
  sweepFailed,
} from "../shared/sweep/report.js";

export interface SweepCliOptions {
  dryRun: boolean;
  policy: string[];
  subscription: string[];
  maxChanges?: number;
  json: boolean;
}

export interface SweepIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** A terminal on stderr: show the progress bar. */
  isTty: boolean;
}

export type SweepCliRun = (
  opts: SweepCliOptions,
  hooks: {
    onCandidate(c: CandidateResult): void;
    onProgress(p: { rows: number; total: number; candidates: number; changes: number }): void;
  },
) => Promise<LeasedSweepResult>;

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function collect<T>(parse: (v: string) => T) {
  return (value: string, previous: T[]) => [...previous, parse(value)];
}

function subscriptionId(v: string): string {
  if (!GUID.test(v.trim())) throw new InvalidArgumentError("a subscription ID is a GUID");
  return v.trim().toLowerCase();
}

function policyName(v: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(v))
    throw new InvalidArgumentError("a policy name is lower-case letters, digits and '-'");
  return v;
}

function maxChanges(v: string): number {
  if (!/^\d{1,6}$/.test(v.trim()) || Number(v) > 100_000)
    throw new InvalidArgumentError("an integer from 0 to 100000");
  return Number(v);
}

const COLUMNS: [string, keyof SweepReport["policies"][number]][] = [
  ["policy", "policy"],
  ["scanned", "scanned"],
  ["compliant", "compliant"],
  ["non-compliant", "nonCompliant"],
  ["fixed", "remediated"],
  ["pending approval", "pendingApproval"],
  ["excluded", "excluded"],
  ["over-limit", "overLimit"],
  ["failed", "failed"],
];

/** The final table by policy, plus exemptions that ended or did not parse, and errors. */
export function formatSweepTable(r: SweepReport): string {
  const rows = [COLUMNS.map(([h]) => h), ...r.policies.map((p) => COLUMNS.map(([, k]) => String(p[k])))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "),
  );
  const out = [
    `sweep ${r.runId} (${r.mode}${r.resumed ? ", resumed" : ""}): ${r.graph.rows} resources read in ${r.graph.queries} Resource Graph queries, ${r.subscriptions ? `${r.subscriptions.length} subscription(s)` : "every readable subscription"}`,
    ...lines,
  ];
  if (r.policies.length === 0) out.push("(no policy sweeps: check `sweep: false`, modes, and --policy)");
  // One line per resource and tag, naming the policies it applied to (the JSON keeps one note per policy).
  const byResource = new Map<string, { note: ExemptionNote; policies: string[] }>();
  for (const e of r.exemptions) {
    const key = `${e.status}|${e.resourceId.toLowerCase()}|${e.tag}|${e.value}`;
    const seen = byResource.get(key);
    if (seen) seen.policies.push(e.policy);
    else byResource.set(key, { note: e, policies: [e.policy] });
  }
  const groups = [...byResource.values()];
  const policiesOf = (g: { policies: string[] }) => ` — ${g.policies.join(", ")}`;
  for (const g of groups.filter((x) => x.note.status !== "exempt")) {
    const e = g.note;
    out.push(
      e.status === "ended"
        ? `exemption ended ${e.until}: ${e.resourceId} (${e.tag}=${e.value}) — swept normally${policiesOf(g)}`
        : `not an exemption: ${e.resourceId} (${e.tag}=${e.value}: ${e.problem})${policiesOf(g)}`,
    );
  }
  for (const g of groups.filter((x) => x.note.status === "exempt")) {
    const e = g.note;
    out.push(
      `exempt${e.until ? ` until ${e.until}` : ""}: ${e.resourceId} (${e.tag}=${e.value})${policiesOf(g)}`,
    );
  }
  if (r.exemptionsNotListed) out.push(`… and ${r.exemptionsNotListed} more exemption notes`);
  for (const e of r.errors) out.push(`error: ${e.resourceId}: ${e.message}`);
  const over = r.policies.reduce((n, p) => n + p.overLimit, 0);
  if (over > 0)
    out.push(`${over} candidate(s) over the limit of changes: left for the next sweep (--max-changes)`);
  return out.join("\n");
}

function humanCandidate(c: CandidateResult): string {
  const name = c.resourceId.split("/").slice(-2).join("/");
  return `  ${c.outcome.padEnd(17)} ${c.kind.padEnd(30)} ${name}   ${c.finding}`;
}

export function sweepCommand(run: SweepCliRun, io: SweepIo): Command {
  return new Command("sweep")
    .description(
      "sweep the estate now: find existing drift with Azure Resource Graph and fix it like events do",
    )
    .option("--dry-run", "record dry-run decisions, change nothing", false)
    .option("--policy <name>", "only this policy (repeatable)", collect(policyName), [] as string[])
    .option(
      "--subscription <id>",
      "only this subscription (repeatable)",
      collect(subscriptionId),
      [] as string[],
    )
    .addOption(
      new Option(
        "--max-changes <n>",
        "at most this many changes (default DRIFTGUARD_SWEEP_MAX_CHANGES, 50)",
      ).argParser(maxChanges),
    )
    .option("--json", "one JSON line per candidate, the summary last", false)
    .exitOverride((err) => {
      // Bad arguments exit 2 (help and version exit 0).
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (opts: SweepCliOptions) => {
      let bar: { update(v: number, p: object): void; setTotal(t: number): void; stop(): void } | undefined;
      if (io.isTty && !opts.json) {
        const { SingleBar, Presets } = await import("cli-progress");
        const b = new SingleBar(
          {
            format: "sweep {bar} {value}/{total} resources | {candidates} candidates | {changes} changes",
            stream: process.stderr,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        b.start(0, 0, { candidates: 0, changes: 0 });
        bar = b;
      }
      const held: CandidateResult[] = []; // printed after the progress bar
      let result: LeasedSweepResult;
      try {
        result = await run(opts, {
          onCandidate: (c) => {
            if (opts.json) io.stdout(`${JSON.stringify(candidateLine(c))}\n`);
            else if (bar) held.push(c);
            else io.stdout(`${humanCandidate(c)}\n`);
          },
          onProgress: (p) => {
            if (!bar) return;
            bar.setTotal(p.total);
            bar.update(p.rows, { candidates: p.candidates, changes: p.changes });
          },
        });
      } catch (err) {
        bar?.stop();
        const e = err as { name?: string; message?: string; path?: string };
        io.stderr(`driftguard sweep: ${e.message ?? String(err)}\n`);
        process.exitCode = e.name === "InputError" ? 2 : 1;
        return;
      }
      bar?.stop();
      for (const c of held) io.stdout(`${humanCandidate(c)}\n`);
      if (result.status === "busy") {
        io.stderr(
          `driftguard sweep: another sweep is running (${result.holder}, lease until ${result.until}); try again later\n`,
        );
        process.exitCode = 1;
        return;
      }
      io.stdout(
        opts.json
          ? `${JSON.stringify(summaryLine(result.report))}\n`
          : `${formatSweepTable(result.report)}\n`,
      );
      process.exitCode = sweepFailed(result.report) ? 1 : 0;
    });
}
