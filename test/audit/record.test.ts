import { describe, expect, it } from "vitest";
import { isNetworkConfigValue, sanitizeRecordInput, toRecordSignal } from "../../shared/audit/record.js";
import { pseudonymize } from "../../shared/redact.js";
import type { Signal } from "../../shared/signals/types.js";
import { ARM_EVENT, input, PERSONAL_STRINGS, recordFromArmEvent, SECRET_VALUE } from "./contract.js";

describe("toRecordSignal", () => {
  const signal: Signal = {
    source: "monitor",
    type: "alert.Fired",
    id: "alert-1",
    dedupeKey: "alert-1|Fired",
    time: "2025-01-01T00:00:00Z",
    trigger: { alert: "gpu-cost-high", condition: "Fired" },
    targets: [],
    caller: { objectId: "0b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", appId: "app-1" },
    alert: {
      alertId: "alert-1",
      ruleName: "gpu-cost-high",
      condition: "Fired",
      dimensions: { user: "bob@contoso.com" },
    },
  };

  it("keeps only source/type/id/correlationId and a pseudonymous caller", () => {
    const r = toRecordSignal(signal, "k1");
    expect(r).toEqual({
      source: "monitor",
      type: "alert.Fired",
      id: "alert-1",
      correlationId: null,
      caller: { id: pseudonymize("0b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "k1"), appId: "app-1" },
    });
    expect(JSON.stringify(r)).not.toContain("0b3c4d5e");
    expect(JSON.stringify(r)).not.toContain("contoso");
    expect(toRecordSignal(signal, "k2").caller?.id).not.toBe(r.caller?.id);
    expect(toRecordSignal({ ...signal, caller: undefined, correlationId: "c" }, "k1")).toEqual({
      source: "monitor",
      type: "alert.Fired",
      id: "alert-1",
      correlationId: "c",
    });
  });
});

describe("sanitizeRecordInput", () => {
  it("removes personal claims, secrets and tokens from every free-form field", () => {
    const out = sanitizeRecordInput(recordFromArmEvent("k"));
    const text = JSON.stringify(out);
    for (const s of [...PERSONAL_STRINGS, SECRET_VALUE, "eyJhbGciOiJSUzI1NiJ9"])
      expect(text).not.toContain(s);
    expect(out.changes[1]).toEqual({ path: "properties.value", from: "<redacted>", to: "<redacted>" });
    expect(out.error?.step).toBe("apply");
    expect(out.followUp).toEqual({
      requestedBy: { upn: "<redacted>", ipaddr: "<redacted>" },
      secret: "<redacted>",
    });
  });

  it("keeps network configuration: CIDRs anywhere, bare IPs and service tags under address fields", () => {
    const out = sanitizeRecordInput(
      input({
        changes: [
          {
            path: "properties.securityRules[r].sourceAddressPrefix",
            from: "198.51.100.7",
            to: "VirtualNetwork",
          },
          {
            path: "properties.securityRules[r].destinationAddressPrefixes",
            from: ["10.0.0.0/8", "2001:db8::/32"],
            to: [],
          },
          { path: "properties.note", from: "client 198.51.100.7 opened 10.0.0.0/8", to: null },
          { path: "properties.securityRules[r].sourceAddressPrefix", from: "alice@contoso.com", to: "*" },
        ],
      }),
    );
    expect(out.changes[0]).toEqual({
      path: "properties.securityRules[r].sourceAddressPrefix",
      from: "198.51.100.7",
      to: "VirtualNetwork",
    });
    expect(out.changes[1]!.from).toEqual(["10.0.0.0/8", "2001:db8::/32"]);
    expect(out.changes[2]!.from).toBe("client <ip> opened 10.0.0.0/8");
    expect(out.changes[3]!.from).toBe("<email>");
    expect(out.changes[3]!.to).toBe("*");
    expect(isNetworkConfigValue("sourceAddressPrefix", "Internet")).toBe(true);
    expect(isNetworkConfigValue("description", "10.0.0.1")).toBe(false);
  });

  it("drops caller and approver IDs that are not pseudonyms, is idempotent, and does not mutate its input", () => {
    const raw = input({
      signal: {
        source: "eventgrid",
        type: "t",
        id: "i",
        correlationId: null,
        caller: { id: ARM_EVENT.data.claims.oid, appId: "a" },
      },
      approver: { id: "alice@contoso.com", decidedAt: "2025-01-01T00:00:00Z", via: "teams" },
      actor: "cli:alice@contoso.com",
    });
    const copy = structuredClone(raw);
    const once = sanitizeRecordInput(raw);
    expect(raw).toEqual(copy);
    expect(once.signal.caller).toEqual({ id: null, appId: "a" });
    expect(once.approver?.id).toBe("<redacted>");
    expect(once.actor).toBe("cli:<email>");
    expect(sanitizeRecordInput(once)).toEqual(once);
    const ok = sanitizeRecordInput(
      input({
        approver: { id: "p-0123456789abcdef01234567", decidedAt: "2025-01-01T00:00:00Z", via: "cli" },
      }),
    );
    expect(ok.approver?.id).toBe("p-0123456789abcdef01234567");
  });
});
