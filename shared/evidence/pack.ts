/**
 * The evidence pack (docs/audit.md#evidence-packs): the files `driftguard audit export` writes for a
 * period, built from data already read — pure, so the CLI and the tests build the same bytes.
 *
 *   records.jsonl      every record of the period, one JSON object per line, as GET /api/audit returns them
 *   verification.json  the verification of those records' chains, with the anchors used
 *   anchors/…          the anchor blobs covering the period, byte for byte
 *   policies/…         each policy file in force (named `<sha256>-<file name>`)
 *   approvals.csv      one row per approval
 *   summary.md         counts for people
 *   manifest.json      SHA-256 of every other file, and of itself (see `manifestText`)
 */
import { createHash } from "node:crypto";
import { csvCell } from "../audit/query-params.js";
import type { AuditRecord } from "../audit/types.js";

export const PACK_FORMAT = "driftguard-evidence-pack/1";
export const MANIFEST = "manifest.json";
/** The manifest's own hash is computed with this in place of its value. */
const SELF_HASH_PLACEHOLDER = "0".repeat(64);

export const sha256 = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");

export interface PackFile {
  /** Path inside the pack, `/`-separated. */
  path: string;
  data: Buffer;
}

export interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
}

export interface Manifest {
  format: typeof PACK_FORMAT;
  driftguardVersion: string;
  createdAt: string;
  period: { from: string; to: string };
  records: number;
  files: ManifestEntry[];
  /** SHA-256 of manifest.json's exact bytes with this value replaced by 64 zeros. */
  manifestSha256: string;
}

/**
 * manifest.json's text: the entries of every other file, and the SHA-256 of its own bytes (computed
 * with the hash value zeroed), so a changed byte anywhere in it — a hash, a date, even whitespace —
 * is found and named.
 */
export function manifestText(
  m: Omit<Manifest, "manifestSha256" | "files">,
  files: readonly PackFile[],
): string {
  const entries: ManifestEntry[] = files
    .map((f) => ({ path: f.path, sha256: sha256(f.data), bytes: f.data.length }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const text = (hash: string) =>
    `${JSON.stringify({ ...m, files: entries, manifestSha256: hash }, null, 2)}\n`;
  return text(sha256(text(SELF_HASH_PLACEHOLDER)));
}

/** Recomputes manifest.json's self-hash from its bytes; undefined when it has none. */
export function manifestSelfHash(text: string): { stated: string; actual: string } | undefined {
  const m = /"manifestSha256": "([0-9a-f]{64})"/.exec(text);
  if (!m) return undefined;
  const zeroed =
    text.slice(0, m.index) +
    `"manifestSha256": "${SELF_HASH_PLACEHOLDER}"` +
    text.slice(m.index + m[0].length);
  return { stated: m[1]!, actual: sha256(zeroed) };
}

/** records.jsonl: one record per line. */
export function recordsJsonl(records: readonly AuditRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join("");
}

export interface ApprovalRow {
  approvalId: string;
  resourceId: string;
  change: string;
  requested: string;
  decidedBy: string;
  decidedAt: string;
  outcome: string;
  result: string;
}

const changeText = (r: AuditRecord) =>
  (r.changes ?? []).map((c) => `${c.path}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`).join("; ");

/**
 * One row per approval seen in the records: what was asked (resource, change, when), who decided
 * (the approver's pseudonym) and when, the decision (`approved`, `rejected`, `expired`, or `pending`)
 * and the outcome of the approved change when it ran.
 */
export function approvalRows(records: readonly AuditRecord[]): ApprovalRow[] {
  const byApproval = new Map<string, AuditRecord[]>();
  for (const r of records) {
    if (!r.approvalId) continue;
    const list = byApproval.get(r.approvalId) ?? [];
    list.push(r);
    byApproval.set(r.approvalId, list);
  }
  const rows: ApprovalRow[] = [];
  for (const [approvalId, list] of byApproval) {
    list.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.seq - b.seq));
    const request = list.find((r) => r.outcome === "pending-approval") ?? list[0]!;
    const decision = list.find((r) => ["approved", "rejected", "expired"].includes(r.outcome));
    const result =
      decision?.outcome === "approved"
        ? list.filter((r) => r.time >= decision.time && r !== decision).at(-1)
        : undefined;
    rows.push({
      approvalId,
      resourceId: request.resourceId,
      change: changeText(request),
      requested: request.outcome === "pending-approval" ? request.time : "",
      decidedBy: decision?.approver?.id ?? (decision?.outcome === "expired" ? "(nobody: expired)" : ""),
      decidedAt: decision ? (decision.approver?.decidedAt ?? decision.time) : "",
      outcome: decision?.outcome ?? "pending",
      result: result ? `${result.outcome}${result.error ? ` (${result.error.code})` : ""}` : "",
    });
  }
  return rows.sort((a, b) => (a.requested < b.requested ? -1 : a.requested > b.requested ? 1 : 0));
}

