/**
 * Flapping: a deployment pipeline (or a person) keeps writing the old state back. After
 * `DRIFTGUARD_FLAP_LIMIT` fixes of one kind on one resource within 24 h, the next change is not
 * made: it becomes an approval with reason `flapping` naming, pseudonymously, the principals whose
 * writes undid the fix. Over the local stack (HTTP, the Cosmos gate remembering the fixes, the
 * simulator), as Event Grid would deliver the writes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_STACK_PSEUDONYM_KEY, loadConfig } from "../shared/config.js";
import { ConfigError } from "../shared/errors.js";
import { pseudonymize } from "../shared/redact.js";
import { publicStorageAccount } from "./helpers/seed.js";
import { armWriteEvent, startTestStack, TEST_SUB, type TestStack } from "./helpers/stack.js";

const ACCOUNT = `/subscriptions/${TEST_SUB}/resourceGroups/rg-flap/providers/Microsoft.Storage/storageAccounts/stflap001`;
const OID = "http://schemas.microsoft.com/identity/claims/objectidentifier";
/** The deployment pipeline's service principal and a person: both write the old state back. */
const PIPELINE_SP = "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99";
const PERSON = "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d";

describe("DRIFTGUARD_FLAP_LIMIT", () => {
  const base = { DRIFTGUARD_LOCAL_STACK: "1" };
  it("defaults to 3; 0 switches the check off; anything else is refused naming the setting", () => {
    expect(loadConfig(base).flapLimit).toBe(3);
    expect(loadConfig({ ...base, DRIFTGUARD_FLAP_LIMIT: "0" }).flapLimit).toBe(0);
    expect(loadConfig({ ...base, DRIFTGUARD_FLAP_LIMIT: " 5 " }).flapLimit).toBe(5);
    for (const bad of ["three", "-1", "2.5", "101", "1e1"]) {
      let caught: unknown;
      try {
        loadConfig({ ...base, DRIFTGUARD_FLAP_LIMIT: bad });
      } catch (err) {
        caught = err;
      }
      expect(caught, bad).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).setting).toBe("DRIFTGUARD_FLAP_LIMIT");
    }
  });
});

describe("flapping over the local stack", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      seed: { resources: [publicStorageAccount(ACCOUNT)] },
      policyYaml: `version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    maxActionsPerHour: 100
`,
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  /** Someone writes the account open again, and Event Grid tells driftguard. */
  async function undo(caller: string): Promise<string> {
    const r = stack.sim.getResource(ACCOUNT)!;
    stack.sim.putResource({ ...r, properties: { ...r.properties, publicNetworkAccess: "Enabled" } });
    const event = armWriteEvent(ACCOUNT) as { data: { claims: Record<string, string> } };
    event.data.claims[OID] = caller;
    const res = await stack.deliver([event]);
    expect(res.status).toBe(200);
    const [newest] = await stack.audit({ resourceId: ACCOUNT, limit: "1" });
    return newest!.outcome;
  }

  it("four undo-and-fix cycles: three `remediated`, then a `pending-approval` with reason `flapping` naming who undid the fix", async () => {
    const outcomes = [];
    for (const caller of [PERSON, PIPELINE_SP, PIPELINE_SP, PIPELINE_SP]) outcomes.push(await undo(caller));
    expect(outcomes).toEqual(["remediated", "remediated", "remediated", "pending-approval"]);
    const writes = stack.sim.writes({ pathIncludes: "stflap001" }).filter((w) => w.method === "PATCH");
    expect(writes).toHaveLength(3); // the fourth change was not made
    expect(stack.sim.getResource(ACCOUNT)!.properties?.publicNetworkAccess).toBe("Enabled");

    const [pending] = await stack.audit({ resourceId: ACCOUNT, outcome: "pending-approval" });
    const approval = (await stack.runtime.stores.approvals.get(pending!.approvalId!))!;
    expect(approval.reason).toBe("flapping");
    // The first fix answered the original drift (the person's); every later write undid a fix.
    const sp = pseudonymize(PIPELINE_SP, LOCAL_STACK_PSEUDONYM_KEY);
    expect(pending!.reason).toBe(
      `flapping: disable-public-network-access fixed this resource 3 times within 24 h and the fix was undone each time (by ${sp}); waiting for approval instead of changing it again`,
    );
    expect(approval.reasonDetail).toBe(pending!.reason);
    expect(pending!.reason).not.toContain(PIPELINE_SP);

    // A person decides: the approved change is made (an approved run is not held back again).
    const decided = await stack.runtime.approvalLifecycle.decide(approval.id, "approved", {
      principal: { objectId: "1a2b3c4d-5e6f-4a0b-8c1d-2e3f4a5b6c7d" },
      via: "approval-page",
    });
    expect(decided.decisions.map((d) => d.outcome)).toEqual(["approved", "remediated"]);
    expect(stack.sim.getResource(ACCOUNT)!.properties?.publicNetworkAccess).toBe("Disabled");
    // And the next undo asks again: four fixes within the day.
    expect(await undo(PIPELINE_SP)).toBe("pending-approval");
  }, 120_000);
});
