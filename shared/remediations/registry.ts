/**
 * The remediation kinds a process knows, by name. Built once from an explicit list
 * (`builtinRegistry()` in `./index.ts`) and passed to the policy loader and the pipeline: nothing
 * registers itself on import.
 */
import type { AnyRemediation } from "./types.js";

export interface RemediationRegistry {
  /** The kind named `kind`, if known. */
  get(kind: string): AnyRemediation | undefined;
  /** Every kind, ordered by name. */
  readonly all: readonly AnyRemediation[];
  /** Every kind's name, ordered. */
  readonly names: readonly string[];
}

/** A registry of `kinds`; two kinds with one name are a programming error. */
export function createRegistry(kinds: readonly AnyRemediation[]): RemediationRegistry {
  const byName = new Map<string, AnyRemediation>();
  for (const k of kinds) {
    if (byName.has(k.kind)) throw new Error(`remediation kind '${k.kind}' listed twice`);
    byName.set(k.kind, k);
  }
  const all = [...byName.values()].sort((a, b) => a.kind.localeCompare(b.kind));
  return {
    get: (kind) => byName.get(kind),
    all,
    names: all.map((k) => k.kind),
  };
}
