/**
 * Loads and validates a policy file (YAML or JSON) against the kinds of a registry. Every error is
 * reported with its path, e.g. `policies[2].params.maxNodes: expected number` — `driftguard policy
 * validate` prints them all. Each policy's `params` are parsed here, once, by its kind's schema
 * (defaults applied); the pipeline hands them to the kind as they are.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import type { RemediationRegistry } from "../remediations/registry.js";
import { formatPath } from "../signals/errors.js";
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

function zodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): PolicyIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

/** Parses text as YAML (a superset of JSON) and validates it. Never throws for bad content. */
export function validatePolicyText(
  text: string,
  registry: RemediationRegistry,
): { file?: PolicyFile; issues: PolicyIssue[] } {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => ({
        path: e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "",
        message: e.message.split("\n")[0] ?? e.message,
      })),
    };
  }
  return validatePolicyObject(doc.toJS(), registry);
}

/** Validates an already-parsed policy document: shape, unique names, known kinds, per-kind params. */
export function validatePolicyObject(
  raw: unknown,
  registry: RemediationRegistry,
): { file?: PolicyFile; issues: PolicyIssue[] } {
  const parsed = policyFileSchema.safeParse(raw);
  if (!parsed.success) {
    // Shape errors first; per-kind checks still run on the entries that can be read, so that one
    // run reports every error.
    const issues = zodIssues(parsed.error);
    const policies = (raw as { policies?: unknown })?.policies;
    if (Array.isArray(policies)) issues.push(...checkKinds(policies as Partial<Policy>[], registry).issues);
    return { issues: dedupeIssues(issues) };
  }
  const { issues, params } = checkKinds(parsed.data.policies, registry);
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
  // Each policy carries its kind's parsed params (defaults applied).
  const policies = parsed.data.policies.map((p, i) => ({ ...p, params: params[i]! }));
  return { file: { version: 1, policies }, issues: [] };
}

/** Known kind, supported resource types and the kind's params, per policy; the parsed params by index. */
function checkKinds(
  policies: Partial<Policy>[],
  registry: RemediationRegistry,
): { issues: PolicyIssue[]; params: Record<string, unknown>[] } {
  const issues: PolicyIssue[] = [];
  const params: Record<string, unknown>[] = [];
  policies.forEach((p, i) => {
    if (!p || typeof p !== "object" || typeof p.kind !== "string") return;
    const remediation = registry.get(p.kind);
    if (!remediation) {
      issues.push({
        path: `policies[${i}].kind`,
        message: `unknown kind '${p.kind}' (known: ${registry.names.join(", ")})`,
      });
      return;
    }
    if (p.sweep === true && !remediation.sweep)
      issues.push({
        path: `policies[${i}].sweep`,
        message: `kind '${p.kind}' cannot sweep (it acts on alerts only); leave sweep out or set it to false`,
      });
    const parsed = remediation.paramsSchema.safeParse(p.params ?? {});
    if (parsed.success) params[i] = parsed.data as Record<string, unknown>;
    else issues.push(...zodIssues(parsed.error, ["policies", i, "params"]));
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
  return { issues, params };
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
export async function loadPolicyFile(file: string, registry: RemediationRegistry): Promise<PolicyFile> {
  return (await loadPolicyFileSource(file, registry)).policies;
}

/** A loaded policy file with its text and the SHA-256 (hex) of its bytes, which records carry as
 *  `policyFileHash` (docs/audit-records.md#record-fields). */
export interface PolicyFileSource {
  policies: PolicyFile;
  text: string;
  sha256: string;
}

export async function loadPolicyFileSource(
  file: string,
  registry: RemediationRegistry,
): Promise<PolicyFileSource> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new PolicyValidationError(file, [{ path: "", message: `cannot read: ${(err as Error).message}` }]);
  }
  const text = bytes.toString("utf8");
  const { file: policies, issues } = validatePolicyText(text, registry);
  if (!policies) throw new PolicyValidationError(path.relative(process.cwd(), file) || file, issues);
  return { policies, text, sha256: createHash("sha256").update(bytes).digest("hex") };
}
