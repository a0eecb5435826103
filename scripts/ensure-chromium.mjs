#!/usr/bin/env node
// Browser tests drive Debian's Chromium through playwright-core (`npx playwright install` cannot
// download browsers here). Installs it with apt-get when it is missing and we are root.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (existsSync(CHROMIUM)) process.exit(0);
if (process.getuid?.() !== 0) {
  console.error(
    `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
  );
  process.exit(1);
}
console.log("Installing Debian chromium for the browser tests…");
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
for (const args of [["update"], ["install", "-y", "--no-install-recommends", "chromium"]]) {
  const r = spawnSync("apt-get", args, { stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`apt-get ${args.join(" ")} failed`);
    process.exit(1);
  }
}
process.exit(existsSync(CHROMIUM) ? 0 : 1);
