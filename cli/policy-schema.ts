/**
 * `driftguard policy schema [kind]`: what a policy of each kind may say — the kind's description,
 * its `params` as JSON Schema (from the kind's zod schema, as a policy file writes them: defaulted
 * fields are optional) and an example policy. Prints JSON: one object for a kind, else an array.
 */
import { Command } from "commander";
import { z } from "zod";
import type { RemediationRegistry } from "../shared/remediations/registry.js";
import type { AnyRemediation } from "../shared/remediations/types.js";

export interface KindSchema {
  kind: string;
  description: string;
  /** JSON Schema (draft 2020-12) of the policy's `params`. */
  params: Record<string, unknown>;
  /** A complete policy file using the kind (YAML). */
  example: string;
}

export function kindSchema(remediation: AnyRemediation): KindSchema {
  return {
    kind: remediation.kind,
    description: remediation.description,
    params: z.toJSONSchema(remediation.paramsSchema, { io: "input" }) as Record<string, unknown>,
    example: remediation.example,
  };
}

export function policySchemaCommand(
  registry: RemediationRegistry,
  out: { stdout: (s: string) => void; stderr: (s: string) => void } = {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  },
): Command {
  return new Command("schema")
    .description("print each kind's description, params (as JSON Schema) and an example policy")
    .argument("[kind]", `one kind (${registry.names.join(", ")}); default: every kind`)
    .action((kind: string | undefined) => {
      if (kind === undefined) {
        out.stdout(`${JSON.stringify(registry.all.map(kindSchema), null, 2)}\n`);
        return;
      }
      const remediation = registry.get(kind);
      if (!remediation) {
        out.stderr(`unknown kind '${kind}' (known: ${registry.names.join(", ")})\n`);
        process.exitCode = 1;
        return;
      }
      out.stdout(`${JSON.stringify(kindSchema(remediation), null, 2)}\n`);
    });
}
