/** The anchor's Merkle tree (RFC 6962), its blob format and name, the schedule and the settings. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { anchorBlobName, buildAnchor, parseAnchor } from "../../shared/anchors/anchor.js";
import { leafHash, merkleRoot, nodeHash } from "../../shared/anchors/merkle.js";
import { longestGapMs, parseSchedule } from "../../shared/anchors/schedule.js";
import { loadConfig } from "../../shared/config.js";
import { DRIFTGUARD_VERSION } from "../../shared/version.js";

const leaf = (i: number) => ({ key: `/subscriptions/s/k${i}`, seq: i + 1, hash: String(i % 10).repeat(64) });

/** RFC 6962 §2.1 as written: split at the largest power of two below n. */
function rfc6962(leaves: ReturnType<typeof leaf>[]): Buffer {
  if (leaves.length === 0) return createHash("sha256").digest();
  if (leaves.length === 1) return leafHash(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(rfc6962(leaves.slice(0, k)), rfc6962(leaves.slice(k)));
}

describe("Merkle root", () => {
  it("hashes leaves as SHA-256(0x00 ‖ canonical {key, seq, hash}) and nodes as SHA-256(0x01 ‖ l ‖ r)", () => {
    const l = leaf(3);
    const expected = createHash("sha256")
      .update(Buffer.from([0]))
      .update(`{"hash":"${l.hash}","key":"${l.key}","seq":4}`)
      .digest();
    expect(leafHash(l)).toEqual(expected);
  });

  it("promoting the odd node equals RFC 6962's split for every size up to 40", () => {
    for (let n = 0; n <= 40; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leaf(i));
      expect(merkleRoot(leaves), `n=${n}`).toBe(rfc6962(leaves).toString("hex"));
    }
  });
});

describe("anchor blobs", () => {
  const heads = [
    { resourceId: "/Subscriptions/S/B", seq: 3, hash: "b".repeat(64), time: "2025-01-01T00:00:00.000Z" },
    { resourceId: "/subscriptions/s/a", seq: 2, hash: "a".repeat(64), time: null },
    { resourceId: "/subscriptions/s/gate-only", seq: 0, hash: "0".repeat(64), time: null },
  ];
  const anchor = buildAnchor(heads, new Date("2025-02-03T04:05:06.789Z"), DRIFTGUARD_VERSION);

  it("sorts leaves by lower-cased resource ID, counts chains and records, names the blob without colons", () => {
    expect(anchor.leaves.map((l) => l.key)).toEqual(["/subscriptions/s/a", "/subscriptions/s/b"]);
    expect({ chains: anchor.chains, records: anchor.records }).toEqual({ chains: 2, records: 5 });
    const name = anchorBlobName(anchor);
    expect(name).toBe(`anchors/2025/02/03/20250203T040506Z-${anchor.root.slice(0, 16)}.json`);
    expect(parseAnchor(name, JSON.stringify(anchor))).toEqual(anchor);
  });

  it("refuses an altered anchor, naming it", () => {
    const name = anchorBlobName(anchor);
    const altered = { ...anchor, leaves: anchor.leaves.map((l, i) => (i === 0 ? { ...l, seq: 9 } : l)) };
    expect(() => parseAnchor(name, JSON.stringify(altered))).toThrow(
      new RegExp(`anchor ${name}: records is 5`),
    );
    const rerooted = { ...altered, records: 12 };
    expect(() => parseAnchor(name, JSON.stringify(rerooted))).toThrow(/root does not match its leaves/);
    expect(() => parseAnchor(name, "{")).toThrow(/not JSON/);
  });

  it("carries driftguard's version, which is package.json's", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    expect(anchor.driftguardVersion).toBe(pkg.version);
  });
});

describe("schedule and settings", () => {
  it("finds the longest gap of an NCRONTAB schedule", () => {
    expect(longestGapMs(parseSchedule("0 0 * * * *"))).toBe(3_600_000);
    expect(longestGapMs(parseSchedule("0 */15 * * * *"))).toBe(900_000);
    expect(longestGapMs(parseSchedule("0 0 3 * * 1-5"))).toBe(3 * 86_400_000);
    expect(() => parseSchedule("0 0 * * *")).toThrow(/six fields/);
    expect(() => parseSchedule("0 61 * * * *")).toThrow(/minute/);
  });

  const base = { COSMOS_ENDPOINT: "https://127.0.0.1:8081", DRIFTGUARD_LOCAL_STACK: "1" };
  it("anchors: hourly by default, never an empty schedule, retention at least 180 days, a container URL", () => {
    const c = loadConfig(base);
    expect(c.anchors).toEqual({ schedule: "0 0 * * * *", periodMs: 3_600_000, retentionDays: 400 });
    expect(() => loadConfig({ ...base, DRIFTGUARD_ANCHOR_SCHEDULE: " " })).toThrow(
      /DRIFTGUARD_ANCHOR_SCHEDULE/,
    );
    expect(() => loadConfig({ ...base, DRIFTGUARD_ANCHOR_SCHEDULE: "hourly" })).toThrow(
      /DRIFTGUARD_ANCHOR_SCHEDULE/,
    );
    expect(() => loadConfig({ ...base, DRIFTGUARD_ANCHOR_RETENTION_DAYS: "179" })).toThrow(
      /DRIFTGUARD_ANCHOR_RETENTION_DAYS/,
    );
    const url = "https://stanchors.blob.core.windows.net/driftguard-anchors";
    expect(loadConfig({ ...base, DRIFTGUARD_ANCHOR_CONTAINER_URL: url }).anchors.containerUrl).toBe(url);
    expect(
      loadConfig({
        ...base,
        DRIFTGUARD_ANCHOR_CONTAINER_URL: "https://127.0.0.1:10000/devstoreaccount1/anchors",
      }).anchors.containerUrl,
    ).toBe("https://127.0.0.1:10000/devstoreaccount1/anchors");
    for (const bad of [
      "http://stanchors.blob.core.windows.net/c1c",
      "https://stanchors.blob.core.windows.net/",
      "https://stanchors.blob.core.windows.net/Anchors",
      "https://stanchors.blob.core.windows.net/anchors?sv=2024&sig=x",
    ])
      expect(() => loadConfig({ ...base, DRIFTGUARD_ANCHOR_CONTAINER_URL: bad }), bad).toThrow(
        /DRIFTGUARD_ANCHOR_CONTAINER_URL/,
      );
  });

  it("audit retention below 180 days is refused; 0 keeps records forever", () => {
    expect(() => loadConfig({ ...base, DRIFTGUARD_AUDIT_RETENTION_DAYS: "179" })).toThrow(
      /DRIFTGUARD_AUDIT_RETENTION_DAYS.*180/,
    );
    expect(loadConfig({ ...base, DRIFTGUARD_AUDIT_RETENTION_DAYS: "0" }).cosmos.auditRetentionDays).toBe(0);
    expect(loadConfig({ ...base, DRIFTGUARD_AUDIT_RETENTION_DAYS: "180" }).cosmos.auditRetentionDays).toBe(
      180,
    );
  });
});
