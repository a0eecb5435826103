/**
 * The Merkle tree of an anchor, as in RFC 6962 (Certificate Transparency): a leaf hash is
 * SHA-256(0x00 ‖ leaf bytes), an inner node SHA-256(0x01 ‖ left ‖ right). Nodes are paired level by
 * level from the left; an odd node at the end of a level is promoted unchanged — which yields exactly
 * RFC 6962's split at the largest power of two. The tree of no leaves is SHA-256 of nothing.
 * See docs/audit.md#anchors.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../audit/chain.js";

/** What one leaf commits to: a chain (its lower-cased resource ID), its head's seq and hash. */
export interface MerkleLeaf {
  key: string;
  seq: number;
  hash: string;
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** SHA-256(0x00 ‖ canonical JSON of {key, seq, hash}). */
export function leafHash(leaf: MerkleLeaf): Buffer {
  const json = canonicalJson({ key: leaf.key, seq: leaf.seq, hash: leaf.hash });
  return createHash("sha256").update(LEAF_PREFIX).update(json, "utf8").digest();
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

/** Orders leaves by key (UTF-16 code units, as canonical JSON orders object keys). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The root (hex) over leaves in the order given (callers sort them by key first). */
export function merkleRoot(leaves: readonly MerkleLeaf[]): string {
  if (leaves.length === 0) return createHash("sha256").digest("hex");
  let level = leaves.map(leafHash);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right ? nodeHash(level[i]!, right) : level[i]!);
    }
    level = next;
  }
  return level[0]!.toString("hex");
}
