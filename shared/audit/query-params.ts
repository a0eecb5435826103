/**
 * `GET /api/audit` query parameters (docs/http-api.md#audit-query) → AuditQuery, and records → CSV. Every value is
 * validated before it reaches a store: stores only ever use parameterised SQL, and nothing that is
 * not shaped like the parameter it claims to be gets that far (InputError → 400 naming it).
 */
import { InputError } from "../errors.js";
import {
  queryReader,
  readContinuationToken,
  readLimit,
  readPolicyName,
  readTimeRange,
} from "../query-reader.js";
import { parseResourceId } from "../resource-id.js";
import { SIGNAL_SOURCES, type SignalSource } from "../signals/types.js";
import { DEFAULT_LIMIT, MAX_LIMIT } from "./paging.js";
import { type AuditQuery, type AuditRecord, OUTCOMES, type Outcome } from "./types.js";

export type AuditFormat = "json" | "csv";

const KNOWN = new Set([
  "resourceId",
  "subscriptionId",
  "kind",
  "outcome",
  "policy",
  "actor",
  "source",
  "from",
  "to",
  "limit",
  "continuationToken",
  "format",
  // The function key may arrive as `?code=` (checked by the host, not a filter).
  "code",
]);

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const KIND = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const ACTOR = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

export function parseAuditQueryParams(params: URLSearchParams): AuditQuery & { format: AuditFormat } {
  const get = queryReader(params, KNOWN);
  const out: AuditQuery & { format: AuditFormat } = { format: "json", limit: DEFAULT_LIMIT };

  const resourceId = get("resourceId");
  if (resourceId !== undefined) {
    try {
      out.resourceId = parseResourceId(resourceId).id;
    } catch (err) {
      throw new InputError(
        "InvalidResourceId",
        `resourceId is not an ARM resource ID: ${(err as Error).message}`,
        "resourceId",
      );
    }
  }
  const subscriptionId = get("subscriptionId");
  if (subscriptionId !== undefined) {
    if (!GUID.test(subscriptionId))
      throw new InputError("InvalidSubscriptionId", "subscriptionId must be a GUID", "subscriptionId");
    out.subscriptionId = subscriptionId;
  }
  const kind = get("kind");
  if (kind !== undefined) {
    if (kind.length > 64 || !KIND.test(kind))
      throw new InputError(
        "InvalidKind",
        "kind must be a remediation kind like disable-public-network-access",
        "kind",
      );
    out.kind = kind;
  }
  const outcome = get("outcome");
  if (outcome !== undefined) {
    if (!(OUTCOMES as readonly string[]).includes(outcome))
      throw new InputError("InvalidOutcome", `outcome must be one of ${OUTCOMES.join(", ")}`, "outcome");
    out.outcome = outcome as Outcome;
  }
  const policy = readPolicyName(get);
  if (policy !== undefined) out.policy = policy;
  const actor = get("actor");
  if (actor !== undefined) {
    if (!ACTOR.test(actor))
      throw new InputError(
        "InvalidActor",
        "actor must look like driftguard, driftguard:approval or cli:<id>",
        "actor",
      );
    out.actor = actor;
  }
  const source = get("source");
  if (source !== undefined) {
    if (!(SIGNAL_SOURCES as readonly string[]).includes(source))
      throw new InputError("InvalidSource", `source must be one of ${SIGNAL_SOURCES.join(", ")}`, "source");
    out.source = source as SignalSource;
  }
  const { from, to } = readTimeRange(get);
  if (from) out.from = from.given;
  if (to) out.to = to.given;
  const limit = readLimit(get, MAX_LIMIT);
  if (limit !== undefined) out.limit = limit;
  const token = readContinuationToken(get);
  if (token !== undefined) out.continuationToken = token;
  const format = get("format");
  if (format !== undefined) {
    if (format !== "json" && format !== "csv")
      throw new InputError("InvalidFormat", "format must be json or csv", "format");
    out.format = format;
  }
  return out;
}

export const CSV_COLUMNS = [
  "id",
  "time",
  "subscriptionId",
  "resourceId",
  "resourceType",
  "signal.source",
  "signal.type",
  "signal.id",
  "policy",
  "kind",
  "mode",
  "outcome",
  "changes",
  "actor",
  "approver",
  "error.code",
  "error.step",
  "durationMs",
  "prevHash",
  "hash",
] as const;

function cellValue(r: AuditRecord, column: (typeof CSV_COLUMNS)[number]): string {
  switch (column) {
    case "signal.source":
      return r.signal?.source ?? "";
    case "signal.type":
      return r.signal?.type ?? "";
    case "signal.id":
      return r.signal?.id ?? "";
    case "changes":
      return JSON.stringify(r.changes ?? []);
    case "approver":
      return r.approver ? r.approver.id : "";
    case "error.code":
      return r.error?.code ?? "";
    case "error.step":
      return r.error?.step ?? "";
    case "durationMs":
      return String(r.durationMs ?? "");
    default: {
      const v = r[column];
      return v === undefined || v === null ? "" : String(v);
    }
  }
}

/**
 * Text a spreadsheet would run as a formula: `=`, `+`, `-`, `@` — also their full-width and small
 * forms (`＝＋－＠`, `﹦﹢﹣﹫`), which some spreadsheet apps fold to ASCII — even after leading
 * spaces, tabs or line breaks (which they trim); and a leading tab or carriage return itself.
 */
const FORMULA_START = /^(?:\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20\uFE66\uFE62\uFE63\uFE6B]|[\t\r])/;

/** One CSV cell: formula-looking text neutralised with a leading `'`, then RFC 4180 quoting. */
export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** RFC 4180 CSV (CRLF line ends, header row, fixed column order). */
export function toCsv(records: readonly AuditRecord[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of records) lines.push(CSV_COLUMNS.map((c) => csvCell(cellValue(r, c))).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
