/** What an approval (and an intent) binds: the exact planned change, minus plan-time clock values. */
import { canonicalJson, sha256Hex } from "../audit/chain.js";
import type { Change } from "../audit/types.js";

export function changesHash(changes: readonly Change[], volatilePaths: readonly string[] = []): string {
  const bound = changes.map((c) => (volatilePaths.includes(c.path) ? { path: c.path, from: c.from } : c));
  return sha256Hex(canonicalJson(bound));
}
