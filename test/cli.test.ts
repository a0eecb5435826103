/** The CLI as a user runs it: `npx driftguard …` in a child process, exit codes and output. */
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "driftguard-cli-"));
});

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["bin/driftguard.mjs", ...args], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      COSMOS_ENDPOINT: "",
      DRIFTGUARD_POLICY_FILE: "",
      DRIFTGUARD_STACK_FILE: path.join(dir, "no-stack.json"),
      ...env,
    },
    encoding: "utf8",
    timeout: 90_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("driftguard policy validate", () => {
  it("accepts the shipped default policies, which cover every kind", () => {
    const r = cli(["policy", "validate"]);
    expect(r.code).toBe(0);
    for (const kind of [
      "disable-public-network-access",
      "close-internet-inbound-rule",
      "rotate-secret",
      "scale-gpu-pool",
      "throttle-api-subscription",
    ]) {
      expect(r.stdout).toContain(kind);
    }
  });

  it("prints every error with its path and exits 1", async () => {
    const file = path.join(dir, "bad.yaml");
    await writeFile(
      file,
      [
        "version: 1",
        "policies:",
        "  - name: Bad Name",
        "    resourceTypes: [Microsoft.ContainerService/managedClusters]",
        "    triggers: [{ alert: 'gpu-*' }]",
        "    kind: scale-gpu-pool",
        "    params: { maxNodes: -1 }",
        "    mode: sometimes",
        "  - name: unknown-kind",
        "    resourceTypes: [Microsoft.Storage/storageAccounts]",
        "    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]",
        "    kind: delete-everything",
      ].join("\n"),
    );
    const r = cli(["policy", "validate", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("policies[0].name");
    expect(r.stderr).toContain("policies[0].mode");
    expect(r.stderr).toContain("policies[0].params.maxNodes");
    expect(r.stderr).toContain("policies[1].kind");
  });
});

describe("driftguard replay", () => {
  it("exits 1 on invalid input, naming the file and the field, and runs nothing", async () => {
    const file = path.join(dir, "bad-event.json");
    await writeFile(
      file,
      JSON.stringify([
        {
          id: "1",
          topic: "/subscriptions/00000000-0000-0000-0000-000000000001",
          subject: "x",
          eventType: "Microsoft.Resources.ResourceWriteSuccess",
          eventTime: "2026-11-21T10:00:00Z",
          dataVersion: "2",
          metadataVersion: "1",
          data: {},
        },
      ]),
    );
    const r = cli(["replay", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bad-event.json");
    expect(r.stderr).toContain("[0].data.resourceUri");
    expect(r.stdout).not.toContain("replaying");
    // File and field are each named once: `invalid input: <file>: <field>: <reason>`.
    expect(r.stderr.split("bad-event.json").length - 1).toBe(1);
    expect(r.stderr.split("[0].data.resourceUri").length - 1).toBe(1);
    expect(r.stderr).toMatch(/^invalid input: \S*bad-event\.json: \[0\]\.data\.resourceUri: \S/m);
  });

  it("replays sample payloads in dry-run against an ephemeral local stack and prints each decision as JSON", () => {
    const r = cli(["replay", "dev/sample-events/01-ml-workspace-opened.json", "--dry-run", "--json"]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // Every kind whose first matching policy governs the workspace decides, one line each.
    expect(lines.map((l) => l.kind)).toEqual(["disable-public-network-access", "enable-diagnostic-logs"]);
    expect(lines[0]).toMatchObject({
      outcome: "dry-run",
      kind: "disable-public-network-access",
      policy: "ai-services-private",
      changes: [{ path: "properties.publicNetworkAccess", from: "Enabled", to: "Disabled" }],
    });
    expect(lines[1]).toMatchObject({ outcome: "compliant", policy: "audit-logs-on" });
  }, 90_000);

  it("replay --dry-run of a storage account write prints every kind that governs the account, each with its own plan", () => {
    const account =
      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml-prod/providers/Microsoft.Storage/storageAccounts/stmlprod001";
    const file = "dev/sample-events/03-storage-and-vault-opened.json";
    const r = cli(["replay", file, "--dry-run", "--json"]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((l) => l.resourceId === account);
    // Policy order; the approval-mode kind is a dry-run too; the kinds with nothing to do say so.
    expect(lines.map((l) => [l.kind, l.policy, l.outcome])).toEqual([
      ["disable-public-network-access", "ai-services-private", "dry-run"],
      ["disable-local-auth", "no-local-auth", "dry-run"],
      ["require-secure-transport", "secure-transport", "compliant"],
      ["enable-diagnostic-logs", "audit-logs-on", "compliant"],
      ["protect-model-storage", "model-storage-recoverable", "dry-run"],
    ]);
    const paths = (i: number) => lines[i].changes.map((c: { path: string }) => c.path);
    expect(paths(0)).toEqual(["properties.publicNetworkAccess", "properties.allowBlobPublicAccess"]);
    expect(lines[1].changes).toEqual([{ path: "properties.allowSharedKeyAccess", from: true, to: false }]);
    expect(lines[2].reason).toBe("HTTPS only and TLS 1.2 or newer already required");
    expect(lines[3].reason).toMatch(/already sends audit logs to the workspace/);
    expect(paths(4)).toContain("properties.isVersioningEnabled");

    // The same as a person reads it: one line per kind.
    const text = cli(["replay", file, "--dry-run"]);
    expect(text.code).toBe(0);
    const forAccount = text.stdout.split("\n").filter((l) => l.includes("storageAccounts/stmlprod001"));
    expect(forAccount.map((l) => l.trim().split(/\s+/).slice(1, 3))).toEqual([
      ["dry-run", "disable-public-network-access"],
      ["dry-run", "disable-local-auth"],
      ["compliant", "require-secure-transport"],
      ["compliant", "enable-diagnostic-logs"],
      ["dry-run", "protect-model-storage"],
    ]);
    expect(forAccount[1]).toContain("properties.allowSharedKeyAccess: true → false");
  }, 120_000);
});
