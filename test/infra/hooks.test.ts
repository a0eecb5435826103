/**
 * The azd hooks, run for real: `sh` scripts and their Node programs, from an unrelated working
 * directory, with a stand-in `azd` on PATH (it records its arguments, answers `auth token`, fails
 * `provision` on demand) and the Azure simulator as ARM (its faults script the propagation delays).
 * What is checked is what a user sees: the azd environment values set, the provisions run, the exit
 * status and the message.
 */
import { execFile } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type AzureSimulator, startAzureSimulator, validateSeed } from "../../dev/azure-sim/index.js";
import { type LocalTls, loadOrCreateLocalTls } from "../../dev/tls.js";
import { functionsTable } from "../../functions/app.js";
// @ts-expect-error: plain JavaScript module (the hooks need no build step)
import * as hookLib from "../../infra/hooks/lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const read = (rel: string) => readFileSync(path.join(root, rel), "utf8");

const SUB = "00000000-0000-0000-0000-0000000000f1";
const RG = "rg-hooks";
const APP = "func-driftguard-hooks";
const SITE = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${APP}`;
const roleId = (n: number) =>
  `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-00000000000${n}`;
const VAULT = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/kvhooks123`;
const FUNCTION_KEY = "fn-key-value-never-printed-0123456789";

let tls: LocalTls;
let sim: AzureSimulator;
let scratch: string;

