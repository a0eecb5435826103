/**
 * The deployable package (`npm run build` → dist/, what azure.yaml deploys), checked as Azure would
 * run it: built into a scratch folder, then loaded by a FRESH `node` process the way the Functions
 * worker loads an app (bench/lib/bundle-probe.mjs provides the worker's `@azure/functions-core` and
 * records every registration). No timing is asserted here; `npm run bench` measures.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ManagedIdentityEndpoint,
  startManagedIdentityEndpoint,
} from "../../bench/lib/managed-identity.js";
import { type AzureSimulator, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { type EmbeddedCosmos, startEmbeddedCosmos } from "../../dev/cosmos.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import { functionsTable } from "../../functions/app.js";
import { CosmosAuditStore } from "../../shared/cosmos/audit-store.js";
import { createCosmosClient, ensureContainers } from "../../shared/cosmos/client.js";
import { armWriteEvent, TEST_SUB } from "../helpers/stack.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const PROBE = path.join(root, "bench/lib/bundle-probe.mjs");

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<
    string,
    { bytes: number; inputs: Record<string, unknown>; imports: { path: string; kind: string }[] }
  >;
}
interface ProbeResult {
  registeredMs: number;
  functions: { name: string; bindings: Record<string, Record<string, unknown>> }[];
  invocations: { function: string; ok: boolean; result?: unknown; error?: string }[];
}

let scratch: string;
let pkg: string;
let meta: Metafile;

async function probe(command: object = {}, env: NodeJS.ProcessEnv = {}): Promise<ProbeResult> {
  const { stdout } = await run(
    process.execPath,
    [PROBE, path.join(pkg, "functions/index.js"), JSON.stringify(command)],
    // A fresh process with only what an app gets: no loader, no test environment.
    { cwd: pkg, env: { PATH: process.env.PATH, ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const line = stdout.split("\n").findLast((l) => l.startsWith("@probe "));
  if (!line) throw new Error(`the probe printed no result:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice("@probe ".length)) as ProbeResult;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(path.join(dir, f)).isFile())
    .map((f) => f.split(path.sep).join("/"));
}

/** The npm package an esbuild input path belongs to (undefined for the app's own sources). */
function packageOf(input: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "driftguard-package-"));
  pkg = path.join(scratch, "package");
  const metafile = path.join(scratch, "meta.json");
  await run(
    process.execPath,
    [path.join(root, "scripts/build.mjs"), "--outdir", pkg, "--metafile", metafile],
    {
      cwd: root,
      timeout: 180_000,
    },
  );
  meta = JSON.parse(readFileSync(metafile, "utf8")) as Metafile;
}, 200_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the deployable package", () => {
  it("holds the bundle with source maps, host.json, policies, the viewer page and a manifest with nothing to install", () => {
    const files = filesUnder(pkg);
    const manifest = JSON.parse(readFileSync(path.join(pkg, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(manifest).toMatchObject({ type: "module", main: "functions/index.js" });
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.devDependencies).toBeUndefined();
    expect(manifest.scripts).toBeUndefined();
    expect(readFileSync(path.join(pkg, "host.json"), "utf8")).toBe(
      readFileSync(path.join(root, "host.json"), "utf8"),
    );
    expect(readFileSync(path.join(pkg, "policies/default.yaml"), "utf8")).toBe(
      readFileSync(path.join(root, "policies/default.yaml"), "utf8"),
    );
    expect(files).toContain("web/audit-viewer.html");
    expect(files).toContain("functions/index.js");
    const js = files.filter((f) => f.endsWith(".js"));
    expect(js.length).toBeGreaterThan(5);
    for (const f of js) expect(files, f).toContain(`${f}.map`);
    // Nothing but the package: no dependencies folder, no TypeScript, no local secrets.
    expect(files.filter((f) => f.startsWith("node_modules/") || f.includes("/node_modules/"))).toEqual([]);
    expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(\.driftguard|\.azure|\.git|local\.settings\.json)/.test(f))).toEqual(
      [],
    );
  });

  it("bundles only production dependencies: no dev dependency, no tsx, none of dev/, test/, bench/ or cli/", () => {
    const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    const inputs = Object.keys(meta.inputs);
    const packages = new Set(inputs.map(packageOf).filter((p): p is string => !!p));
    expect(packages.has("@azure/functions")).toBe(true);
    for (const dev of Object.keys(manifest.devDependencies)) expect(packages.has(dev), dev).toBe(false);
    expect(packages.has("tsx")).toBe(false);
    const own = inputs.filter((i) => !packageOf(i));
    expect(own.filter((i) => /^(dev|test|bench|cli|scripts)\//.test(i))).toEqual([]);
  });

  it("registration evaluates only the function table: SDKs, Cosmos, identity and the handlers sit in chunks imported on first use", () => {
    const outputs = meta.outputs;
    const entry = Object.keys(outputs).find((o) => o.endsWith("functions/index.js"));
    expect(entry).toBeDefined();
    // Everything the entry reaches through static imports is evaluated when the host loads the app.
    const atStart = new Set<string>();
    const visit = (out: string) => {
      if (atStart.has(out)) return;
      atStart.add(out);
      for (const i of outputs[out]?.imports ?? [])
        if (i.kind === "import-statement" && outputs[i.path]) visit(i.path);
    };
    visit(entry!);
    const loadedAtStart = [...atStart].flatMap((o) => Object.keys(outputs[o]!.inputs));
    const startPackages = new Set(loadedAtStart.map(packageOf).filter(Boolean));
    for (const lazy of [
      "@azure/cosmos",
      "@azure/identity",
      "@azure/arm-network",
      "@azure/arm-storage",
      "@azure/arm-machinelearning",
      "@azure/arm-apimanagement",
      "@azure/keyvault-secrets",
      "@azure/core-rest-pipeline",
      "zod",
      "pino",
      "jose",
    ]) {
      expect(startPackages.has(lazy), `${lazy} loads at registration`).toBe(false);
      // …but it is in the package, in a chunk of its own reach.
      expect(
        Object.keys(meta.inputs).some((i) => packageOf(i) === lazy),
        `${lazy} is bundled`,
      ).toBe(true);
    }
    expect(loadedAtStart.filter((i) => i.startsWith("shared/"))).toEqual([]);
    expect(loadedAtStart.filter((i) => !packageOf(i)).sort()).toEqual([
      "functions/app.ts",
      "functions/index.ts",
      "functions/lazy-handler.ts",
    ]);
  });

  it("a fresh node process importing the package registers every function of functions/app.ts with its trigger, route, methods and key level", async () => {
    const result = await probe();
    expect(result.functions.map((f) => f.name).sort()).toEqual(functionsTable.map((f) => f.name).sort());
    for (const fn of functionsTable) {
      const registered = result.functions.find((f) => f.name === fn.name)!;
      const trigger = Object.values(registered.bindings).find((b) => String(b.type).endsWith("Trigger"))!;
      if (fn.trigger === "http") {
        expect(trigger, fn.name).toMatchObject({
          type: "httpTrigger",
          route: fn.route,
          methods: fn.methods,
          authLevel: fn.authLevel,
        });
      } else if (fn.trigger === "timer") {
        expect(trigger, fn.name).toMatchObject({ type: "timerTrigger", schedule: fn.schedule });
      } else {
        expect(trigger, fn.name).toMatchObject({ type: "eventGridTrigger" });
      }
    }
  });

  it("serves the viewer page from the package, and health answers 503 (not a crash) without settings", async () => {
    const result = await probe({
      invoke: [
        { function: "auditViewer", input: {} },
        { function: "health", input: {} },
      ],
    });
    const [viewer, health] = result.invocations;
    expect(viewer).toMatchObject({ ok: true, result: { status: 200 } });
    expect(String((viewer!.result as { body: string }).body)).toContain("<!doctype html>");
    expect(health).toMatchObject({ ok: true, result: { status: 503, jsonBody: { status: "unavailable" } } });
  });
});

