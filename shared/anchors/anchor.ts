/**
 * An anchor: the Merkle root over every chain head at one moment, written as a new, write-once blob
 * (docs/audit.md#anchors). Leaves commit to `{key, seq, hash}` (key = the chain's lower-cased resource
 * ID); each leaf entry in the blob also carries the head record's `time`, which is not hashed but lets
 * verification tell a record that expired (retention) from one that was deleted.
 */
import { z } from "zod";
import { compareKeys, type MerkleLeaf, merkleRoot } from "./merkle.js";

export const ANCHOR_FORMAT = "driftguard-anchor/1";
/** Where anchors live in the container (and in an evidence pack). */
export const ANCHOR_PREFIX = "anchors/";

export interface AnchorLeaf extends MerkleLeaf {
  /** Time of the head record (ISO 8601), when known; not part of the leaf hash. */
  time: string | null;
}

export interface AnchorDocument {
  format: typeof ANCHOR_FORMAT;
  /** When the anchor was computed (ISO 8601 UTC). */
  time: string;
  driftguardVersion: string;
  /** RFC 6962 Merkle root (hex) over the leaves, sorted by key. */
  root: string;
  /** Number of chains (= leaves). */
  chains: number;
  /** Records in those chains up to their heads (expired ones included): the sum of the heads' seq. */
  records: number;
  leaves: AnchorLeaf[];
}

/** An anchor as read back, with the name it was stored under. */
export interface StoredAnchor {
  name: string;
  anchor: AnchorDocument;
}

/** What an anchor is computed from: one chain head. */
export interface HeadSnapshot {
  resourceId: string;
  seq: number;
  hash: string;
  time: string | null;
}

export function buildAnchor(heads: readonly HeadSnapshot[], now: Date, version: string): AnchorDocument {
  const byKey = new Map<string, AnchorLeaf>();
  for (const h of heads) {
    if (h.seq < 1) continue; // a gate's control document before its first record: nothing to anchor
    const key = h.resourceId.toLowerCase();
    const known = byKey.get(key);
    if (!known || known.seq < h.seq) byKey.set(key, { key, seq: h.seq, hash: h.hash, time: h.time });
  }
  const leaves = [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
  return {
    format: ANCHOR_FORMAT,
    time: now.toISOString(),
    driftguardVersion: version,
    root: merkleRoot(leaves),
    chains: leaves.length,
    records: leaves.reduce((n, l) => n + l.seq, 0),
    leaves,
  };
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `anchors/<yyyy>/<mm>/<dd>/<yyyymmddThhmmssZ>-<first 16 hex of the root>.json` (no colons). */
export function anchorBlobName(anchor: Pick<AnchorDocument, "time" | "root">): string {
  const t = new Date(anchor.time);
  const [y, m, d] = [t.getUTCFullYear(), pad(t.getUTCMonth() + 1), pad(t.getUTCDate())];
  const stamp = `${y}${m}${d}T${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}${pad(t.getUTCSeconds())}Z`;
  return `${ANCHOR_PREFIX}${y}/${m}/${d}/${stamp}-${anchor.root.slice(0, 16)}.json`;
}

/** The day prefix (`anchors/yyyy/mm/dd/`) of a time, for listing anchors from a date on. */
export function anchorDayPrefix(time: Date): string {
  return `${ANCHOR_PREFIX}${time.getUTCFullYear()}/${pad(time.getUTCMonth() + 1)}/${pad(time.getUTCDate())}/`;
}

const NAME = /^anchors\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-[0-9a-f]{16}\.json$/;

export function isAnchorName(name: string): boolean {
  return NAME.test(name);
}

const HEX64 = /^[0-9a-f]{64}$/;
const anchorSchema = z.object({
  format: z.literal(ANCHOR_FORMAT),
  time: z.iso.datetime(),
  driftguardVersion: z.string().max(64),
  root: z.string().regex(HEX64),
  chains: z.number().int().nonnegative(),
  records: z.number().int().nonnegative(),
  leaves: z.array(
    z.object({
      key: z.string().min(1).max(2048),
      seq: z.number().int().positive(),
      hash: z.string().regex(HEX64),
      time: z.string().max(64).nullable(),
    }),
  ),
});

export class AnchorFormatError extends Error {
  override readonly name = "AnchorFormatError";
  constructor(
    readonly anchorName: string,
    message: string,
  ) {
    super(`anchor ${anchorName}: ${message}`);
  }
}

/**
 * Parses and checks an anchor blob: its shape, its leaves sorted and unique by key, its counts, and
 * its root recomputed from the leaves. Throws AnchorFormatError naming the anchor.
 */
export function parseAnchor(name: string, text: string): AnchorDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AnchorFormatError(name, `not JSON (${(err as Error).message})`);
  }
  const parsed = anchorSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AnchorFormatError(name, `${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const anchor = parsed.data as AnchorDocument;
  for (let i = 1; i < anchor.leaves.length; i++) {
    if (compareKeys(anchor.leaves[i - 1]!.key, anchor.leaves[i]!.key) >= 0)
      throw new AnchorFormatError(name, `leaves[${i}]: leaves are not sorted by key or not unique`);
  }
  if (anchor.chains !== anchor.leaves.length)
    throw new AnchorFormatError(name, `chains is ${anchor.chains} but it has ${anchor.leaves.length} leaves`);
  const records = anchor.leaves.reduce((n, l) => n + l.seq, 0);
  if (anchor.records !== records)
    throw new AnchorFormatError(name, `records is ${anchor.records} but its heads add up to ${records}`);
  if (merkleRoot(anchor.leaves) !== anchor.root)
    throw new AnchorFormatError(name, "root does not match its leaves (the anchor was altered)");
  if (isAnchorName(name) && !name.endsWith(`-${anchor.root.slice(0, 16)}.json`))
    throw new AnchorFormatError(name, "its name does not carry its root");
  return anchor;
}
