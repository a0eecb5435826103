/**
 * `driftguard doctor` against the local stack: all green when configured, and each broken piece
 * named with its fix — a bad setting, an invalid policy file, Cosmos DB unreachable, containers
 * missing, a policy scope that cannot be read, an operation the identity is not granted, Teams
 * keys unreachable.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckResult, runDoctor } from "../cli/doctor.js";
import { SimAdminClient } from "../dev/azure-sim/admin-client.js";
import type { Seed } from "../dev/azure-sim/index.js";
import { staticTokenCredential } from "../shared/azure/clients.js";
import { createCosmosClient } from "../shared/cosmos/client.js";
import { builtinRegistry } from "../shared/remediations/index.js";
import { startTestStack, TEST_SUB, type TestStack } from "./helpers/stack.js";

const RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-doctor`;
const seed: Seed = {
  resources: [
    {
      id: `${RG}/providers/Microsoft.Storage/storageAccounts/stdoctor001`,
      name: "stdoctor001",
      type: "Microsoft.Storage/storageAccounts",
      location: "westeurope",
      tags: {},
      properties: { publicNetworkAccess: "Disabled" },
    },
  ],
};
const APPROVER = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
const policyYaml = (scope = RG) => `
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: "Microsoft.Resources.ResourceWrite*" }]
    kind: disable-public-network-access
    scope: [${scope}]
  - name: rotate
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers: [{ keyVault: SecretNearExpiry }]
    kind: rotate-secret
    mode: approval
    scope: [${scope}]
`;

let stack: TestStack;
let admin: SimAdminClient;
let dir: string;
let env: Record<string, string | undefined>;

async function policyFile(text: string): Promise<string> {
  const file = path.join(dir, `p-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return file;
}

function doctor(overrides: Record<string, string | undefined> = {}): Promise<CheckResult[]> {
  return runDoctor({
    env: { ...env, ...overrides },
    registry: builtinRegistry(),
    credential: staticTokenCredential(),
    subscriptions: [TEST_SUB],
    timeoutMs: 3_000,
  });
}

const failed = (results: CheckResult[]) => results.filter((r) => r.status === "fail");

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "driftguard-doctor-"));
  stack = await startTestStack({ seed, policyYaml: policyYaml() });
  admin = new SimAdminClient(stack.azureUrl, stack.tls.cert);
  env = {
    DRIFTGUARD_LOCAL_STACK: "1",
    DRIFTGUARD_POLICY_FILE: await policyFile(policyYaml()),
    COSMOS_ENDPOINT: stack.cosmosUrl,
    COSMOS_KEY: stack.cosmosKey,
    COSMOS_DATABASE: "driftguard",
    ARM_ENDPOINT: stack.azureUrl,
    DRIFTGUARD_VAULT_URLS: JSON.stringify(stack.vaults),
    DRIFTGUARD_CA_FILE: stack.caCertFile,
    APPROVER_OBJECT_IDS: APPROVER,
    TEAMS_WORKFLOW_URL: "https://teams.example/workflows/approvals",
  };
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

describe("driftguard doctor", () => {
  it("is all green on a working local stack", async () => {
    const results = await doctor();
    expect(results.filter((r) => r.status !== "ok")).toEqual([]);
    const checks = results.map((r) => r.check);
    for (const c of [
      "settings",
      "policies",
      "cosmos",
      "cosmos containers",
      "scope storage-private",
      "permissions rotate",
      "approvers",
      "teams workflow",
      "telemetry",
    ])
      expect(checks).toContain(c);
  });

  it("names a bad setting and stops there", async () => {
    const results = await doctor({ DRIFTGUARD_MODE: "sometimes" });
    expect(results).toEqual([expect.objectContaining({ status: "fail", check: "settings" })]);
    expect(results[0]!.detail).toContain("DRIFTGUARD_MODE");
    expect(results[0]!.fix).toContain("DRIFTGUARD_MODE");
  });

  it("names an invalid policy file with the paths of its errors", async () => {
    const bad = await policyFile("version: 1\npolicies:\n  - name: X\n    kind: nope\n");
    const [f] = failed(await doctor({ DRIFTGUARD_POLICY_FILE: bad }));
    expect(f).toMatchObject({ check: "policies" });
    expect(f!.detail).toMatch(/policies\[0\]/);
  });

  it("names Cosmos DB unreachable, and missing containers", async () => {
    const unreachable = failed(await doctor({ COSMOS_ENDPOINT: "https://127.0.0.1:9" }));
    expect(unreachable.map((r) => r.check)).toContain("cosmos");
    expect(unreachable.find((r) => r.check === "cosmos")!.fix).toContain("COSMOS_ENDPOINT");

    const client = createCosmosClient({
      endpoint: stack.cosmosUrl,
      key: stack.cosmosKey,
      ca: stack.tls.cert,
    });
    await client.databases.createIfNotExists({ id: "empty-db" });
    client.dispose();
    const empty = failed(await doctor({ COSMOS_DATABASE: "empty-db" }));
    expect(empty.map((r) => r.check)).toEqual(["cosmos containers"]);
    expect(empty[0]!.detail).toContain("audit");
    expect(empty[0]!.fix).toContain("infra/");

    const absent = failed(await doctor({ COSMOS_DATABASE: "no-such-db" }));
    expect(absent.map((r) => r.check)).toEqual(["cosmos"]);
  });

  it("names a policy scope that cannot be read", async () => {
    const missingRg = `/subscriptions/${TEST_SUB}/resourceGroups/rg-does-not-exist`;
    const results = failed(await doctor({ DRIFTGUARD_POLICY_FILE: await policyFile(policyYaml(missingRg)) }));
    expect(results.map((r) => r.check).sort()).toEqual(["scope rotate", "scope storage-private"]);
    expect(results[0]!.detail).toContain("rg-does-not-exist");
  });

  it("names every operation the identity is not granted, per policy", async () => {
    await admin.setPermissions([
      {
        actions: ["Microsoft.Storage/storageAccounts/read", "Microsoft.MachineLearningServices/*"],
        notActions: [],
        dataActions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
        notDataActions: [],
      },
    ]);
    try {
      const results = await doctor();
      const storage = results.find((r) => r.check === "permissions storage-private")!;
      expect(storage.status).toBe("fail");
      expect(storage.detail).toContain("Microsoft.Storage/storageAccounts/write");
      expect(storage.detail).not.toContain("Microsoft.MachineLearningServices/workspaces/write");
      const rotate = results.find((r) => r.check === "permissions rotate")!;
      expect(rotate.status).toBe("fail");
      expect(rotate.detail).toContain("setSecret");
      expect(rotate.fix).toContain("secret rotation role");
    } finally {
      await admin.setPermissions([]);
    }
  });

  it("checks each governed subscription in Azure Resource Graph, naming the one it cannot read", async () => {
    const other = "00000000-0000-0000-0000-0000000000d4";
    const green = await doctor({ DRIFTGUARD_SWEEP_SUBSCRIPTIONS: other });
    expect(green.filter((r) => r.check.startsWith("sweep subscription"))).toEqual([
      expect.objectContaining({ status: "ok", check: `sweep subscription ${other}` }),
      expect.objectContaining({ status: "ok", check: `sweep subscription ${TEST_SUB}` }),
    ]);
    await admin.addFault({ path: "/providers/Microsoft.ResourceGraph/resources", status: 403, count: 1 });
    try {
      const results = await doctor({ DRIFTGUARD_SWEEP_SUBSCRIPTIONS: other });
      const f = failed(results);
      expect(f.map((r) => r.check)).toEqual([`sweep subscription ${other}`]);
      expect(f[0]!.fix).toContain(`Reader on /subscriptions/${other}`);
    } finally {
      await admin.clearFaults();
    }
  });

  it("warns where vault writes or identity assignment are not granted, naming the role and its parameter", async () => {
    await admin.setPermissions([
      {
        actions: ["*"],
        notActions: [
          "Microsoft.KeyVault/vaults/write",
          "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
        ],
        dataActions: ["*"],
        notDataActions: [],
      },
    ]);
    try {
      const storage = (await doctor()).find((r) => r.check === "permissions storage-private")!;
      expect(storage.status).toBe("warn");
      expect(storage.detail).toContain(
        "not Microsoft.KeyVault/vaults/write, Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
      );
      expect(storage.fix).toContain(
        "vault network role in the vaults' resource groups (infra/ vaultWriteResourceGroups)",
      );
      expect(storage.fix).toContain("(infra/ identityAssignResourceGroups)");
    } finally {
      await admin.setPermissions([]);
    }
  });

  it("names unreachable Teams signing keys", async () => {
    const results = await doctor({
      TEAMS_WORKFLOW_URL: undefined,
      TEAMS_BOT_APP_ID: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
      TEAMS_BOT_JWKS_URL: "http://127.0.0.1:9/keys",
    });
    expect(failed(results).map((r) => r.check)).toEqual(["teams keys"]);
  });

  it("is wired into the CLI: exit 1 and the failure on stdout", () => {
    const res = spawnSync(process.execPath, ["bin/driftguard.mjs", "doctor"], {
      env: { ...process.env, ...env, DRIFTGUARD_MODE: "sometimes" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/FAIL\s+settings: DRIFTGUARD_MODE/);
  });
});
