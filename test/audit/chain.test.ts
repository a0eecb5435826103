import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  computeRecordHash,
  GENESIS_HASH,
  recordId,
  verifyChain,
} from "../../shared/audit/chain.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { input, WORKSPACE } from "./contract.js";

function chain(n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const base = {
      ...input({ time: `2025-01-01T00:00:0${seq}.000Z` }),
      id: recordId(WORKSPACE, seq),
      seq,
      prevHash: prev,
    };
    const rec = { ...base, hash: computeRecordHash(base) };
    out.push(rec);
    prev = rec.hash;
  }
  return out;
}

describe("canonicalJson", () => {
  it("sorts keys at every level, drops undefined, keeps array order, no whitespace", () => {
    expect(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined, x: null }], c: "é\n" }, u: undefined }),
    ).toBe('{"a":{"c":"é\\n","d":[3,{"x":null,"z":1}]},"b":1}');
    expect(canonicalJson([undefined, Number.NaN, true])).toBe("[null,null,true]");
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson(new Date("2025-01-01T00:00:00Z"))).toBe('"2025-01-01T00:00:00.000Z"');
  });

  it("is independent of key insertion order and round-trips through JSON (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const shuffled = JSON.parse(JSON.stringify(v), (_k, val) => {
          if (val && typeof val === "object" && !Array.isArray(val))
            return Object.fromEntries(Object.entries(val).reverse());
          return val;
        });
        expect(canonicalJson(shuffled)).toBe(canonicalJson(v));
        expect(canonicalJson(JSON.parse(canonicalJson(v)))).toBe(canonicalJson(v));
      }),
    );
  });
});

describe("record hash and IDs", () => {
  it("covers every field but hash, including id, seq and prevHash", () => {
    const [r] = chain(1);
    const rec = r!;
    expect(rec.hash).toMatch(/^[0-9a-f]{64}$/);
    for (const change of [
      { seq: 2 },
      { id: "x" },
      { prevHash: "1".repeat(64) },
      { durationMs: 43 },
      { changes: [] },
      { reason: "r" },
    ]) {
      expect(computeRecordHash({ ...rec, ...change })).not.toBe(rec.hash);
    }
    expect(computeRecordHash({ ...rec, hash: "whatever" })).toBe(rec.hash);
    expect(computeRecordHash({ ...rec, reason: undefined })).toBe(rec.hash);
  });

  it("record IDs are deterministic, case-insensitive in the resource ID, and sort by seq", () => {
    expect(recordId(WORKSPACE, 7)).toBe(recordId(WORKSPACE.toUpperCase(), 7));
    expect(recordId(WORKSPACE, 7)).toMatch(/^[0-9a-f]{32}-0000000007$/);
    expect(recordId(WORKSPACE, 10) > recordId(WORKSPACE, 9)).toBe(true);
  });
});

describe("verifyChain", () => {
  it("accepts an intact chain and an empty one", () => {
    expect(verifyChain(chain(5))).toBeUndefined();
    expect(verifyChain([])).toBeUndefined();
  });

  it("names what broke", () => {
    const edited = chain(4);
    edited[2] = { ...edited[2]!, outcome: "failed" };
    expect(verifyChain(edited)).toMatchObject({
      seq: 3,
      recordId: recordId(WORKSPACE, 3),
      reason: expect.stringMatching(/hash mismatch/),
    });

    const gap = chain(4);
    gap.splice(1, 1);
    expect(verifyChain(gap)).toMatchObject({
      seq: 3,
      reason: expect.stringMatching(/seq gap.*record 2 missing/),
    });

    const dup = chain(3);
    dup.splice(2, 0, dup[1]!);
    expect(verifyChain(dup)).toMatchObject({
      seq: 2,
      reason: expect.stringMatching(/out of order or duplicated/),
    });

    const relinked = chain(3);
    const base = { ...relinked[1]!, prevHash: "f".repeat(64) };
    relinked[1] = { ...base, hash: computeRecordHash(base) };
    expect(verifyChain(relinked)).toMatchObject({
      seq: 2,
      reason: expect.stringMatching(/prevHash does not match the hash of record 1/),
    });

    const firstPrev = chain(2);
    const b0 = { ...firstPrev[0]!, prevHash: "1".repeat(64) };
    firstPrev[0] = { ...b0, hash: computeRecordHash(b0) };
    expect(verifyChain(firstPrev)).toMatchObject({ seq: 1, reason: expect.stringMatching(/genesis/) });

    const moved = chain(2);
    const b1 = { ...moved[1]!, id: "other-id" };
    moved[1] = { ...b1, hash: computeRecordHash(b1) };
    expect(verifyChain(moved)).toMatchObject({ seq: 2, reason: expect.stringMatching(/id does not match/) });
  });

  it("allowExpiredPrefix: a chain may start after seq 1 (retention), the rest is still checked", () => {
    const c = chain(5).slice(2);
    expect(verifyChain(c)).toMatchObject({ seq: 3, reason: expect.stringMatching(/seq gap/) });
    expect(verifyChain(c, { allowExpiredPrefix: true })).toBeUndefined();
    c[1] = { ...c[1]!, outcome: "failed" };
    expect(verifyChain(c, { allowExpiredPrefix: true })).toMatchObject({ seq: 4 });
  });
});
