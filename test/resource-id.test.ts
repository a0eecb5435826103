import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isResourceId,
  isUnderScope,
  parentResourceId,
  parseResourceId,
  ResourceIdError,
  sameType,
} from "../shared/resource-id.js";

const SUB = "8f0a2c4e-1b7d-4a3e-9c55-2d6e7f8a9b10";
const RG = `/subscriptions/${SUB}/resourceGroups/ml-prod`;

describe("parseResourceId", () => {
  it("parses subscription, resource group, resource and child IDs", () => {
    expect(parseResourceId(`/subscriptions/${SUB}`)).toEqual({
      id: `/subscriptions/${SUB}`,
      subscriptionId: SUB,
      type: "Microsoft.Resources/subscriptions",
      name: SUB,
      names: [],
    });
    expect(parseResourceId(`${RG}/`)).toEqual({
      id: RG,
      subscriptionId: SUB,
      resourceGroup: "ml-prod",
      type: "Microsoft.Resources/resourceGroups",
      name: "ml-prod",
      names: [],
    });
    const rule = parseResourceId(
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-1/securityRules/allow-ssh`,
    );
    expect(rule).toMatchObject({
      subscriptionId: SUB,
      resourceGroup: "ml-prod",
      namespace: "Microsoft.Network",
      type: "Microsoft.Network/networkSecurityGroups/securityRules",
      name: "allow-ssh",
      names: [
        ["networkSecurityGroups", "nsg-1"],
        ["securityRules", "allow-ssh"],
      ],
    });
    expect(parentResourceId(rule)).toBe(`${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-1`);
    expect(parentResourceId(parseResourceId(`${RG}/providers/Microsoft.KeyVault/vaults/kv`))).toBeUndefined();
  });

  it("keeps the casing ARM sent (alert target IDs are lower case)", () => {
    const lower = `/subscriptions/${SUB}/resourcegroups/ml-prod/providers/microsoft.compute/virtualmachines/vm1`;
    const id = parseResourceId(lower);
    expect(id.id).toBe(lower);
    expect(id.type).toBe("microsoft.compute/virtualmachines");
    expect(sameType(id.type, "Microsoft.Compute/virtualMachines")).toBe(true);
  });

  it("rejects malformed IDs with a reason", () => {
    const bad: [string, RegExp][] = [
      ["", /start with '\/'/],
      ["subscriptions/x", /start with '\/'/],
      [`/subscriptions/${SUB}/resourceGroups/..`, /'\.\.'/],
      [`/subscriptions/${SUB}/resourceGroups/.`, /'\.'/],
      [`/subscriptions/${SUB}//resourceGroups/rg`, /resourceGroups|empty/],
      [`${RG}/providers/Microsoft.Network/networkSecurityGroups//securityRules/r`, /empty/],
      [`${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg/securityRules`, /pairs/],
      [`${RG}/providers/Microsoft.Network/networkSecurityGroups/a?b=1`, /invalid characters/],
      [`${RG}/providers/Microsoft.Network/networkSecurityGroups/a%2F..`, /invalid characters/],
      [`${RG}/providers/Network/networkSecurityGroups/a`, /provider namespace/],
      ["/subscriptions/not a guid!/resourceGroups/rg", /invalid characters|GUID/],
      [`/tenants/${SUB}`, /\/subscriptions\//],
      [`${RG}/providers/Microsoft.Network/${"x".repeat(2050)}/y`, /too long/],
    ];
    for (const [raw, reason] of bad) {
      expect(() => parseResourceId(raw), raw).toThrow(ResourceIdError);
      expect(() => parseResourceId(raw), raw).toThrow(reason);
      expect(isResourceId(raw)).toBe(false);
    }
    expect(isResourceId(42)).toBe(false);
  });
});

describe("isUnderScope", () => {
  it("matches whole segments, case-insensitively", () => {
    expect(isUnderScope(`${RG}/providers/Microsoft.Storage/storageAccounts/sa`, RG)).toBe(true);
    expect(isUnderScope(`${RG}/providers/Microsoft.Storage/storageAccounts/sa`, RG.toUpperCase())).toBe(true);
    expect(isUnderScope(RG, `${RG}/`)).toBe(true);
    expect(isUnderScope(`${RG}-2/providers/Microsoft.Storage/storageAccounts/sa`, RG)).toBe(false);
  });
});

// --- properties -------------------------------------------------------------------------------

const segChar = fc.constantFrom(..."abcXYZ019_-.()~ ".split(""));
const nameSeg = fc
  .array(segChar, { minLength: 1, maxLength: 20 })
  .map((a) => a.join(""))
  .filter((s) => s !== "." && s !== "..");
const typeSeg = fc
  .tuple(
    fc.constantFrom(..."abcdefXYZ".split("")),
    fc.array(fc.constantFrom(..."abcXYZ0129".split("")), { maxLength: 15 }),
  )
  .map(([h, t]) => h + t.join(""));
const namespace = fc
  .tuple(
    typeSeg,
    fc.array(fc.array(fc.constantFrom(..."abcXYZ019".split("")), { minLength: 1, maxLength: 8 }), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([h, parts]) => [h, ...parts.map((p) => p.join(""))].join("."));
const guid = fc.uuid();

const validId = fc.oneof(
  guid.map((s) => ({ raw: `/subscriptions/${s}`, pairs: 0 })),
  fc.tuple(guid, nameSeg).map(([s, rg]) => ({ raw: `/subscriptions/${s}/resourceGroups/${rg}`, pairs: 0 })),
  fc
    .tuple(guid, nameSeg, namespace, fc.array(fc.tuple(typeSeg, nameSeg), { minLength: 1, maxLength: 4 }))
    .map(([s, rg, ns, pairs]) => ({
      raw: `/subscriptions/${s}/resourceGroups/${rg}/providers/${ns}/${pairs.map(([t, n]) => `${t}/${n}`).join("/")}`,
      pairs: pairs.length,
      ns,
      types: pairs.map(([t]) => t),
      last: pairs[pairs.length - 1]![1],
    })),
);

describe("resource ID properties", () => {
  it("any ID built from valid segments parses and round-trips", () => {
    fc.assert(
      fc.property(validId, (v) => {
        const id = parseResourceId(v.raw);
        expect(id.id).toBe(v.raw);
        expect(parseResourceId(id.id)).toEqual(id);
        expect(parseResourceId(`${v.raw}/`)).toEqual(id);
        expect(id.names).toHaveLength(v.pairs);
        if ("ns" in v) {
          expect(id.type).toBe(`${v.ns}/${v.types!.join("/")}`);
          expect(id.name).toBe(v.last);
          // rebuilt from its parts, the ID is the same
          const rebuilt = `/subscriptions/${id.subscriptionId}/resourceGroups/${id.resourceGroup}/providers/${id.namespace}/${id.names.map(([t, n]) => `${t}/${n}`).join("/")}`;
          expect(rebuilt).toBe(v.raw);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("any ID containing a `..` (or `.`, or empty) segment is rejected", () => {
    fc.assert(
      fc.property(validId, fc.nat(), fc.constantFrom("..", ".", ""), (v, at, bad) => {
        const parts = v.raw.split("/");
        // replace one segment after the leading empty one
        const i = 1 + (at % (parts.length - 1));
        parts[i] = bad;
        const raw = parts.join("/");
        // a trailing empty segment is the one tolerated form ("…/rg/")
        fc.pre(!(bad === "" && i === parts.length - 1));
        expect(() => parseResourceId(raw)).toThrow(ResourceIdError);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(validId, fc.constantFrom("/..", "/../x", "/./y"), (v, tail) => {
        expect(isResourceId(`${v.raw}${tail}`)).toBe(false);
      }),
    );
  });
});

describe("subscription-level provider resources", () => {
  it("parses role assignments and deployments at subscription scope", () => {
    const id = parseResourceId(
      "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleAssignments/6f2c0d1e-8b9a-4c3d-2e1f-0a9b8c7d6e5f",
    );
    expect(id.resourceGroup).toBeUndefined();
    expect(id.type).toBe("Microsoft.Authorization/roleAssignments");
    expect(id.name).toBe("6f2c0d1e-8b9a-4c3d-2e1f-0a9b8c7d6e5f");
    expect(() =>
      parseResourceId(
        "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization",
      ),
    ).toThrow();
  });
});

describe("extension resources (diagnostic settings)", () => {
  const VAULT = `${RG}/providers/Microsoft.KeyVault/vaults/kv-1`;
  const ACCOUNT = `${RG}/providers/Microsoft.Storage/storageAccounts/st1`;

  it("map to the resource they are on, keeping their own ID and type", () => {
    const setting = `${VAULT}/providers/Microsoft.Insights/diagnosticSettings/audit`;
    expect(parseResourceId(setting)).toEqual({
      ...parseResourceId(VAULT),
      extension: { id: setting, type: "Microsoft.Insights/diagnosticSettings", name: "audit" },
    });
    const onBlob = parseResourceId(
      `${ACCOUNT}/blobServices/default/providers/microsoft.insights/diagnosticSettings/driftguard`,
    );
    expect(onBlob).toMatchObject({
      id: `${ACCOUNT}/blobServices/default`,
      type: "Microsoft.Storage/storageAccounts/blobServices",
      name: "default",
      extension: { type: "microsoft.insights/diagnosticSettings", name: "driftguard" },
    });
  });

  it("a resource group or subscription level provider resource is not an extension; a resource named 'providers' is none either", () => {
    expect(
      parseResourceId(`${RG}/providers/Microsoft.Insights/diagnosticSettings/x`).extension,
    ).toBeUndefined();
    expect(
      parseResourceId(`/subscriptions/${SUB}/providers/Microsoft.Insights/diagnosticSettings/x`),
    ).toMatchObject({
      type: "Microsoft.Insights/diagnosticSettings",
    });
    const named = parseResourceId(`${RG}/providers/Microsoft.Web/sites/providers`);
    expect(named).toMatchObject({ type: "Microsoft.Web/sites", name: "providers" });
    expect(named.extension).toBeUndefined();
  });

  it("malformed extension IDs are rejected", () => {
    for (const raw of [
      `${VAULT}/providers/Microsoft.Insights/diagnosticSettings`,
      `${VAULT}/providers/Insights/diagnosticSettings/x`,
      `${VAULT}/providers/Microsoft.Insights/diagnosticSettings/x/providers/Microsoft.Insights/diagnosticSettings/y`,
    ]) {
      expect(() => parseResourceId(raw), raw).toThrow(ResourceIdError);
    }
  });
});
