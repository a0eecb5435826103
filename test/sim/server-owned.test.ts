/** What a write keeps from the stored resource because only ARM sets it (dev/azure-sim/server-owned.ts). */
import { describe, expect, it } from "vitest";
import type { ArmResource } from "../../dev/azure-sim/index.js";
import { keepServerOwned } from "../../dev/azure-sim/server-owned.js";

const EP =
  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/onlineEndpoints/ep";
const TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints";

const stored: ArmResource = {
  id: EP,
  name: "ep",
  type: TYPE,
  identity: { type: "SystemAssigned", principalId: "p-1", tenantId: "t-1" },
  systemData: { createdBy: "someone" },
  properties: { authMode: "Key", scoringUri: "https://ep/score", swaggerUri: "https://ep/swagger.json" },
};

describe("keepServerOwned", () => {
  it("puts back the read-only fields a PUT body omits", () => {
    const next: ArmResource = {
      id: EP,
      name: "ep",
      type: TYPE,
      identity: { type: "SystemAssigned" },
      properties: { authMode: "Key", publicNetworkAccess: "Disabled" },
    };
    keepServerOwned(next, stored);
    expect(next).toEqual({
      ...stored,
      properties: { ...stored.properties, publicNetworkAccess: "Disabled" },
    });
  });

  it("keeps what the body sends, adds nothing to a new resource, creates no missing parent object", () => {
    const sent: ArmResource = { id: EP, name: "ep", type: TYPE, properties: { scoringUri: "https://other" } };
    keepServerOwned(sent, stored);
    expect(sent.properties?.scoringUri).toBe("https://other");
    expect(sent.identity).toBeUndefined();

    const created: ArmResource = { id: EP, name: "ep", type: TYPE, properties: {} };
    keepServerOwned(created, undefined);
    expect(created).toEqual({ id: EP, name: "ep", type: TYPE, properties: {} });
  });

  it("does not carry principal IDs over to another identity type", () => {
    const next: ArmResource = { id: EP, name: "ep", type: TYPE, identity: { type: "None" }, properties: {} };
    keepServerOwned(next, stored);
    expect(next.identity).toEqual({ type: "None" });
  });

  it("a type without read-only entries keeps only the generic ones", () => {
    const id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st";
    const next: ArmResource = { id, name: "st", type: "Microsoft.Storage/storageAccounts", properties: {} };
    keepServerOwned(next, {
      ...next,
      systemData: { createdBy: "someone" },
      properties: { scoringUri: "x", creationTime: "2024-01-01T00:00:00Z" },
    });
    expect(next).toEqual({
      id,
      name: "st",
      type: "Microsoft.Storage/storageAccounts",
      properties: {},
      systemData: { createdBy: "someone" },
    });
  });

  it("a blob service PUT keeps its read-only sku (the account's)", () => {
    const id =
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st/blobServices/default";
    const type = "Microsoft.Storage/storageAccounts/blobServices";
    const next: ArmResource = { id, name: "default", type, properties: { isVersioningEnabled: true } };
    keepServerOwned(next, { ...next, sku: { name: "Standard_LRS", tier: "Standard" }, properties: {} });
    expect(next.sku).toEqual({ name: "Standard_LRS", tier: "Standard" });
    expect(next.properties).toEqual({ isVersioningEnabled: true });
  });
});
