/**
 * Preloaded into a bench child (`NODE_OPTIONS=--import …/cpu-profile.mjs`, as `--cpu-prof` is not
 * allowed in NODE_OPTIONS): on SIGUSR2 (sent once the process is warm, so start-up is left out) it
 * starts V8's CPU profiler, and when the process exits it writes
 * `$DRIFTGUARD_BENCH_PROFILE_DIR/<pid>.cpuprofile`.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import path from "node:path";

const dir = process.env.DRIFTGUARD_BENCH_PROFILE_DIR;
if (dir) {
  let session;
  process.on("SIGUSR2", () => {
    if (session) return;
    session = new Session();
    session.connect();
    session.post("Profiler.enable");
    session.post("Profiler.start");
  });
  process.on("exit", () => {
    // An in-process session answers synchronously, so this completes before the process ends.
    session?.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
