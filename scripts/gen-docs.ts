/**
 * `npm run docs`: rewrites the generated parts of the docs (scripts/generated-docs.ts): the kinds'
 * sections of docs/policies.md and the figure tables of docs/reliability.md and
 * docs/performance.md (from docs/figures/*.json). `--check` writes nothing and exits 1 when a page
 * is out of date.
 */
import { writeGeneratedDocs } from "./generated-docs.js";

const check = process.argv.includes("--check");
const stale = writeGeneratedDocs(check);
if (stale.length === 0) process.stdout.write("the generated docs are up to date\n");
else if (check) {
  process.stderr.write(`out of date: ${stale.join(", ")}: run npm run docs\n`);
  process.exitCode = 1;
} else process.stdout.write(`rewritten: ${stale.join(", ")}\n`);
