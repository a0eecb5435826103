/**
 * A forecasted budget notification is a prediction, not spend: a `budget` trigger acts on `Actual`
 * notifications unless the policy lists `thresholdTypes`. Schema, matching, and end to end through
 * the real pipeline against the simulator (GPU cluster capped or left alone, records or none).
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { ArmResource } from "../dev/azure-sim/index.js";
import { validatePolicyText } from "../shared/policy/load.js";
import { matchPolicy, triggerMatches } from "../shared/policy/match.js";
import { builtinRegistry } from "../shared/remediations/index.js";
import { parseAlertDelivery } from "../shared/signals/alerts.js";
import type { Signal } from "../shared/signals/types.js";
import { type Harness, startHarness } from "./helpers/harness.js";

const registry = builtinRegistry();
const SUB = "00000000-0000-0000-0000-0000000000b5";
const RG_ID = `/subscriptions/${SUB}/resourceGroups/rg-ml-budget`;
const WS_ID = `${RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/ws-budget`;
const GPU_ID = `${WS_ID}/computes/gpu-a100`;

const seed: { resources: ArmResource[] } = {
  resources: [
    {
      id: RG_ID,
      name: "rg-ml-budget",
      type: "Microsoft.Resources/resourceGroups",
      location: "westeurope",
      tags: {},
      properties: { provisioningState: "Succeeded" },
    },
    {
      id: WS_ID,
      name: "ws-budget",
      type: "Microsoft.MachineLearningServices/workspaces",
      location: "westeurope",
      tags: {},
      properties: { publicNetworkAccess: "Disabled" },
    },
    {
      id: GPU_ID,
      name: "gpu-a100",
      type: "Microsoft.MachineLearningServices/workspaces/computes",
      location: "westeurope",
      tags: {},
      properties: {
        computeType: "AmlCompute",
        computeLocation: "westeurope",
        provisioningState: "Succeeded",
        properties: {
          vmSize: "Standard_NC24ads_A100_v4",
          vmPriority: "Dedicated",
          osType: "Linux",
          scaleSettings: { maxNodeCount: 8, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: "PT120S" },
        },
      },
    },
  ],
};

function policyYaml(thresholdTypes?: string): string {
  return `version: 1
policies:
  - name: gpu-budget-cap
    resourceTypes: [Microsoft.Resources/resourceGroups]
    triggers:
      - budget: "ml-*"${thresholdTypes ? `\n        thresholdTypes: ${thresholdTypes}` : ""}
    kind: scale-gpu-pool
    params: { maxNodes: 2 }
`;
}

/** A common-schema budget alert for our resource group, shaped like the fixture Azure sends. */
function budgetAlert(thresholdType: "Actual" | "Forecasted"): Signal {
  const body = JSON.parse(
    readFileSync(new URL("fixtures/events/budget-common-forecast-rg.json", import.meta.url), "utf8"),
  );
  const data = body.data.alertContext.AlertData;
  data.ThresholdType = thresholdType;
  data.BudgetId = `${RG_ID}/providers/Microsoft.Consumption/budgets/${data.BudgetName}`;
  body.data.essentials.alertId = `${RG_ID}/providers/Microsoft.CostManagement/alerts/${thresholdType}-${crypto.randomUUID()}`;
  return parseAlertDelivery(body);
}

function maxNodes(h: Harness): unknown {
  const r = h.sim.getResource(GPU_ID) as unknown as {
    properties: { properties: { scaleSettings: { maxNodeCount: number } } };
  };
  return r.properties.properties.scaleSettings.maxNodeCount;
}