describe("the deployable package against the stand-ins", () => {
  const RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-package`;
  const ST = `${RG}/providers/Microsoft.Storage/storageAccounts/stpackage001`;
  let sim: AzureSimulator;
  let cosmos: EmbeddedCosmos;
  let identity: ManagedIdentityEndpoint;
  let env: NodeJS.ProcessEnv;
  let ca: string;

  beforeAll(async () => {
    const tls = await loadOrCreateLocalTls();
    ca = tls.cert;
    [sim, cosmos, identity] = await Promise.all([
      startAzureSimulator({
        port: 0,
        tls,
        lro: "sync",
        seed: {
          resources: [
            {
              id: ST,
              name: "stpackage001",
              type: "Microsoft.Storage/storageAccounts",
              location: "westeurope",
              kind: "StorageV2",
              sku: { name: "Standard_LRS", tier: "Standard" },
              tags: {},
              properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
            },
          ],
        },
      }),
      startEmbeddedCosmos({ port: 0, tls }),
      startManagedIdentityEndpoint(),
    ]);
    const policyFile = path.join(scratch, "policies.yaml");
    await writeFile(
      policyFile,
      `version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: enforce
`,
    );
    // The app settings of a function app (as in Azure: managed identity, no Cosmos key), pointing at
    // the stand-ins; only the CA file is local-only.
    env = {
      WEBSITE_SITE_NAME: "driftguard-package-test",
      ...identity.env,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_DATABASE: "package-test",
      ARM_ENDPOINT: sim.url,
      DRIFTGUARD_CA_FILE: tls.caCertFile,
      DRIFTGUARD_POLICY_FILE: policyFile,
      DRIFTGUARD_PSEUDONYM_KEY: "package-test-pseudonym-key-0123456789",
      APPROVER_SIGNING_KEY: "package-test-approval-signing-key-0123456789",
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all([sim?.close(), cosmos?.close(), identity?.close()]);
  });

  it("remediates through the package in a fresh process: one ARM write, one audit record, tokens from the managed identity endpoint", async () => {
    const event = armWriteEvent(ST);
    const result = await probe({ invoke: [{ function: "resourceEvents", input: event }] }, env);
    expect(result.invocations[0]).toMatchObject({ function: "resourceEvents", ok: true });
    expect(sim.getResource(ST)?.properties?.publicNetworkAccess).toBe("Disabled");
    expect(sim.writes({ pathIncludes: "stpackage001" })).toHaveLength(1);
    // The production credential asked the (stand-in) managed identity endpoint for ARM and Cosmos tokens.
    expect(identity.issued).toContain("https://management.azure.com");
    expect(identity.issued.some((r) => r.startsWith(cosmos.endpoint))).toBe(true);
    const client = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, ca });
    try {
      const { audit } = await ensureContainers(client, "package-test");
      const page = await new CosmosAuditStore(audit, { retentionDays: 0 }).query({ resourceId: ST });
      expect(page.items.map((r) => [r.outcome, r.signal.id])).toEqual([["remediated", event.id]]);
    } finally {
      client.dispose();
    }
  });
});
