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
  });
  return { ...stack, ...stackClient(stack.functionsUrl, stack.functionKey) };
}

const SUB = "00000000-0000-0000-0000-0000000000aa";
export const TEST_SUB = SUB;

/** A real-shaped ARM ResourceWriteSuccess event (Event Grid schema) for `resourceId`. */
export function armWriteEvent(resourceId: string, id: string = crypto.randomUUID()): Record<string, unknown> {
  const sub = resourceId.split("/")[2];
  const provider = resourceId.split("/providers/")[1]?.split("/")[0];
  return {
    id,
    topic: `/subscriptions/${sub}`,
    subject: resourceId,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      authorization: {
        scope: resourceId,
        action: `${provider}/write`,
        evidence: { role: "Contributor", principalType: "User" },
      },
      claims: {
        "http://schemas.microsoft.com/identity/claims/objectidentifier":
          "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d",
        appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        name: "Fox Mulder",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "fox.mulder@contoso.example",
        ipaddr: "198.51.100.77",
      },
      correlationId: crypto.randomUUID(),
      resourceProvider: provider,
      resourceUri: resourceId,
      operationName: `${provider}/write`,
      status: "Succeeded",
      subscriptionId: sub,
      tenantId: "11111111-2222-3333-4444-555555555555",
      httpRequest: {
        clientRequestId: crypto.randomUUID(),
        clientIpAddress: "198.51.100.77",
        method: "PUT",
        url: `https://management.azure.com${resourceId}?api-version=2024-04-01`,
      },
    },
  };
}
