import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InputError } from "../../shared/errors.js";
import { MAX_BODY_BYTES, parseJsonBody } from "../../shared/signals/body.js";
import { normalizeIsoTime } from "../../shared/signals/common.js";
import { formatPath, joinPath, zodToInputError } from "../../shared/signals/errors.js";
import { matchesGlob } from "../../shared/signals/glob.js";
import { expectInputError } from "./helpers.js";

describe("parseJsonBody", () => {
  it("parses JSON from a Buffer or a string, with or without a BOM", () => {
    expect(parseJsonBody(Buffer.from('[{"a":1}]'))).toEqual([{ a: 1 }]);
    expect(parseJsonBody('\uFEFF{"a":"é"}')).toEqual({ a: "é" });
  });

  it("answers 413 PayloadTooLarge over the limit (1 MB by default, counted in bytes)", () => {
    expect(MAX_BODY_BYTES).toBe(1_048_576);
    const big = `[${"1,".repeat(MAX_BODY_BYTES / 2)}1]`;
    expectInputError(() => parseJsonBody(big), { code: "PayloadTooLarge", path: "", status: 413 });
    // 600k two-byte characters: under the limit in characters, over it in bytes
    const wide = JSON.stringify("é".repeat(600_000));
    expect(wide.length).toBeLessThan(MAX_BODY_BYTES);
    expectInputError(() => parseJsonBody(wide), { code: "PayloadTooLarge", path: "", status: 413 });
    expectInputError(() => parseJsonBody(Buffer.from("[1,2,3]"), 4), {
      code: "PayloadTooLarge",
      path: "",
      status: 413,
    });
  });

  it("answers 400 InvalidJson with an empty path for non-JSON or empty bodies", () => {
    expectInputError(() => parseJsonBody("{not json"), { code: "InvalidJson", path: "" });
    expectInputError(() => parseJsonBody("<xml/>"), { code: "InvalidJson", path: "" });
    expectInputError(() => parseJsonBody(Buffer.alloc(0)), { code: "InvalidJson", path: "" });
    expectInputError(() => parseJsonBody("   "), { code: "InvalidJson", path: "" });
  });
});

describe("matchesGlob", () => {
  it("supports * and ?, anchored and case-insensitive", () => {
    expect(matchesGlob("gpu-cost-*", "gpu-cost-ml-ws")).toBe(true);
    expect(matchesGlob("gpu-cost-*", "GPU-COST-")).toBe(true);
    expect(matchesGlob("gpu-cost-*", "x-gpu-cost-ml")).toBe(false);
    expect(matchesGlob("ml-?", "ml-a")).toBe(true);
    expect(matchesGlob("ml-?", "ml-ab")).toBe(false);
    expect(matchesGlob("ml-?", "ml-")).toBe(false);
    expect(
      matchesGlob("Microsoft.Resources.Resource*Success", "microsoft.resources.resourcewritesuccess"),
    ).toBe(true);
    expect(
      matchesGlob("Microsoft.Resources.Resource*Success", "Microsoft.Resources.ResourceWriteFailure"),
    ).toBe(false);
    expect(matchesGlob("*", "")).toBe(true);
    expect(matchesGlob("", "")).toBe(true);
    expect(matchesGlob("", "a")).toBe(false);
    expect(matchesGlob("a.b", "aXb")).toBe(false); // '.' is literal
    expect(matchesGlob("(x)+[y]", "(x)+[y]")).toBe(true); // regex characters are literal
    expect(matchesGlob("*a*b*c", "xxaxxbxxc")).toBe(true);
    expect(matchesGlob("*a*b*c", "xxaxxcxxb")).toBe(false);
  });

  it("agrees with a regex reference implementation on random inputs", () => {
    const ref = (p: string, v: string) =>
      new RegExp(
        `^${[...p].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.|+()[\]{}]/g, "\\$&"))).join("")}$`,
        "is",
      ).test(v);
    const alpha = fc.constantFrom("a", "b", "A", "-", ".", "*", "?");
    const str = fc.array(alpha, { maxLength: 10 }).map((a) => a.join(""));
    const val = fc.array(fc.constantFrom("a", "b", "B", "-", "."), { maxLength: 12 }).map((a) => a.join(""));
    fc.assert(fc.property(str, val, (p, v) => matchesGlob(p, v) === ref(p, v)));
  });

  it("stays fast on pathological patterns", () => {
    const start = performance.now();
    expect(matchesGlob(`${"*a".repeat(30)}b`, "a".repeat(500))).toBe(false);
    expect(performance.now() - start).toBeLessThan(500);
  });
});

describe("zodToInputError / paths", () => {
  it("renders indexes and keys in the notation of docs/http-api.md#error-shape", () => {
    expect(formatPath([2, "data", "resourceUri"])).toBe("[2].data.resourceUri");
    expect(formatPath(["alertTargetIDs", 0], "data.essentials")).toBe("data.essentials.alertTargetIDs[0]");
    expect(formatPath(["objectName "], "[0].data")).toBe('[0].data["objectName "]');
    expect(joinPath("", "data")).toBe("data");
    expect(joinPath("[3]", "data.x")).toBe("[3].data.x");
    expect(joinPath("data", "[0]")).toBe("data[0]");
  });

  it("converts the first zod issue into an InputError naming the field", () => {
    const schema = z.object({ policies: z.array(z.object({ name: z.string() })) });
    const r = schema.safeParse({ policies: [{ name: "a" }, { name: 5 }] });
    expect(r.success).toBe(false);
    const e = zodToInputError(r.error!, "", "InvalidPolicy");
    expect(e).toBeInstanceOf(InputError);
    expect(e.code).toBe("InvalidPolicy");
    expect(e.path).toBe("policies[1].name");
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/string/);
    expect(zodToInputError(r.error!, "[4]").path).toBe("[4].policies[1].name");
  });
});

describe("normalizeIsoTime", () => {
  it("accepts Azure's 7-digit fractions and offsets, rejects impossible or zone-less times", () => {
    expect(normalizeIsoTime("2019-03-22T13:58:24.3713213Z")).toBe("2019-03-22T13:58:24.371Z");
    expect(normalizeIsoTime("2019-03-22T13:56:31.2917159+00:00")).toBe("2019-03-22T13:56:31.291Z");
    expect(normalizeIsoTime("2019-03-22T13:56:31-08:00")).toBe("2019-03-22T21:56:31.000Z");
    expect(normalizeIsoTime("2024-02-29T00:00:00Z")).toBe("2024-02-29T00:00:00.000Z");
    expect(normalizeIsoTime("2023-02-29T00:00:00Z")).toBeUndefined();
    expect(normalizeIsoTime("2019-03-22T13:58:24")).toBeUndefined();
    expect(normalizeIsoTime("2019-03-22")).toBeUndefined();
    expect(normalizeIsoTime("2019-03-22T24:00:00Z")).toBeUndefined();
    expect(normalizeIsoTime("2019-03-22T10:00:00+25:00")).toBeUndefined();
  });
});
