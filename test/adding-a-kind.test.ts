/**
 * README "Adding a remediation kind", followed: the section names every file a new kind touches, and
 * a throw-away kind scaffolded in a temporary folder as it says (its own folder, `kind.ts` with
 * `permissions`), then registered, is what `driftguard policy schema` and `driftguard doctor` work
 * with; the checks the section points at (docs markers, role actions) fail until their step is done.
 */

import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDoctor } from "../cli/doctor.js";
import { policySchemaCommand } from "../cli/policy-schema.js";
import { SimAdminClient } from "../dev/azure-sim/admin-client.js";
import { renderPoliciesDoc } from "../scripts/kinds-doc.js";
import { staticTokenCredential } from "../shared/azure/clients.js";
import { validatePolicyText } from "../shared/policy/load.js";
import { BUILTIN_KINDS, createRegistry } from "../shared/remediations/index.js";
import type { AnyRemediation } from "../shared/remediations/types.js";
import { publicStorageAccount } from "./helpers/seed.js";
import { startTestStack, type TestStack } from "./helpers/stack.js";
import { blockAfter, stringItems } from "./infra/bicep-reader.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const read = (rel: string) => readFileSync(path.join(ROOT, rel), "utf8");
const KIND = "require-https-only";
const SUB = "00000000-0000-0000-0000-0000000000a7";
const ACCOUNT = `/subscriptions/${SUB}/resourceGroups/rg-scaffold/providers/Microsoft.Storage/storageAccounts/stscaffold`;

const README_SECTION = (() => {
  const readme = read("README.md");
  const start = readme.indexOf("## Adding a remediation kind");
  return readme.slice(start, readme.indexOf("\n## ", start + 1));
})();

/** The kind as the README's first step says to write it, importing the repository's own modules. */
function scaffoldSource(): string {
  const repo = (rel: string) => pathToFileURL(path.join(ROOT, rel)).href;
  const zod = pathToFileURL(createRequire(import.meta.url).resolve("zod")).href;
  return `import { z } from "${zod}";
import { asRemediationError } from "${repo("shared/errors.ts")}";

export const KIND = "${KIND}";
export const paramsSchema = z.strictObject({
  allowHttp: z.boolean().default(false).describe("Leave accounts that accept plain HTTP alone"),
});
export const example = \`version: 1
policies:
  - name: storage-https-only
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: ${KIND}
    params: {}
    scope: [/subscriptions/${SUB}]
\`;

const ids = (id) => {
  const p = id.split("/");
  return { sub: p[2], group: p[4], name: p[8] };
};

export const remediation = {
  kind: KIND,
  description: "Storage accounts accept HTTPS only",
  example,
  services: ["storage"],
  permissions: {
    actions: ["Microsoft.Storage/storageAccounts/read", "Microsoft.Storage/storageAccounts/write"],
  },
  paramsSchema,
  supports: (type) => type.toLowerCase() === "microsoft.storage/storageaccounts",
  async read(ctx) {
    const { sub, group, name } = ids(ctx.target.resourceId);
    try {
      const a = await ctx.clients.storage(sub).storageAccounts.getProperties(group, name);
      return { state: { httpsOnly: a.enableHttpsTrafficOnly !== false }, tags: a.tags ?? {} };
    } catch (err) {
      throw asRemediationError(err, { step: "read", resourceId: ctx.target.resourceId });
    }
  },
  plan(current, ctx) {
    if (current.state.httpsOnly || ctx.params.allowHttp) return { action: "noop", reason: "HTTPS only" };
    return {
      action: "change",
      changes: [{ path: "properties.supportsHttpsTrafficOnly", from: false, to: true }],
      summary: "accept HTTPS only",
      data: {},
    };
  },
  async apply(plan, ctx) {
    const { sub, group, name } = ids(ctx.target.resourceId);
    await ctx.clients.storage(sub).storageAccounts.update(group, name, { enableHttpsTrafficOnly: true });
    return plan.changes;
  },
  async verify(plan, ctx) {
    return { ok: (await remediation.read(ctx)).state.httpsOnly };
  },
};
`;
}

