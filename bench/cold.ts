/**
 * Cold start of the deployable package, each in a FRESH `node` process (bench/lib/bundle-probe.mjs
 * loads it as the Functions worker does): registration time and RSS, and the first decision —
 * import + one remediation against the running stand-ins, with the production credential (the
 * managed identity endpoint stand-in) and Cosmos DB loaded on that first invocation.
 */
import { execFile } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { zipSync } from "fflate";

const run = promisify(execFile);
const PROBE = path.resolve(import.meta.dirname, "lib/bundle-probe.mjs");

export interface ProbeResult {
  importStartMs: number;
  registeredMs: number;
  rssBytes: number;
  functions: { name: string }[];
  invocations: { function: string; ok: boolean; error?: string; atMs: number; ms: number }[];
}

export async function probe(
  entry: string,
  command: object = {},
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<ProbeResult> {
  const { stdout } = await run(process.execPath, [...nodeArgs, PROBE, entry, JSON.stringify(command)], {
    cwd: path.dirname(path.dirname(entry)),
    env: { PATH: process.env.PATH, ...env },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = stdout.split("\n").findLast((l) => l.startsWith("@probe "));
  if (!line) throw new Error(`the probe printed no result: ${stdout.slice(-1000)}`);
  return JSON.parse(line.slice("@probe ".length)) as ProbeResult;
}

export async function coldStarts(entry: string, runs: number) {
  const out: { importMs: number; fromProcessStartMs: number; rssMb: number; functions: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await probe(entry);
    out.push({
      importMs: r.registeredMs - r.importStartMs,
      fromProcessStartMs: r.registeredMs,
      rssMb: r.rssBytes / 1e6,
      functions: r.functions.length,
    });
  }
  return out;
}

/**
 * One fresh process per event: import + one invocation. A sample records whether the invocation
 * succeeded; whether it wrote its fix is for the caller to check (the simulator's log).
 */
export async function firstDecisions(
  entry: string,
  env: NodeJS.ProcessEnv,
  events: readonly unknown[],
  nodeArgs: string[] = [],
) {
  const out: {
    ok: boolean;
    error?: string;
    importToDecisionMs: number;
    fromProcessStartMs: number;
    decisionMs: number;
  }[] = [];
  for (const event of events) {
    const r = await probe(entry, { invoke: [{ function: "resourceEvents", input: event }] }, env, nodeArgs);
    const inv = r.invocations[0];
    out.push({
      ok: !!inv?.ok,
      ...(inv?.ok ? {} : { error: inv?.error ?? "no invocation" }),
      importToDecisionMs: inv ? inv.atMs - r.importStartMs : Number.NaN,
      fromProcessStartMs: inv?.atMs ?? Number.NaN,
      decisionMs: inv?.ms ?? Number.NaN,
    });
  }
  return out;
}

/** The package folder zipped (deflate, as a deployment zip), in bytes. */
export async function zippedSize(
  dir: string,
): Promise<{ bytes: number; files: number; unzippedBytes: number }> {
  const files: Record<string, Uint8Array> = {};
  let unzippedBytes = 0;
  for (const rel of await readdir(dir, { recursive: true })) {
    const full = path.join(dir, rel);
    if (!(await stat(full)).isFile()) continue;
    const data = await readFile(full);
    unzippedBytes += data.byteLength;
    files[rel.split(path.sep).join("/")] = data;
  }
  const zip = zipSync(files, { level: 6 });
  return { bytes: zip.byteLength, files: Object.keys(files).length, unzippedBytes };
}
