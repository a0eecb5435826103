/**
 * `npm run docs`: rewrites the generated blocks of docs/policies.md from the shipped kinds
 * (scripts/kinds-doc.ts). `--check` writes nothing and exits 1 when the page is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { builtinRegistry } from "../shared/remediations/index.js";
import { renderPoliciesDoc } from "./kinds-doc.js";

const POLICIES_DOC = fileURLToPath(new URL("../docs/policies.md", import.meta.url));

const check = process.argv.includes("--check");
const current = readFileSync(POLICIES_DOC, "utf8");
const next = renderPoliciesDoc(current, builtinRegistry());
if (next === current) {
  process.stdout.write("docs/policies.md is up to date\n");
} else if (check) {
  process.stderr.write("docs/policies.md is out of date: run npm run docs\n");
  process.exitCode = 1;
} else {
  writeFileSync(POLICIES_DOC, next);
  process.stdout.write("docs/policies.md rewritten\n");
}