let dir: string;
let scaffolded: AnyRemediation;
let stack: TestStack;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "driftguard-kind-"));
  // Step 1: the kind's own folder.
  const kindFile = path.join(dir, "shared", "remediations", KIND, "kind.ts");
  await mkdir(path.dirname(kindFile), { recursive: true });
  await writeFile(kindFile, scaffoldSource());
  scaffolded = ((await import(pathToFileURL(kindFile).href)) as { remediation: AnyRemediation }).remediation;
  stack = await startTestStack({
    seed: { resources: [publicStorageAccount(ACCOUNT)] },
    // The stack runs the shipped kinds; doctor below gets the registry with the new one.
    policyYaml:
      "version: 1\npolicies:\n  - name: storage\n    resourceTypes: [Microsoft.Storage/storageAccounts]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n",
  });
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("README: adding a remediation kind", () => {
  it("names every file a new kind touches, and each exists", () => {
    for (const named of [
      "shared/remediations/<kind>/kind.ts",
      "shared/remediations/index.ts",
      "BUILTIN_KINDS",
      "test/remediations/<kind>.test.ts",
      "dev/azure-sim/",
      "permissions",
      "infra/main.bicep",
      "remediatorActions",
      "policies/default.yaml",
      "docs/policies.md",
      "<!-- kind:<kind>:start -->",
      "npm run docs",
      "policy schema <kind>",
      "driftguard doctor",
    ])
      expect(README_SECTION, named).toContain(named);
    for (const file of [
      "shared/remediations/index.ts",
      "shared/remediations/types.ts",
      "test/remediations/kind-run.ts",
      "test/helpers/harness.ts",
      "dev/azure-sim/README.md",
      "infra/main.bicep",
      "policies/default.yaml",
      "docs/policies.md",
      "test/infra/kind-permissions.test.ts",
      "test/infra/role-coverage.test.ts",
      "test/policy-kinds.test.ts",
    ])
      expect(existsSync(path.join(ROOT, file)), file).toBe(true);
  });

  it("a scaffolded kind, registered, is what `driftguard policy schema` prints", async () => {
    // Step 2: registered beside the shipped kinds.
    const registry = createRegistry([...BUILTIN_KINDS, scaffolded]);
    let stdout = "";
    await policySchemaCommand(registry, { stdout: (s) => (stdout += s), stderr: () => undefined }).parseAsync(
      [KIND],
      { from: "user" },
    );
    const schema = JSON.parse(stdout) as {
      kind: string;
      description: string;
      params: unknown;
      example: string;
    };
    expect(schema).toMatchObject({ kind: KIND, description: "Storage accounts accept HTTPS only" });
    expect(schema.params).toMatchObject({
      type: "object",
      properties: { allowHttp: { type: "boolean", default: false } },
    });
    // Its example is a valid policy file for the registry that knows it, and only for that one.
    expect(validatePolicyText(schema.example, registry).issues).toEqual([]);
    expect(validatePolicyText(schema.example, createRegistry(BUILTIN_KINDS)).issues).not.toEqual([]);
  });

  it("`driftguard doctor` checks its policy's scope and its `permissions` against the identity", async () => {
    const registry = createRegistry([...BUILTIN_KINDS, scaffolded]);
    const policyFile = path.join(dir, "policies.yaml");
    await writeFile(policyFile, scaffolded.example);
    const doctor = () =>
      runDoctor({
        env: {
          DRIFTGUARD_LOCAL_STACK: "1",
          DRIFTGUARD_POLICY_FILE: policyFile,
          COSMOS_ENDPOINT: stack.cosmosUrl,
          COSMOS_KEY: stack.cosmosKey,
          ARM_ENDPOINT: stack.azureUrl,
          DRIFTGUARD_CA_FILE: stack.caCertFile,
          APPROVER_OBJECT_IDS: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        },
        registry,
        credential: staticTokenCredential(),
        timeoutMs: 5_000,
      });
    const results = await doctor();
    expect(results.find((r) => r.check === "policies")).toMatchObject({ status: "ok" });
    expect(results.find((r) => r.check === "scope storage-https-only")).toMatchObject({ status: "ok" });
    expect(results.find((r) => r.check === "permissions storage-https-only")).toMatchObject({
      status: "ok",
      detail: `/subscriptions/${SUB}: every operation of ${KIND} is granted`,
    });
    // The same identity without the kind's write: doctor names exactly that operation.
    const admin = new SimAdminClient(stack.azureUrl, stack.tls.cert);
    await admin.setPermissions([
      {
        actions: ["*"],
        notActions: ["Microsoft.Storage/storageAccounts/write"],
        dataActions: [],
        notDataActions: [],
      },
    ]);
    try {
      const refused = (await doctor()).find((r) => r.check === "permissions storage-https-only")!;
      expect(refused.status).toBe("fail");
      expect(refused.detail).toBe(
        `/subscriptions/${SUB}: ${KIND} needs Microsoft.Storage/storageAccounts/write`,
      );
    } finally {
      await admin.setPermissions([]);
    }
  });

  it("the checks the section points at fail until their step is done", () => {
    const registry = createRegistry([...BUILTIN_KINDS, scaffolded]);
    // Documentation: without its section, npm run docs refuses; with the markers, it writes the table.
    const doc = read("docs/policies.md");
    expect(() => renderPoliciesDoc(doc, registry)).toThrow(
      `docs/policies.md has no section for kind '${KIND}'`,
    );
    const withSection = `${doc.trimEnd()}\n\n### ${KIND}\n\n<!-- kind:${KIND}:start -->\n<!-- kind:${KIND}:end -->\n`;
    expect(renderPoliciesDoc(withSection, registry)).toContain(
      "| `allowHttp` | boolean | `false` | — | Leave accounts that accept plain HTTP alone |",
    );
    // Role actions: every action the kind declares must be granted in infra/main.bicep (as
    // test/infra/kind-permissions.test.ts checks for the registry); one it adds is missing until then.
    const granted = stringItems(blockAfter(read("infra/main.bicep"), /^var remediatorActions\s*=/m));
    expect(scaffolded.permissions.actions.filter((a) => !granted.includes(a))).toEqual([]);
    const wider = {
      ...scaffolded.permissions,
      actions: [...scaffolded.permissions.actions, "Microsoft.Storage/storageAccounts/fileServices/write"],
    };
    expect(wider.actions.filter((a) => !granted.includes(a))).toEqual([
      "Microsoft.Storage/storageAccounts/fileServices/write",
    ]);
  });
});
