/**
 * The custom roles in infra/main.bicep grant exactly what driftguard does. The remediation test suites
 * run once more in a child process with the simulator recording every request it answers
 * (AZURE_SIM_RECORD_FILE); each request driftguard's SDK clients sent is mapped to the RBAC operation
 * Azure checks for it (arm-operations.ts), and then:
 * - every such operation is granted by one of the roles (nothing driftguard does would be refused);
 * - every granted action or data action is used by at least one request (nothing granted for nothing);
 * - writes are granted only on resource types the default policies name (or types below them).
 * The tests' own setup calls (plain HTTPS, no Azure SDK user agent) are not driftguard's and are left out;
 * driftguard's own REST client (diagnostic settings) sends `driftguard-…` and counts.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type Operation, operationsOf, permits, type RecordedRequest } from "./arm-operations.js";
import { blockAfter, stringItems } from "./bicep-reader.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const main = readFileSync(path.join(root, "infra/main.bicep"), "utf8");
const granted = {
  remediator: stringItems(blockAfter(main, /^var remediatorActions\s*=/m)),
  keyRotation: stringItems(blockAfter(main, /^var keyRotationActions\s*=/m)),
  secretRotation: stringItems(blockAfter(main, /^var secretRotationDataActions\s*=/m)),
  vaultWrite: stringItems(blockAfter(main, /^var vaultWriteActions\s*=/m)),
  identityAssign: stringItems(blockAfter(main, /^var identityAssignActions\s*=/m)),
};
/** Every ARM action any role grants (subscription-wide or per resource group). */
const grantedActions = [
  ...granted.remediator,
  ...granted.keyRotation,
  ...granted.vaultWrite,
  ...granted.identityAssign,
];

/** Granted though no recorded request needs it, each with the reason. Keep empty unless unavoidable. */
const GRANTED_WITHOUT_A_REQUEST: Record<string, string> = {};

let scratch: string;
let recorded: RecordedRequest[] = [];
let needed: Operation[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), "driftguard-role-"));
  const recordFile = path.join(scratch, "requests.jsonl");
  const run = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "test/remediations", "--reporter=dot"],
      { cwd: root, env: { ...process.env, AZURE_SIM_RECORD_FILE: recordFile }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
  expect(run.code, `the remediation suites failed:\n${run.output.slice(-4000)}`).toBe(0);
  recorded = readFileSync(recordFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecordedRequest);
  needed = recorded
    .filter((r) => /^(azsdk-js|driftguard-)/.test(r.headers?.["user-agent"] ?? ""))
    .flatMap((r) => operationsOf(r));
}, 300_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const unique = (ops: Operation[]) => [...new Set(ops.map((o) => o.name))].sort();

describe("the roles cover exactly the operations driftguard performs", () => {
  it("the recording holds driftguard's requests of every remediation kind", () => {
    expect(recorded.length).toBeGreaterThan(200);
    const names = unique(needed);
    for (const provider of [
      "Microsoft.MachineLearningServices",
      "Microsoft.Storage",
      "Microsoft.KeyVault",
      "Microsoft.CognitiveServices",
      "Microsoft.Network",
      "Microsoft.ContainerService",
      "Microsoft.ApiManagement",
      "Microsoft.DocumentDB",
      "Microsoft.Web",
      "Microsoft.Insights",
    ])
      expect(
        names.some((n) => n.startsWith(`${provider}/`)),
        provider,
      ).toBe(true);
    expect(needed.some((o) => o.plane === "data")).toBe(true);
  });

  it("every operation in the request log is granted", () => {
    const actions = grantedActions;
    const refused = [
      ...unique(needed.filter((o) => o.plane === "action" && !actions.some((a) => permits(a, o.name)))),
      ...unique(
        needed.filter((o) => o.plane === "data" && !granted.secretRotation.some((a) => permits(a, o.name))),
      ),
    ];
    expect(refused, "operations driftguard performs that no role grants").toEqual([]);
  });

  it("nothing is granted that no request needs", () => {
    const unused = (patterns: string[], plane: Operation["plane"]) =>
      patterns.filter(
        (p) =>
          !(p in GRANTED_WITHOUT_A_REQUEST) && !needed.some((o) => o.plane === plane && permits(p, o.name)),
      );
    expect(unused(grantedActions, "action"), "actions").toEqual([]);
    expect(unused(granted.secretRotation, "data"), "data actions").toEqual([]);
    for (const p of Object.keys(GRANTED_WITHOUT_A_REQUEST))
      expect([...grantedActions, ...granted.secretRotation]).toContain(p);
  });

  it("account keys are listed and regenerated only through the key-rotation role", () => {
    const keyOps = unique(needed.filter((o) => /\/(listKeys|regenerateKey)\/action$/i.test(o.name)));
    expect(keyOps.length).toBeGreaterThan(0);
    for (const op of keyOps) {
      expect(
        granted.keyRotation.some((a) => permits(a, op)),
        op,
      ).toBe(true);
      expect(
        granted.remediator.some((a) => permits(a, op)),
        op,
      ).toBe(false);
    }
  });

  it("writes and deletes only on resource types the default policies name (or types below them)", () => {
    const file = parseYaml(readFileSync(path.join(root, "policies/default.yaml"), "utf8")) as {
      policies: { resourceTypes: string[]; kind: string }[];
    };
    const named = new Set(file.policies.flatMap((p) => p.resourceTypes.map((t) => t.toLowerCase())));
    // Diagnostic settings are extension resources on the named types, written by enable-diagnostic-logs.
    if (file.policies.some((p) => p.kind === "enable-diagnostic-logs"))
      named.add("microsoft.insights/diagnosticsettings");
    const changing = [...granted.remediator, ...granted.vaultWrite].filter((a) =>
      /\/(write|delete)$/.test(a),
    );
    expect(changing.length).toBeGreaterThan(0);
    for (const action of changing) {
      // The type itself, or one below a named type (an APIM service's products and their policies,
      // a storage account's blob service, an NSG's rules).
      const segments = action
        .replace(/\/(write|delete)$/, "")
        .toLowerCase()
        .split("/");
      const governed = segments.some((_, i) => i >= 1 && named.has(segments.slice(0, i + 1).join("/")));
      expect(governed, action).toBe(true);
    }
  });
});

