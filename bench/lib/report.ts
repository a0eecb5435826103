/** The bench's results: one JSON line per metric on stdout, all of them in bench/results.json. */
import { writeFile } from "node:fs/promises";

export interface Metric {
  metric: string;
  value: number;
  unit: string;
  /** The target, as text (e.g. "<= 150"). */
  target?: string;
  met?: boolean;
  samples?: number;
  [extra: string]: unknown;
}

export class Results {
  readonly metrics: Metric[] = [];
  readonly notes: Record<string, unknown> = {};

  add(m: Metric): Metric {
    const rounded: Metric = { ...m, value: round(m.value) };
    this.metrics.push(rounded);
    process.stdout.write(`${JSON.stringify(rounded)}\n`);
    return rounded;
  }

  get(name: string): Metric | undefined {
    return this.metrics.find((m) => m.metric === name);
  }

  async write(file: string, meta: Record<string, unknown>): Promise<void> {
    await writeFile(
      file,
      `${JSON.stringify({ ...meta, metrics: this.metrics, notes: this.notes }, null, 2)}\n`,
    );
  }
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** "<= 150" style check. */
export function check(
  value: number,
  op: "<=" | ">=" | "==",
  bound: number,
): { target: string; met: boolean } {
  const met = op === "<=" ? value <= bound : op === ">=" ? value >= bound : value === bound;
  return { target: `${op} ${bound}`, met };
}
