/** `driftguard rotate` path: vault lookup through ARM, a manual signal, the rotate-secret policy. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rotateOnDemand } from "../../cli/rotate-run.js";
import { loadSeedFile } from "../../dev/azure-sim/index.js";
import { type LocalStack, startLocalStack } from "../../dev/stack.js";
import { silentLogger } from "../../shared/log.js";

let stack: LocalStack;
beforeAll(async () => {
  process.env.AZURE_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001";
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: await loadSeedFile("dev/sample-seed.json"),
    policyFile: "policies/default.yaml",
    log: silentLogger,
    lroPollIntervalMs: 0,
  });
});
afterAll(async () => {
  delete process.env.AZURE_SUBSCRIPTION_ID;
  await stack?.close();
});

describe("rotate on demand", () => {
  it("dry-run plans a new version and writes nothing", async () => {
    const before = stack.sim.listSecretVersions("kv-ml-prod", "db-password").length;
    const [d] = await rotateOnDemand(stack.runtime, "kv-ml-prod", "db-password", { dryRun: true });
    expect(d).toMatchObject({ outcome: "dry-run", kind: "rotate-secret", policy: "rotate-expiring-secrets" });
    expect(stack.sim.listSecretVersions("kv-ml-prod", "db-password")).toHaveLength(before);
  });

  it("rotates the secret: a new version with the old tags and no value in the record", async () => {
    const oldValue = stack.sim.getSecret("kv-ml-prod", "db-password")!.value;
    const before = stack.sim.listSecretVersions("kv-ml-prod", "db-password").length;
    const [d] = await rotateOnDemand(stack.runtime, "kv-ml-prod", "db-password", { dryRun: false });
    expect(d!.outcome).toBe("remediated");
    expect(stack.sim.listSecretVersions("kv-ml-prod", "db-password")).toHaveLength(before + 1);
    const now = stack.sim.getSecret("kv-ml-prod", "db-password")!;
    expect(now.value).not.toBe(oldValue);
    const record = JSON.stringify(d!.record);
    expect(record).not.toContain(now.value);
    expect(record).not.toContain(oldValue);
  });

  it("names an unknown vault", async () => {
    await expect(rotateOnDemand(stack.runtime, "kv-nowhere", "x", { dryRun: true })).rejects.toThrow(
      /kv-nowhere/,
    );
  });
});
