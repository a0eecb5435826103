/** The reliability tests leave their figures in test-artifacts/reliability/<name>.json (docs/reliability.md). */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

export async function saveFigures(name: string, figures: Record<string, unknown>): Promise<void> {
  const dir = path.resolve("test-artifacts", "reliability");
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, `${name}.json`),
    `${JSON.stringify({ ...figures, at: new Date().toISOString() }, null, 2)}\n`,
  );
}
