/**
 * The docs stay true to the code: docs/policies.md holds exactly what `npm run docs` generates from
 * the kinds, the figure tables of docs/reliability.md and docs/performance.md exactly what it
 * generates from docs/figures/*.json (and the prose around them repeats no figure), every link between the repository's pages (and every `docs/<page>.md#<anchor>` a
 * comment points at) lands on a heading that exists, and nothing cites a document that is not in
 * the repository.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type BenchFigures,
  fmt,
  proseOf,
  RELIABILITY_SCENARIOS,
  type ReliabilityFigures,
  renderPerformanceDoc,
  renderReliabilityDoc,
} from "../scripts/figures-doc.js";
import { renderPoliciesDoc } from "../scripts/kinds-doc.js";
import { BUILTIN_KINDS, builtinRegistry, createRegistry } from "../shared/remediations/index.js";
import type { AnyRemediation } from "../shared/remediations/types.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const POLICIES_DOC = readFileSync(join(ROOT, "docs/policies.md"), "utf8");
const SKIPPED_DIRS = new Set(["node_modules", ".git", "dist", "test-artifacts", ".driftguard"]);
const TEXT_FILE = /\.(?:ts|mts|mjs|js|md|ya?ml|bicep|html|css|json)$/;
const THIS_FILE = "test/docs.test.ts";

function repoFiles(dir = ROOT): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIPPED_DIRS.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return repoFiles(path);
    return TEXT_FILE.test(name) ? [relative(ROOT, path).split(sep).join("/")] : [];
  });
}

const files = repoFiles();
const markdownFiles = files.filter((f) => f.endsWith(".md"));

/** GitHub's anchor for a heading: lower-cased, punctuation dropped, spaces → `-`, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(?:```|~~~)/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    let slug = base;
    for (let n = 1; anchors.has(slug); n++) slug = `${base}-${n}`;
    anchors.add(slug);
  }
  return anchors;
}

/** Why `target` (a path, optionally `#anchor`, relative to `from`'s folder) does not resolve, if it does not. */
function brokenTarget(from: string, target: string): string | undefined {
  const [path = "", anchor] = target.split("#");
  const file = path === "" ? join(ROOT, from) : resolve(ROOT, dirname(from), decodeURI(path));
  if (!existsSync(file)) return `'${target}': no such file`;
  if (anchor === undefined || anchor === "") return undefined;
  if (!file.endsWith(".md")) return `'${target}': an anchor in a file that is not Markdown`;
  return anchorsOf(readFileSync(file, "utf8")).has(anchor) ? undefined : `'${target}': no such heading`;
}

/** The kinds, with `change` applied to the one named `kind`. */
function registryWith(kind: string, change: (k: AnyRemediation) => AnyRemediation) {
  return createRegistry(BUILTIN_KINDS.map((k) => (k.kind === kind ? change(k) : k)));
}

describe("docs/policies.md", () => {
  it("holds what `npm run docs` writes from the kinds' schemas, descriptions and examples", () => {
    // Out of date? Run `npm run docs` and commit docs/policies.md.
    expect(renderPoliciesDoc(POLICIES_DOC, builtinRegistry())).toBe(POLICIES_DOC);
  });

  it("shows each param's type, default, bounds and description, and each example", () => {
    for (const kind of BUILTIN_KINDS) expect(POLICIES_DOC).toContain(kind.example.trimEnd());
    expect(POLICIES_DOC).toContain(
      "| `maxNodes` | integer | required | 0–5000 | Upper node limit a GPU pool is capped to (only ever lowered) |",
    );
    expect(POLICIES_DOC).toContain("| `validityDays` | integer | `90` | 1–3650 |");
  });

  it("changes when a kind's params change", () => {
    const widened = registryWith("rotate-secret", (k) => ({
      ...k,
      paramsSchema: z.strictObject({
        validityDays: z.number().int().min(1).max(30).default(7).describe("Days the new version lives"),
        dryRunFirst: z.boolean().default(false).describe("Plan once before acting"),
      }),
    }));
    const rendered = renderPoliciesDoc(POLICIES_DOC, widened);
    expect(rendered).not.toBe(POLICIES_DOC);
    expect(rendered).toContain("| `validityDays` | integer | `7` | 1–30 | Days the new version lives |");
    expect(rendered).toContain("| `dryRunFirst` | boolean | `false` | — | Plan once before acting |");
    expect(rendered).not.toContain("| `minAgeMinutes` |");
    // Rendering is stable: the page it writes is up to date with the same kinds.
    expect(renderPoliciesDoc(rendered, widened)).toBe(rendered);
  });

  it("refuses a param without a description, naming it", () => {
    const undescribed = registryWith("scale-gpu-pool", (k) => ({
      ...k,
      paramsSchema: z.strictObject({ maxNodes: z.number().int() }),
    }));
    expect(() => renderPoliciesDoc(POLICIES_DOC, undescribed)).toThrow(
      "kind 'scale-gpu-pool': param 'maxNodes' has no description",
    );
  });

  it("refuses a kind without a section, and a section of a kind that no longer exists", () => {
    const renamed = registryWith("rotate-secret", (k) => ({ ...k, kind: "rotate-credential" }));
    expect(() => renderPoliciesDoc(POLICIES_DOC, renamed)).toThrow(
      "docs/policies.md has no section for kind 'rotate-credential'",
    );
    const withSection = POLICIES_DOC.replace(
      "### rotate-secret\n",
      "### rotate-credential\n\n<!-- kind:rotate-credential:start -->\n<!-- kind:rotate-credential:end -->\n\n### rotate-secret\n",
    );
    expect(() => renderPoliciesDoc(withSection, builtinRegistry())).toThrow(
      "docs/policies.md documents kind 'rotate-credential', which is not in the registry",
    );
  });
});