beforeAll(async () => {
  tls = await loadOrCreateLocalTls();
  scratch = mkdtempSync(path.join(tmpdir(), "driftguard-hooks-"));
  sim = await startAzureSimulator({
    tls,
    // validateSeed fills each resource's name and type from its ID.
    seed: validateSeed({
      resources: [
        ...[1, 2, 3, 4, 5].map((n) => ({ id: roleId(n), properties: { roleName: `driftguard role ${n}` } })),
        { id: SITE, location: "westeurope", properties: {} },
        { id: `${SITE}/functions/alerts`, properties: {} },
        { id: `${SITE}/functions/resourceEvents`, properties: {} },
        { id: VAULT, location: "westeurope", tags: { "azd-env-name": "hooks" }, properties: {} },
        {
          id: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/kv-someone-else`,
          location: "westeurope",
          tags: {},
          properties: {},
        },
        { id: `${VAULT}/secrets/driftguard-pseudonym-key`, properties: { contentType: "key" } },
        { id: `${VAULT}/secrets/approver-signing-key`, properties: { contentType: "key" } },
        { id: `${VAULT}/secrets/teams-workflow-url`, properties: {} },
      ],
    }),
  });
});

afterAll(async () => {
  await sim?.close();
  rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  sim.clearFaults();
  sim.clearRequests();
});

interface HookRun {
  status: number | null;
  /** azd invocations, `auth token` left out. */
  calls: string[];
  stdout: string;
  stderr: string;
}

/** Runs a hook script from a fresh, unrelated working directory with a stand-in azd. */
async function runHook(
  script: string,
  env: Record<string, string>,
  opts: { provisionFailures?: number; tokenFails?: boolean } = {},
): Promise<HookRun> {
  const dir = mkdtempSync(path.join(scratch, "run-"));
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  const log = path.join(dir, "azd.log");
  writeFileSync(
    path.join(bin, "azd"),
    `#!/bin/sh
echo "$*" >> "${log}"
case "$1 $2" in
  "auth token") ${opts.tokenFails ? "exit 1" : `echo '{"token":"hook-test-token","expiresOn":"2099-01-01T00:00:00Z"}'; exit 0`} ;;
  "provision --no-prompt")
    n=$(cat "${dir}/provisions" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${dir}/provisions"
    [ "$n" -le ${opts.provisionFailures ?? 0} ] && exit 1
    exit 0 ;;
esac
exit 0
`,
  );
  chmodSync(path.join(bin, "azd"), 0o755);
  const cwd = mkdtempSync(path.join(scratch, "cwd-"));
  return new Promise((resolve) => {
    execFile(
      "sh",
      [path.join(root, script)],
      {
        cwd,
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          NODE_EXTRA_CA_CERTS: tls.caCertFile,
          DRIFTGUARD_ARM_ENDPOINT: sim.url,
          DRIFTGUARD_HOOK_DELAY_SCALE: "0",
          ...env,
        },
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        let calls: string[] = [];
        try {
          calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
        } catch {}
        resolve({
          status: err ? ((err as { code?: number }).code ?? 1) : 0,
          calls: calls.filter((c) => !c.startsWith("auth token")),
          stdout,
          stderr,
        });
      },
    );
  });
}

describe("constants the hooks share with the code and the templates", () => {
  it("function names, generated secret names and the Web API version match", () => {
    const names = functionsTable.map((f) => f.name);
    expect(names).toContain(hookLib.ALERTS_FUNCTION);
    expect(functionsTable.find((f) => f.name === hookLib.EVENT_GRID_FUNCTION)?.trigger).toBe("eventGrid");
    const res = read("infra/resources.bicep");
    expect(res).toContain(`var alertsFunctionName = '${hookLib.ALERTS_FUNCTION}'`);
    expect(read("infra/main.bicep")).toContain(`var eventFunctionName = '${hookLib.EVENT_GRID_FUNCTION}'`);
    expect(res).toContain(`var pseudonymSecretName = '${hookLib.GENERATED_SECRETS[0]}'`);
    expect(res).toContain(`var signingSecretName = '${hookLib.GENERATED_SECRETS[1]}'`);
    expect(res).toContain(`listKeys(alertsFunctionId, '${hookLib.WEB_API_VERSION}')`);
    expect(res).toMatch(new RegExp(`'Microsoft\\.Web/sites@${hookLib.WEB_API_VERSION}'`));
  });
});

describe("azure.yaml", () => {
  const azd = parseYaml(read("azure.yaml")) as {
    services: { api: { hooks?: Record<string, Record<string, { run: string; shell: string }>> } };
    hooks: Record<string, Record<string, { run: string; shell: string }>>;
  };

  it("the .funcignore guard is a service hook of `api`: it runs on azd deploy, not only on azd package", () => {
    const guard = azd.services.api.hooks?.prepackage;
    expect(guard?.posix).toMatchObject({ shell: "sh", run: "./infra/hooks/prepackage.sh" });
    expect(guard?.windows).toMatchObject({ shell: "pwsh", run: "./infra/hooks/prepackage.ps1" });
  });

  it("every hook has a posix and a Windows script that exist", () => {
    const all = { ...azd.hooks, ...azd.services.api.hooks };
    expect(Object.keys(all).sort()).toEqual(
      ["postdeploy", "postdown", "postprovision", "prepackage", "preprovision"].sort(),
    );
    for (const [name, hook] of Object.entries(all)) {
      expect(Object.keys(hook).sort(), name).toEqual(["posix", "windows"]);
      for (const platform of Object.values(hook))
        expect(() => read(platform.run), platform.run).not.toThrow();
    }
  });

  it("no hook script depends on the working directory", () => {
    for (const f of ["prepackage", "preprovision", "postdeploy"]) {
      expect(read(`infra/hooks/${f}.sh`), f).toMatch(/\$\(dirname "\$0"\)/);
      expect(read(`infra/hooks/${f}.ps1`), f).toContain("$PSScriptRoot");
    }
    expect(read("infra/hooks/lib.mjs")).toMatch(/fileURLToPath\(import\.meta\.url\)/);
  });
});

describe("prepackage", () => {
  /** A scratch repository holding only the hook and the given .funcignore. */
  function scratchRepo(funcignore?: string): string {
    const repo = mkdtempSync(path.join(scratch, "repo-"));
    mkdirSync(path.join(repo, "infra/hooks"), { recursive: true });
    copyFileSync(path.join(root, "infra/hooks/prepackage.sh"), path.join(repo, "infra/hooks/prepackage.sh"));
    if (funcignore !== undefined) writeFileSync(path.join(repo, ".funcignore"), funcignore);
    return repo;
  }

  async function runIn(repo: string) {
    return new Promise<{ status: number; stderr: string }>((resolve) => {
      execFile(
        "sh",
        [path.join(repo, "infra/hooks/prepackage.sh")],
        { cwd: scratch, encoding: "utf8" },
        (err, _out, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
  }

  it("reads the .funcignore next to the repository, whatever the working directory", async () => {
    writeFileSync(path.join(scratch, ".funcignore"), ".git\n.azure\n.driftguard\nnode_modules\n");
    const none = await runIn(scratchRepo());
    expect(none.status).toBe(1);
    expect(none.stderr).toContain(".funcignore must exclude: .git .azure .driftguard node_modules");
    const partial = await runIn(scratchRepo(".git\nnode_modules/\n"));
    expect(partial.status).toBe(1);
    expect(partial.stderr).toMatch(/must exclude: \.azure \.driftguard \(/);
    expect((await runIn(scratchRepo("/.git\n.azure/\n.driftguard\nnode_modules\ntest\n"))).status).toBe(0);
  });

  it("the repository's own .funcignore passes", async () => {
    expect((await runIn(root)).status).toBe(0);
  });
});

describe("postprovision and postdown", () => {
  it("a deliberate rotation is turned off after it ran, once", async () => {
    const r = await runHook("infra/hooks/postprovision.sh", { DRIFTGUARD_ROTATE_SECRETS: "true" });
    expect(r).toMatchObject({ status: 0, calls: ["env set DRIFTGUARD_ROTATE_SECRETS false"] });
    expect(await runHook("infra/hooks/postprovision.sh", {})).toMatchObject({ status: 0, calls: [] });
  });

  it("after azd down the next azd up starts from phase 1", async () => {
    const r = await runHook("infra/hooks/postdown.sh", { DRIFTGUARD_CONNECT_SIGNALS: "true" });
    expect(r).toMatchObject({ status: 0, calls: ["env set DRIFTGUARD_CONNECT_SIGNALS false"] });
  });
});

describe("preprovision: create only the generated keys that are missing", () => {
  const env = { AZURE_SUBSCRIPTION_ID: SUB, AZURE_ENV_NAME: "hooks", AZURE_RESOURCE_GROUP: RG };

  it("an existing deployment seen from a new azd environment: both keys exist and are kept", async () => {
    const r = await runHook("infra/hooks/preprovision.sh", env);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      "env set DRIFTGUARD_EXISTING_SECRETS driftguard-pseudonym-key,approver-signing-key",
    ]);
    expect(r.stdout).toContain("Key Vault kvhooks123 holds driftguard-pseudonym-key, approver-signing-key");
    // Read through ARM with azd's token; the other team's vault (no azd-env-name tag) is not looked into.
    const reads = sim.requests({ method: "GET" });
    expect(reads.every((q) => q.headers.authorization === "<redacted>")).toBe(true);
    expect(reads.some((q) => q.path.includes("kv-someone-else/secrets"))).toBe(false);
  });

  it("a resource group that does not exist yet: nothing exists, both keys will be created", async () => {
    const r = await runHook("infra/hooks/preprovision.sh", { ...env, AZURE_RESOURCE_GROUP: "rg-new" });
    expect(r).toMatchObject({ status: 0, calls: ["env set DRIFTGUARD_EXISTING_SECRETS "] });
  });

  it("the resource group derives from the environment name when azd has not stored it yet", async () => {
    const { AZURE_RESOURCE_GROUP: _rg, ...fresh } = env;
    const r = await runHook("infra/hooks/preprovision.sh", fresh);
    expect(r.status).toBe(0);
    expect(sim.requests({ method: "GET" }).map((q) => q.path)).toContain(
      `/subscriptions/${SUB}/resourceGroups/rg-hooks`,
    );
  });

  it("when it cannot tell, it refuses to provision rather than risk replacing the keys", async () => {
    sim.addFault({
      method: "GET",
      path: "/providers/Microsoft.KeyVault/vaults/kvhooks123/secrets",
      status: 403,
    });
    const denied = await runHook("infra/hooks/preprovision.sh", env);
    expect(denied.status).toBe(1);
    expect(denied.calls).toEqual([]);
    expect(denied.stderr).toMatch(
      /cannot tell which generated keys .*answered 403 AuthorizationFailed.*not provisioning/,
    );
    const noToken = await runHook("infra/hooks/preprovision.sh", env, { tokenFails: true });
    expect(noToken).toMatchObject({ status: 1, calls: [] });
    expect(noToken.stderr).toContain("azd auth login");
  });

  it("without a subscription it cannot look: it stops and says what to set", async () => {
    const { AZURE_SUBSCRIPTION_ID: _s, ...noSubscription } = env;
    const r = await runHook("infra/hooks/preprovision.sh", noSubscription);
    expect(r).toMatchObject({ status: 1, calls: [] });
    expect(r.stderr).toContain(
      "missing azd environment values: AZURE_SUBSCRIPTION_ID (set them with azd env set",
    );
  });

  it("DRIFTGUARD_WRITE_SECRETS=false: nothing is read and nothing is set", async () => {
    const r = await runHook("infra/hooks/preprovision.sh", { ...env, DRIFTGUARD_WRITE_SECRETS: "false" });
    expect(r).toMatchObject({ status: 0, calls: [] });
    expect(sim.requests()).toEqual([]);
  });
});

describe("preprovision: phase 2 left on for a deployment that is gone", () => {
  const env = {
    AZURE_SUBSCRIPTION_ID: SUB,
    AZURE_ENV_NAME: "hooks",
    AZURE_RESOURCE_GROUP: RG,
    AZURE_FUNCTION_APP_NAME: APP,
    DRIFTGUARD_CONNECT_SIGNALS: "true",
  };

  it("a deleted resource group: phase 2 is turned off, so azd up deploys the app first", async () => {
    // Mutation: drop the `connectSignals` block of infra/hooks/preprovision.mjs → the flag stays
    // true (the next provision would create Event Grid subscriptions for a function that does not exist).
    const r = await runHook("infra/hooks/preprovision.sh", { ...env, AZURE_RESOURCE_GROUP: "rg-deleted" });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      "env set DRIFTGUARD_CONNECT_SIGNALS false",
      "env set DRIFTGUARD_EXISTING_SECRETS ",
    ]);
    expect(r.stdout).toContain(
      "resource group rg-deleted does not exist, but DRIFTGUARD_CONNECT_SIGNALS=true",
    );
  });

  it("a deleted function app in a resource group that is still there: the same", async () => {
    const r = await runHook("infra/hooks/preprovision.sh", {
      ...env,
      AZURE_FUNCTION_APP_NAME: "func-deleted",
    });
    expect(r.status).toBe(0);
    expect(r.calls[0]).toBe("env set DRIFTGUARD_CONNECT_SIGNALS false");
    expect(r.stdout).toContain("function app func-deleted does not exist");
  });

  it("the deployment is there: phase 2 stays on", async () => {
    const r = await runHook("infra/hooks/preprovision.sh", env);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      "env set DRIFTGUARD_EXISTING_SECRETS driftguard-pseudonym-key,approver-signing-key",
    ]);
  });

  it("checked even when the generated keys are not written; refuses when it cannot tell", async () => {
    const off = await runHook("infra/hooks/preprovision.sh", {
      ...env,
      AZURE_RESOURCE_GROUP: "rg-deleted",
      DRIFTGUARD_WRITE_SECRETS: "false",
    });
    expect(off).toMatchObject({ status: 0, calls: ["env set DRIFTGUARD_CONNECT_SIGNALS false"] });
    sim.addFault({
      method: "GET",
      path: `/resourceGroups/${RG}/providers/Microsoft.Web/sites/${APP}`,
      status: 403,
    });
    const denied = await runHook("infra/hooks/preprovision.sh", env);
    expect(denied).toMatchObject({ status: 1, calls: [] });
    expect(denied.stderr).toMatch(/cannot tell whether the deployment still exists .*403/);
  });
});

describe("postdeploy: phase 2 waits for propagation, then provisions with retries", () => {
  const env = {
    AZURE_SUBSCRIPTION_ID: SUB,
    AZURE_RESOURCE_GROUP: RG,
    AZURE_FUNCTION_APP_NAME: APP,
    DRIFTGUARD_REMEDIATOR_ROLE_ID: roleId(1),
    DRIFTGUARD_KEY_ROTATION_ROLE_ID: roleId(2),
    DRIFTGUARD_SECRET_ROTATION_ROLE_ID: roleId(3),
    DRIFTGUARD_VAULT_WRITE_ROLE_ID: roleId(4),
    DRIFTGUARD_IDENTITY_ASSIGN_ROLE_ID: roleId(5),
  };
  const listKeysPath = `${SITE}/functions/alerts/listkeys`;

  /** The function key appears after `missing` 404s (the simulator has no Functions host behind it). */
  function functionKeyAfter(missing: number) {
    if (missing > 0) sim.addFault({ method: "POST", path: listKeysPath, status: 404, count: missing });
    sim.addFault({
      method: "POST",
      path: listKeysPath,
      status: 200,
      body: { default: FUNCTION_KEY },
      count: -1,
    });
  }

  it("waits for a role definition and the alerts key that appear late, then connects once", async () => {
    sim.addFault({
      method: "GET",
      path: "/roleDefinitions/00000000-0000-0000-0000-000000000002",
      status: 404,
      count: 3,
    });
    functionKeyAfter(4);
    const r = await runHook("infra/hooks/postdeploy.sh", env);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(["env set DRIFTGUARD_CONNECT_SIGNALS true", "provision --no-prompt"]);
    expect(sim.requests({ method: "POST", pathIncludes: "/listkeys" })).toHaveLength(5);
    expect(sim.requests({ method: "GET", pathIncludes: "-000000000002" })).toHaveLength(4);
    expect(r.stdout).toContain("waiting for the key of function 'alerts' (404");
    expect(`${r.stdout}${r.stderr}`).not.toContain(FUNCTION_KEY);
  });

  it("gives up after a bounded number of attempts with a clear message, leaving phase 2 off", async () => {
    sim.addFault({ method: "POST", path: listKeysPath, status: 404, count: -1 });
    const r = await runHook("infra/hooks/postdeploy.sh", env);
    expect(r.status).toBe(1);
    expect(r.calls).toEqual([]);
    expect(sim.requests({ method: "POST", pathIncludes: "/listkeys" })).toHaveLength(10);
    expect(r.stderr).toMatch(
      /the key of function 'alerts' is still not available after 10 attempts \(last answer: 404/,
    );
  });

  it("retries a failed provision with backoff; after three failures resets the flag and says how to resume", async () => {
    functionKeyAfter(0);
    const once = await runHook("infra/hooks/postdeploy.sh", env, { provisionFailures: 1 });
    expect(once.status).toBe(0);
    expect(once.calls).toEqual([
      "env set DRIFTGUARD_CONNECT_SIGNALS true",
      "provision --no-prompt",
      "provision --no-prompt",
    ]);
    const never = await runHook("infra/hooks/postdeploy.sh", env, { provisionFailures: 3 });
    expect(never.status).toBe(1);
    expect(never.calls).toEqual([
      "env set DRIFTGUARD_CONNECT_SIGNALS true",
      "provision --no-prompt",
      "provision --no-prompt",
      "provision --no-prompt",
      "env set DRIFTGUARD_CONNECT_SIGNALS false",
    ]);
    expect(never.stderr).toContain("azd env set DRIFTGUARD_CONNECT_SIGNALS true && azd provision");
  });

  it("later deploys skip phase 2 entirely", async () => {
    const r = await runHook("infra/hooks/postdeploy.sh", { ...env, DRIFTGUARD_CONNECT_SIGNALS: "true" });
    expect(r).toMatchObject({ status: 0, calls: [] });
    expect(sim.requests()).toEqual([]);
  });
});
