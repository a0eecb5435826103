/**
 * Several real kinds per resource under concurrency, with two hosts: two pipelines, each with its own
 * Cosmos DB client and gate (as two host instances have), over one Cosmos stand-in and the simulator,
 * governed by the shipped policies with every mode set to enforce. Storage accounts that drifted on
 * every storage kind get distinct causes and redeliveries at once on both hosts; each account gets
 * exactly one write per kind, each carrying only its kind's fields, and each cause one record per kind.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { validatePolicyText } from "../../shared/policy/load.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";
import { recordsInStore } from "../helpers/store-records.js";
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
import { saveFigures } from "./figures.js";
import { startTwoHosts, type TwoHosts } from "./two-hosts.js";

const SUB = "00000000-0000-0000-0000-0000000000c8";
const id = storageIds(SUB);
const NAMES = Array.from({ length: 8 }, (_, i) => `stkinds2h${String(i).padStart(3, "0")}`);
const ACCOUNTS = NAMES.map(id.account);
const POLICIES = stringify(allEnforce());

describe("several real kinds per storage account, two hosts at once (Cosmos gate)", () => {
  let stack: TestStack;
  let two: TwoHosts;

  beforeAll(async () => {
    stack = await startTestStack({
      seed: seedOf(...ACCOUNTS.map((a) => driftedStorage(a))),
      policyYaml: POLICIES,
      lro: "async",
    });
    const registry = builtinRegistry();
    const { file } = validatePolicyText(POLICIES, registry);
    two = await startTwoHosts(stack, registry, file!.policies);
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  it("8 accounts × 3 causes, each delivered twice, spread over two hosts: one write per kind and account, one record per cause and kind", async () => {
    const causes = ACCOUNTS.flatMap((a) =>
      Array.from({ length: 3 }, () => writeEvent(a, "Microsoft.Storage/storageAccounts", SUB)),
    );
    const deliveries = [...causes, ...causes].map((s, i) => ({ s, host: i })).sort(() => Math.random() - 0.5);
    // At most 16 in flight (both hosts share this process and the stand-ins with the test runner).
    const { decisions, attempts } = await two.deliverAll(deliveries, 16);
    for (const a of decisions) expect(a.map((d) => d.kind)).toEqual([...STORAGE_KINDS]);

    // Counted from the store with @azure/cosmos and from the simulator's request log.
    const isOurs = (id: string) => ACCOUNTS.some((a) => a.toLowerCase() === id.toLowerCase());
    const all = (await recordsInStore(stack)).filter((r) => isOurs(r.resourceId));
    const writesTo = (i: number) => stack.sim.writes({ pathIncludes: `/storageAccounts/${NAMES[i]}` });
    const perCauseAndKind = new Map<string, number>();
    for (const r of all) {
      const key = `${r.signal.id}|${r.resourceId.toLowerCase()}|${r.kind}`;
      perCauseAndKind.set(key, (perCauseAndKind.get(key) ?? 0) + 1);
    }
    const expectedKeys = causes.flatMap((c) =>
      STORAGE_KINDS.map((k) => `${c.id}|${c.targets[0]!.resourceId.toLowerCase()}|${k}`),
    );
    const outcomes = (o: string) => all.filter((r) => r.outcome === o).length;
    const writesPerAccount = ACCOUNTS.map((_, i) => writesTo(i).length);
    await saveFigures("storage-kinds-two-hosts", {
      resources: ACCOUNTS.length,
      kinds: STORAGE_KINDS.length,
      hosts: two.hosts.length,
      causes: causes.length,
      deliveries: deliveries.length,
      redeliveries: attempts - deliveries.length,
      armWrites: writesPerAccount.reduce((a, b) => a + b, 0),
      records: all.length,
      remediatedRecords: outcomes("remediated"),
      compliantRecords: outcomes("compliant"),
      causeKindsWithoutRecord: expectedKeys.filter((k) => !perCauseAndKind.has(k)).length,
      causeKindsWithSeveralRecords: [...perCauseAndKind.values()].filter((n) => n > 1).length,
      doubleWrites: writesPerAccount.reduce((n, w) => n + Math.max(0, w - STORAGE_KINDS.length), 0),
    });

    for (const [i, acct] of ACCOUNTS.entries()) {
      const writes = writesTo(i);
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
    expect((await two.hosts[1]!.stores.audit.verify()).breaks).toEqual([]);
  }, 240_000);
});
