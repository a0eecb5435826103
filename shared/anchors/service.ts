/**
 * Writing anchors and verifying the trail against them (docs/audit.md#anchors): what the
 * `anchorDigests` timer, `driftguard audit anchor` and `driftguard audit verify` run.
 */
import { type ChainHead, verifyChains } from "../audit/chain.js";
import type { ChainBreak } from "../audit/types.js";
import type { AnchorStore } from "../ports/anchor-store.js";
import type { Clock } from "../ports/clock.js";
import type { ChainSnapshot, EvidenceStore } from "../ports/evidence-store.js";
import {
  type AnchorDocument,
  anchorBlobName,
  buildAnchor,
  type HeadSnapshot,
  isAnchorName,
  parseAnchor,
  type StoredAnchor,
} from "./anchor.js";
import { type AnchorBreak, checkAnchors } from "./check.js";

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The time an anchor's name carries (`…/20250102T030405Z-….json`), or undefined. */
export function anchorNameTime(name: string): Date | undefined {
  const m = /(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[0-9a-f]{16}\.json$/.exec(name);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : undefined;
}

export interface AnchorDeps {
  evidence: EvidenceStore;
  anchors: AnchorStore;
  clock: Clock;
  version: string;
}

/**
 * Computes the anchor over every chain head now and writes it. Head times come from the newest
 * anchor for heads that have not moved since, else from a point read of the head record.
 */
export async function writeAnchor(deps: AnchorDeps): Promise<StoredAnchor> {
  const heads = await deps.evidence.heads();
  const known = new Map<string, string | null>();
  const names = await deps.anchors.list();
  const newest = names.filter(isAnchorName).at(-1);
  if (newest) {
    try {
      for (const l of parseAnchor(newest, await deps.anchors.get(newest)).leaves)
        known.set(`${l.key}\u0000${l.seq}\u0000${l.hash}`, l.time);
    } catch {
      // an unreadable previous anchor only costs the point reads below
    }
  }
  const snapshots = await mapLimit(heads, 16, async (h: ChainHead): Promise<HeadSnapshot> => {
    const id = `${h.resourceId.toLowerCase()}\u0000${h.seq}\u0000${h.hash}`;
    const time = known.has(id)
      ? (known.get(id) ?? null)
      : ((await deps.evidence.recordTime(h.resourceId, h.seq)) ?? null);
    return { resourceId: h.resourceId, seq: h.seq, hash: h.hash, time };
  });
  const anchor = buildAnchor(snapshots, deps.clock.now(), deps.version);
  const name = anchorBlobName(anchor);
  await deps.anchors.put(name, `${JSON.stringify(anchor, null, 2)}\n`);
  return { name, anchor };
}

export interface AnchorReadResult {
  /** Newest first. */
  anchors: StoredAnchor[];
  /** Blobs under `anchors/` that are not valid anchors (each is a failure of verification). */
  invalid: { name: string; reason: string }[];
}

/** Reads the anchors (newest first), those written at or after `since` only when given. */
export async function readAnchors(
  store: AnchorStore,
  opts: { since?: Date } = {},
): Promise<AnchorReadResult> {
  const names = (await store.list())
    .filter((n) => {
      const t = anchorNameTime(n);
      return !opts.since || !t || t.getTime() >= opts.since.getTime();
    })
    .reverse();
  const read = await mapLimit(names, 8, async (name) => {
    try {
      return { name, anchor: parseAnchor(name, await store.get(name)) };
    } catch (err) {
      return { name, reason: (err as Error).message };
    }
  });
  const anchors: StoredAnchor[] = [];
  const invalid: { name: string; reason: string }[] = [];
  for (const r of read) {
    if ("anchor" in r) anchors.push(r as StoredAnchor);
    else invalid.push(r as { name: string; reason: string });
  }
  anchors.sort((a, b) => (a.anchor.time < b.anchor.time ? 1 : a.anchor.time > b.anchor.time ? -1 : 0));
  return { anchors, invalid };
}

export interface TrailVerification {
  ok: boolean;
  time: string;
  chains: number;
  records: number;
  /** Broken chains (the chain itself: edits, gaps, a head beyond its records). */
  chainBreaks: ChainBreak[];
  /** Anchored heads no longer on their chains. */
  anchorBreaks: AnchorBreak[];
  /** Blobs in the anchor container that are not valid anchors. */
  invalidAnchors: { name: string; reason: string }[];
  anchors: {
    /** Whether an anchor container is configured at all. */
    configured: boolean;
    location: string | null;
    read: number;
    headsChecked: number;
    acceptedByRetention: number;
    since: string | null;
    /** Names of the anchors used, newest first. */
    used: string[];
  };
  newestAnchor: { name: string; time: string; ageMs: number; stale: boolean } | null;
  warnings: string[];
}

export interface VerifyDeps {
  evidence: EvidenceStore;
  /** Undefined when no anchor container is configured. */
  anchors?: AnchorStore;
  clock: Clock;
  retentionDays: number;
  /** The anchor schedule's longest gap: an anchor older than twice this is stale. */
  periodMs: number;
}

const formatAge = (ms: number) =>
  ms >= 172_800_000
    ? `${Math.floor(ms / 86_400_000)} days`
    : ms >= 7_200_000
      ? `${Math.floor(ms / 3_600_000)} hours`
      : `${Math.max(0, Math.floor(ms / 60_000))} minutes`;

/** Recomputes every chain (or one resource's) and checks it against the anchors. */
export async function verifyTrail(
  deps: VerifyDeps,
  opts: {
    resourceId?: string;
    since?: Date;
    snapshot?: ChainSnapshot;
    resourceIds?: ReadonlySet<string>;
  } = {},
): Promise<TrailVerification> {
  const now = deps.clock.now();
  const snapshot = opts.snapshot ?? (await deps.evidence.snapshot({ resourceId: opts.resourceId }));
  const chainReport = verifyChains(snapshot.chains, snapshot.heads, { retention: deps.retentionDays > 0 });
  const warnings: string[] = [];
  let read: AnchorReadResult = { anchors: [], invalid: [] };
  if (deps.anchors) read = await readAnchors(deps.anchors, { since: opts.since });
  else
    warnings.push(
      "no anchor container is configured (DRIFTGUARD_ANCHOR_CONTAINER_URL): truncated, deleted or rewritten chains cannot be detected",
    );
  const anchorReport = checkAnchors(snapshot.chains, read.anchors, {
    now,
    retentionDays: deps.retentionDays,
    resourceId: opts.resourceId,
    resourceIds: opts.resourceIds,
  });
  // The newest anchor overall, whatever --since says.
  const newest =
    read.anchors[0] ??
    (deps.anchors && opts.since ? (await readAnchors(deps.anchors)).anchors[0] : undefined);
  let newestAnchor: TrailVerification["newestAnchor"] = null;
  if (newest) {
    const ageMs = now.getTime() - Date.parse(newest.anchor.time);
    const stale = ageMs > 2 * deps.periodMs;
    newestAnchor = { name: newest.name, time: newest.anchor.time, ageMs, stale };
    if (stale)
      warnings.push(
        `the newest anchor is ${formatAge(ageMs)} old, more than twice the anchor schedule (${formatAge(deps.periodMs)}): is the anchorDigests timer running?`,
      );
  } else if (deps.anchors) {
    warnings.push(
      "no anchor exists yet: truncated, deleted or rewritten chains cannot be detected until `driftguard audit anchor` or the anchorDigests timer has written one",
    );
  }
  if (anchorReport.acceptedByRetention > 0)
    warnings.push(
      `${anchorReport.acceptedByRetention} anchored head(s) are gone but older than the retention (${deps.retentionDays} days): accepted as expired`,
    );
  return {
    ok: chainReport.breaks.length === 0 && anchorReport.breaks.length === 0 && read.invalid.length === 0,
    time: now.toISOString(),
    chains: chainReport.chains,
    records: chainReport.records,
    chainBreaks: chainReport.breaks,
    anchorBreaks: anchorReport.breaks,
    invalidAnchors: read.invalid,
    anchors: {
      configured: !!deps.anchors,
      location: deps.anchors?.location ?? null,
      read: anchorReport.anchors,
      headsChecked: anchorReport.headsChecked,
      acceptedByRetention: anchorReport.acceptedByRetention,
      since: opts.since?.toISOString() ?? null,
      used: read.anchors.map((a) => a.name),
    },
    newestAnchor,
    warnings,
  };
}

export type { AnchorDocument };
