/**
 * The local Event Grid as its own process: `node --import tsx dev/proc/event-grid.ts '{"port":0}'`.
 * Prints `@driftguard {"type":"ready","url",…}` when listening; the supervisor then starts the
 * simulator pointing at it and, once the hosts are up, creates driftguard's subscriptions through
 * its admin API.
 */
import { DECISIONS_TOPIC } from "../event-grid/driftguard.js";
import { startLocalEventGrid } from "../event-grid/index.js";
import { loadOrCreateLocalTls } from "../tls.js";
import { runChild } from "./child.js";
import type { EventGridProcessOptions, EventGridReady } from "./protocol.js";

runChild<EventGridProcessOptions>("local Event Grid", async (opts) => {
  const tls = await loadOrCreateLocalTls(opts.tlsDir);
  const grid = await startLocalEventGrid({
    port: opts.port ?? 0,
    tls,
    timeScale: opts.timeScale,
    topics: [{ name: DECISIONS_TOPIC }],
  });
  const ready: EventGridReady = {
    type: "ready",
    pid: process.pid,
    url: grid.url,
    port: Number(new URL(grid.url).port),
    decisionsEndpoint: grid.topicEndpoint(DECISIONS_TOPIC),
  };
  return { ready, close: () => grid.close() };
});