const RELIABILITY_DOC = readFileSync(join(ROOT, "docs/reliability.md"), "utf8");
const PERFORMANCE_DOC = readFileSync(join(ROOT, "docs/performance.md"), "utf8");
const readFigures = <T>(name: string): T =>
  JSON.parse(readFileSync(join(ROOT, "docs/figures", name), "utf8")) as T;

/** The measured numbers of a figures file as the tables print them (not counts a test chose). */
function measuredNumbers(value: unknown, key = ""): string[] {
  if (typeof value === "number") {
    const printed = fmt(value);
    // Round inputs (60 causes, 3,000 deliveries) are the scenario's parameters, not its measurements.
    const measured = !Number.isInteger(value) || (Math.abs(value) >= 100 && value % 10 !== 0);
    return measured && !/^(?:durationS|commit|cpus)$/.test(key) ? [printed] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v) => measuredNumbers(v, key));
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => (k === "loadAverage" ? [] : measuredNumbers(v, k)));
  return [];
}

/** Figures printed in `prose` as a number of their own (not part of a longer number). */
function quoted(prose: string, numbers: string[]): string[] {
  const escaped = (n: string) => n.replace(/[.,]/g, (c) => `\\${c}`);
  return [...new Set(numbers)].filter((n) =>
    new RegExp(`(?<![\\d.,])${escaped(n)}(?![\\d]|[.,]\\d)`).test(prose),
  );
}

