/**
 * The pages (parts of pages) generated from code and from measured figures:
 * - docs/policies.md from the shipped kinds (scripts/kinds-doc.ts);
 * - the figure tables of docs/reliability.md and docs/performance.md from docs/figures/*.json, the
 *   files `npm run figures` writes (scripts/figures-doc.ts).
 * `npm run docs` rewrites them; test/docs.test.ts checks they are up to date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { builtinRegistry } from "../shared/remediations/index.js";
import {
  type BenchFigures,
  type ReliabilityFigures,
  renderPerformanceDoc,
  renderReliabilityDoc,
} from "./figures-doc.js";
import { renderPoliciesDoc } from "./kinds-doc.js";

const file = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));
const readJson = <T>(rel: string): T => JSON.parse(readFileSync(file(rel), "utf8")) as T;

export const GENERATED_PAGES: readonly { page: string; render: (markdown: string) => string }[] = [
  { page: "docs/policies.md", render: (md) => renderPoliciesDoc(md, builtinRegistry()) },
  {
    page: "docs/reliability.md",
    render: (md) => renderReliabilityDoc(md, readJson<ReliabilityFigures>("docs/figures/reliability.json")),
  },
  {
    page: "docs/performance.md",
    render: (md) => renderPerformanceDoc(md, readJson<BenchFigures>("docs/figures/bench.json")),
  },
];

/** Rewrites every generated page; `check`: writes nothing and returns the pages out of date. */
export function writeGeneratedDocs(check = false): string[] {
  const stale: string[] = [];
  for (const { page, render } of GENERATED_PAGES) {
    const current = readFileSync(file(page), "utf8");
    const next = render(current);
    if (next === current) continue;
    stale.push(page);
    if (!check) writeFileSync(file(page), next);
  }
  return stale;
}
