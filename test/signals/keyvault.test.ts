import { describe, expect, it } from "vitest";
import { parseEventGridDelivery } from "../../shared/signals/eventgrid.js";
import type { Signal } from "../../shared/signals/types.js";
import { expectInputError, fixture, RG, SUB } from "./helpers.js";

const VAULT = `${RG}/providers/Microsoft.KeyVault/vaults/ml-prod-kv`;

function one(body: unknown): Signal {
  const parsed = parseEventGridDelivery(body, {});
  if (parsed.kind !== "signals" || parsed.signals.length !== 1) throw new Error("expected one signal");
  return parsed.signals[0]!;
}

describe("Key Vault events", () => {
  it("parses SecretNearExpiry (PascalCase data) into a secret target", () => {
    expect(one(fixture("eg-keyvault-near-expiry.json"))).toEqual({
      source: "eventgrid",
      type: "Microsoft.KeyVault.SecretNearExpiry",
      id: "e7d5f3c1-9a8b-4c6d-8e2f-0a1b2c3d4e5f",
      dedupeKey: "eg:e7d5f3c1-9a8b-4c6d-8e2f-0a1b2c3d4e5f",
      time: "2024-07-19T09:00:12.103Z",
      subscriptionId: SUB,
      trigger: { keyVault: "SecretNearExpiry" },
      targets: [
        {
          resourceId: `${VAULT}/secrets/openai-api-key`,
          resourceType: "Microsoft.KeyVault/vaults/secrets",
          subscriptionId: SUB,
        },
      ],
      keyVault: {
        vaultName: "ml-prod-kv",
        objectType: "Secret",
        objectName: "openai-api-key",
        version: "ee059b2bb5bc48398a53b168c6cdcb10",
        exp: 1723974012,
        nbf: 1718790012,
      },
    } satisfies Signal);
  });

  it("reads camelCase / padded keys, padded values and epoch strings (the docs' own sample shape)", () => {
    const s = one(fixture("eg-keyvault-odd-keys.json"));
    expect(s.trigger).toEqual({ keyVault: "SecretNewVersionCreated" });
    expect(s.targets[0]!.resourceId).toBe(`${VAULT}/secrets/storage-conn`);
    expect(s.keyVault).toEqual({
      vaultName: "ml-prod-kv",
      objectType: "Secret",
      objectName: "storage-conn",
      version: "ee059b2bb5bc48398a53b168c6cdcb10",
      nbf: 1721869713,
      exp: 1729645713,
    });
  });

  it("handles odd casing such as VAULTNAME / objectname / Exp", () => {
    const body = fixture("eg-keyvault-near-expiry.json");
    const d = body[0].data;
    body[0].data = {
      ID: d.Id,
      VAULTNAME: d.VaultName,
      "  objecttype": d.ObjectType,
      objectname: d.ObjectName,
      Version: d.Version,
      Exp: String(d.EXP),
    };
    const s = one(body);
    expect(s.keyVault).toEqual({
      vaultName: "ml-prod-kv",
      objectType: "Secret",
      objectName: "openai-api-key",
      version: "ee059b2bb5bc48398a53b168c6cdcb10",
      exp: 1723974012,
    });
  });

  it("parses the CloudEvents form, with the vault ID in `source`", () => {
    const s = one(fixture("ce-batch.json")[1]);
    expect(s.type).toBe("Microsoft.KeyVault.SecretExpired");
    expect(s.targets[0]!.resourceType).toBe("Microsoft.KeyVault/vaults/secrets");
  });

  it("rejects a missing ObjectName with the canonical key in the path", () => {
    const body = fixture("eg-keyvault-near-expiry.json");
    delete body[0].data.ObjectName;
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "InvalidEvent",
      path: "[0].data.ObjectName",
    });
  });

  it("names the key as sent when its value is bad", () => {
    const body = fixture("eg-keyvault-odd-keys.json");
    body[0].data["objectName "] = "../etc";
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "InvalidEvent",
      path: '[0].data["objectName "]',
    });
    const b2 = fixture("eg-keyvault-near-expiry.json");
    b2[0].data.EXP = "next week";
    expectInputError(() => parseEventGridDelivery(b2, {}), { code: "InvalidEvent", path: "[0].data.EXP" });
  });

  it("ignores unknown keys, including __proto__", () => {
    const body = JSON.parse(
      JSON.stringify(fixture("eg-keyvault-near-expiry.json")).replace(
        '"VaultName"',
        '"__proto__":{"polluted":true},"Extra":1,"VaultName"',
      ),
    );
    const s = one(body);
    expect(s.keyVault?.vaultName).toBe("ml-prod-kv");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("rejects two spellings of one key with different values", () => {
    const body = fixture("eg-keyvault-near-expiry.json");
    body[0].data.objectName = "other-secret";
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "AmbiguousField",
      path: "[0].data.objectName",
    });
  });

  it("requires the topic to be a Key Vault resource ID naming the same vault", () => {
    const a = fixture("eg-keyvault-near-expiry.json");
    a[0].topic = `${RG}/providers/Microsoft.Storage/storageAccounts/ml-prod-kv`;
    expectInputError(() => parseEventGridDelivery(a, {}), { code: "InvalidEvent", path: "[0].topic" });
    const b = fixture("eg-keyvault-near-expiry.json");
    b[0].topic = `${RG}/providers/Microsoft.KeyVault/vaults/other-kv`;
    expectInputError(() => parseEventGridDelivery(b, {}), {
      code: "InconsistentEvent",
      path: "[0].data.VaultName",
    });
    const c = fixture("eg-keyvault-near-expiry.json");
    delete c[0].topic;
    expectInputError(() => parseEventGridDelivery(c, {}), { code: "InvalidEvent", path: "[0].topic" });
    const d = fixture("eg-keyvault-near-expiry.json");
    d[0].topic = `${RG}/providers/Microsoft.KeyVault/vaults/../vaults/ml-prod-kv`;
    expectInputError(() => parseEventGridDelivery(d, {}), { code: "InvalidResourceId", path: "[0].topic" });
  });

  it("rejects inconsistent subject, ObjectType and Id", () => {
    const a = fixture("eg-keyvault-near-expiry.json");
    a[0].subject = "another-secret";
    expectInputError(() => parseEventGridDelivery(a, {}), { code: "InconsistentEvent", path: "[0].subject" });
    const b = fixture("eg-keyvault-near-expiry.json");
    b[0].data.ObjectType = "Key";
    expectInputError(() => parseEventGridDelivery(b, {}), {
      code: "InconsistentEvent",
      path: "[0].data.ObjectType",
    });
    const c = fixture("eg-keyvault-near-expiry.json");
    c[0].data.Id = "https://ml-prod-kv.vault.azure.net/secrets/another/ee059b2bb5bc48398a53b168c6cdcb10";
    expectInputError(() => parseEventGridDelivery(c, {}), { code: "InconsistentEvent", path: "[0].data.Id" });
    const d = fixture("eg-keyvault-near-expiry.json");
    d[0].data.Id = "not a url";
    expectInputError(() => parseEventGridDelivery(d, {}), { code: "InvalidEvent", path: "[0].data.Id" });
  });

  it("maps Key events to vaults/keys targets", () => {
    const body = fixture("eg-keyvault-near-expiry.json");
    body[0].eventType = "Microsoft.KeyVault.KeyNearExpiry";
    body[0].data.ObjectType = "Key";
    body[0].data.Id = body[0].data.Id.replace("/secrets/", "/keys/");
    const s = one(body);
    expect(s.trigger).toEqual({ keyVault: "KeyNearExpiry" });
    expect(s.targets[0]!.resourceType).toBe("Microsoft.KeyVault/vaults/keys");
  });

  it("rejects unknown Key Vault event names", () => {
    const body = fixture("eg-keyvault-near-expiry.json");
    body[0].eventType = "Microsoft.KeyVault.SecretStolen";
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "UnsupportedEventType",
      path: "[0].eventType",
    });
  });
});
