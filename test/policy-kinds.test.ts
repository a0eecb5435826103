/**
 * The registry of kinds and what each kind documents about itself: every kind's example policy is
 * a valid policy file for the real loader (the way Custodian tests its documentation examples), and
 * `driftguard policy schema [kind]` prints each kind's description and params as JSON Schema.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type KindSchema, policySchemaCommand } from "../cli/policy-schema.js";
import { validatePolicyText } from "../shared/policy/load.js";
import { BUILTIN_KINDS, builtinRegistry, createRegistry } from "../shared/remediations/index.js";

const registry = builtinRegistry();

/** Runs `policy schema` in-process, capturing what a user would see. */
async function schemaCli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const cmd = policySchemaCommand(registry, { stdout: (s) => out.push(s), stderr: (s) => err.push(s) });
  cmd.exitOverride();
  const before = process.exitCode;
  await cmd.parseAsync(args, { from: "user" });
  const exitCode = process.exitCode;
  process.exitCode = before;
  return { stdout: out.join(""), stderr: err.join(""), exitCode };
}

describe("the registry", () => {
  it("lists every shipped kind once, by name", () => {
    expect(registry.names).toEqual([
      "close-internet-inbound-rule",
      "disable-local-auth",
      "disable-public-network-access",
      "enable-diagnostic-logs",
      "protect-model-storage",
      "require-api-subscription",
      "require-secure-transport",
      "rotate-secret",
      "scale-gpu-pool",
      "throttle-api-subscription",
    ]);
    for (const kind of BUILTIN_KINDS) expect(registry.get(kind.kind)).toBe(kind);
    expect(registry.get("delete-everything")).toBeUndefined();
  });

  it("refuses two kinds with one name", () => {
    const [first] = BUILTIN_KINDS;
    expect(() => createRegistry([first!, { ...first! }])).toThrow(/listed twice/);
  });

  it("a policy naming a kind outside the registry it is loaded with is rejected", () => {
    const only = createRegistry(BUILTIN_KINDS.filter((k) => k.kind === "rotate-secret"));
    const example = registry.get("scale-gpu-pool")!.example;
    const { file, issues } = validatePolicyText(example, only);
    expect(file).toBeUndefined();
    expect(issues).toEqual([
      { path: "policies[0].kind", message: "unknown kind 'scale-gpu-pool' (known: rotate-secret)" },
    ]);
  });
});

describe.each(BUILTIN_KINDS.map((k) => [k.kind, k] as const))(
  "kind %s documents itself",
  (kind, remediation) => {
    it("its example is a valid policy file of this kind, params parsed once with defaults", () => {
      const { file, issues } = validatePolicyText(remediation.example, registry);
      expect(issues).toEqual([]);
      expect(file!.policies.length).toBeGreaterThan(0);
      const written = parse(remediation.example) as { policies: { params?: Record<string, unknown> }[] };
      file!.policies.forEach((p, i) => {
        expect(p.kind).toBe(kind);
        // The loaded policy carries exactly what the kind's schema makes of the written params.
        expect(p.params).toEqual(remediation.paramsSchema.parse(written.policies[i]?.params ?? {}));
      });
    });

    it("declares a description and the Azure services it calls", () => {
      expect(remediation.description.length).toBeGreaterThan(20);
      expect(remediation.services.length).toBeGreaterThan(0);
    });

    it("`policy schema <kind>` prints its description and params as JSON Schema", async () => {
      const r = await schemaCli([kind]);
      expect(r.exitCode).toBeUndefined();
      expect(r.stderr).toBe("");
      const printed = JSON.parse(r.stdout) as KindSchema;
      expect(printed.kind).toBe(kind);
      expect(printed.description).toBe(remediation.description);
      expect(printed.example).toBe(remediation.example);
      const params = printed.params as {
        type: string;
        properties: Record<string, unknown>;
        required?: string[];
        additionalProperties: boolean;
      };
      expect(params.type).toBe("object");
      expect(params.additionalProperties).toBe(false);
      // The schema agrees with the kind's validation: empty params are valid exactly when nothing is required.
      expect(remediation.paramsSchema.safeParse({}).success).toBe((params.required ?? []).length === 0);
      // An unknown field is refused by both.
      expect(remediation.paramsSchema.safeParse({ notAParam: 1 }).success).toBe(false);
    });
  },
);

describe("driftguard policy schema", () => {
  it("without a kind prints every kind", async () => {
    const r = await schemaCli([]);
    const printed = JSON.parse(r.stdout) as KindSchema[];
    expect(printed.map((k) => k.kind)).toEqual(registry.names);
  });

  it("names the params a policy must give and their bounds", async () => {
    const scale = JSON.parse((await schemaCli(["scale-gpu-pool"])).stdout) as KindSchema;
    expect(scale.params).toMatchObject({
      required: ["maxNodes"],
      properties: {
        maxNodes: { type: "integer", minimum: 0, maximum: 5000, description: expect.any(String) },
        pool: { type: "string" },
      },
    });
    const rotate = JSON.parse((await schemaCli(["rotate-secret"])).stdout) as KindSchema;
    // Defaulted params are optional in a policy file, and their default is shown.
    expect(rotate.params).not.toHaveProperty("required");
    expect(rotate.params).toMatchObject({ properties: { validityDays: { default: 90 } } });
  });

  it("an unknown kind exits 1 naming the known ones, printing nothing else", async () => {
    const r = await schemaCli(["delete-everything"]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`unknown kind 'delete-everything' (known: ${registry.names.join(", ")})\n`);
  });
});
