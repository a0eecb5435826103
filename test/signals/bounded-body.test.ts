/**
 * Bodies are bounded before anything recursive touches them: the depth pre-scan of the text (and of
 * values a host parsed for us) refuses nesting past MAX_JSON_DEPTH with a 400 naming the limit and
 * where it was crossed — without recursing itself, so 100,000 levels are as harmless as 65.
 */
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  assertJsonTextDepth,
  assertValueDepth,
  MAX_JSON_DEPTH,
  parseJsonBody,
} from "../../shared/signals/body.js";
import { expectInputError } from "./helpers.js";

const arrays = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const objects = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;

/** Depth as JSON.parse + a recursive walk would see it (for bodies small enough to walk). */
function depthOf(v: unknown): number {
  if (typeof v !== "object" || v === null) return 0;
  return 1 + Math.max(0, ...Object.values(v).map(depthOf));
}

describe("depth limit", () => {
  it("is 64, and real-shaped payloads are far shallower", () => {
    expect(MAX_JSON_DEPTH).toBe(64);
    const dir = new URL("../fixtures/events/", import.meta.url);
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".json"))) {
      const text = readFileSync(new URL(f, dir), "utf8");
      expect(depthOf(JSON.parse(text)), f).toBeLessThan(12);
      expect(() => parseJsonBody(text), f).not.toThrow();
    }
  });

  it("accepts exactly the limit and refuses one level more, arrays or objects", () => {
    expect(parseJsonBody(arrays(64))).toBeDefined();
    expect(parseJsonBody(objects(64))).toBeDefined();
    const e = expectInputError(() => parseJsonBody(arrays(65)), {
      code: "TooDeeplyNested",
      path: "[0]".repeat(64),
    });
    expect(e.message).toMatch(/limit of 64 levels/);
    expectInputError(() => parseJsonBody(objects(65)), {
      code: "TooDeeplyNested",
      path: Array(64).fill("a").join("."),
    });
  });

  it("refuses 5,000, 10,000 and 100,000 levels with a 400 (no stack overflow)", () => {
    for (const depth of [5_000, 10_000, 100_000]) {
      const e = expectInputError(() => parseJsonBody(arrays(depth)), {
        code: "TooDeeplyNested",
        path: "[0]".repeat(64),
      });
      expect(e.message).toContain(String(MAX_JSON_DEPTH));
    }
    // Unclosed: never valid JSON, but still refused for depth before the parser sees it.
    expectInputError(() => parseJsonBody("[".repeat(10_000)), {
      code: "TooDeeplyNested",
      path: "[0]".repeat(64),
    });
  });

  it("names the path where the limit is crossed: keys (odd ones quoted) and indices", () => {
    const text = `{"data":{"alert context":[1,2,{"x":${arrays(70)}}]}}`;
    expectInputError(() => parseJsonBody(text), {
      code: "TooDeeplyNested",
      path: `data["alert context"][2].x${"[0]".repeat(60)}`,
    });
  });

  it("ignores brackets, quotes and escapes inside strings", () => {
    const inString = JSON.stringify({ s: `${"[{".repeat(500)}\\"]}\\\\"`, t: ["\\", '"'] });
    expect(() => assertJsonTextDepth(inString)).not.toThrow();
    expect(parseJsonBody(inString)).toEqual(JSON.parse(inString));
  });

  it("the text scan and the value walk agree with a recursive depth count (property)", () => {
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean()),
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 6 }), tie("node"), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(tree, fc.integer({ min: 1, max: 8 }), (value, limit) => {
        const depth = depthOf(value);
        const text = JSON.stringify(value);
        const textOk = (() => {
          try {
            assertJsonTextDepth(text, limit);
            return true;
          } catch {
            return false;
          }
        })();
        const valueOk = (() => {
          try {
            assertValueDepth(value, limit);
            return true;
          } catch {
            return false;
          }
        })();
        expect(textOk).toBe(depth <= limit);
        expect(valueOk).toBe(depth <= limit);
      }),
      { numRuns: 500 },
    );
  });

  it("assertValueDepth refuses a parsed value past the limit, naming the same path, without recursion", () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expectInputError(() => assertValueDepth(deep), { code: "TooDeeplyNested", path: "[0]".repeat(64) });
    expectInputError(() => assertValueDepth({ data: { claims: JSON.parse(arrays(80)) } }), {
      code: "TooDeeplyNested",
      path: `data.claims${"[0]".repeat(62)}`,
    });
    expect(() => assertValueDepth(JSON.parse(objects(64)))).not.toThrow();
  });
});
