/** Starts the whole local stack (HTTP host + Cosmos + simulator) for integration tests, on free ports. */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Seed } from "../../dev/azure-sim/index.js";
import { type LocalStack, startLocalStack } from "../../dev/stack.js";
import { silentLogger } from "../../shared/log.js";
import { type StackClient, stackClient } from "./stack-client.js";

export interface TestStack extends LocalStack, StackClient {}

export async function startTestStack(opts: {
  seed: Seed;
  policyYaml: string;
  mode?: "enforce" | "dry-run" | "off";
  /** The simulator's long-running operations (default async, as ARM). */
  lro?: "sync" | "async";
  /** Extra settings for the app (APPROVER_OBJECT_IDS, …). */
  env?: Record<string, string | undefined>;
  /** Run Azurite for the anchors (any free port). */
  blob?: boolean;
}): Promise<TestStack> {
  const dir = await mkdtemp(path.join(tmpdir(), "driftguard-test-"));
  const policyFile = path.join(dir, "policies.yaml");
  await writeFile(policyFile, opts.policyYaml);
  const stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: opts.seed,
    policyFile,
    mode: opts.mode,
    functionKey: "integration-test-key-0123456789",
    log: silentLogger,
    lroPollIntervalMs: 0,
    retry: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
    busyWaitMs: 15_000,
    ...(opts.lro ? { lro: opts.lro } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.blob ? { blob: true, blobPort: 0 } : {}),
  });
  return { ...stack, ...stackClient(stack.functionsUrl, stack.functionKey) };
}

const SUB = "00000000-0000-0000-0000-0000000000aa";
export const TEST_SUB = SUB;

export { armWriteEvent } from "../../dev/arm-event-builder.js";
