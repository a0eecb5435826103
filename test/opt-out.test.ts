import { describe, expect, it } from "vitest";
import { isOptedOut } from "../shared/opt-out.js";

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
