/**
 * `npm run figures`: reruns the reliability scenarios and the bench, writes what they measured to
 * docs/figures/reliability.json and docs/figures/bench.json (commit, date, machine, each figure),
 * and regenerates the tables of docs/reliability.md and docs/performance.md from those files
 * (`npm run docs` does the same from the files as they are). A failed scenario or a bench that
 * stops early is written as such — "failed", "not measured" — and the command exits 1; the docs
 * then still match their files.
 *
 * Flags: `--reliability-only`, `--bench-only` (the other file is kept as it is);
 * `--bench-time-limit <minutes>` (default 30): the bench stops there, whatever it reached is written
 * and the rest is "not measured" — a machine too loaded to finish never keeps the command for hours.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BenchFigures,
  type BenchMetric,
  RELIABILITY_SCENARIOS,
  type ReliabilityFigures,
  type RunMeta,
} from "./figures-doc.js";
import { writeGeneratedDocs } from "./generated-docs.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FIGURES_DIR = path.join(ROOT, "docs", "figures");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const SCENARIO_DIR = path.join(ARTIFACTS, "reliability");

function commit(): string {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
  try {
    const sha = git("rev-parse", "--short=12", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs")
      ? `${sha}+uncommitted`
      : sha;
  } catch {
    return "unknown";
  }
}

function meta(startedMs: number, measuredCommit: string): RunMeta {
  return {
    commit: measuredCommit,
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
      node: process.versions.node,
    },
    durationS: Math.round((Date.now() - startedMs) / 100) / 10,
  };
}

const say = (line: string) => process.stderr.write(`figures: ${line}\n`);

interface VitestReport {
  testResults?: { name: string; assertionResults?: { title: string; fullName?: string; status: string }[] }[];
}

/** Runs every scenario's test file once; returns the figures each saved and its test's result. */
function runReliability(measuredCommit: string): { figures: ReliabilityFigures; ok: boolean } {
  const started = Date.now();
  rmSync(SCENARIO_DIR, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const report = path.join(ARTIFACTS, "figures-vitest.json");
  rmSync(report, { force: true });
  const files = [...new Set(RELIABILITY_SCENARIOS.map((s) => s.file))];
  say(`reliability scenarios: ${files.join(" ")}`);
  const run = spawnSync(
    process.execPath,
    [
      path.join(ROOT, "node_modules/vitest/vitest.mjs"),
      "run",
      ...files,
      "--reporter=dot",
      "--reporter=json",
      `--outputFile.json=${report}`,
    ],
    { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] },
  );
  const results = existsSync(report) ? (JSON.parse(readFileSync(report, "utf8")) as VitestReport) : {};
  const saved = existsSync(SCENARIO_DIR)
    ? new Map(
        readdirSync(SCENARIO_DIR)
          .filter((f) => f.endsWith(".json"))
          .map((f) => {
            const { at: _at, ...figures } = JSON.parse(readFileSync(path.join(SCENARIO_DIR, f), "utf8"));
            return [f.replace(/\.json$/, ""), figures as Record<string, unknown>] as const;
          }),
      )
    : new Map<string, Record<string, unknown>>();
  const scenarios: ReliabilityFigures["scenarios"] = {};
  for (const s of RELIABILITY_SCENARIOS) {
    const file = results.testResults?.find((t) => t.name.endsWith(s.file));
    const test = file?.assertionResults?.find((a) => (a.fullName ?? a.title).includes(s.test));
    const result = test?.status === "passed" ? "passed" : test?.status === "failed" ? "failed" : "not run";
    scenarios[s.name] = { result, ...(saved.has(s.name) ? { figures: saved.get(s.name) } : {}) };
  }
  const ok = run.status === 0 && Object.values(scenarios).every((s) => s.result === "passed" && s.figures);
  return { figures: { ...meta(started, measuredCommit), scenarios }, ok };
}

interface BenchResults {
  stopped?: string;
  load_average_at_start?: number[];
  load_average_at_end?: number[];
  metrics?: BenchMetric[];
  notes?: Record<string, unknown>;
}

/** Runs the bench (`npm run bench`) and keeps its metrics and the notes the docs quote. */
function runBench(measuredCommit: string): { figures: BenchFigures; ok: boolean } {
  const started = Date.now();
  const resultsFile = path.join(ROOT, "bench", "results.json");
  rmSync(resultsFile, { force: true });
  say("bench (npm run bench)");
  const limitArg = process.argv.indexOf("--bench-time-limit");
  const limit = limitArg > 0 ? process.argv[limitArg + 1]! : "30";
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "bench/run.ts"), "--time-limit", limit],
    {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const results = existsSync(resultsFile)
    ? (JSON.parse(readFileSync(resultsFile, "utf8")) as BenchResults)
    : ({} as BenchResults);
  const notes = results.notes ?? {};
  type Profile = { totalMs: number; functions: { function: string; where: string; selfPct: number }[] };
  const profiles: Record<string, Profile> = {};
  const addProfile = (name: string, p: unknown) => {
    const one = (Array.isArray(p) ? p[0] : p) as Profile | undefined;
    if (one?.functions)
      profiles[name] = {
        totalMs: one.totalMs,
        functions: one.functions
          .slice(0, 8)
          .map((f) => ({ function: f.function, where: f.where, selfPct: f.selfPct })),
      };
  };
  addProfile("Cold start", notes.cold_start_profile);
  addProfile("Pipeline, in one process", notes.pipeline_profile);
  addProfile("First decision", notes.first_decision_profile);
  addProfile("One host under 64 concurrent remediations", notes.host_profile);
  const metrics = (results.metrics ?? []).map((m) => ({
    ...m,
    value: Number.isFinite(m.value) ? m.value : null,
  }));
  const error =
    run.status === 0
      ? undefined
      : (results.stopped ?? `npm run bench exited with ${run.status ?? run.signal} (its output says why)`);
  return {
    figures: {
      ...meta(started, measuredCommit),
      loadAverage: { start: results.load_average_at_start ?? [], end: results.load_average_at_end ?? [] },
      ...(error ? { error } : {}),
      metrics,
      notes: {
        ...(notes.document_sizes
          ? { documentSizes: notes.document_sizes as { recordBytes: number; headBytes: number } }
          : {}),
        ...(Object.keys(profiles).length ? { profiles } : {}),
      },
    },
    ok: run.status === 0,
  };
}

function write(name: string, data: unknown): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const file = path.join(FIGURES_DIR, name);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(data, null, 2)}\n`);
  // Written whole or not at all: a stopped run never leaves half a file for the docs test.
  rmSync(file, { force: true });
  writeFileSync(file, readFileSync(`${file}.tmp`));
  rmSync(`${file}.tmp`);
  say(`wrote docs/figures/${name}`);
}

const started = Date.now();
const measuredCommit = commit();
const only = (flag: string) => process.argv.includes(flag);
let ok = true;
if (!only("--bench-only")) {
  const r = runReliability(measuredCommit);
  write("reliability.json", r.figures);
  ok &&= r.ok;
}
if (!only("--reliability-only")) {
  const b = runBench(measuredCommit);
  write("bench.json", b.figures);
  ok &&= b.ok;
}
writeGeneratedDocs();
say(
  `done in ${Math.round((Date.now() - started) / 1000)} s${ok ? "" : " — some scenarios failed or the bench stopped early (see above)"}`,
);
process.exitCode = ok ? 0 : 1;
