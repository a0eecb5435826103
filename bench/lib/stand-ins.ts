/**
 * What the bench reads from the separate-process stack: requests the Cosmos DB stand-in received
 * (bench/lib/count-requests.mjs, preloaded into it), ARM writes from the simulator's request log,
 * and each process's own CPU time (dev/proc `usage()`).
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { ProcessStack } from "../../dev/proc/stack.js";

export interface RequestCounts {
  total: number;
  counts: Record<string, number>;
}

/** Asks the process `pid` (with the counting preload) for its counts so far. */
export async function requestCounts(pid: number, dir: string): Promise<RequestCounts> {
  const file = path.join(dir, `${pid}.json`);
  const before = await stat(file).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const asked = Date.now();
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 500; i++) {
    try {
      const s = await stat(file);
      if (s.mtimeMs !== before || s.mtimeMs >= asked) {
        const data = JSON.parse(await readFile(file, "utf8")) as RequestCounts & { at: number };
        if (data.at >= asked) return { total: data.total, counts: data.counts };
      }
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not report its request counts (is the counting preload loaded?)`);
}

export function diffCounts(after: RequestCounts, before: RequestCounts): RequestCounts {
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.counts)) {
    const d = v - (before.counts[k] ?? 0);
    if (d) counts[k] = d;
  }
  return { total: after.total - before.total, counts };
}

export interface CpuSnapshot {
  [process: string]: { cpuMs: number; rssMb: number };
}

/** CPU time (user + system) and RSS of every process of the stack, plus this one (the bench). */
export async function cpuSnapshot(stack: ProcessStack): Promise<CpuSnapshot> {
  const out: CpuSnapshot = {};
  const add = (name: string, u: { cpuUserUs: number; cpuSystemUs: number; rssBytes: number }) => {
    out[name] = { cpuMs: (u.cpuUserUs + u.cpuSystemUs) / 1000, rssMb: u.rssBytes / 1e6 };
  };
  const [cosmos, sim, ...hosts] = await Promise.all([
    stack.cosmos.usage(),
    stack.sim.usage(),
    ...stack.hosts.map((h) => h.usage()),
  ]);
  add("cosmos", cosmos);
  add("sim", sim);
  hosts.forEach((h, i) => {
    add(`host-${i}`, h);
  });
  const me = process.cpuUsage();
  out.bench = { cpuMs: (me.user + me.system) / 1000, rssMb: process.memoryUsage.rss() / 1e6 };
  return out;
}

/** CPU ms each process spent between two snapshots. */
export function cpuBetween(after: CpuSnapshot, before: CpuSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = Math.round(v.cpuMs - (before[k]?.cpuMs ?? 0));
  return out;
}

/** ARM writes the simulator handled, per resource name (of those with `prefix`). */
export async function armWritesByResource(stack: ProcessStack, prefix: string): Promise<Map<string, number>> {
  const writes = await stack.sim.admin.writes({ pathIncludes: prefix });
  const byName = new Map<string, number>();
  for (const w of writes) {
    const name = /storageAccounts\/([^/?]+)/i.exec(w.path)?.[1]?.toLowerCase();
    if (name) byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  return byName;
}
