/**
 * `driftguard audit export --check`: re-verifies an evidence pack offline (docs/audit.md#evidence-packs).
 * 1. manifest.json: its own hash, then every file it lists (present, same SHA-256) and no file it
 *    does not list;
 * 2. every chain in records.jsonl: seq continuous, each prevHash the previous hash, each hash
 *    recomputed (a chain may start inside the period: its first prevHash is taken as given);
 * 3. the records against the pack's anchors: each anchor's root recomputed from its leaves, and every
 *    anchored head that falls within the pack's records must be there with that hash — so records
 *    rewritten with every later hash recomputed fail even when the manifest was rewritten to match.
 * Every failure names the file (and the resource and anchor where there is one).
 */

import { ANCHOR_PREFIX, parseAnchor } from "../anchors/anchor.js";
import { verifyChain } from "../audit/chain.js";
import type { AuditRecord } from "../audit/types.js";
import { MANIFEST, type Manifest, manifestSelfHash, sha256 } from "./pack.js";

export interface PackFailure {
  file: string;
  reason: string;
}

export interface PackCheckResult {
  ok: boolean;
  failures: PackFailure[];
  files: number;
  records: number;
  chains: number;
  anchors: number;
  /** Anchored heads found among the pack's records and compared. */
  anchoredHeadsChecked: number;
  /** Anchored heads outside the pack's records (before or after the period): not checkable offline. */
  anchoredHeadsOutside: number;
}

export function checkPack(files: ReadonlyMap<string, Buffer>): PackCheckResult {
  const failures: PackFailure[] = [];
  const fail = (file: string, reason: string) => failures.push({ file, reason });
  const result = (extra: Partial<PackCheckResult> = {}): PackCheckResult => ({
    ok: failures.length === 0,
    failures,
    files: files.size,
    records: 0,
    chains: 0,
    anchors: 0,
    anchoredHeadsChecked: 0,
    anchoredHeadsOutside: 0,
    ...extra,
  });

  // 1. The manifest.
  const manifestBytes = files.get(MANIFEST);
  if (!manifestBytes) {
    fail(MANIFEST, "missing: not an evidence pack");
    return result();
  }
  const manifestText = manifestBytes.toString("utf8");
  const self = manifestSelfHash(manifestText);
  let manifest: Manifest | undefined;
  try {
    manifest = JSON.parse(manifestText) as Manifest;
  } catch (err) {
    fail(MANIFEST, `not valid JSON (${(err as Error).message}): it was changed`);
  }
  if (!self) fail(MANIFEST, "has no manifestSha256: it was changed");
  else if (self.stated !== self.actual)
    fail(MANIFEST, `its bytes do not match its own SHA-256 (${self.stated.slice(0, 12)}…): it was changed`);
  const listed = new Set<string>();
  for (const entry of Array.isArray(manifest?.files) ? manifest.files : []) {
    listed.add(entry.path);
    const data = files.get(entry.path);
    if (!data) fail(entry.path, "listed in the manifest but missing");
    else if (sha256(data) !== entry.sha256)
      fail(
        entry.path,
        `SHA-256 differs from the manifest's (${entry.sha256.slice(0, 12)}…): the file was changed`,
      );
  }
  for (const path of files.keys())
    if (path !== MANIFEST && !listed.has(path)) fail(path, "not listed in the manifest: it was added");

  // 2. The chains in records.jsonl.
  const records: AuditRecord[] = [];
  const lines = (files.get("records.jsonl")?.toString("utf8") ?? "").split("\n");
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push(JSON.parse(line) as AuditRecord);
    } catch {
      fail("records.jsonl", `line ${i + 1} is not JSON: the file was changed`);
    }
  });
  const chains = new Map<string, AuditRecord[]>();
  for (const r of records) {
    const key = typeof r.resourceId === "string" ? r.resourceId.toLowerCase() : "";
    chains.set(key, [...(chains.get(key) ?? []), r]);
  }
  for (const list of chains.values()) {
    list.sort((a, b) => a.seq - b.seq);
    const br = verifyChain(list, { allowExpiredPrefix: true });
    if (br)
      fail("records.jsonl", `resource=${br.resourceId} record=${br.recordId} seq=${br.seq}: ${br.reason}`);
  }

  // 3. The records against the anchors.
  let anchors = 0;
  let checked = 0;
  let outside = 0;
  for (const [path, data] of files) {
    if (!path.startsWith(ANCHOR_PREFIX)) continue;
    let anchor: ReturnType<typeof parseAnchor>;
    try {
      anchor = parseAnchor(path, data.toString("utf8"));
    } catch (err) {
      fail(path, (err as Error).message);
      continue;
    }
    anchors++;
    for (const leaf of anchor.leaves) {
      const list = chains.get(leaf.key);
      if (!list || list.length === 0) continue;
      const first = list[0]!.seq;
      const last = list[list.length - 1]!.seq;
      if (leaf.seq < first || leaf.seq > last) {
        outside++;
        continue;
      }
      checked++;
      const at = list.find((r) => r.seq === leaf.seq);
      if (!at)
        fail(
          "records.jsonl",
          `resource=${leaf.key} anchor=${path}: anchored record seq ${leaf.seq} is missing`,
        );
      else if (at.hash !== leaf.hash)
        fail(
          "records.jsonl",
          `resource=${leaf.key} anchor=${path}: record seq ${leaf.seq} is not the one anchored (the records were rewritten)`,
        );
    }
  }
  // Policy files are named by their own hash.
  for (const [path, data] of files) {
    const m = /^policies\/([0-9a-f]{64})-/.exec(path);
    if (m && sha256(data) !== m[1])
      fail(path, "its SHA-256 is not the one in its name: the policy file was changed");
  }
  return result({
    records: records.length,
    chains: chains.size,
    anchors,
    anchoredHeadsChecked: checked,
    anchoredHeadsOutside: outside,
  });
}
