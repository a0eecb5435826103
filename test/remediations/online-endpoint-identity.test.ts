/**
 * `disable-public-network-access` on an ML online endpoint that runs as a user-assigned identity. The
 * endpoint is written with a PUT of the whole endpoint, so the PUT names the identity again: the
 * identity must come back unchanged (an endpoint that lost it could no longer pull its model or
 * reach its data), and ARM authorises such a PUT with `userAssignedIdentities/assign/action` on the
 * identity too — which is why the deployment's role grants it (test/infra/role-coverage.test.ts
 * reads this suite's requests).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ArmResource } from "../../dev/azure-sim/index.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const SUB = "00000000-0000-0000-0000-0000000000e7";
const PROV = `/subscriptions/${SUB}/resourceGroups/rg-ml/providers`;
const WS_TYPE = "Microsoft.MachineLearningServices/workspaces";
const EP_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints";
const wsId = `${PROV}/${WS_TYPE}/ws-uami`;
const epId = `${wsId}/onlineEndpoints/ep-uami`;
const identityId = `/subscriptions/${SUB}/resourceGroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-scoring`;

const seed: ArmResource[] = [
  {
    id: wsId,
    name: "ws-uami",
    type: WS_TYPE,
    location: "westeurope",
    identity: { type: "SystemAssigned" },
    properties: { publicNetworkAccess: "Disabled" },
  },
  {
    id: epId,
    name: "ep-uami",
    type: EP_TYPE,
    location: "westeurope",
    kind: "Managed",
    identity: {
      type: "UserAssigned",
      userAssignedIdentities: {
        [identityId]: {
          principalId: "3f1c2a9e-1111-4d5e-9f00-0000000000a1",
          clientId: "3f1c2a9e-2222-4d5e-9f00-0000000000a2",
        },
      },
    },
    properties: { authMode: "AADToken", publicNetworkAccess: "Enabled", traffic: { blue: 100 } },
  },
];

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    seed: { resources: seed },
    policies: {
      version: 1,
      policies: [
        {
          name: "endpoints-private",
          resourceTypes: [EP_TYPE],
          triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
          kind: "disable-public-network-access",
        },
      ],
    },
  });
});

afterAll(async () => {
  await h?.close();
});

const signal: Signal = {
  source: "eventgrid",
  type: "Microsoft.Resources.ResourceWriteSuccess",
  id: "evt-ep-uami",
  dedupeKey: "evt-ep-uami",
  time: new Date().toISOString(),
  subscriptionId: SUB,
  trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
  targets: [{ resourceId: epId, resourceType: EP_TYPE, subscriptionId: SUB }],
};

it("closes the endpoint and keeps its user-assigned identity, which the PUT names again", async () => {
  const [decision] = await h.handle(signal);
  expect(decision?.outcome).toBe("remediated");

  const after = h.sim.getResource(epId)!;
  expect((after.properties as { publicNetworkAccess?: string }).publicNetworkAccess).toBe("Disabled");
  expect(after.identity).toMatchObject({ type: "UserAssigned" });
  expect(Object.keys((after.identity as { userAssignedIdentities: object }).userAssignedIdentities)).toEqual([
    identityId,
  ]);

  const puts = h.sim.writes({ pathIncludes: "/onlineEndpoints/ep-uami" }).filter((w) => w.method === "PUT");
  expect(puts).toHaveLength(1);
  const body = puts[0]!.body as { identity?: { type?: string; userAssignedIdentities?: object } };
  expect(body.identity?.type).toBe("UserAssigned");
  expect(Object.keys(body.identity?.userAssignedIdentities ?? {})).toEqual([identityId]);

  const [record] = await h.records();
  expect(record).toMatchObject({ outcome: "remediated", kind: "disable-public-network-access" });
});
