/**
 * The Azure simulator (ARM, Key Vault origins, APIM, `/_sim` admin API) as its own process:
 * `node --import tsx dev/proc/azure-sim.ts '{"port":8443,"seedFile":"dev/sample-seed.json"}'`.
 * Prints `@driftguard {"type":"ready","url","vaults",…}` when every origin listens.
 */
import { loadSeedFile, startAzureSimulator } from "../azure-sim/index.js";
import { SYSTEM_TOPICS } from "../event-grid/index.js";
import { loadOrCreateLocalTls } from "../tls.js";
import { runChild } from "./child.js";
import type { SimProcessOptions, SimReady } from "./protocol.js";

runChild<SimProcessOptions>("azure simulator", async (opts) => {
  const tls = await loadOrCreateLocalTls(opts.tlsDir);
  const seed = opts.seedFile ? await loadSeedFile(opts.seedFile) : undefined;
  const sim = await startAzureSimulator({
    port: opts.port ?? 8443,
    tls,
    seed,
    vaultPorts: opts.vaultPorts,
    lro: opts.lro,
    ...(opts.eventGridUrl ? { events: { url: opts.eventGridUrl, ca: tls.cert, topics: SYSTEM_TOPICS } } : {}),
  });
  const ready: SimReady = {
    type: "ready",
    pid: process.pid,
    url: sim.url,
    port: Number(new URL(sim.url).port),
    vaults: sim.vaults,
  };
  return { ready, close: () => sim.close() };
});
