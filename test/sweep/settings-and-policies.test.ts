/** The sweep's settings (validated at start) and the policy field `sweep`, and exemptions on events. */
import { describe, expect, it } from "vitest";
import { loadConfig, ncrontabProblem } from "../../shared/config.js";
import { validatePolicyText } from "../../shared/policy/load.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import { parseEventGridDelivery } from "../../shared/signals/eventgrid.js";
import { ManualClock, startHarness } from "../helpers/harness.js";
import { armWriteEvent } from "../helpers/stack.js";
import { IDS, SWEEP_POLICIES, sweepEstate } from "./estate.js";

const base = { DRIFTGUARD_LOCAL_STACK: "1" };

describe("sweep settings", () => {
  it("default to a daily 03:00 schedule, policy mode, 50 changes, tenant scope", () => {
    expect(loadConfig(base).sweep).toEqual({
      schedule: "0 0 3 * * *",
      mode: "policy",
      maxChanges: 50,
      subscriptions: [],
    });
  });

  it("fail fast with the setting's name and the reason", () => {
    const bad: [string, string, RegExp][] = [
      ["DRIFTGUARD_SWEEP_SCHEDULE", "", /must not be empty/],
      ["DRIFTGUARD_SWEEP_SCHEDULE", "0 3 * * *", /six fields/],
      ["DRIFTGUARD_SWEEP_SCHEDULE", "0 0 25 * * *", /outside 0-23/],
      ["DRIFTGUARD_SWEEP_MODE", "enforce", /policy \| dry-run \| off/],
      ["DRIFTGUARD_SWEEP_MAX_CHANGES", "-1", /integer from 0/],
      ["DRIFTGUARD_SWEEP_MAX_CHANGES", "lots", /integer from 0/],
      ["DRIFTGUARD_SWEEP_SUBSCRIPTIONS", "sub-1,sub-2", /not a subscription ID/],
    ];
    for (const [name, value, why] of bad) {
      expect(() => loadConfig({ ...base, [name]: value }), `${name}=${value}`).toThrow(why);
      expect(() => loadConfig({ ...base, [name]: value })).toThrow(name);
    }
    expect(
      loadConfig({
        ...base,
        DRIFTGUARD_SWEEP_SCHEDULE: "0 30 */6 * * Mon-Fri",
        DRIFTGUARD_SWEEP_MODE: "dry-run",
        DRIFTGUARD_SWEEP_MAX_CHANGES: "0",
        DRIFTGUARD_SWEEP_SUBSCRIPTIONS:
          "00000000-0000-0000-0000-0000000000A1, 00000000-0000-0000-0000-0000000000b2",
      }).sweep,
    ).toEqual({
      schedule: "0 30 */6 * * Mon-Fri",
      mode: "dry-run",
      maxChanges: 0,
      subscriptions: ["00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000b2"],
    });
    expect(ncrontabProblem("*/10 * * * * *")).toBeUndefined();
  });
});

describe("the policy field sweep", () => {
  const policy = (kind: string, extra: string) => `version: 1
policies:
  - name: p
    resourceTypes: [${kind === "scale-gpu-pool" ? "Microsoft.ContainerService/managedClusters" : "Microsoft.Storage/storageAccounts"}]
    triggers: [{ alert: "x-*" }]
    kind: ${kind}
${kind === "scale-gpu-pool" ? "    params: { maxNodes: 2 }\n" : ""}${extra}
`;

  it("is optional, true or false on a kind that sweeps", () => {
    for (const extra of ["", "    sweep: true", "    sweep: false"])
      expect(
        validatePolicyText(policy("disable-public-network-access", extra), builtinRegistry()).issues,
      ).toEqual([]);
  });

  it("true on a kind that cannot sweep is an error naming the path", () => {
    const { issues } = validatePolicyText(policy("scale-gpu-pool", "    sweep: true"), builtinRegistry());
    expect(issues).toEqual([{ path: "policies[0].sweep", message: expect.stringContaining("cannot sweep") }]);
    expect(
      validatePolicyText(policy("scale-gpu-pool", "    sweep: false"), builtinRegistry()).issues,
    ).toEqual([]);
    expect(
      validatePolicyText(policy("scale-gpu-pool", "    sweep: yes"), builtinRegistry()).issues[0]?.path,
    ).toBe("policies[0].sweep");
  });

  it("is known to exactly the kinds that can sweep", () => {
    const sweeping = builtinRegistry()
      .all.filter((k) => k.sweep)
      .map((k) => k.kind);
    expect(sweeping).toEqual([
      "close-internet-inbound-rule",
      "disable-local-auth",
      "disable-public-network-access",
      "enable-diagnostic-logs",
      "protect-model-storage",
      "require-api-subscription",
      "require-secure-transport",
      "rotate-secret",
    ]);
  });
});

describe("events and driftguard:exclude-until", () => {
  it("record the exemption and its end while it lasts, and remediate after it", async () => {
    const clock = new ManualClock(new Date("2999-12-31T12:00:00Z"));
    const h = await startHarness({ seed: sweepEstate(), policies: SWEEP_POLICIES, clock });
    try {
      const event = () => {
        const d = parseEventGridDelivery([armWriteEvent(IDS.exemptStorage)], {
          "content-type": "application/json",
        });
        if (d.kind !== "signals") throw new Error("signals expected");
        return h.pipeline.handleAll(d.signals);
      };
      const [during] = await event();
      expect(during?.outcome).toBe("excluded");
      expect(during?.record?.reason).toBe(
        "resource is exempt until 2999-12-31T23:59:59.999Z (tag driftguard:exclude-until=2999-12-31)",
      );
      expect(h.sim.writes()).toEqual([]);
      clock.set("3000-01-01T00:00:00Z");
      const [after] = await event();
      expect(after?.outcome).toBe("remediated");
      expect(h.sim.getResource(IDS.exemptStorage)?.properties?.publicNetworkAccess).toBe("Disabled");
    } finally {
      await h.close();
    }
  }, 60_000);
});
