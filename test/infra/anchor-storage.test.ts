/**
 * The anchor storage in infra/ (read, not compiled — see test/infra.test.ts): a container with
 * version-level immutability under a locked time-based retention policy, Storage Blob Data
 * Contributor for the app's identity on that container only, in a resource group azd down does not
 * delete; the app's settings point at it; the postprovision hook locks the policy once it exists.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { functionsTable } from "../../functions/app.js";
import { DEFAULT_ANCHOR_SCHEDULE, MIN_AUDIT_RETENTION_DAYS } from "../../shared/config.js";
import { blockAfter, entries, params, resourceBody } from "./bicep-reader.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const read = (rel: string) => readFileSync(path.join(root, rel), "utf8");
const main = read("infra/main.bicep");
const res = read("infra/resources.bicep");
const mod = read("infra/modules/anchor-storage.bicep");
const STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

describe("anchor storage", () => {
  it("the container has version-level immutability with a time-based retention policy that gets locked", () => {
    const account = resourceBody(mod, "account");
    expect(account).toMatch(
      /immutableStorageWithVersioning:\s*\{\s*enabled:\s*true\s*immutabilityPolicy:\s*\{\s*immutabilityPeriodSinceCreationInDays:\s*retentionDays\s*state:\s*locked \? 'Locked' : 'Unlocked'\s*allowProtectedAppendWrites:\s*false\s*\}/,
    );
    expect(resourceBody(mod, "blobService")).toMatch(/isVersioningEnabled:\s*true/);
    const container = resourceBody(mod, "container");
    expect(container).toMatch(/immutableStorageWithVersioning:\s*\{\s*enabled:\s*true\s*\}/);
    expect(container).toMatch(/publicAccess:\s*'None'/);
    // No keys, no public access, TLS 1.2; opted out of driftguard's own policies.
    expect(account).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(account).toMatch(/allowBlobPublicAccess:\s*false/);
    expect(account).toMatch(/minimumTlsVersion:\s*'TLS1_2'/);
    const call = entries(blockAfter(main, /^module anchors\s[^=]+=/m)).find((e) => e.key === "params")!.value;
    expect(call).toMatch(/'driftguard:exclude':\s*'true'/);
    expect(call).toMatch(/locked:\s*anchorRetentionLocked/);
    expect(call).toMatch(/retentionDays:\s*anchorRetentionDays/);
    // Retention: 400 days by default, never below 180 (the same floor as the app's settings).
    expect(main).toMatch(
      /@minValue\(180\)\s*@maxValue\(146000\)\s*@description\([^\n]*\)\s*param anchorRetentionDays int = 400/,
    );
    expect(params(mod).find((p) => p.name === "retentionDays")).toBeTruthy();
    expect(mod).toMatch(/@minValue\(180\)\s*@maxValue\(146000\)\s*param retentionDays int/);
    expect(MIN_AUDIT_RETENTION_DAYS).toBe(180);
  });

  it("the app's identity is Storage Blob Data Contributor on that container only", () => {
    const assignment = resourceBody(mod, "anchorWriter");
    expect(assignment).toMatch(/scope:\s*container\b/);
    expect(mod).toContain(`var storageBlobDataContributor = '${STORAGE_BLOB_DATA_CONTRIBUTOR}'`);
    expect(assignment).toMatch(
      /roleDefinitionId:\s*subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', storageBlobDataContributor\)/,
    );
    expect(assignment).toMatch(/principalId:\s*principalId/);
    // The only role assignment in the module, and nothing broader than data contributor anywhere in it.
    expect([...mod.matchAll(/Microsoft\.Authorization\/roleAssignments@/g)]).toHaveLength(1);
    expect(mod).not.toMatch(/b7e6dc6d-f1e8-4753-8033-0f276bb0955b/); // Storage Blob Data Owner
    const call = entries(blockAfter(main, /^module anchors\s[^=]+=/m)).find((e) => e.key === "params")!.value;
    expect(call).toMatch(/principalId:\s*app\.outputs\.identityPrincipalId/);
  });

  it("lives in its own resource group that azd down leaves alone (no azd-env-name tag), on by default", () => {
    expect(main).toMatch(/param anchorStorage bool = true/);
    expect(main).toMatch(/var anchorResourceGroupName = 'rg-\$\{environmentName\}-anchors'/);
    const rg = resourceBody(main, "anchorRg");
    expect(rg).not.toMatch(/azd-env-name|tags:\s*tags\b/);
    expect(main).toMatch(/^module anchors 'modules\/anchor-storage\.bicep' = if \(anchorStorage\)/m);
    expect(main).toMatch(/scope:\s*resourceGroup\(anchorResourceGroupName\)/);
    expect(read("infra/README.md")).toMatch(/What `azd down` leaves behind/);
  });

  it("the app's settings name the container, the schedule and the retention; the timer reads the schedule", () => {
    const settings = new Map(entries(blockAfter(res, /^var appSettings\s*=/m)).map((e) => [e.key, e.value]));
    expect(settings.get("DRIFTGUARD_ANCHOR_CONTAINER_URL")).toBe("anchorContainerUrl");
    expect(settings.get("DRIFTGUARD_ANCHOR_SCHEDULE")).toBe("anchorSchedule");
    expect(settings.get("DRIFTGUARD_ANCHOR_RETENTION_DAYS")).toBe("string(anchorRetentionDays)");
    expect(main).toMatch(
      /var anchorContainerUrl = anchorStorage\s*\? 'https:\/\/\$\{anchorAccountName\}\.blob\.\$\{environment\(\)\.suffixes\.storage\}\/\$\{anchorContainerName\}'/,
    );
    expect(main).toContain(`param anchorSchedule string = '${DEFAULT_ANCHOR_SCHEDULE}'`);
    const timer = functionsTable.find((f) => f.name === "anchorDigests");
    expect(timer).toMatchObject({ trigger: "timer", schedule: "%DRIFTGUARD_ANCHOR_SCHEDULE%" });
    const p = JSON.parse(read("infra/main.parameters.json")) as {
      parameters: Record<string, { value: string }>;
    };
    expect(p.parameters.anchorRetentionLocked?.value).toBe("$" + "{DRIFTGUARD_ANCHOR_LOCKED=false}");
  });

  it("the postprovision hook locks the policy from the provision after the one that created it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "driftguard-anchor-hook-"));
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    const log = path.join(dir, "azd.log");
    writeFileSync(path.join(bin, "azd"), `#!/bin/sh\necho "$*" >> "${log}"\nexit 0\n`);
    chmodSync(path.join(bin, "azd"), 0o755);
    const run = (env: Record<string, string>) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          "sh",
          [path.join(root, "infra/hooks/postprovision.sh")],
          { cwd: dir, env: { PATH: `${bin}:${process.env.PATH}`, ...env } },
          (err) => (err ? reject(err) : resolve(readLog())),
        ),
      );
    const readLog = () => {
      try {
        return readFileSync(log, "utf8");
      } catch {
        return "";
      }
    };
    const url = "https://stancx.blob.core.windows.net/driftguard-anchors";
    expect(await run({ DRIFTGUARD_ANCHOR_CONTAINER_URL: url })).toBe(
      "env set DRIFTGUARD_ANCHOR_LOCKED true\n",
    );
    expect(await run({ DRIFTGUARD_ANCHOR_CONTAINER_URL: url, DRIFTGUARD_ANCHOR_LOCKED: "true" })).toBe(
      "env set DRIFTGUARD_ANCHOR_LOCKED true\n",
    );
    expect(await run({ DRIFTGUARD_ANCHOR_CONTAINER_URL: "" })).toBe(
      "env set DRIFTGUARD_ANCHOR_LOCKED true\n",
    );
  });
});