describe("policy schema: budget thresholdTypes", () => {
  it("is optional, takes Actual and/or Forecasted in any case, one value or a list", () => {
    expect(validatePolicyText(policyYaml(), registry).issues).toEqual([]);
    const both = validatePolicyText(policyYaml("[Actual, forecasted]"), registry);
    expect(both.file?.policies[0]?.triggers[0]).toEqual({
      budget: "ml-*",
      thresholdTypes: ["Actual", "Forecasted"],
    });
    expect(validatePolicyText(policyYaml("Forecasted"), registry).file?.policies[0]?.triggers[0]).toEqual({
      budget: "ml-*",
      thresholdTypes: ["Forecasted"],
    });
  });

  it("reports bad values with their path", () => {
    expect(validatePolicyText(policyYaml("[Actual, Monthly]"), registry).issues).toEqual([
      { path: "policies[0].triggers[0].thresholdTypes[1]", message: expect.stringMatching(/Forecasted/) },
    ]);
    expect(validatePolicyText(policyYaml("[]"), registry).issues).toEqual([
      { path: "policies[0].triggers[0].thresholdTypes", message: expect.any(String) },
    ]);
    // Only a budget trigger has thresholdTypes.
    const onAlert = validatePolicyText(
      policyYaml().replace('budget: "ml-*"', 'alert: "ml-*"\n        thresholdTypes: [Actual]'),
      registry,
    );
    expect(onAlert.issues).toEqual([
      { path: "policies[0].triggers[0]", message: expect.stringMatching(/thresholdTypes/) },
    ]);
  });

  it("a trigger that names no known key, or two, is reported at the trigger", () => {
    const two = validatePolicyText(
      policyYaml().replace('- budget: "ml-*"', '- { budget: "ml-*", alert: "x" }'),
      registry,
    );
    expect(two.issues).toEqual([
      { path: "policies[0].triggers[0]", message: expect.stringMatching(/exactly one of/) },
    ]);
  });
});

describe("policy matching on the threshold type", () => {
  const target = {
    resourceId: RG_ID,
    resourceType: "Microsoft.Resources/resourceGroups",
    subscriptionId: SUB,
  };
  const policiesOf = (t?: string) => validatePolicyText(policyYaml(t), registry).file!.policies;

  it("by default only Actual matches", () => {
    expect(matchPolicy(policiesOf(), budgetAlert("Actual"), target)?.name).toBe("gpu-budget-cap");
    expect(matchPolicy(policiesOf(), budgetAlert("Forecasted"), target)).toBeUndefined();
  });

  it("the policy's list decides", () => {
    expect(matchPolicy(policiesOf("[Forecasted]"), budgetAlert("Actual"), target)).toBeUndefined();
    expect(matchPolicy(policiesOf("[Forecasted]"), budgetAlert("Forecasted"), target)?.name).toBe(
      "gpu-budget-cap",
    );
    for (const t of ["Actual", "Forecasted"] as const)
      expect(matchPolicy(policiesOf("[Actual, Forecasted]"), budgetAlert(t), target)?.name).toBe(
        "gpu-budget-cap",
      );
  });

  it("a budget trigger stored without a threshold type counts as Actual", () => {
    expect(triggerMatches({ budget: "ml-*" }, { budget: "ml-gpu" })).toBe(true);
    expect(triggerMatches({ budget: "ml-*", thresholdTypes: ["Forecasted"] }, { budget: "ml-gpu" })).toBe(
      false,
    );
  });
});

describe("end to end: forecasted budget alerts do not cap GPU pools unless chosen", () => {
  const open: Harness[] = [];
  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
  });
  async function harness(thresholdTypes?: string): Promise<Harness> {
    const h = await startHarness({ seed, policies: policyYaml(thresholdTypes) });
    open.push(h);
    return h;
  }

  it("default policy: a Forecasted alert matches nothing — no write, no record; an Actual one caps the pool", async () => {
    const h = await harness();
    const forecast = await h.handle(budgetAlert("Forecasted"));
    expect(forecast).toEqual([
      expect.objectContaining({
        outcome: "ignored",
        // The reason says which test failed: the type matches, the trigger (its threshold type) does not.
        reason:
          "no policy matches: policy gpu-budget-cap covers Microsoft.Resources/resourceGroups but no trigger of it matches budget ml-rg-quarterly, thresholdType Forecasted",
      }),
    ]);
    expect(h.sim.writes()).toHaveLength(0);
    expect(await h.records()).toHaveLength(0);
    expect(maxNodes(h)).toBe(8);

    const actual = await h.handle(budgetAlert("Actual"));
    expect(actual).toEqual([expect.objectContaining({ outcome: "remediated", policy: "gpu-budget-cap" })]);
    expect(maxNodes(h)).toBe(2);
    expect((await h.records()).map((r) => r.outcome)).toEqual(["remediated"]);
  });

  it("thresholdTypes [Actual, Forecasted]: a Forecasted alert caps the pool", async () => {
    const h = await harness("[Actual, Forecasted]");
    const forecast = await h.handle(budgetAlert("Forecasted"));
    expect(forecast).toEqual([expect.objectContaining({ outcome: "remediated", policy: "gpu-budget-cap" })]);
    expect(maxNodes(h)).toBe(2);
    const [record] = await h.records();
    expect(record).toMatchObject({ outcome: "remediated", signal: { source: "budget" } });
  });
});
