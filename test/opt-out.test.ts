import { describe, expect, it } from "vitest";
import { exemptionOf, isOptedOut } from "../shared/opt-out.js";

describe("opt-out tag", () => {
  it("is driftguard:exclude=true, tag name and value case-insensitive", () => {
    expect(isOptedOut({ "driftguard:exclude": "true" })).toBe(true);
    expect(isOptedOut({ "DriftGuard:Exclude": "True " })).toBe(true);
    expect(isOptedOut({ "driftguard:exclude": "false" })).toBe(false);
    expect(isOptedOut({ "driftguard:exclude": "yes" })).toBe(false);
    expect(isOptedOut({ exclude: "true" })).toBe(false);
    expect(isOptedOut({})).toBe(false);
    expect(isOptedOut(undefined)).toBe(false);
  });
});

describe("exemptions that expire: driftguard:exclude-until", () => {
  const now = new Date("2025-06-15T12:00:00Z");

  it("a date exempts to the end of that day, UTC", () => {
    expect(exemptionOf({ "driftguard:exclude-until": "2025-06-15" }, now)).toEqual({
      exempt: true,
      tag: "driftguard:exclude-until",
      value: "2025-06-15",
      until: "2025-06-15T23:59:59.999Z",
    });
    expect(exemptionOf({ "DriftGuard:Exclude-Until": "2025-06-14" }, now)).toMatchObject({
      exempt: false,
      ended: { until: "2025-06-14T23:59:59.999Z" },
    });
  });

  it("a date-time exempts until that instant (no offset = UTC)", () => {
    expect(exemptionOf({ "driftguard:exclude-until": "2025-06-15T13:00:00+02:00" }, now)).toMatchObject({
      exempt: false,
      ended: { until: "2025-06-15T11:00:00.000Z" },
    });
    expect(exemptionOf({ "driftguard:exclude-until": "2025-06-15T12:30" }, now)).toMatchObject({
      exempt: true,
      until: "2025-06-15T12:30:00.000Z",
    });
    expect(isOptedOut({ "driftguard:exclude-until": "2025-06-15T11:59:59Z" }, now)).toBe(false);
    expect(isOptedOut({ "driftguard:exclude-until": "2025-06-15T12:00:01.5Z" }, now)).toBe(true);
  });

  it("an unparseable value is not an exemption, and says why", () => {
    for (const value of ["next tuesday", "2025-02-30", "2025-13-01", "15/06/2025", "2025-06-15T25:00", ""]) {
      const e = exemptionOf({ "driftguard:exclude-until": value }, now);
      expect(e.exempt).toBe(false);
      expect(e.exempt === false && e.invalid?.problem).toBeTruthy();
    }
  });

  it("driftguard:exclude=true wins and has no end", () => {
    expect(
      exemptionOf({ "driftguard:exclude": "true", "driftguard:exclude-until": "2000-01-01" }, now),
    ).toEqual({ exempt: true, tag: "driftguard:exclude", value: "true" });
  });
});