describe("the figure tables", () => {
  const reliability = readFigures<ReliabilityFigures>("reliability.json");
  const bench = readFigures<BenchFigures>("bench.json");

  it("hold what `npm run docs` generates from docs/figures/*.json", () => {
    // Out of date? Run `npm run docs` (from the files as they are) or `npm run figures` (a new run).
    expect(renderReliabilityDoc(RELIABILITY_DOC, reliability)).toBe(RELIABILITY_DOC);
    expect(renderPerformanceDoc(PERFORMANCE_DOC, bench)).toBe(PERFORMANCE_DOC);
  });

  it("come from a run: commit, date, machine and every scenario and metric", () => {
    for (const run of [reliability, bench]) {
      expect(run.commit).toMatch(/^[0-9a-f]{12}/);
      expect(Number.isNaN(Date.parse(run.date))).toBe(false);
      expect(run.machine.cpus).toBeGreaterThan(0);
      expect(run.machine.cpuModel.length).toBeGreaterThan(0);
      expect(run.machine.node).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect(Object.keys(reliability.scenarios).sort()).toEqual(
      RELIABILITY_SCENARIOS.map((s) => s.name).sort(),
    );
    expect(bench.metrics.length).toBeGreaterThan(10);
  });

  it("change with their file: a changed figure, a missed target, a failed scenario show in the table", () => {
    const e2e = bench.metrics.find((m) => m.metric === "e2e_p99_ms")!;
    const slower = {
      ...bench,
      metrics: bench.metrics.map((m) => (m === e2e ? { ...m, value: 987.6, met: false } : m)),
    };
    const rendered = renderPerformanceDoc(PERFORMANCE_DOC, slower);
    expect(rendered).toMatch(/\| `e2e_p99_ms` \| [^|]+ \| \*\*988\*\* ms \| \*\*no\*\* \|/);
    const failed = {
      ...reliability,
      scenarios: {
        ...reliability.scenarios,
        "open-breaker": { ...reliability.scenarios["open-breaker"]!, result: "failed" as const },
      },
    };
    expect(renderReliabilityDoc(RELIABILITY_DOC, failed)).toMatch(/\| Open breaker \|.*\| \*\*failed\*\* \|/);
    // A metric the run did not reach is "not measured", never left out.
    const stopped = {
      ...bench,
      error: "stopped",
      metrics: bench.metrics.filter((m) => m.metric !== "audit_query_p95_ms"),
    };
    expect(renderPerformanceDoc(PERFORMANCE_DOC, stopped)).toMatch(
      /\| `audit_query_p95_ms` \| — \| not measured \| \*\*no\*\* \|/,
    );
  });

  it("a missed target says no, and the scale-out is reported as measured with its cores, never explained", () => {
    for (const m of bench.metrics.filter((x) => x.met === false))
      expect(PERFORMANCE_DOC, m.metric).toMatch(
        new RegExp(`\\| \`${m.metric}\` \\|[^\\n]*\\| \\*\\*no\\*\\* \\|`),
      );
    const scale = bench.metrics.find((m) => m.metric === "scaleout_speedup_3_hosts");
    if (scale) {
      expect(scale.target).toBe(">= 1.8");
      expect(scale.met).toBe(scale.value !== null && scale.value >= 1.8);
      expect(scale).not.toHaveProperty("bounds");
      expect(PERFORMANCE_DOC).toContain(`measured on ${scale.machine_cores} cores`);
    }
    expect(`${PERFORMANCE_DOC}\n${RELIABILITY_DOC}`).not.toMatch(/\bexplained\b/i);
  });

  it("the prose around them repeats no measured figure", () => {
    // Guards the check: the tables themselves do print the figures.
    const reliabilityNumbers = measuredNumbers(reliability.scenarios);
    const benchNumbers = measuredNumbers(bench.metrics);
    expect(
      quoted(RELIABILITY_DOC, reliabilityNumbers).length + quoted(PERFORMANCE_DOC, benchNumbers).length,
    ).toBeGreaterThan(0);
    expect(quoted(proseOf(RELIABILITY_DOC), reliabilityNumbers)).toEqual([]);
    expect(quoted(proseOf(PERFORMANCE_DOC), benchNumbers)).toEqual([]);
  });
});

describe("links between the repository's documents", () => {
  it("finds the Markdown pages and their headings", () => {
    // Guards the scan: a broken walk or slug rule would make the checks below pass vacuously.
    expect(markdownFiles).toEqual(expect.arrayContaining(["README.md", "docs/policies.md", "docs/cli.md"]));
    const cli = anchorsOf(readFileSync(join(ROOT, "docs/cli.md"), "utf8"));
    expect([...cli]).toEqual(
      expect.arrayContaining(["the-driftguard-cli", "which-environment-the-cli-talks-to", "npm-start"]),
    );
    expect(anchorsOf("# A\n```\n# not a heading\n```\n## `npm start` flags\n## A")).toEqual(
      new Set(["a", "npm-start-flags", "a-1"]),
    );
    expect(brokenTarget("README.md", "docs/cli.md#no-such-heading")).toMatch(/no such heading/);
  });

  it("every relative Markdown link lands on a file and heading that exist", () => {
    const broken: string[] = [];
    for (const file of markdownFiles) {
      const text = readFileSync(join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const why = brokenTarget(file, target);
        if (why) broken.push(`${file}: ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("every docs/<page>.md#<anchor> a file names exists", () => {
    const broken: string[] = [];
    let seen = 0;
    for (const file of files.filter((f) => f !== THIS_FILE)) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const m of text.matchAll(/(?<![\w-]\/)(?<![\w-])docs\/[A-Za-z0-9_-]+\.md(?:#[A-Za-z0-9_-]+)?/g)) {
        seen++;
        const why = brokenTarget("README.md", m[0]); // docs/ is at the root
        if (why) broken.push(`${file}: ${why}`);
      }
    }
    expect(seen).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });

  it("nothing cites a document that is not in the repository", () => {
    const outside = /CONTRACT(?:\.md| §)|AZURE-FACTS|real-payloads|\.\.\/shared\/[A-Z]/;
    const citing = files
      .filter((f) => f !== THIS_FILE)
      .flatMap((f) =>
        readFileSync(join(ROOT, f), "utf8")
          .split("\n")
          .flatMap((line, i) => (outside.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(citing).toEqual([]);
  });
});
