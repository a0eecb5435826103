/**
 * Where the CLI's pipeline and audit store point (docs/cli.md#which-environment-the-cli-talks-to):
 * the configured environment (the settings of docs/settings.md) when COSMOS_ENDPOINT is set, else
 * the running local stack (`npm start` writes `.driftguard/stack.json`), else an ephemeral local
 * stack started just for this command.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { TokenCredential } from "@azure/core-auth";
import { localStackCredential } from "../shared/azure/local-credential.js";
import { loadConfig } from "../shared/config.js";
import { createLogger, type Logger } from "../shared/log.js";
import { createRuntime, type Runtime } from "../shared/runtime.js";

/** Where a running `npm start` announces itself to the CLI (override: DRIFTGUARD_STACK_FILE). */
export const LOCAL_STACK_FILE =
  process.env.DRIFTGUARD_STACK_FILE || path.resolve(".driftguard", "stack.json");

export interface LocalStackInfo {
  functions: string;
  cosmos: string;
  cosmosKey: string;
  azure: string;
  vaults: Record<string, string>;
  caCertFile: string;
  /** Azurite's blob endpoint and the anchor container in it. */
  blob?: string;
  anchorContainerUrl?: string;
  subscriptions: string[];
  policyFile: string;
  pid: number;
  /** The local Event Grid (admin API) and where decisions are published. */
  eventGrid?: string;
  eventsEndpoint?: string;
}

export interface CliContext {
  runtime: Runtime;
  /** Where it points, for messages. */
  target: string;
  close(): Promise<void>;
}

async function readStackFile(): Promise<LocalStackInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(LOCAL_STACK_FILE, "utf8")) as LocalStackInfo;
    // Only if that process is still alive.
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

/** The settings of the environment the CLI talks to, without connecting to it. */
export interface CliEnvironment {
  env: Record<string, string | undefined>;
  /** The local stack's static token; undefined = the configured identity (Managed Identity, az login). */
  credential?: TokenCredential;
  /** Where it points, for messages. */
  target: string;
  /** Subscriptions known to hold governed resources (the local stack's seed), if any. */
  subscriptions: string[];
}

/** The configured environment (COSMOS_ENDPOINT set), else the running local stack, else undefined. */
export async function cliEnvironment(policyFile?: string): Promise<CliEnvironment | undefined> {
  const policyEnv = policyFile ? { DRIFTGUARD_POLICY_FILE: policyFile } : {};
  if (process.env.COSMOS_ENDPOINT)
    return { env: { ...process.env, ...policyEnv }, target: process.env.COSMOS_ENDPOINT, subscriptions: [] };
  const info = await readStackFile();
  if (!info) return undefined;
  return {
    env: {
      ...process.env,
      // An empty DRIFTGUARD_POLICY_FILE is unset (as shared/config.ts reads it): the stack's file applies.
      DRIFTGUARD_POLICY_FILE: policyFile || process.env.DRIFTGUARD_POLICY_FILE || info.policyFile,
      COSMOS_ENDPOINT: info.cosmos,
      COSMOS_KEY: info.cosmosKey,
      ARM_ENDPOINT: info.azure,
      DRIFTGUARD_VAULT_URLS: JSON.stringify(info.vaults),
      DRIFTGUARD_CA_FILE: info.caCertFile,
      ...(info.anchorContainerUrl ? { DRIFTGUARD_ANCHOR_CONTAINER_URL: info.anchorContainerUrl } : {}),
      DRIFTGUARD_LOCAL_STACK: "1",
    },
    credential: localStackCredential(),
    target: `local stack at ${info.functions}`,
    subscriptions: info.subscriptions,
  };
}

export async function openContext(
  opts: { log?: Logger; policyFile?: string; ephemeral?: boolean } = {},
): Promise<CliContext> {
  const log = opts.log ?? createLogger({ level: "error" });
  const environment = await cliEnvironment(opts.policyFile);
  if (environment) {
    const runtime = await createRuntime(loadConfig(environment.env), {
      ...(environment.credential ? { credential: environment.credential } : {}),
      log,
    });
    return { runtime, target: environment.target, close: async () => undefined };
  }
  if (opts.ephemeral === false) {
    throw new Error(
      "no driftguard environment: set COSMOS_ENDPOINT (and the other settings) or run `npm start` first",
    );
  }
  const { startLocalStack } = await import("../dev/stack.js");
  const stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    log,
    policyFile: opts.policyFile,
  });
  return {
    runtime: stack.runtime,
    target: "an ephemeral local stack (bundled sample environment)",
    close: () => stack.close(),
  };
}
