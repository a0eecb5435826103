/**
 * Several kinds per resource under concurrency, with two hosts: two pipelines, each with its own
 * Cosmos DB client and gate (as two host instances have), over one Cosmos stand-in and the simulator.
 * Distinct causes and redeliveries for the same storage accounts arrive at once on both; each
 * resource gets exactly one write per kind, and each cause exactly one record per kind. (The two
 * hosts are in this process because the second kind is test-only; the host processes of
 * `npm start -- --hosts N` know only the shipped kinds.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { staticTokenCredential } from "../../shared/azure/clients.js";
import { loadConfig } from "../../shared/config.js";
import { createCosmosStores } from "../../shared/cosmos/stores.js";
import { silentLogger } from "../../shared/log.js";
import type { Decision, Pipeline } from "../../shared/pipeline.js";
import { validatePolicyText } from "../../shared/policy/load.js";
import type { Notifier } from "../../shared/ports/notifier.js";
import type { Stores } from "../../shared/ports/stores.js";
import { BUILTIN_KINDS, createRegistry } from "../../shared/remediations/index.js";
import { createCore } from "../../shared/runtime.js";
import type { Signal } from "../../shared/signals/types.js";
import { simulatorClients, TEST_PSEUDONYM_KEY } from "../helpers/harness.js";
import { armResource } from "../helpers/seed.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import { noSharedKey, TEST_KIND } from "../helpers/test-kind.js";

const SUB = "00000000-0000-0000-0000-0000000000c7";
const ACCOUNTS = Array.from(
  { length: 12 },
  (_, i) =>
    `/subscriptions/${SUB}/resourceGroups/rg-two-hosts/providers/Microsoft.Storage/storageAccounts/sttwo${String(i).padStart(3, "0")}`,
);
const seed: Seed = {
  resources: ACCOUNTS.map((id) =>
    armResource(id, {
      kind: "StorageV2",
      sku: { name: "Standard_LRS" },
      properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true, allowSharedKeyAccess: true },
    }),
  ),
};
const POLICIES = `version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    maxActionsPerHour: 10000
  - name: storage-no-shared-key
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: ${TEST_KIND}
    maxActionsPerHour: 10000
`;

function event(resourceId: string, eventId: string): Signal {
  return {
    source: "eventgrid",
    type: "Microsoft.Resources.ResourceWriteSuccess",
    id: eventId,
    dedupeKey: `eg:${eventId}`,
    time: new Date().toISOString(),
    subscriptionId: SUB,
    trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
    targets: [{ resourceId, resourceType: "Microsoft.Storage/storageAccounts", subscriptionId: SUB }],
  };
}

describe("several kinds per resource, two hosts at once (Cosmos gate)", () => {
  let stack: TestStack;
  const hosts: { pipeline: Pipeline; stores: Stores }[] = [];

  beforeAll(async () => {
    // The stack's own host (shipped kinds only) serves the Cosmos stand-in and the simulator here.
    stack = await startTestStack({
      seed,
      policyYaml: POLICIES.split("  - name: storage-no-shared-key")[0]!,
      lro: "async",
    });
    const registry = createRegistry([...BUILTIN_KINDS, noSharedKey]);
    const { file } = validatePolicyText(POLICIES, registry);
    const config = loadConfig({
      DRIFTGUARD_LOCAL_STACK: "1",
      COSMOS_ENDPOINT: stack.cosmosUrl,
      COSMOS_KEY: stack.cosmosKey,
      DRIFTGUARD_CA_FILE: stack.caCertFile,
    });
    const notifier: Notifier = { requestApproval: async () => {} };
    for (let i = 0; i < 2; i++) {
      const stores = await createCosmosStores(config, staticTokenCredential(), stack.tls.cert);
      const { pipeline } = createCore(
        {
          policies: file!.policies,
          registry,
          globalMode: "enforce",
          clients: simulatorClients(stack.sim, stack.tls),
          audit: stores.audit,
          gate: stores.gate,
          actionLimit: stores.actionLimit,
          clock: { now: () => new Date() },
          log: silentLogger,
          selfPrincipalIds: [],
          pseudonymKey: TEST_PSEUDONYM_KEY,
          busyWaitMs: 200,
        },
        {
          approvals: stores.approvals,
          notifier,
          approvalTtlMs: 3600_000,
          approvers: {
            objectIds: [],
            requireSignIn: false,
            localDeveloper: "test",
            pseudonymKey: TEST_PSEUDONYM_KEY,
          },
        },
      );
      hosts.push({ pipeline, stores });
    }
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  /** Delivers to host `i` until no decision asks for a redelivery (as Event Grid retries non-2xx). */
  async function deliver(i: number, signal: Signal): Promise<Decision[]> {
    for (let attempt = 1; attempt <= 40; attempt++) {
      const decisions = await hosts[i % 2]!.pipeline.handle(signal);
      if (!decisions.some((d) => d.retry)) return decisions;
      await new Promise((r) => setTimeout(r, 50 * Math.min(attempt, 6)));
    }
    throw new Error("never accepted");
  }

  it("12 accounts × 3 causes, each delivered twice, spread over two hosts: one write per kind, one record per cause and kind", async () => {
    const causes = ACCOUNTS.flatMap((id) => Array.from({ length: 3 }, () => event(id, crypto.randomUUID())));
    const deliveries = [...causes, ...causes].map((s, i) => ({ s, host: i })).sort(() => Math.random() - 0.5);
    // At most 24 in flight (both hosts share this process and the stand-ins with the test runner).
    const answers: Decision[][] = [];
    const queue = [...deliveries];
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift())
          answers.push(await deliver(next.host, next.s));
      }),
    );
    expect(
      answers.flat().every((d) => d.kind === "disable-public-network-access" || d.kind === TEST_KIND),
    ).toBe(true);

    const all: AuditRecord[] = [];
    let token: string | null = null;
    do {
      const page = await hosts[0]!.stores.audit.query({
        subscriptionId: SUB,
        limit: 1000,
        continuationToken: token,
      });
      all.push(...page.items);
      token = page.continuationToken;
    } while (token);
    for (const id of ACCOUNTS) {
      const name = id.split("/").pop()!;
      const patches = stack.sim.writes({ pathIncludes: name }).filter((w) => w.method === "PATCH");
      const bodies = patches.map((w) =>
        Object.keys((w.body as { properties: object }).properties)
          .sort()
          .join(","),
      );
      expect(bodies.sort(), id).toEqual([
        "allowBlobPublicAccess,publicNetworkAccess",
        "allowSharedKeyAccess",
      ]);
      const mine = all.filter((r) => r.resourceId.toLowerCase() === id.toLowerCase());
      // 3 causes × 2 kinds: each exactly once; one `remediated` per kind, the rest `compliant`.
      expect(mine, id).toHaveLength(6);
      expect(new Set(mine.map((r) => `${r.signal.id}|${r.kind}`)).size, id).toBe(6);
      for (const kind of ["disable-public-network-access", TEST_KIND]) {
        const ofKind = mine.filter((r) => r.kind === kind);
        expect(
          ofKind.filter((r) => r.outcome === "remediated"),
          `${id} ${kind}`,
        ).toHaveLength(1);
        expect(
          ofKind.filter((r) => r.outcome === "compliant"),
          `${id} ${kind}`,
        ).toHaveLength(2);
      }
      expect(stack.sim.getResource(id)!.properties).toMatchObject({
        publicNetworkAccess: "Disabled",
        allowSharedKeyAccess: false,
      });
    }
    expect((await hosts[1]!.stores.audit.verify()).breaks).toEqual([]);
  }, 180_000);
});
