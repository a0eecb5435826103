/**
 * The Cosmos DB stand-in as its own process: `node --import tsx dev/proc/cosmos.ts '{"port":8081}'`.
 * In-memory, so it cannot be restarted without losing its data; freeze it (SIGSTOP/SIGCONT) to
 * simulate an unreachable store. Prints `@driftguard {"type":"ready","url",…}` when listening.
 */
import { startEmbeddedCosmos } from "../cosmos.js";
import { loadOrCreateLocalTls } from "../tls.js";
import { runChild } from "./child.js";
import type { CosmosProcessOptions, CosmosReady } from "./protocol.js";

runChild<CosmosProcessOptions>("cosmos stand-in", async (opts) => {
  const tls = await loadOrCreateLocalTls(opts.tlsDir);
  const cosmos = await startEmbeddedCosmos({ port: opts.port ?? 8081, tls });
  const ready: CosmosReady = {
    type: "ready",
    pid: process.pid,
    url: cosmos.endpoint,
    port: cosmos.port,
    key: cosmos.key,
  };
  return { ready, close: () => cosmos.close() };
});
