/** Every `.bicep` file of the repository parses (see bicep-syntax.ts); broken Bicep is caught. */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bicepSyntaxErrors } from "./bicep-syntax.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function bicepFiles(dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory())
      return ["node_modules", ".git", "test-artifacts"].includes(e.name)
        ? []
        : bicepFiles(path.join(dir, e.name));
    return e.name.endsWith(".bicep") ? [path.relative(root, path.join(dir, e.name))] : [];
  });
}

describe("Bicep syntax (tree-sitter-bicep)", () => {
  const files = bicepFiles();

  it("finds the templates", () => {
    expect(files).toEqual(expect.arrayContaining(["infra/main.bicep", "infra/resources.bicep"]));
    expect(files.filter((f) => f.startsWith("infra/modules/")).length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)("%s parses without ERROR or MISSING nodes", async (file) => {
    expect(await bicepSyntaxErrors(readFileSync(path.join(root, file), "utf8"), file)).toEqual([]);
  });

  const valid =
    "param name string\nresource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: name\n  location: 'westeurope'\n  kind: 'StorageV2'\n  sku: {\n    name: 'Standard_LRS'\n  }\n}\n";

  it("a valid snippet parses (the negative cases below differ from it by one mistake)", async () => {
    expect(await bicepSyntaxErrors(valid, "valid.bicep")).toEqual([]);
  });

  it.each([
    ["an unclosed object", valid.replace("  }\n}\n", "  }\n"), /^broken\.bicep:\d+:\d+: /],
    ["a missing '='", valid.replace("@2023-05-01' = {", "@2023-05-01' {"), /^broken\.bicep:2:\d+: /],
    ["an unterminated string", valid.replace("'westeurope'", "'westeurope"), /^broken\.bicep:\d+:\d+: /],
    [
      "a stray token",
      valid.replace("param name string", "param name string string"),
      /^broken\.bicep:1:\d+: /,
    ],
    ["a ternary without ':'", `${valid}var x = empty(name) ? 'a'\n`, /^broken\.bicep:1[01]:\d+: /],
  ])("%s is reported with file and line", async (_what, source, where) => {
    const errors = await bicepSyntaxErrors(source, "broken.bicep");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(where);
  });
});
