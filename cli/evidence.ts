/**
 * `driftguard audit anchor` and the anchor-aware `driftguard audit verify` (docs/cli.md#driftguard-audit-anchor).
 * Both talk to the configured environment through its runtime: the evidence store (Cosmos DB) and the
 * anchor container (DRIFTGUARD_ANCHOR_CONTAINER_URL, Azurite on the local stack).
 */
import { InvalidArgumentError } from "commander";
import { type TrailVerification, verifyTrail, writeAnchor } from "../shared/anchors/service.js";
import type { AnchorStore } from "../shared/ports/anchor-store.js";
import type { Clock } from "../shared/ports/clock.js";
import type { EvidenceStore } from "../shared/ports/evidence-store.js";
import { DRIFTGUARD_VERSION } from "../shared/version.js";
import { type CliIo, parseDuration } from "./io.js";

/** What the evidence commands need of an environment. */
export interface EvidenceContext {
  evidence: EvidenceStore;
  anchors?: AnchorStore;
  clock: Clock;
  retentionDays: number;
  /** The anchor schedule's longest gap (an anchor older than twice this is stale). */
  periodMs: number;
  /** Where it points, for messages. */
  target?: string;
}

/** `--since 24h` (a duration back from now) or `--since 2025-01-31` / an ISO date-time. */
export function parseSince(raw: string, now: Date = new Date()): Date {
  if (/^\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2}))?$/.test(raw.trim())) {
    const t = Date.parse(/T/.test(raw) ? raw : `${raw}T00:00:00Z`);
    if (Number.isFinite(t)) return new Date(t);
    throw new InvalidArgumentError("not a valid date");
  }
  try {
    return new Date(now.getTime() - parseDuration(raw));
  } catch {
    throw new InvalidArgumentError("expected a duration (24h, 7d, PT1H) or an ISO date (2025-01-31)");
  }
}

/** Control characters never reach the terminal. */
function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

function age(ms: number): string {
  if (ms < 120_000) return `${Math.max(0, Math.round(ms / 1000))} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} days`;
}

/** The human-readable report of a verification (one finding per line). */
export function formatVerification(v: TrailVerification): string {
  const lines: string[] = [];
  for (const b of v.chainBreaks)
    lines.push(
      `BROKEN resource=${b.resourceId} record=${b.recordId} seq=${b.seq} reason=${printable(b.reason)}`,
    );
  for (const b of v.anchorBreaks)
    lines.push(
      `BROKEN resource=${b.resourceId} anchor=${b.anchor} seq=${b.seq} reason=${printable(b.reason)}`,
    );
  for (const a of v.invalidAnchors) lines.push(`BROKEN anchor=${a.name} reason=${printable(a.reason)}`);
  const failures = v.chainBreaks.length + v.anchorBreaks.length + v.invalidAnchors.length;
  lines.push(
    failures === 0
      ? `ok: ${v.chains} chain(s), ${v.records} record(s) verified, no break`
      : `${failures} failure(s): ${v.chainBreaks.length} broken chain(s) of ${v.chains}, ${v.anchorBreaks.length} anchored head(s) no longer on their chain, ${v.invalidAnchors.length} invalid anchor(s); ${v.records} record(s) checked`,
  );
  if (v.anchors.configured)
    lines.push(
      `anchors: ${v.anchors.read} read${v.anchors.since ? ` since ${v.anchors.since}` : ""} from ${v.anchors.location}, ${v.anchors.headsChecked} anchored head(s) checked, ${v.anchors.acceptedByRetention} accepted as expired (retention)`,
    );
  if (v.newestAnchor)
    lines.push(
      `newest anchor: ${v.newestAnchor.name} (${v.newestAnchor.time}, ${age(v.newestAnchor.ageMs)} old${v.newestAnchor.stale ? ", STALE" : ""})`,
    );
  for (const w of v.warnings) lines.push(`WARNING: ${printable(w)}`);
  return `${lines.join("\n")}\n`;
}

export async function runVerify(
  ctx: EvidenceContext,
  opts: { resource?: string; since?: Date; json: boolean },
  io: CliIo,
): Promise<number> {
  const result = await verifyTrail(
    {
      evidence: ctx.evidence,
      anchors: ctx.anchors,
      clock: ctx.clock,
      retentionDays: ctx.retentionDays,
      periodMs: ctx.periodMs,
    },
    { resourceId: opts.resource, since: opts.since },
  );
  io.stdout(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatVerification(result));
  // The viewer shows the last full verification; a reader without write access just cannot keep it.
  if (!opts.resource) {
    await ctx.evidence
      .saveVerification({
        time: result.time,
        ok: result.ok,
        chains: result.chains,
        records: result.records,
        breaks: result.chainBreaks.length + result.anchorBreaks.length + result.invalidAnchors.length,
        anchors: result.anchors.read,
        acceptedByRetention: result.anchors.acceptedByRetention,
        newestAnchor: result.newestAnchor
          ? { name: result.newestAnchor.name, time: result.newestAnchor.time }
          : null,
      })
      .catch((err: unknown) =>
        io.stderr(
          `note: the result was not kept for the audit viewer (${(err as Error).message.split("\n")[0]})\n`,
        ),
      );
  }
  return result.ok ? 0 : 1;
}

export async function runAnchor(ctx: EvidenceContext, opts: { json: boolean }, io: CliIo): Promise<number> {
  if (!ctx.anchors) {
    io.stderr(
      "no anchor container: set DRIFTGUARD_ANCHOR_CONTAINER_URL (infra/ creates it; npm start runs Azurite for it)\n",
    );
    return 1;
  }
  const { name, anchor } = await writeAnchor({
    evidence: ctx.evidence,
    anchors: ctx.anchors,
    clock: ctx.clock,
    version: DRIFTGUARD_VERSION,
  });
  io.stdout(
    opts.json
      ? `${JSON.stringify({ name, location: ctx.anchors.location, root: anchor.root, time: anchor.time, chains: anchor.chains, records: anchor.records }, null, 2)}\n`
      : `anchored ${anchor.chains} chain(s), ${anchor.records} record(s): root ${anchor.root}\n  → ${ctx.anchors.location}/${name}\n`,
  );
  return 0;
}
