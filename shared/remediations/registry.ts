/** Typed registry of remediation kinds. Each kind's file calls `registerRemediation` once. */
import type { Remediation } from "./types.js";

// biome-ignore lint/suspicious/noExplicitAny: the registry holds kinds of any param/state type
type AnyRemediation = Remediation<any, any, any>;

const registry = new Map<string, AnyRemediation>();

export function registerRemediation<P, S, D>(remediation: Remediation<P, S, D>): Remediation<P, S, D> {
  if (registry.has(remediation.kind))
    throw new Error(`remediation kind '${remediation.kind}' registered twice`);
  registry.set(remediation.kind, remediation as AnyRemediation);
  return remediation;
}

export function getRemediation(kind: string): AnyRemediation | undefined {
  return registry.get(kind);
}

export function listRemediations(): AnyRemediation[] {
  return [...registry.values()];
}

export function knownKinds(): string[] {
  return [...registry.keys()].sort();
}
