/**
 * Checks chains against anchors (docs/audit.md#verify-against-anchors). An anchored head `{key, seq,
 * hash}` must still be on its chain: a record at that seq with that hash. It fails when the record
 * was rewritten (another hash at that seq), when the chain is shorter than anchored (its tail was
 * deleted and the head reset), or when the whole chain is gone — except where retention explains it:
 * records older than the retention expire from the start of a chain, so an anchored record that is
 * older than the retention may be gone, as long as nothing after it is missing. Pure.
 */
import { resourceKey } from "../audit/chain.js";
import type { AuditRecord } from "../audit/types.js";
import type { StoredAnchor } from "./anchor.js";

export interface AnchorBreak {
  /** The chain's resource ID (lower-cased, as the anchor names it). */
  resourceId: string;
  /** The anchor (blob name) whose head is no longer on the chain. */
  anchor: string;
  /** The anchored seq. */
  seq: number;
  reason: string;
}

export interface AnchorCheckReport {
  /** Anchors read and checked. */
  anchors: number;
  /** Anchored heads compared with their chains (the same head in several anchors counts once). */
  headsChecked: number;
  /** Anchored heads that are gone but older than the retention (expired, not deleted). */
  acceptedByRetention: number;
  /** At most one per resource: from the newest anchor that disagrees with its chain. */
  breaks: AnchorBreak[];
}

export interface AnchorCheckOptions {
  now: Date;
  /** DRIFTGUARD_AUDIT_RETENTION_DAYS (0 = records never expire, nothing is accepted as expired). */
  retentionDays: number;
  /** Check only this resource's chain. */
  resourceId?: string;
  /** Check only these chains (lower-cased resource IDs). */
  resourceIds?: ReadonlySet<string>;
}

/**
 * `chains`: every chain's records keyed by chain key (`resourceKey`, as the stores group them).
 * `anchors`: newest first.
 */
export function checkAnchors(
  chains: ReadonlyMap<string, readonly AuditRecord[]>,
  anchors: readonly StoredAnchor[],
  opts: AnchorCheckOptions,
): AnchorCheckReport {
  const retentionMs = opts.retentionDays * 86_400_000;
  const expired = (time: string | null, anchorTime: string) =>
    opts.retentionDays > 0 && opts.now.getTime() - Date.parse(time ?? anchorTime) > retentionMs;
  const only = opts.resourceId?.toLowerCase();
  const bySeq = new Map<string, Map<number, AuditRecord>>();
  const seqsOf = (pk: string) => {
    let m = bySeq.get(pk);
    if (!m) {
      m = new Map((chains.get(pk) ?? []).map((r) => [r.seq, r]));
      bySeq.set(pk, m);
    }
    return m;
  };
  const breaks = new Map<string, AnchorBreak>();
  const seen = new Set<string>();
  const accepted = new Set<string>();
  for (const { name, anchor } of anchors) {
    for (const leaf of anchor.leaves) {
      if (only !== undefined && leaf.key !== only) continue;
      if (opts.resourceIds && !opts.resourceIds.has(leaf.key)) continue;
      const id = `${leaf.key}\u0000${leaf.seq}\u0000${leaf.hash}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (breaks.has(leaf.key)) continue; // the newest disagreeing anchor is already named
      const records = seqsOf(resourceKey(leaf.key));
      const fail = (reason: string) =>
        breaks.set(leaf.key, { resourceId: leaf.key, anchor: name, seq: leaf.seq, reason });
      const atSeq = records.get(leaf.seq);
      if (atSeq) {
        if (atSeq.hash !== leaf.hash)
          fail(
            `record seq ${leaf.seq} is not the one anchored: its hash is ${atSeq.hash.slice(0, 12)}…, the anchor has ${leaf.hash.slice(0, 12)}… (the chain was rewritten after the anchor)`,
          );
        continue;
      }
      const present = [...records.keys()];
      if (present.length === 0) {
        if (expired(leaf.time, anchor.time)) accepted.add(id);
        else fail(`the chain is missing: the anchor has its head at seq ${leaf.seq}, no record of it exists`);
        continue;
      }
      const last = Math.max(...present);
      const first = Math.min(...present);
      if (last < leaf.seq) {
        fail(
          `the chain is shorter than anchored: its last record is seq ${last}, the anchor has its head at seq ${leaf.seq} (records were deleted from its end)`,
        );
      } else if (first > leaf.seq && expired(leaf.time, anchor.time)) {
        accepted.add(id);
      } else {
        fail(
          first > leaf.seq
            ? `anchored record seq ${leaf.seq} is missing and is younger than the retention (the chain now starts at seq ${first})`
            : `anchored record seq ${leaf.seq} is missing from the chain`,
        );
      }
    }
  }
  const sorted = [...breaks.values()].sort((a, b) =>
    a.resourceId < b.resourceId ? -1 : a.resourceId > b.resourceId ? 1 : 0,
  );
  return {
    anchors: anchors.length,
    headsChecked: seen.size,
    acceptedByRetention: accepted.size,
    breaks: sorted,
  };
}