/** approvals.csv (RFC 4180, CRLF; formula-looking cells neutralised like the audit CSV). */
export function approvalsCsv(rows: readonly ApprovalRow[]): string {
  const header = [
    "approvalId",
    "resource",
    "change",
    "requested",
    "decidedBy",
    "decidedAt",
    "outcome",
    "result",
  ];
  const lines = [header.join(",")];
  for (const r of rows)
    lines.push(
      [r.approvalId, r.resourceId, r.change, r.requested, r.decidedBy, r.decidedAt, r.outcome, r.result]
        .map(csvCell)
        .join(","),
    );
  return `${lines.join("\r\n")}\r\n`;
}

export interface SummaryInput {
  from: string;
  to: string;
  createdAt: string;
  records: readonly AuditRecord[];
  approvals: readonly ApprovalRow[];
  verificationOk: boolean;
  verificationLines: string[];
  anchors: readonly string[];
  policies: readonly { sha256: string; name: string }[];
  missingPolicies: readonly string[];
}

/** Markdown cell: no table breaks, no raw HTML. */
const md = (s: string) =>
  s
    .replace(/[|\\]/g, (c) => `\\${c}`)
    .replace(/[<>]/g, (c) => (c === "<" ? "&lt;" : "&gt;"))
    .replace(/\r?\n/g, " ");

/** summary.md: counts by kind and outcome, automatic vs approved changes, failures and why. */
export function summaryMarkdown(s: SummaryInput): string {
  const out: string[] = [];
  out.push(`# driftguard evidence pack: ${s.from} to ${s.to}`, "");
  out.push(
    `Created ${s.createdAt}. ${s.records.length} record(s) from ${s.from} (inclusive) to ${s.to} (exclusive). Verification: **${s.verificationOk ? "ok" : "FAILED"}**.`,
    "",
  );
  const kinds = [...new Set(s.records.map((r) => r.kind))].sort();
  const outcomes = [...new Set(s.records.map((r) => r.outcome))].sort();
  out.push("## Decisions by kind and outcome", "");
  out.push(
    `| kind | ${outcomes.join(" | ")} | total |`,
    `|---|${outcomes.map(() => "---:").join("|")}|---:|`,
  );
  for (const k of kinds) {
    const of = s.records.filter((r) => r.kind === k);
    out.push(
      `| ${md(k)} | ${outcomes.map((o) => of.filter((r) => r.outcome === o).length).join(" | ")} | ${of.length} |`,
    );
  }
  out.push("");
  const changes = s.records.filter((r) => r.outcome === "remediated" || r.outcome === "reverted");
  const approved = changes.filter((r) => r.approver || r.actor === "driftguard:approval");
  out.push("## Changes made", "");
  out.push(
    `| made | count |`,
    `|---|---:|`,
    `| automatically (policy in enforce) | ${changes.length - approved.length} |`,
    `| after a person approved | ${approved.length} |`,
    `| total | ${changes.length} |`,
    "",
  );
  out.push(
    `Approvals: ${s.approvals.length} (${["approved", "rejected", "expired", "pending"].map((o) => `${s.approvals.filter((a) => a.outcome === o).length} ${o}`).join(", ")}); every row is in approvals.csv.`,
    "",
  );
  const failed = s.records.filter((r) => r.outcome === "failed");
  out.push("## Failures", "");
  if (failed.length === 0) out.push("None.", "");
  else {
    const why = new Map<string, AuditRecord[]>();
    for (const r of failed) {
      const k = `${r.error?.code ?? "unknown"}\u0000${r.error?.step ?? ""}`;
      why.set(k, [...(why.get(k) ?? []), r]);
    }
    out.push("| error | step | count | example resource | message |", "|---|---|---:|---|---|");
    for (const [k, list] of why) {
      const [code, step] = k.split("\u0000");
      out.push(
        `| ${md(code!)} | ${md(step!)} | ${list.length} | ${md(list[0]!.resourceId)} | ${md(list[0]!.error?.message ?? list[0]!.reason ?? "")} |`,
      );
    }
    out.push("");
  }
  out.push("## Integrity", "");
  for (const l of s.verificationLines) out.push(`- ${md(l)}`);
  out.push(`- Anchors in this pack: ${s.anchors.length} (anchors/).`);
  out.push(
    `- Policy files in force: ${s.policies.map((p) => `\`${p.sha256.slice(0, 12)}…\` (${md(p.name)})`).join(", ") || "none recorded"}.`,
  );
  const unhashed = s.records.filter((r) => !r.policyFileHash).length;
  if (unhashed > 0) out.push(`- ${unhashed} record(s) were written before records carried policyFileHash.`);
  for (const h of s.missingPolicies) out.push(`- Policy file ${h} is named by records but was not stored.`);
  out.push("", "Check this pack offline: `npx driftguard audit export --check <this folder>`.", "");
  return out.join("\n");
}
