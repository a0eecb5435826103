/**
 * Loads and validates a policy file (YAML or JSON). Every error is reported with its path, e.g.
 * `policies[2].params.maxNodes: expected number` — `driftguard policy validate` prints them all.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { getRemediation, knownKinds } from "../remediations/registry.js";
import { type Policy, type PolicyFile, policyFileSchema } from "./schema.js";

export interface PolicyIssue {
  path: string;
  message: string;
}

export class PolicyValidationError extends Error {
  override readonly name = "PolicyValidationError";
  constructor(
    readonly source: string,
    readonly issues: PolicyIssue[],
  ) {
    super(
      `${source}: ${issues.length} policy error(s): ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`,
    );
  }
}

export const DEFAULT_POLICY_FILE = "policies/default.yaml";

function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of segments) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function zodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): PolicyIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

/** Parses text as YAML (a superset of JSON) and validates it. Never throws for bad content. */
export function validatePolicyText(text: string): { file?: PolicyFile; issues: PolicyIssue[] } {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => ({
        path: e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "",
        message: e.message.split("\n")[0] ?? e.message,
      })),
    };
  }
  return validatePolicyObject(doc.toJS());
}

/** Validates an already-parsed policy document: shape, unique names, known kinds, per-kind params. */
export function validatePolicyObject(raw: unknown): { file?: PolicyFile; issues: PolicyIssue[] } {
  const parsed = policyFileSchema.safeParse(raw);
  if (!parsed.success) {
    // Shape errors first; per-kind checks still run on the entries that can be read, so that one
    // run reports every error.
    const issues = zodIssues(parsed.error);
    const policies = (raw as { policies?: unknown })?.policies;
    if (Array.isArray(policies)) issues.push(...kindIssues(policies as Partial<Policy>[]));
    return { issues: dedupeIssues(issues) };
  }
  const issues = kindIssues(parsed.data.policies);
  const seen = new Map<string, number>();
  parsed.data.policies.forEach((p, i) => {
    const first = seen.get(p.name);
    if (first !== undefined)
      issues.push({
        path: `policies[${i}].name`,
        message: `duplicate policy name '${p.name}' (first at policies[${first}])`,
      });
    else seen.set(p.name, i);
  });
  if (issues.length > 0) return { issues };
  // Replace params with the kind's parsed params (defaults applied).
  const policies = parsed.data.policies.map((p) => ({
    ...p,
    params: getRemediation(p.kind)!.paramsSchema.parse(p.params) as Record<string, unknown>,
  }));
  return { file: { version: 1, policies }, issues: [] };
}

function kindIssues(policies: Partial<Policy>[]): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  policies.forEach((p, i) => {
    if (!p || typeof p !== "object" || typeof p.kind !== "string") return;
    const remediation = getRemediation(p.kind);
    if (!remediation) {
      issues.push({
        path: `policies[${i}].kind`,
        message: `unknown kind '${p.kind}' (known: ${knownKinds().join(", ")})`,
      });
      return;
    }
    const params = remediation.paramsSchema.safeParse(p.params ?? {});
    if (!params.success) issues.push(...zodIssues(params.error, ["policies", i, "params"]));
    if (Array.isArray(p.resourceTypes)) {
      p.resourceTypes.forEach((t, j) => {
        if (typeof t === "string" && !remediation.supports(t)) {
          issues.push({
            path: `policies[${i}].resourceTypes[${j}]`,
            message: `kind '${p.kind}' does not support '${t}'`,
          });
        }
      });
    }
  });
  return issues;
}

function dedupeIssues(issues: PolicyIssue[]): PolicyIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Reads and validates a policy file; throws PolicyValidationError listing every issue. */
export async function loadPolicyFile(file: string): Promise<PolicyFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new PolicyValidationError(file, [{ path: "", message: `cannot read: ${(err as Error).message}` }]);
  }
  const { file: policies, issues } = validatePolicyText(text);
  if (!policies) throw new PolicyValidationError(path.relative(process.cwd(), file) || file, issues);
  return policies;
}
