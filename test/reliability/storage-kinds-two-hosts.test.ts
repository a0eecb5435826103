/**
 * Several real kinds per resource under concurrency, with two hosts: two pipelines, each with its own
 * Cosmos DB client and gate (as two host instances have), over one Cosmos stand-in and the simulator,
 * governed by the shipped policies with every mode set to enforce. Storage accounts that drifted on
 * every storage kind get distinct causes and redeliveries at once on both hosts; each account gets
 * exactly one write per kind, each carrying only its kind's fields, and each cause one record per kind.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { AuditRecord } from "../../shared/audit/types.js";
import { staticTokenCredential } from "../../shared/azure/clients.js";
import { loadConfig } from "../../shared/config.js";
import { createCosmosStores } from "../../shared/cosmos/stores.js";
import { silentLogger } from "../../shared/log.js";
import type { Decision, Pipeline } from "../../shared/pipeline.js";
import { validatePolicyText } from "../../shared/policy/load.js";
import type { Notifier } from "../../shared/ports/notifier.js";
import type { Stores } from "../../shared/ports/stores.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import { createCore } from "../../shared/runtime.js";
import type { Signal } from "../../shared/signals/types.js";
import { simulatorClients, TEST_PSEUDONYM_KEY } from "../helpers/harness.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import {
  allEnforce,
  driftedStorage,
  fieldsOf,
  KINDS,
  kindOfWrite,
  STORAGE_KINDS,
  seedOf,
  storageIds,
  writeEvent,
} from "../kinds/storage-kinds-setup.js";

const SUB = "00000000-0000-0000-0000-0000000000c8";
const id = storageIds(SUB);
const NAMES = Array.from({ length: 8 }, (_, i) => `stkinds2h${String(i).padStart(3, "0")}`);
const ACCOUNTS = NAMES.map(id.account);
const POLICIES = stringify(allEnforce());

describe("several real kinds per storage account, two hosts at once (Cosmos gate)", () => {
  let stack: TestStack;
  const hosts: { pipeline: Pipeline; stores: Stores }[] = [];

  beforeAll(async () => {
    stack = await startTestStack({
      seed: seedOf(...ACCOUNTS.map((a) => driftedStorage(a))),
      policyYaml: POLICIES,
      lro: "async",
    });
    const registry = builtinRegistry();
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
    for (let attempt = 1; attempt <= 60; attempt++) {
      const decisions = await hosts[i % 2]!.pipeline.handle(signal);
      if (!decisions.some((d) => d.retry)) return decisions;
      await new Promise((r) => setTimeout(r, 50 * Math.min(attempt, 6)));
    }
    throw new Error("never accepted");
  }

  it("8 accounts × 3 causes, each delivered twice, spread over two hosts: one write per kind and account, one record per cause and kind", async () => {
    const causes = ACCOUNTS.flatMap((a) =>
      Array.from({ length: 3 }, () => writeEvent(a, "Microsoft.Storage/storageAccounts", SUB)),
    );
    const deliveries = [...causes, ...causes].map((s, i) => ({ s, host: i })).sort(() => Math.random() - 0.5);
    // At most 16 in flight (both hosts share this process and the stand-ins with the test runner).
    const answers: Decision[][] = [];
    const queue = [...deliveries];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift())
          answers.push(await deliver(next.host, next.s));
      }),
    );
    for (const a of answers) expect(a.map((d) => d.kind)).toEqual([...STORAGE_KINDS]);

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

    for (const [i, acct] of ACCOUNTS.entries()) {
      const writes = stack.sim.writes({ pathIncludes: `/storageAccounts/${NAMES[i]}` });
      // One write per kind, each with only its own fields.
      expect(writes.map(kindOfWrite).sort(), acct).toEqual([...STORAGE_KINDS].sort());
      const accountPatch = (k: string) => fieldsOf(writes.find((w) => kindOfWrite(w) === k)!);
      expect(accountPatch(KINDS.publicAccess)).toEqual(["allowBlobPublicAccess", "publicNetworkAccess"]);
      expect(accountPatch(KINDS.localAuth)).toEqual(["allowSharedKeyAccess"]);
      expect(accountPatch(KINDS.transport)).toEqual(["minimumTlsVersion", "supportsHttpsTrafficOnly"]);

      const mine = all.filter((r) => r.resourceId.toLowerCase() === acct.toLowerCase());
      // 3 causes × 5 kinds, each exactly once: one `remediated` per kind, the rest `compliant`.
      expect(mine, acct).toHaveLength(15);
      expect(new Set(mine.map((r) => `${r.signal.id}|${r.kind}`)).size, acct).toBe(15);
      for (const kind of STORAGE_KINDS) {
        const ofKind = mine.filter((r) => r.kind === kind);
        expect(ofKind.map((r) => r.outcome).sort(), `${acct} ${kind}`).toEqual([
          "compliant",
          "compliant",
          "remediated",
        ]);
      }
      expect(stack.sim.getResource(acct)!.properties).toMatchObject({
        publicNetworkAccess: "Disabled",
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: false,
        minimumTlsVersion: "TLS1_2",
      });
      expect(stack.sim.getResource(id.blob(NAMES[i]!))!.properties).toMatchObject({
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 30 },
        containerDeleteRetentionPolicy: { enabled: true, days: 30 },
      });
    }
    expect((await hosts[1]!.stores.audit.verify()).breaks).toEqual([]);
  }, 240_000);
});
