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
import { validatePolicyText } from "../../shared/policy/load.js";
import { BUILTIN_KINDS, createRegistry } from "../../shared/remediations/index.js";
import type { Signal } from "../../shared/signals/types.js";
import { armResource } from "../helpers/seed.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import { recordsInStore } from "../helpers/store-records.js";
import { noSharedKey, TEST_KIND } from "../helpers/test-kind.js";
import { saveFigures } from "./figures.js";
import { startTwoHosts, type TwoHosts } from "./two-hosts.js";

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
  let two: TwoHosts;

  beforeAll(async () => {
    // The stack's own host (shipped kinds only) serves the Cosmos stand-in and the simulator here.
    stack = await startTestStack({
      seed,
      policyYaml: POLICIES.split("  - name: storage-no-shared-key")[0]!,
      lro: "async",
    });
    const registry = createRegistry([...BUILTIN_KINDS, noSharedKey]);
    const { file } = validatePolicyText(POLICIES, registry);
    two = await startTwoHosts(stack, registry, file!.policies);
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  it("12 accounts × 3 causes, each delivered twice, spread over two hosts: one write per kind, one record per cause and kind", async () => {
    const causes = ACCOUNTS.flatMap((id) => Array.from({ length: 3 }, () => event(id, crypto.randomUUID())));
    const deliveries = [...causes, ...causes].map((s, i) => ({ s, host: i })).sort(() => Math.random() - 0.5);
    // At most 24 in flight (both hosts share this process and the stand-ins with the test runner).
    const { decisions, attempts } = await two.deliverAll(deliveries, 24);
    const KINDS_HERE = ["disable-public-network-access", TEST_KIND];
    expect(decisions.flat().every((d) => KINDS_HERE.includes(d.kind ?? ""))).toBe(true);

    // Counted from the store with @azure/cosmos and from the simulator's request log.
    const isOurs = (id: string) => ACCOUNTS.some((a) => a.toLowerCase() === id.toLowerCase());
    const all = (await recordsInStore(stack)).filter((r) => isOurs(r.resourceId));
    const patchesTo = (id: string) =>
      stack.sim.writes({ pathIncludes: id.split("/").pop()! }).filter((w) => w.method === "PATCH");
    const perCauseAndKind = new Map<string, number>();
    for (const r of all) {
      const key = `${r.signal.id}|${r.resourceId.toLowerCase()}|${r.kind}`;
      perCauseAndKind.set(key, (perCauseAndKind.get(key) ?? 0) + 1);
    }
    const expectedKeys = causes.flatMap((c) =>
      KINDS_HERE.map((k) => `${c.id}|${c.targets[0]!.resourceId.toLowerCase()}|${k}`),
    );
    const outcomes = (o: string) => all.filter((r) => r.outcome === o).length;
    await saveFigures("kinds-two-hosts", {
      resources: ACCOUNTS.length,
      kinds: KINDS_HERE.length,
      hosts: two.hosts.length,
      causes: causes.length,
      deliveries: deliveries.length,
      redeliveries: attempts - deliveries.length,
      armWrites: ACCOUNTS.reduce((n, id) => n + patchesTo(id).length, 0),
      records: all.length,
      remediatedRecords: outcomes("remediated"),
      compliantRecords: outcomes("compliant"),
      causeKindsWithoutRecord: expectedKeys.filter((k) => !perCauseAndKind.has(k)).length,
      causeKindsWithSeveralRecords: [...perCauseAndKind.values()].filter((n) => n > 1).length,
      doubleWrites: ACCOUNTS.reduce((n, id) => n + Math.max(0, patchesTo(id).length - KINDS_HERE.length), 0),
    });

    for (const id of ACCOUNTS) {
      const bodies = patchesTo(id).map((w) =>
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
      for (const kind of KINDS_HERE) {
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
    expect((await two.hosts[1]!.stores.audit.verify()).breaks).toEqual([]);
  }, 180_000);
});
