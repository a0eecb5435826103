/**
 * An approval binds the exact change, except values computed at plan time: a secret rotation
 * under approval is applied when approved, although its new expiry (now + validity) differs by
 * the time the approver clicks.
 */
import { afterEach, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, ManualClock, startHarness } from "../helpers/harness.js";

const SUB = "00000000-0000-0000-0000-0000000000a9";
const VAULT_ID = `/subscriptions/${SUB}/resourceGroups/rg-rot/providers/Microsoft.KeyVault/vaults/kv-rot`;
const SECRET_ID = `${VAULT_ID}/secrets/db-password`;

const seed: Seed = {
  resources: [
    {
      id: VAULT_ID,
      name: "kv-rot",
      type: "Microsoft.KeyVault/vaults",
      location: "westeurope",
      tags: {},
      properties: { publicNetworkAccess: "Disabled" },
    },
  ],
  secrets: [{ vault: "kv-rot", name: "db-password", value: "initial-value-0123456789", expiresOn: "P5D" }],
};

const policies = `
version: 1
policies:
  - name: rotate-with-approval
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers: [{ manual: "*" }]
    kind: rotate-secret
    mode: approval
`;

const signal = (): Signal => ({
  source: "manual",
  type: "manual.rotate",
  id: crypto.randomUUID(),
  dedupeKey: `manual:${crypto.randomUUID()}`,
  time: new Date().toISOString(),
  trigger: { manual: "rotate" },
  targets: [
    { resourceId: SECRET_ID, resourceType: "Microsoft.KeyVault/vaults/secrets", subscriptionId: SUB },
  ],
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

it("a rotation waiting for approval is applied when approved minutes later", async () => {
  const clock = new ManualClock(new Date());
  h = await startHarness({ seed, policies, clock });
  const [pending] = await h.handle(signal());
  expect(pending).toMatchObject({ outcome: "pending-approval" });
  const approval = h.notifier.requests[0]!;
  const before = h.sim.listSecretVersions("kv-rot", "db-password").length;

  clock.advance(7 * 60_000);
  const result = await h.approvalLifecycle.decide(approval.id, "approved", {
    principal: { objectId: "7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9" },
    via: "approval-page",
  });
  expect(result.decisions.map((d) => d.outcome)).toEqual(["approved", "remediated"]);
  expect(h.sim.listSecretVersions("kv-rot", "db-password")).toHaveLength(before + 1);
  expect(h.notifier.requests).toHaveLength(1); // no new approval was opened
});
