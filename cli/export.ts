/**
 * `driftguard audit export --from D --to D --out DIR [--zip]` writes an evidence pack for a period;
 * `driftguard audit export --check DIR|ZIP` re-verifies one offline (docs/cli.md#driftguard-audit-export).
 * What goes in the pack: shared/evidence/pack.ts; how it is checked: shared/evidence/check-pack.ts.
 */
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { anchorNameTime, verifyTrail } from "../shared/anchors/service.js";
import { MAX_LIMIT } from "../shared/audit/paging.js";
import { parseAuditQueryParams } from "../shared/audit/query-params.js";
import type { AuditRecord } from "../shared/audit/types.js";
import { InputError } from "../shared/errors.js";
import { checkPack } from "../shared/evidence/check-pack.js";
import {
  approvalRows,
  approvalsCsv,
  MANIFEST,
  manifestText,
  PACK_FORMAT,
  type PackFile,
  recordsJsonl,
  sha256,
  summaryMarkdown,
} from "../shared/evidence/pack.js";
import type { AuditStore } from "../shared/ports/audit-store.js";
import { DRIFTGUARD_VERSION } from "../shared/version.js";
import { type EvidenceContext, formatVerification } from "./evidence.js";
import type { CliIo } from "./io.js";

/** A progress bar on a terminal (stderr), nothing otherwise. */
async function progress(enabled: boolean) {
  if (!enabled) return { start: () => {}, update: () => {}, stop: () => {} };
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar(
    {
      format: "{phase} |{bar}| {value}/{total}",
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (phase: string, total: number) => bar.start(Math.max(1, total), 0, { phase: phase.padEnd(10) }),
    update: (value: number, total?: number) => {
      if (total !== undefined) bar.setTotal(Math.max(1, total));
      bar.update(value);
    },
    stop: () => bar.stop(),
  };
}

async function emptyOrMissing(dir: string): Promise<boolean> {
  const s = await stat(dir).catch(() => undefined);
  if (!s) return true;
  return s.isDirectory() && (await readdir(dir)).length === 0;
}

export interface ExportOptions {
  from: string;
  to: string;
  out: string;
  zip?: boolean;
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
}

/** Writes the pack; returns its files (manifest last) and the verification's outcome. */
export async function exportPack(
  store: AuditStore,
  ctx: EvidenceContext,
  opts: ExportOptions,
): Promise<{ files: PackFile[]; ok: boolean; records: number }> {
  const { from, to } = parseAuditQueryParams(new URLSearchParams({ from: opts.from, to: opts.to }));
  if (!from || !to) throw new InputError("InvalidPeriod", "--from and --to are required", "--from");
  if (!(await emptyOrMissing(opts.out)))
    throw new InputError("OutputExists", `${opts.out} exists and is not empty: choose a new folder`, "--out");
  const bar = await progress(opts.progress ?? process.stderr.isTTY === true);

  // Every record of the period, as GET /api/audit returns them (newest first).
  const records: AuditRecord[] = [];
  let token: string | null = null;
  bar.start("records", MAX_LIMIT);
  do {
    const page = await store.query({ from, to, limit: MAX_LIMIT, continuationToken: token });
    records.push(...page.items);
    token = page.continuationToken;
    bar.update(records.length, records.length + (token ? MAX_LIMIT : 0));
  } while (token);
  bar.stop();

  // Their chains, verified whole and against the anchors written since the period began.
  const ids = new Set(records.map((r) => r.resourceId.toLowerCase()));
  bar.start("chains", ids.size);
  const snapshot = { chains: new Map<string, AuditRecord[]>(), heads: new Map() };
  if (ids.size > 0 && ids.size <= 200) {
    let n = 0;
    for (const id of ids) {
      const one = await ctx.evidence.snapshot({ resourceId: id });
      for (const [k, v] of one.chains) snapshot.chains.set(k, v);
      for (const [k, v] of one.heads) snapshot.heads.set(k, v);
      bar.update(++n);
    }
  } else if (ids.size > 0) {
    const all = await ctx.evidence.snapshot();
    for (const [k, v] of all.chains)
      if (ids.has(v[0]?.resourceId.toLowerCase() ?? "")) snapshot.chains.set(k, v);
    for (const [k, v] of all.heads) if (ids.has(v.resourceId.toLowerCase())) snapshot.heads.set(k, v);
    bar.update(ids.size);
  }
  bar.stop();
  const verification = await verifyTrail(
    {
      evidence: ctx.evidence,
      anchors: ctx.anchors,
      clock: ctx.clock,
      retentionDays: ctx.retentionDays,
      periodMs: ctx.periodMs,
    },
    { snapshot, since: new Date(from), resourceIds: ids },
  );

  // The anchors covering the period: those written in it, and the first one after it.
  const used = [...verification.anchors.used].reverse(); // oldest first
  const toMs = Date.parse(to);
  const firstAfter = used.findIndex((n) => (anchorNameTime(n)?.getTime() ?? 0) >= toMs);
  const packAnchors = firstAfter < 0 ? used : used.slice(0, firstAfter + 1);
  const files: PackFile[] = [];
  bar.start("anchors", packAnchors.length);
  let n = 0;
  for (const name of packAnchors) {
    files.push({ path: name, data: Buffer.from(await ctx.anchors!.get(name), "utf8") });
    bar.update(++n);
  }
  bar.stop();

  // The policy files in force.
  const hashes = [...new Set(records.map((r) => r.policyFileHash).filter((h): h is string => !!h))].sort();
  const policies: { sha256: string; name: string }[] = [];
  const missingPolicies: string[] = [];
  for (const h of hashes) {
    const file = await ctx.evidence.getPolicyFile(h);
    if (!file || sha256(file.text) !== h) {
      missingPolicies.push(h);
      continue;
    }
    const name = path.basename(file.name).replace(/[^A-Za-z0-9._-]/g, "_");
    policies.push({ sha256: h, name });
    files.push({ path: `policies/${h}-${name}`, data: Buffer.from(file.text, "utf8") });
  }

  const rows = approvalRows(records);
  const createdAt = ctx.clock.now().toISOString();
  files.push({ path: "records.jsonl", data: Buffer.from(recordsJsonl(records), "utf8") });
  files.push({
    path: "verification.json",
    data: Buffer.from(`${JSON.stringify(verification, null, 2)}\n`, "utf8"),
  });
  files.push({ path: "approvals.csv", data: Buffer.from(approvalsCsv(rows), "utf8") });
  files.push({
    path: "summary.md",
    data: Buffer.from(
      summaryMarkdown({
        from,
        to,
        createdAt,
        records,
        approvals: rows,
        verificationOk: verification.ok,
        verificationLines: formatVerification(verification).trim().split("\n"),
        anchors: packAnchors,
        policies,
        missingPolicies,
      }),
      "utf8",
    ),
  });
  files.push({
    path: MANIFEST,
    data: Buffer.from(
      manifestText(
        {
          format: PACK_FORMAT,
          driftguardVersion: DRIFTGUARD_VERSION,
          createdAt,
          period: { from, to },
          records: records.length,
        },
        files,
      ),
      "utf8",
    ),
  });

  for (const f of files) {
    const target = path.join(opts.out, ...f.path.split("/"));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, f.data);
  }
  if (opts.zip) {
    const { zipSync } = await import("fflate");
    const zipped = zipSync(Object.fromEntries(files.map((f) => [f.path, new Uint8Array(f.data)])), {
      level: 6,
    });
    await writeFile(`${opts.out.replace(/[/\\]+$/, "")}.zip`, zipped);
  }
  return { files, ok: verification.ok, records: records.length };
}

