/**
 * `rotate-secret` in a sweep, against the simulator's vault: the vault's row is expanded by listing
 * its secret properties (no values read), only secrets expiring within `rotateWithinDays` are
 * candidates, and a candidate run as a `sweep` signal rotates from the version it reads now.
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../shared/log.js";
import { secretSweep } from "../../shared/remediations/rotate-secret/sweep.js";
import type { SweepRow } from "../../shared/remediations/types.js";
import { dispatchCandidate } from "../../shared/sweep/dispatch.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { armResource } from "../helpers/seed.js";

const SUB = "00000000-0000-0000-0000-0000000000e5";
const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/kv-sweep-e`;
const POLICIES = `version: 1
policies:
  - name: rotate-expiring-secrets
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers: [{ keyVault: SecretNearExpiry }]
    kind: rotate-secret
    params: { rotateWithinDays: 10 }
`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness() {
  return startHarness({
    seed: {
      resources: [armResource(VAULT, { properties: { publicNetworkAccess: "Disabled" } })],
      secrets: [
        { vault: "kv-sweep-e", name: "near", value: "near-value-0000000000000000000000", expiresOn: "P3D" },
        { vault: "kv-sweep-e", name: "soon", value: "soon-value-0000000000000000000000", expiresOn: "P20D" },
        { vault: "kv-sweep-e", name: "never", value: "never-value-000000000000000000000" },
      ],
    },
    policies: POLICIES,
  });
}

const row = (): SweepRow => ({
  id: VAULT,
  name: "kv-sweep-e",
  type: "microsoft.keyvault/vaults",
  subscriptionId: SUB,
  resourceGroup: "rg-sec",
  tags: {},
  properties: {},
});

describe("rotate-secret in a sweep", () => {
  it("lists the vault's secret properties (no values) and nominates those expiring within rotateWithinDays", async () => {
    h = await harness();
    h.sim.clearRequests();
    const subjects = await secretSweep.subjects(row(), {
      covers: () => true,
      governing: () => ({ policy: "rotate-expiring-secrets", params: { rotateWithinDays: 10 } }),
      clients: h.clients,
      now: new Date(),
      log: silentLogger,
    });
    expect(subjects.map((s) => s.resourceId).sort()).toEqual(
      ["near", "never", "soon"].map((n) => `${VAULT}/secrets/${n}`),
    );
    const now = new Date();
    const candidates = subjects.filter((s) => secretSweep.finding(s, { rotateWithinDays: 10 }, now));
    expect(candidates.map((s) => s.resourceId)).toEqual([`${VAULT}/secrets/near`]);
    expect(
      secretSweep.finding(
        subjects.find((s) => s.resourceId.endsWith("/soon"))!,
        { rotateWithinDays: 30 },
        now,
      ),
    ).toMatch(/^expires .*within 30 days$/);
    // Only the listing: no secret (value) was read.
    const vaultRequests = h.sim.requests().filter((r) => r.origin !== "arm" && r.status === 200);
    expect(vaultRequests.map((r) => `${r.method} ${r.path.replace(/\/+$/, "")}`)).toEqual(["GET /secrets"]);
  }, 60_000);

  it("rotates a candidate as a sweep signal from the version it reads, and records the sweep as source", async () => {
    h = await harness();
    const before = h.sim.getSecret("kv-sweep-e", "near")!.version;
    const run = {
      runId: "3f1c0d52-7a51-4b47-9d07-2a1f6b0c9e11",
      startedAt: new Date().toISOString(),
      dryRun: false,
      actor: "driftguard",
    };
    const policy = h.pipeline.deps.policies[0]!;
    const target = { resourceId: `${VAULT}/secrets/near`, resourceType: "Microsoft.KeyVault/vaults/secrets" };
    const d = await dispatchCandidate(h.pipeline, run, target, policy);
    expect(d.outcome).toBe("remediated");
    expect(h.sim.getSecret("kv-sweep-e", "near")!.version).not.toBe(before);
    const [record] = (await h.records()).filter((r) => r.resourceId === target.resourceId);
    expect(record?.signal).toMatchObject({ source: "sweep", id: run.runId, type: "driftguard.sweep" });
    // The same candidate in the same run is decided once.
    const again = await dispatchCandidate(h.pipeline, run, target, policy);
    expect(again.outcome).toBe("remediated");
    expect(h.sim.listSecretVersions("kv-sweep-e", "near")).toHaveLength(2);
    // A secret not near expiry when read (rotated since the listing) is compliant, not rotated.
    const soon = { ...target, resourceId: `${VAULT}/secrets/soon` };
    const e = await dispatchCandidate(
      h.pipeline,
      { ...run, runId: "6b4f8a31-2c8e-4d0a-9f3b-5e7d1c2a4b60" },
      soon,
      policy,
    );
    expect(e.outcome).toBe("compliant");
    expect(h.sim.listSecretVersions("kv-sweep-e", "soon")).toHaveLength(1);
  }, 60_000);
});
