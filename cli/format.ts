/** One readable line per decision (demo output, CLI replay). */
import type { Decision } from "../shared/pipeline.js";

const ICON: Record<string, string> = {
  remediated: "✔",
  reverted: "↺",
  compliant: "·",
  "dry-run": "○",
  "pending-approval": "⏸",
  approved: "✔",
  rejected: "✖",
  expired: "⌛",
  excluded: "⊘",
  deferred: "…",
  failed: "✖",
  ignored: " ",
  duplicate: "=",
  busy: "…",
};

function short(value: unknown): string {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "object") {
    const name = (value as { name?: unknown }).name;
    return typeof name === "string" ? `{${name}}` : JSON.stringify(value).slice(0, 40);
  }
  return String(value);
}

export function formatDecision(d: Decision): string {
  const id = d.target.resourceId;
  const resource = id.split("/").slice(-2).join("/");
  const changes = (d.changes ?? []).map((c) => `${c.path}: ${short(c.from)} → ${short(c.to)}`).join("; ");
  const why = changes || d.reason || d.summary || "";
  return `  ${ICON[d.outcome] ?? "?"} ${d.outcome.padEnd(16)} ${(d.kind ?? "-").padEnd(30)} ${resource.padEnd(44)} ${why}`;
}
