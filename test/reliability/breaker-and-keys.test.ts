/**
 * - 2,000 deliveries while a kind's breaker is open (ARM failing): exactly one interim record
 *   (`failed` or `deferred`) per cause, never one per delivery, counted in the store itself.
 * - The local stack's public default keys are refused anywhere but the local stack.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import {
  COSMOS_EMULATOR_KEY,
  LOCAL_STACK_PSEUDONYM_KEY,
  LOCAL_STACK_SIGNING_KEY,
  loadConfig,
} from "../../shared/config.js";
import { ConfigError } from "../../shared/errors.js";
import { publicStorageAccount } from "../helpers/seed.js";
import { armWriteEvent, startTestStack, type TestStack } from "../helpers/stack.js";
import { recordsByCause, recordsInStore } from "../helpers/store-records.js";
import { saveFigures } from "./figures.js";

const SUB = "00000000-0000-0000-0000-0000000000b2";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-breaker/providers/Microsoft.Storage/storageAccounts`;
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => `${RG}/stbrk${String(i).padStart(3, "0")}`);

const seed: Seed = {
  resources: ACCOUNTS.map(publicStorageAccount),
};

const policyYaml = `
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: "Microsoft.Resources.ResourceWrite*" }]
    kind: disable-public-network-access
    maxActionsPerHour: 10000
`;

describe("an open breaker", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ seed, policyYaml, lro: "sync" });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it("2,000 deliveries (200 causes × 10 redeliveries): exactly one interim record per cause", async () => {
    stack.sim.addFault({ method: "GET", path: "stbrk", status: 500, count: -1 });
    const causes = Array.from({ length: 200 }, (_, i) => armWriteEvent(ACCOUNTS[i % ACCOUNTS.length]!));
    const deliveries = causes.flatMap((event) => Array.from({ length: 10 }, () => event));
    deliveries.sort(() => Math.random() - 0.5);
    const statuses: number[] = [];
    const queue = [...deliveries];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let e = queue.pop(); e; e = queue.pop()) {
          const res = await stack.deliver([e]);
          await res.text();
          statuses.push(res.status);
        }
      }),
    );

    // What the store holds, read with @azure/cosmos (not through GET /api/audit).
    const records = (await recordsInStore(stack)).filter((r) => r.resourceId.includes("/stbrk"));
    const perCause = recordsByCause(records);
    const causeKey = (e: Record<string, unknown>) =>
      `${String(e.id)}|${String((e.data as { resourceUri: string }).resourceUri).toLowerCase()}`;
    const outcomes = (o: string) => records.filter((r) => r.outcome === o).length;
    await saveFigures("open-breaker", {
      deliveries: statuses.length,
      concurrency: 16,
      causes: causes.length,
      deliveriesAnsweredNon2xx: statuses.filter((s) => s < 200 || s >= 300).length,
      records: records.length,
      deferredRecords: outcomes("deferred"),
      failedRecords: outcomes("failed"),
      causesWithoutRecord: causes.filter((e) => !perCause.has(causeKey(e))).length,
      maxRecordsPerCause: Math.max(0, ...[...perCause.values()].map((o) => o.length)),
      armWrites: stack.sim.writes({ pathIncludes: "stbrk" }).length,
    });

    expect(statuses).toHaveLength(2000);
    // Every one of them asked for redelivery (nothing was decided for good).
    expect(statuses.every((s) => s >= 500)).toBe(true);
    // Exactly one interim record per cause: 200 records for 200 causes, each cause its own.
    // Mutation: in shared/pipeline/run.ts `deferred()`, drop the `causeState(run.cause) === "deferred"`
    // early return → every redelivery records again (≈1,800 more records) and this fails.
    expect(records).toHaveLength(causes.length);
    for (const event of causes) {
      const mine = perCause.get(causeKey(event));
      expect(
        mine?.map((r) => r.outcome),
        causeKey(event),
      ).toHaveLength(1);
      expect(["failed", "deferred"]).toContain(mine![0]!.outcome);
    }
    // The breaker opened: the later causes were deferred without touching ARM again.
    // Mutation: make `env.breaker.execute` call through always (no breaker) → no `deferred`, this fails.
    expect(outcomes("deferred")).toBeGreaterThan(0);
    expect(stack.sim.writes({ pathIncludes: "stbrk" })).toHaveLength(0);
  }, 180_000);
});

describe("the local stack's public default keys", () => {
  const azure = { WEBSITE_SITE_NAME: "func-driftguard" };
  it("are used on the local stack only", () => {
    const local = loadConfig({ DRIFTGUARD_LOCAL_STACK: "1" });
    expect(local.pseudonymKey).toBe(LOCAL_STACK_PSEUDONYM_KEY);
    expect(local.approvers.signingKey).toBe(LOCAL_STACK_SIGNING_KEY);
  });

  it("are used when the settings point at the local stack's Cosmos stand-in (the CLI pointed at npm start)", () => {
    const local = loadConfig({ COSMOS_ENDPOINT: "https://127.0.0.1:8081", COSMOS_KEY: COSMOS_EMULATOR_KEY });
    expect(local.localStack).toBe(true);
    expect(local.pseudonymKey).toBe(LOCAL_STACK_PSEUDONYM_KEY);
    expect(() =>
      loadConfig({
        COSMOS_ENDPOINT: "https://cosmos.example.documents.azure.com",
        COSMOS_KEY: COSMOS_EMULATOR_KEY,
      }),
    ).toThrow(/DRIFTGUARD_PSEUDONYM_KEY/);
  });

  it("are missing settings elsewhere, and refused when set explicitly", () => {
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error("expected a ConfigError");
    };
    expect(refusal({})).toBeInstanceOf(ConfigError);
    expect(refusal({}).setting).toBe("DRIFTGUARD_PSEUDONYM_KEY");
    expect(refusal({ DRIFTGUARD_PSEUDONYM_KEY: "a-key-of-our-own-0123456789" }).setting).toBe(
      "APPROVER_SIGNING_KEY",
    );
    const explicit = refusal({
      DRIFTGUARD_PSEUDONYM_KEY: LOCAL_STACK_PSEUDONYM_KEY,
      APPROVER_SIGNING_KEY: "a-signing-key-of-our-own-0123456789abcdef",
    });
    expect(explicit.setting).toBe("DRIFTGUARD_PSEUDONYM_KEY");
    expect(explicit.reason).toContain("public default");
    // In Azure even the local-stack marker does not make them acceptable.
    const inAzure = refusal({
      ...azure,
      DRIFTGUARD_LOCAL_STACK: "1",
      COSMOS_ENDPOINT: "https://cosmos.example.documents.azure.com",
      APPROVER_SIGNING_KEY: LOCAL_STACK_SIGNING_KEY,
      DRIFTGUARD_PSEUDONYM_KEY: "a-key-of-our-own-0123456789",
    });
    expect(inAzure.setting).toBe("APPROVER_SIGNING_KEY");
    // Own keys work everywhere.
    const own = loadConfig({
      DRIFTGUARD_PSEUDONYM_KEY: "a-key-of-our-own-0123456789",
      APPROVER_SIGNING_KEY: "a-signing-key-of-our-own-0123456789abcdef",
    });
    expect(own.localStack).toBe(false);
  });
});
