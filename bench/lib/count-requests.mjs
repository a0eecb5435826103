/**
 * Preloaded into the bench's child processes (`NODE_OPTIONS=--import …/count-requests.mjs`): counts
 * the HTTP requests this process's servers receive — on the wire, as the Cosmos DB stand-in sees
 * them — by method and kind (Cosmos batch, query, or plain). On SIGUSR2 it writes the counts so far
 * to `$DRIFTGUARD_BENCH_COUNTS_DIR/<pid>.json` (synchronously, then the bench reads the file).
 * Only active when that variable is set; observes through `node:diagnostics_channel`, changes nothing.
 */
import dc from "node:diagnostics_channel";
import { renameSync, writeFileSync } from "node:fs";
import path from "node:path";

const dir = process.env.DRIFTGUARD_BENCH_COUNTS_DIR;
if (dir) {
  const counts = {};
  let total = 0;
  dc.subscribe("http.server.request.start", ({ request }) => {
    const h = request.headers;
    const kind = h["x-ms-cosmos-is-batch-request"] ? "batch" : h["x-ms-documentdb-isquery"] ? "query" : "";
    const key = `${request.method}${kind ? ` ${kind}` : ""}`;
    counts[key] = (counts[key] ?? 0) + 1;
    total += 1;
  });
  process.on("SIGUSR2", () => {
    const file = path.join(dir, `${process.pid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, total, counts, at: Date.now() }));
    renameSync(`${file}.tmp`, file);
  });
}
