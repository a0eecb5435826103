/**
 * `driftguard audit` — query the audit trail; `driftguard audit verify` — recompute the hash chains
 * (docs/cli.md#driftguard-audit). Filters are validated by the same code as the HTTP API (`parseAuditQueryParams`),
 * so the CLI accepts and rejects exactly what `GET /api/audit` does.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { MAX_LIMIT } from "../shared/audit/paging.js";
import { parseAuditQueryParams, toCsv } from "../shared/audit/query-params.js";
import type { AuditQuery, AuditRecord } from "../shared/audit/types.js";
import { InputError } from "../shared/errors.js";
import type { AuditStore } from "../shared/ports/audit-store.js";
import { parseResourceId } from "../shared/resource-id.js";
import { type EvidenceContext, parseSince, runAnchor, runVerify } from "./evidence.js";
import { exportCommand } from "./export.js";
import { type CliIo, defaultIo, parseDuration } from "./io.js";

/** Most records one CLI call will fetch (it follows continuation tokens up to `--limit`). */
export const CLI_MAX_LIMIT = 100_000;

function parseCliLimit(raw: string): number {
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > CLI_MAX_LIMIT) {
    throw new InvalidArgumentError(`expected an integer from 1 to ${CLI_MAX_LIMIT}`);
  }
  return Number(raw);
}

interface AuditOptions {
  resource?: string;
  subscription?: string;
  kind?: string;
  outcome?: string;
  policy?: string;
  actor?: string;
  source?: string;
  since?: number;
  limit: number;
  format: "table" | "json" | "csv";
}

/** Fetches up to `limit` records, newest first, following continuation tokens. */
export async function fetchRecords(
  store: AuditStore,
  query: AuditQuery,
  limit: number,
): Promise<{ items: AuditRecord[]; continuationToken: string | null }> {
  const items: AuditRecord[] = [];
  let token: string | null = null;
  do {
    const page = await store.query({
      ...query,
      limit: Math.min(MAX_LIMIT, limit - items.length),
      continuationToken: token,
    });
    items.push(...page.items);
    token = page.continuationToken;
  } while (token && items.length < limit);
  return { items, continuationToken: token };
}

function resourceName(id: string): string {
  try {
    const parsed = parseResourceId(id);
    return parsed.names.length > 1 ? parsed.names.map(([, n]) => n).join("/") : parsed.name;
  } catch {
    return id;
  }
}

