/**
 * The local stack for the approval tests, with the Teams stand-in: either the bot posts its own
 * cards (`bot`: TEAMS_BOT_APP_ID + TEAMS_SERVICE_URL + TEAMS_CONVERSATION_ID, invokes signed by the
 * stand-in's issuer) or a Teams Workflows webhook gets a card whose button opens the approval page
 * (`page`: TEAMS_WORKFLOW_URL). Storage accounts in `rg-risky` need approval; the event's caller
 * (CALLER_OID) is also an approver, so self-approval can be tried.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";
import type { ArmResource, Seed } from "../../dev/azure-sim/index.js";
import { startLocalStack } from "../../dev/stack.js";
import { startTeamsSimulator, type TeamsSimulator } from "../../dev/teams-sim/index.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { silentLogger } from "../../shared/log.js";
import type { Approval } from "../../shared/ports/approval-store.js";
import { ManualClock } from "../helpers/harness.js";
import { armWriteEvent } from "../helpers/stack.js";

export const SUB = "00000000-0000-0000-0000-0000000000dd";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-risky/providers/Microsoft.Storage/storageAccounts`;
export const APPROVER_OID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
export const SECOND_APPROVER_OID = "4b5c6d7e-8f90-4a1b-9c2d-3e4f5a6b7c8d";
/** The caller of `armWriteEvent` (the person whose change drifted): an approver too. */
export const CALLER_OID = "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d";
export const STRANGER_OID = "22222222-2222-4222-8222-222222222222";
export const BOT_APP_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
export const SIGNING_KEY = "integration-approval-signing-key-0123456789";
export const TTL_MINUTES = 60;

export const storageId = (name: string) => `${RG}/${name}`;

function storage(name: string): ArmResource {
  return {
    id: storageId(name),
    name,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    tags: {},
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
  } as ArmResource;
}

export type ApprovalsStack = Awaited<ReturnType<typeof startApprovalsStack>>;

export async function startApprovalsStack(transport: "bot" | "page", names: string[]) {
  const clock = new ManualClock(new Date());
  const tls = await loadOrCreateLocalTls();
  const teams: TeamsSimulator = await startTeamsSimulator({
    tls,
    botAppId: BOT_APP_ID,
    clock: () => clock.now(),
    members: [
      { aadObjectId: APPROVER_OID, name: "Alex Wilber" },
      { aadObjectId: SECOND_APPROVER_OID, name: "Megan Bowen" },
      { aadObjectId: CALLER_OID, name: "Fox Mulder" },
      { aadObjectId: STRANGER_OID, name: "Guest" },
    ],
  });
  const dir = await mkdtemp(path.join(tmpdir(), "driftguard-approvals-"));
  const policyFile = path.join(dir, "p.yaml");
  await writeFile(
    policyFile,
    "version: 1\npolicies:\n  - name: risky-storage\n    resourceTypes: [Microsoft.Storage/storageAccounts]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n    mode: approval\n",
  );
  const seed: Seed = { resources: names.map(storage) };
  const stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed,
    policyFile,
    log: silentLogger,
    lroPollIntervalMs: 0,
    // Short SDK retries: a test's injected 503s fail an attempt quickly (the timer retries it).
    retry: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
    clock,
    busyWaitMs: 20_000,
    env: {
      APPROVER_OBJECT_IDS: [APPROVER_OID, SECOND_APPROVER_OID, CALLER_OID].join(","),
      APPROVER_SIGNING_KEY: SIGNING_KEY,
      APPROVER_TTL_MINUTES: String(TTL_MINUTES),
      ...(transport === "bot"
        ? {
            TEAMS_BOT_APP_ID: BOT_APP_ID,
            TEAMS_SERVICE_URL: teams.serviceUrl,
            TEAMS_CONVERSATION_ID: teams.conversationId,
            TEAMS_BOT_JWKS_URL: teams.jwksUrl,
            TEAMS_WORKFLOW_URL: undefined,
          }
        : {
            TEAMS_WORKFLOW_URL: teams.workflowUrl,
            TEAMS_BOT_APP_ID: undefined,
            TEAMS_SERVICE_URL: undefined,
            TEAMS_CONVERSATION_ID: undefined,
          }),
    },
  });
  teams.setBotEndpoint(`${stack.functionsUrl}/api/teams/messages`);

  const records = async (id: string): Promise<AuditRecord[]> => {
    const res = await fetch(`${stack.functionsUrl}/api/audit?resourceId=${encodeURIComponent(id)}`, {
      headers: { "x-functions-key": stack.functionKey },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: AuditRecord[] }).items;
  };

  /** Delivers a real-shaped write event for `id`; resolves to the approval it asked for. */
  const requestApproval = async (id: string): Promise<Approval> => {
    const res = await fetch(
      `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${stack.functionKey}`,
      {
        method: "POST",
        headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
        body: JSON.stringify([armWriteEvent(id)]),
      },
    );
    expect(res.status).toBe(200);
    const [record] = await records(id);
    expect(record).toMatchObject({ outcome: "pending-approval" });
    return (await stack.runtime.stores.approvals.get(record!.approvalId!))!;
  };

  /** ARM writes that reached the simulator for this resource. */
  const writes = (id: string) => stack.sim.writes({ pathIncludes: id.split("/").pop()! });

  return {
    stack,
    teams,
    clock,
    records,
    requestApproval,
    writes,
    approval: (id: string) => stack.runtime.stores.approvals.get(id),
    close: async () => {
      await stack.close();
      await teams.close();
    },
  };
}