describe("request → RBAC operation mapping", () => {
  const sub = "/subscriptions/s/resourceGroups/rg/providers";
  const op = (method: string, p: string, body?: unknown, origin = "arm") =>
    operationsOf({ origin, method, path: p, body }).map((o) => `${o.plane} ${o.name}`);

  it("maps resources, collections, actions and long-running-operation status reads", () => {
    expect(op("GET", `${sub}/Microsoft.Storage/storageAccounts/st1`)).toEqual([
      "action Microsoft.Storage/storageAccounts/read",
    ]);
    expect(op("PATCH", `${sub}/Microsoft.Storage/storageAccounts/st1`)).toEqual([
      "action Microsoft.Storage/storageAccounts/write",
    ]);
    expect(op("DELETE", `${sub}/Microsoft.Network/networkSecurityGroups/n/securityRules/r`)).toEqual([
      "action Microsoft.Network/networkSecurityGroups/securityRules/delete",
    ]);
    expect(op("GET", `${sub}/Microsoft.ContainerService/managedClusters/a/agentPools`)).toEqual([
      "action Microsoft.ContainerService/managedClusters/agentPools/read",
    ]);
    expect(op("POST", `${sub}/Microsoft.CognitiveServices/accounts/oai/regenerateKey`)).toEqual([
      "action Microsoft.CognitiveServices/accounts/regenerateKey/action",
    ]);
    expect(
      op("GET", "/subscriptions/s/providers/Microsoft.Network/locations/westeurope/operationStatuses/x"),
    ).toEqual(["action Microsoft.Network/locations/operationStatuses/read"]);
    expect(op("GET", "/subscriptions/s/resources")).toEqual([
      "action Microsoft.Resources/subscriptions/resources/read",
    ]);
  });

  it("a PUT naming user-assigned identities also needs assign/action on them; system-assigned does not", () => {
    const ep = `${sub}/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e`;
    expect(
      op("PUT", ep, { identity: { type: "UserAssigned", userAssignedIdentities: { "/id/x": {} } } }),
    ).toEqual([
      "action Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write",
      "action Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    ]);
    expect(op("PUT", ep, { identity: { type: "SystemAssigned" } })).toEqual([
      "action Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write",
    ]);
  });

  it("diagnostic settings are their own provider's operations; naming a workspace adds ARM's linked check", () => {
    const kv = `${sub}/Microsoft.KeyVault/vaults/kv1`;
    const setting = `${kv}/providers/Microsoft.Insights/diagnosticSettings/driftguard`;
    expect(op("GET", `${kv}/providers/Microsoft.Insights/diagnosticSettings`)).toEqual([
      "action Microsoft.Insights/diagnosticSettings/read",
    ]);
    expect(
      op("PUT", setting, {
        properties: { workspaceId: `${sub}/Microsoft.OperationalInsights/workspaces/law` },
      }),
    ).toEqual([
      "action Microsoft.Insights/diagnosticSettings/write",
      "action Microsoft.OperationalInsights/workspaces/sharedKeys/action",
    ]);
    expect(op("PUT", setting, { properties: { storageAccountId: "/x" } })).toEqual([
      "action Microsoft.Insights/diagnosticSettings/write",
    ]);
  });

  it("Key Vault data plane: secret data actions; unknown shapes throw instead of passing unnoticed", () => {
    expect(op("GET", "/secrets/app-password/", undefined, "vault:kv1")).toEqual([
      "data Microsoft.KeyVault/vaults/secrets/getSecret/action",
    ]);
    expect(op("PUT", "/secrets/app-password", undefined, "vault:kv1")).toEqual([
      "data Microsoft.KeyVault/vaults/secrets/setSecret/action",
    ]);
    expect(op("GET", "/secrets/app-password/versions", undefined, "vault:kv1")).toEqual([
      "data Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ]);
    expect(() => op("POST", "/deletedsecrets/x/recover", undefined, "vault:kv1")).toThrow(/unmapped/);
    expect(() => op("POST", `${sub}/Microsoft.Storage/storageAccounts/st1`)).toThrow(/no RBAC verb/);
  });

  it("wildcards match like Azure RBAC: case-insensitive, across segments", () => {
    expect(
      permits("Microsoft.Network/locations/*/read", "microsoft.network/locations/operationStatuses/read"),
    ).toBe(true);
    expect(
      permits("Microsoft.Network/locations/*/read", "Microsoft.Network/networkSecurityGroups/read"),
    ).toBe(false);
    expect(permits("Microsoft.Storage/storageAccounts/read", "Microsoft.Storage/storageAccounts/write")).toBe(
      false,
    );
  });
});
