#!/usr/bin/env node
// `npm test`: type-check, lint, make sure the browser tests have Chromium, then run every test
// (unit, integration over the local stack, browser). Prints a closing "N passed, N failed" line.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";

function run(cmd, args, opts = {}) {
  process.stdout.write(`\n$ ${cmd} ${args.join(" ")}\n`);
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  return r.status ?? 1;
}

const steps = [
  ["npx", ["tsc", "--noEmit"]],
  ["npx", ["biome", "check", "."]],
];
for (const [cmd, args] of steps) {
  if (run(cmd, args) !== 0) {
    process.stdout.write(`\n${cmd} ${args.join(" ")} failed\n`);
    process.exit(1);
  }
}
if (run("node", ["scripts/ensure-chromium.mjs"]) !== 0) process.exit(1);

mkdirSync("test-artifacts", { recursive: true });
const status = run("npx", [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  "--outputFile.json=test-artifacts/vitest.json",
  ...process.argv.slice(2),
]);
if (existsSync("test-artifacts/vitest.json")) {
  const r = JSON.parse(readFileSync("test-artifacts/vitest.json", "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  process.stdout.write(
    `\n${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}\n`,
  );
}
process.exit(status);