/** Every file of a pack folder (or .zip), by its `/`-separated path inside the pack. */
export async function readPack(target: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  if (target.toLowerCase().endsWith(".zip")) {
    const { unzipSync } = await import("fflate");
    for (const [name, data] of Object.entries(unzipSync(new Uint8Array(await readFile(target)))))
      if (!name.endsWith("/")) files.set(name, Buffer.from(data));
    return files;
  }
  const walk = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path.join(dir, entry.name), rel);
      else files.set(rel, await readFile(path.join(dir, entry.name)));
    }
  };
  await walk(target, "");
  return files;
}

export function exportCommand(
  getStore: () => Promise<AuditStore>,
  io: CliIo,
  getEvidence?: () => Promise<EvidenceContext>,
): Command {
  return new Command("export")
    .description(
      "write an evidence pack for a period (records, verification, anchors, policies, approvals, summary, manifest), or --check one offline",
    )
    .option("--from <date>", "start of the period, inclusive (ISO date or date-time)")
    .option("--to <date>", "end of the period, exclusive")
    .option("--out <dir>", "folder to write the pack to (new or empty)")
    .option("--zip", "also write <dir>.zip", false)
    .option("--check <dir>", "re-verify a pack (folder or .zip) offline; exit 1 naming each file that fails")
    .option("--json", "print the result as JSON", false)
    .action(
      async (opts: {
        from?: string;
        to?: string;
        out?: string;
        zip: boolean;
        check?: string;
        json: boolean;
      }) => {
        if (opts.check !== undefined) {
          let files: Map<string, Buffer>;
          try {
            files = await readPack(opts.check);
          } catch (err) {
            io.stderr(`cannot read ${opts.check}: ${(err as Error).message}\n`);
            process.exitCode = 1;
            return;
          }
          const result = checkPack(files);
          if (opts.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
          else {
            for (const f of result.failures) io.stdout(`FAILED file=${f.file} reason=${f.reason}\n`);
            io.stdout(
              `${result.ok ? "ok" : "FAILED"}: ${result.files} file(s), ${result.records} record(s) in ${result.chains} chain(s), ${result.anchors} anchor(s), ${result.anchoredHeadsChecked} anchored head(s) checked (${result.anchoredHeadsOutside} outside the period)\n`,
            );
          }
          process.exitCode = result.ok ? 0 : 1;
          return;
        }
        if (!opts.from || !opts.to || !opts.out) {
          io.stderr("audit export needs --from, --to and --out (or --check <dir>)\n");
          process.exitCode = 2;
          return;
        }
        if (!getEvidence) throw new Error("audit export needs the environment's evidence store");
        try {
          const ctx = await getEvidence();
          if (!ctx.anchors)
            io.stderr(
              "warning: no anchor container configured (DRIFTGUARD_ANCHOR_CONTAINER_URL): the pack has no anchors\n",
            );
          const out = await exportPack(await getStore(), ctx, {
            from: opts.from,
            to: opts.to,
            out: opts.out,
            zip: opts.zip,
          });
          const summary = {
            out: opts.out,
            zip: opts.zip ? `${opts.out.replace(/[/\\]+$/, "")}.zip` : null,
            records: out.records,
            files: out.files.map((f) => f.path),
            verification: out.ok ? "ok" : "failed",
          };
          io.stdout(
            opts.json
              ? `${JSON.stringify(summary, null, 2)}\n`
              : `wrote ${out.files.length} file(s), ${out.records} record(s) to ${opts.out}${summary.zip ? ` and ${summary.zip}` : ""}; verification ${summary.verification}\n`,
          );
          process.exitCode = out.ok ? 0 : 1;
        } catch (err) {
          if (err instanceof InputError) {
            io.stderr(`invalid ${err.path}: ${err.message}\n`);
            process.exitCode = 2;
            return;
          }
          throw err;
        }
      },
    );
}