/** Aligned plain-text table: time, outcome, kind, policy, resource name, number of changes. */
export function formatTable(records: readonly AuditRecord[]): string {
  const header = ["TIME", "OUTCOME", "KIND", "POLICY", "RESOURCE", "CHANGES"];
  const rows = records.map((r) =>
    [r.time, r.outcome, r.kind, r.policy, resourceName(r.resourceId), String(r.changes?.length ?? 0)].map(
      printable,
    ),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

/** Control characters (terminal escapes) never reach the terminal. */
function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

/**
 * `getEvidence`: the environment's evidence store and anchor container (the CLI always has them);
 * without it (in-memory stores in tests) `verify` recomputes the chains only.
 */
export function auditCommand(
  getStore: () => Promise<AuditStore>,
  io: CliIo = defaultIo,
  getEvidence?: () => Promise<EvidenceContext>,
): Command {
  const audit = new Command("audit")
    .description("query the audit trail (newest first)")
    .enablePositionalOptions()
    .option("--resource <id>", "only records of this resource ID")
    .option("--subscription <guid>", "only records of this subscription")
    .option("--kind <kind>", "only this remediation kind")
    .option("--outcome <outcome>", "only this outcome (remediated, failed, dry-run, …)")
    .option("--policy <name>", "only this policy")
    .option("--actor <actor>", "only this actor (driftguard, driftguard:approval, cli:…)")
    .option("--source <source>", "only this signal source (eventgrid, monitor, budget, manual, timer, sweep)")
    .option("--since <duration>", "only records newer than this (24h, 7d, PT1H)", parseDuration)
    .option("--limit <n>", "at most this many records", parseCliLimit, 50)
    .addOption(
      new Option("--format <format>", "output format").choices(["table", "json", "csv"]).default("table"),
    )
    .action(async (opts: AuditOptions) => {
      let query: AuditQuery;
      try {
        query = buildQuery(opts, io.now());
      } catch (err) {
        if (err instanceof InputError) {
          io.stderr(`invalid ${err.path}: ${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
      const store = await getStore();
      const page = await fetchRecords(store, query, opts.limit);
      if (opts.format === "json") io.stdout(`${JSON.stringify(page, null, 2)}\n`);
      else if (opts.format === "csv") io.stdout(toCsv(page.items));
      else {
        io.stdout(page.items.length === 0 ? "no audit records match\n" : formatTable(page.items));
        if (page.continuationToken) io.stdout(`(more records exist; raise --limit to see them)\n`);
      }
    });

  audit
    .command("verify")
    .description(
      "recompute the hash chains and check them against the anchors; exit 1 naming each broken chain, resource and anchor",
    )
    .option("--resource <id>", "verify only this resource's chain")
    .option("--since <when>", "only anchors written since (24h, 7d, or a date: 2025-01-31)", (v) =>
      parseSince(v, io.now()),
    )
    .option("--json", "print the report as JSON", false)
    .action(async (opts: { resource?: string; since?: Date; json: boolean }) => {
      if (opts.resource !== undefined) {
        try {
          parseResourceId(opts.resource);
        } catch (err) {
          io.stderr(`invalid --resource: ${(err as Error).message}\n`);
          process.exitCode = 1;
          return;
        }
      }
      if (getEvidence) {
        process.exitCode = await runVerify(await getEvidence(), opts, io);
        return;
      }
      const store = await getStore();
      const report = await store.verify(opts.resource ? { resourceId: opts.resource } : {});
      if (opts.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else if (report.breaks.length === 0)
        io.stdout(`ok: ${report.chains} chain(s), ${report.records} record(s) verified, no break\n`);
      else {
        for (const b of report.breaks) {
          io.stdout(
            `BROKEN resource=${b.resourceId} record=${b.recordId} seq=${b.seq} reason=${printable(b.reason)}\n`,
          );
        }
        io.stdout(
          `${report.breaks.length} broken chain(s) of ${report.chains}; ${report.records} record(s) checked\n`,
        );
      }
      if (report.breaks.length > 0) process.exitCode = 1;
    });

  audit
    .command("anchor")
    .description(
      "write an anchor now: the Merkle root of every chain head, to the write-once anchor container",
    )
    .option("--json", "print the anchor's name, root and counts as JSON", false)
    .action(async (opts: { json: boolean }) => {
      if (!getEvidence) throw new Error("anchors need the environment's evidence store");
      process.exitCode = await runAnchor(await getEvidence(), opts, io);
    });

  audit.addCommand(exportCommand(getStore, io, getEvidence));
  return audit;
}

/** Options → AuditQuery through the HTTP API's validator (errors name the CLI option). */
export function buildQuery(opts: Omit<AuditOptions, "limit" | "format">, now: Date): AuditQuery {
  const params = new URLSearchParams();
  const map: [keyof typeof opts, string, string][] = [
    ["resource", "resourceId", "--resource"],
    ["subscription", "subscriptionId", "--subscription"],
    ["kind", "kind", "--kind"],
    ["outcome", "outcome", "--outcome"],
    ["policy", "policy", "--policy"],
    ["actor", "actor", "--actor"],
    ["source", "source", "--source"],
  ];
  for (const [opt, param] of map) {
    const v = opts[opt];
    if (typeof v === "string") params.set(param, v);
  }
  if (opts.since !== undefined) params.set("from", new Date(now.getTime() - opts.since).toISOString());
  try {
    const { format: _f, limit: _l, ...query } = parseAuditQueryParams(params);
    return query;
  } catch (err) {
    if (err instanceof InputError) {
      const option =
        map.find(([, param]) => param === err.path)?.[2] ?? (err.path === "from" ? "--since" : err.path);
      throw new InputError(err.code, err.message, option);
    }
    throw err;
  }
}
