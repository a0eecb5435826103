/**
 * The local stack as separate processes (dev/proc) for tests: Cosmos stand-in, simulator and N
 * host processes on free ports behind the round-robin front end, with short SDK retries and a short
 * Cosmos timeout so a frozen store fails a delivery quickly. Always `close()` it (afterAll).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Seed } from "../../dev/azure-sim/index.js";
import { type ProcessStack, type ProcessStackOptions, startProcessStack } from "../../dev/proc/stack.js";
import { type StackClient, stackClient } from "./stack-client.js";

export type TestProcessStack = ProcessStack & StackClient;

export async function startTestProcessStack(
  opts: {
    seed: Seed;
    policyYaml: string;
    hosts?: number;
    mode?: "enforce" | "dry-run" | "off";
  } & Pick<
    ProcessStackOptions,
    | "cosmosRequestTimeoutMs"
    | "busyWaitMs"
    | "leaseMs"
    | "onOutput"
    | "env"
    | "lro"
    | "events"
    | "timerEveryMs"
    | "timers"
  >,
): Promise<TestProcessStack> {
  const dir = await mkdtemp(path.join(tmpdir(), "driftguard-test-"));
  const policyFile = path.join(dir, "policies.yaml");
  await writeFile(policyFile, opts.policyYaml);
  let stack: ProcessStack;
  try {
    stack = await startProcessStack({
      hosts: opts.hosts ?? 1,
      port: 0,
      cosmosPort: 0,
      azurePort: 0,
      seed: opts.seed,
      policyFile,
      mode: opts.mode,
      env: opts.env,
      lro: opts.lro,
      functionKey: "integration-test-key-0123456789",
      lroPollIntervalMs: 0,
      retry: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
      busyWaitMs: opts.busyWaitMs ?? 15_000,
      leaseMs: opts.leaseMs,
      cosmosRequestTimeoutMs: opts.cosmosRequestTimeoutMs ?? 2_000,
      onOutput: opts.onOutput,
      events: opts.events,
      timerEveryMs: opts.timerEveryMs,
      timers: opts.timers,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...stack,
    ...stackClient(stack.functionsUrl, stack.functionKey),
    close: async () => {
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
