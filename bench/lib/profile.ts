/**
 * Where the time goes: the top self-time functions of a V8 CPU profile (`node --cpu-prof`, or the
 * inspector's Profiler), for the results of a missed target.
 */
import { readdir, readFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface HotFunction {
  function: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

function where(url: string, line: number): string {
  if (!url) return "(native)";
  const file = url.replace(/^file:\/\//, "");
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (m) return m[1]!;
  const rel = path.relative(process.cwd(), file);
  return `${rel.startsWith("..") ? file : rel}:${line + 1}`;
}

export function topSelfTime(profile: CpuProfile, top = 12): { totalMs: number; functions: HotFunction[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    const us = Math.max(0, deltas[i] ?? 0);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") continue;
    total += us;
    // Packages are summed per package (their inner functions are not ours to fix).
    const w = where(url, lineNumber);
    const key = url.includes("node_modules") ? `pkg:${w}` : `${functionName}@${w}`;
    const entry = self.get(key) ?? {
      fn: url.includes("node_modules") ? "(package code)" : functionName || "(anonymous)",
      where: w,
      us: 0,
    };
    entry.us += us;
    self.set(key, entry);
  }
  const functions = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({
      function: e.fn,
      where: e.where,
      selfMs: Math.round(e.us / 100) / 10,
      selfPct: total ? Math.round((e.us / total) * 1000) / 10 : 0,
    }));
  return { totalMs: Math.round(total / 1000), functions };
}

/** Summaries of every .cpuprofile in `dir` (one per process that wrote one). */
export async function summarizeProfileDir(dir: string, top = 12) {
  const out: { file: string; totalMs: number; functions: HotFunction[] }[] = [];
  for (const f of (await readdir(dir)).filter((x) => x.endsWith(".cpuprofile")).sort()) {
    const profile = JSON.parse(await readFile(path.join(dir, f), "utf8")) as CpuProfile;
    out.push({ file: f, ...topSelfTime(profile, top) });
  }
  return out;
}

/** Profiles `work` in this process with the inspector's sampling profiler. */
export async function profileInProcess<T>(
  work: () => Promise<T>,
): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    const result = await work();
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    return { result, profile };
  } finally {
    session.disconnect();
  }
}
