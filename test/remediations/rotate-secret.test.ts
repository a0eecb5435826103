import { CommanderError } from "commander";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rotateCommand } from "../../cli/rotate.js";
import { type AzureSimulator, type Seed, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { loadOrCreateLocalTls } from "../../dev/tls.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import type { AzureClients } from "../../shared/azure/clients.js";
import { RemediationError, redactSecretValue } from "../../shared/errors.js";
import { createLogger } from "../../shared/log.js";
import type { Policy } from "../../shared/policy/schema.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import {
  generateSecretValue,
  type Params as RotateSecretParams,
  remediation as rotateSecret,
  paramsSchema as rotateSecretParamsSchema,
} from "../../shared/remediations/rotate-secret/kind.js";
import {
  NEW_VERSION_PLACEHOLDER,
  parseProviderAddress,
  parseSecretId,
  type SecretState,
} from "../../shared/remediations/rotate-secret/plan.js";
import type { RemediationContext } from "../../shared/remediations/types.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, simulatorClients, startHarness } from "../helpers/harness.js";
import { kindContext, runKind } from "./kind-run.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const RG = "rg-ai";
const VAULT = "kv-ai";
const VAULT_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/${VAULT}`;
const secretId = (name: string) => `${VAULT_ID}/secrets/${name}`;
const STORAGE_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/stai`;
const COG_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.CognitiveServices/accounts/oai`;
const NOW = new Date("2030-01-10T12:00:00.000Z");
const DAY = 24 * 3600 * 1000;

const POLICY: Policy = {
  name: "rotate-secrets",
  resourceTypes: ["Microsoft.KeyVault/vaults/secrets"],
  triggers: [{ keyVault: "SecretNearExpiry" }, { keyVault: "SecretExpired" }, { manual: "rotate" }],
  kind: "rotate-secret",
  params: {},
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

function kvSignal(
  name: string,
  event: "SecretNearExpiry" | "SecretExpired" | "SecretNewVersionCreated",
  version?: string,
): Signal {
  return {
    source: "eventgrid",
    type: `Microsoft.KeyVault.${event}`,
    id: `evt-${name}-${event}-${version ?? "none"}`,
    dedupeKey: `evt-${name}-${event}-${version ?? "none"}`,
    time: NOW.toISOString(),
    subscriptionId: SUB,
    trigger: { keyVault: event },
    targets: [
      { resourceId: secretId(name), resourceType: "Microsoft.KeyVault/vaults/secrets", subscriptionId: SUB },
    ],
    keyVault: { vaultName: VAULT, objectType: "Secret", objectName: name, ...(version ? { version } : {}) },
  };
}

function manualSignal(name: string): Signal {
  return {
    source: "manual",
    type: "manual.rotate",
    id: `manual-${name}`,
    dedupeKey: `manual-${name}-${Math.random()}`,
    time: NOW.toISOString(),
    subscriptionId: SUB,
    trigger: { manual: "rotate" },
    targets: [
      { resourceId: secretId(name), resourceType: "Microsoft.KeyVault/vaults/secrets", subscriptionId: SUB },
    ],
  };
}

function alertSignal(name: string, condition: "Fired" | "Resolved", firedAt: string): Signal {
  return {
    source: "monitor",
    type: `alert.${condition}`,
    id: `alert-${name}`,
    dedupeKey: `alert-${name}-${condition}`,
    time: firedAt,
    subscriptionId: SUB,
    trigger: { alert: "secret-leak", condition },
    targets: [
      { resourceId: secretId(name), resourceType: "Microsoft.KeyVault/vaults/secrets", subscriptionId: SUB },
    ],
    alert: { alertId: "a1", ruleName: "secret-leak", condition, firedAt, dimensions: {} },
  };
}

function ctxFor(
  signal: Signal,
  opts: {
    params?: Partial<RotateSecretParams>;
    clients?: AzureClients;
    log?: RemediationContext["log"];
  } = {},
): RemediationContext<RotateSecretParams> {
  return kindContext(rotateSecret, signal, { policy: POLICY, ...opts, now: NOW });
}

function state(over: Partial<SecretState> = {}): SecretState {
  return {
    secretId: secretId("app-secret"),
    vault: VAULT,
    name: "app-secret",
    version: "v1",
    tags: { owner: "ml-team" },
    contentType: "text/plain",
    expiresOn: new Date(NOW.getTime() + 10 * DAY).toISOString(),
    createdOn: new Date(NOW.getTime() - 80 * DAY).toISOString(),
    ...over,
  };
}

describe("rotate-secret: registration, params, IDs", () => {
  it("registers itself under its stable kind and supports only Key Vault secrets", () => {
    expect(builtinRegistry().get("rotate-secret")).toBe(rotateSecret);
    expect(rotateSecret.supports("Microsoft.KeyVault/vaults/secrets")).toBe(true);
    expect(rotateSecret.supports("microsoft.keyvault/VAULTS/secrets")).toBe(true);
    expect(rotateSecret.supports("Microsoft.KeyVault/vaults")).toBe(false);
  });

  it("validates params strictly with defaults 90 days / 32 characters", () => {
    expect(rotateSecretParamsSchema.parse({})).toEqual({
      validityDays: 90,
      length: 32,
      minAgeMinutes: 0,
      rotateWithinDays: 30,
    });
    expect(
      rotateSecretParamsSchema.parse({
        validityDays: 3650,
        length: 256,
        minAgeMinutes: 60,
        rotateWithinDays: 7,
      }),
    ).toEqual({
      validityDays: 3650,
      length: 256,
      minAgeMinutes: 60,
      rotateWithinDays: 7,
    });
    expect(() => rotateSecretParamsSchema.parse({ rotateWithinDays: 0 })).toThrow();
    for (const bad of [
      { validityDays: 0 },
      { validityDays: 3651 },
      { validityDays: 1.5 },
      { length: 15 },
      { length: 257 },
      { extra: 1 },
    ]) {
      const r = rotateSecretParamsSchema.safeParse(bad);
      expect(r.success, JSON.stringify(bad)).toBe(false);
      const path = r.error?.issues[0]?.path.join(".") ?? "";
      const key = Object.keys(bad)[0]!;
      expect(key === "extra" ? r.error?.issues[0]?.code : path).toBe(
        key === "extra" ? "unrecognized_keys" : key,
      );
    }
  });

  it("parses secret IDs and provider addresses strictly", () => {
    expect(parseSecretId(secretId("db-pass"))).toMatchObject({
      vault: VAULT,
      name: "db-pass",
      vaultId: VAULT_ID,
    });
    expect(() => parseSecretId(VAULT_ID)).toThrow(/not a Key Vault secret ID/);
    expect(() => parseSecretId(`${VAULT_ID}/keys/k1`)).toThrow(/not a Key Vault secret ID/);
    expect(parseProviderAddress(STORAGE_ID)).toMatchObject({
      kind: "storage",
      account: "stai",
      resourceGroup: RG,
      subscriptionId: SUB,
    });
    expect(parseProviderAddress(COG_ID)).toMatchObject({ kind: "cognitive", account: "oai" });
    expect(() => parseProviderAddress(VAULT_ID)).toThrow(/neither/);
    expect(() => parseProviderAddress(`${STORAGE_ID}/../x`)).toThrow();
    expect(() => parseProviderAddress("https://stai.blob.core.windows.net")).toThrow();
    expect(() => parseProviderAddress(`${STORAGE_ID}/blobServices/default`)).toThrow(/neither/);
  });

  it("generates URL-safe values of exactly the requested length, and redacts values from text", () => {
    for (const n of [16, 17, 32, 33, 255, 256]) {
      const v = generateSecretValue(n);
      expect(v).toHaveLength(n);
      expect(v).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(generateSecretValue(32)).not.toBe(generateSecretValue(32));
    expect(redactSecretValue("value s3cr3t-x here s3cr3t-x", "s3cr3t-x")).toBe(
      "value <redacted> here <redacted>",
    );
  });
});

describe("rotate-secret: plan decisions (no Azure calls)", () => {
  it("rotates on SecretNearExpiry for the current version, with exact changes", async () => {
    const plan = await rotateSecret.plan(
      { state: state(), tags: state().tags },
      ctxFor(kvSignal("app-secret", "SecretNearExpiry", "v1")),
    );
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    expect(plan.changes).toEqual([
      { path: "version", from: "v1", to: NEW_VERSION_PLACEHOLDER },
      {
        path: "attributes.expires",
        from: state().expiresOn,
        to: new Date(NOW.getTime() + 90 * DAY).toISOString(),
      },
    ]);
    expect(plan.data).toMatchObject({
      mode: "generate",
      length: 32,
      tags: { owner: "ml-team" },
      contentType: "text/plain",
    });
  });

  it("noops when the event is about an older version and the current one is not near expiry (late duplicate)", async () => {
    const fresh = state({ version: "v2", expiresOn: new Date(NOW.getTime() + 89 * DAY).toISOString() });
    const plan = await rotateSecret.plan(
      { state: fresh, tags: fresh.tags },
      ctxFor(kvSignal("app-secret", "SecretExpired", "v1")),
    );
    expect(plan).toEqual({
      action: "noop",
      reason: expect.stringMatching(/already rotated.*version v1.*v2/),
    });
  });

  it("still rotates when the event is about an older version but the current one is near expiry or expired", async () => {
    for (const days of [29, 0, -5]) {
      const s = state({ version: "v2", expiresOn: new Date(NOW.getTime() + days * DAY).toISOString() });
      const plan = await rotateSecret.plan(
        { state: s, tags: s.tags },
        ctxFor(kvSignal("app-secret", "SecretNearExpiry", "v1")),
      );
      expect(plan.action, `${days} days`).toBe("change");
    }
  });

  it("ignores other Key Vault events and rotates on manual always", async () => {
    const far = state({ expiresOn: new Date(NOW.getTime() + 300 * DAY).toISOString() });
    const ev = await rotateSecret.plan(
      { state: far, tags: far.tags },
      ctxFor(kvSignal("app-secret", "SecretNewVersionCreated", "v1")),
    );
    expect(ev).toEqual({ action: "noop", reason: expect.stringMatching(/does not call for a rotation/) });
    const man = await rotateSecret.plan({ state: far, tags: far.tags }, ctxFor(manualSignal("app-secret")));
    expect(man.action).toBe("change");
    const noExpiry = state({ expiresOn: undefined });
    const man2 = await rotateSecret.plan(
      { state: noExpiry, tags: noExpiry.tags },
      ctxFor(manualSignal("app-secret")),
    );
    expect(
      man2.action === "change" && man2.changes.find((c) => c.path === "attributes.expires")?.from,
    ).toBeNull();
  });

  it("alerts: Fired rotates the version current when it fired; a newer version or a Resolved alert noops", async () => {
    const far = state({ expiresOn: new Date(NOW.getTime() + 300 * DAY).toISOString() });
    const fired = await rotateSecret.plan(
      { state: far, tags: far.tags },
      ctxFor(alertSignal("app-secret", "Fired", NOW.toISOString())),
    );
    expect(fired.action).toBe("change");
    const rotatedSince = state({
      expiresOn: far.expiresOn,
      createdOn: new Date(NOW.getTime() + 60_000).toISOString(),
    });
    const late = await rotateSecret.plan(
      { state: rotatedSince, tags: rotatedSince.tags },
      ctxFor(alertSignal("app-secret", "Fired", NOW.toISOString())),
    );
    expect(late).toEqual({
      action: "noop",
      reason: expect.stringMatching(/already rotated.*after the alert fired/),
    });
    const resolved = await rotateSecret.plan(
      { state: far, tags: far.tags },
      ctxFor(alertSignal("app-secret", "Resolved", NOW.toISOString())),
    );
    expect(resolved).toEqual({ action: "noop", reason: expect.stringMatching(/resolved/) });
  });

  it("alternation plan: other key, CredentialId switched, ValidityPeriodDays tag wins over params", async () => {
    const s = state({
      tags: { CredentialId: "key1", ProviderAddress: STORAGE_ID, ValidityPeriodDays: "60", team: "x" },
    });
    const plan = await rotateSecret.plan(
      { state: s, tags: s.tags },
      ctxFor(kvSignal("app-secret", "SecretNearExpiry", "v1"), { params: { validityDays: 7 } }),
    );
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    expect(plan.changes).toEqual([
      { path: "version", from: "v1", to: NEW_VERSION_PLACEHOLDER },
      { path: "tags.CredentialId", from: "key1", to: "key2" },
      { path: "provider.regeneratedKey", from: null, to: `${STORAGE_ID}#key2` },
      { path: "attributes.expires", from: s.expiresOn, to: new Date(NOW.getTime() + 60 * DAY).toISOString() },
    ]);
    expect(plan.data).toMatchObject({
      mode: "alternate",
      regenerate: "key2",
      provider: { kind: "storage", account: "stai" },
      tags: { CredentialId: "key2", ProviderAddress: STORAGE_ID, ValidityPeriodDays: "60", team: "x" },
    });
    // Without the tag the policy's validityDays applies.
    const s2 = state({ tags: { CredentialId: "key2", ProviderAddress: COG_ID } });
    const p2 = await rotateSecret.plan(
      { state: s2, tags: s2.tags },
      ctxFor(manualSignal("app-secret"), { params: { validityDays: 7 } }),
    );
    expect(p2.action === "change" && p2.changes.at(-1)?.to).toBe(
      new Date(NOW.getTime() + 7 * DAY).toISOString(),
    );
    expect(p2.action === "change" && p2.data.regenerate).toBe("key1");
  });

  it("rejects bad alternation tags with a plan error naming the tag", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { CredentialId: "key3", ProviderAddress: STORAGE_ID },
        /tags\.CredentialId: expected 'key1' or 'key2'/,
      ],
      [{ CredentialId: "key1" }, /tags\.ProviderAddress: missing/],
      [{ ProviderAddress: STORAGE_ID }, /tags\.CredentialId: missing/],
      [{ CredentialId: "key1", ProviderAddress: VAULT_ID }, /tags\.ProviderAddress: type/],
      [{ CredentialId: "key1", ProviderAddress: "stai" }, /tags\.ProviderAddress:/],
      [{ ValidityPeriodDays: "ninety" }, /tags\.ValidityPeriodDays: expected an integer/],
      [{ ValidityPeriodDays: "0" }, /tags\.ValidityPeriodDays/],
    ];
    for (const [tags, re] of cases) {
      const s = state({ tags });
      let err: unknown;
      try {
        await rotateSecret.plan({ state: s, tags }, ctxFor(manualSignal("app-secret")));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(tags)).toBeInstanceOf(RemediationError);
      expect((err as RemediationError).step).toBe("plan");
      expect((err as RemediationError).retryable).toBe(false);
      expect((err as Error).message).toMatch(re);
    }
  });
});

describe("cli: driftguard rotate", () => {
  async function runCli(args: string[]) {
    const calls: [string, string, { dryRun: boolean }][] = [];
    const cmd = rotateCommand(async (v, s, o) => {
      calls.push([v, s, o]);
      return 3;
    });
    const errors: string[] = [];
    cmd.exitOverride().configureOutput({ writeErr: (s) => errors.push(s), writeOut: () => {} });
    const before = process.exitCode;
    let thrown: unknown;
    try {
      await cmd.parseAsync(args, { from: "user" });
    } catch (e) {
      thrown = e;
    }
    const exitCode = process.exitCode;
    process.exitCode = before;
    return { calls, errors: errors.join(""), thrown, exitCode };
  }

  it("passes vault, secret and --dry-run to run and exits with its code", async () => {
    const r = await runCli(["--vault", "kv-ai", "--secret", "app-secret", "--dry-run"]);
    expect(r.calls).toEqual([["kv-ai", "app-secret", { dryRun: true }]]);
    expect(r.exitCode).toBe(3);
    const r2 = await runCli(["--vault", "kv-ai", "--secret", "app-secret"]);
    expect(r2.calls).toEqual([["kv-ai", "app-secret", { dryRun: false }]]);
  });

  it("rejects bad or missing names, naming the option, without running", async () => {
    for (const [args, opt] of [
      [["--vault", "k", "--secret", "s"], "--vault"],
      [["--vault", "kv--ai", "--secret", "s"], "--vault"],
      [["--vault", "kv-ai", "--secret", "a/b"], "--secret"],
      [["--vault", "kv-ai", "--secret", "x".repeat(128)], "--secret"],
      [["--secret", "s"], "--vault"],
    ] as [string[], string][]) {
      const r = await runCli(args);
      expect(r.calls, args.join(" ")).toEqual([]);
      expect(r.thrown).toBeInstanceOf(CommanderError);
      expect((r.thrown as CommanderError).exitCode).toBe(1);
      expect(r.errors).toContain(opt);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Against the Azure simulator: real SDK clients, real HTTPS, real Key Vault challenge.

const ST_KEY1 = "stKEY1-original-value-AAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
const ST_KEY2 = "stKEY2-original-value-BBBBBBBBBBBBBBBBBBBBBBBBBBBB==";
const COG_KEY1 = "cogKEY1-original-0123456789abcdef";
const COG_KEY2 = "cogKEY2-original-fedcba9876543210";
const PLAIN_VALUE = "plain-original-secret-value-ZZZZ";
const ALREADY_VALUE = "already-rotated-original-value-YYYY";

function simSeed(): Seed {
  const inDays = (d: number) => new Date(Date.now() + d * DAY).toISOString();
  return {
    resources: [
      {
        id: VAULT_ID,
        name: VAULT,
        type: "Microsoft.KeyVault/vaults",
        location: "westeurope",
        tags: {},
        properties: {},
      },
      {
        id: STORAGE_ID,
        name: "stai",
        type: "Microsoft.Storage/storageAccounts",
        location: "westeurope",
        tags: {},
        kind: "StorageV2",
        properties: { publicNetworkAccess: "Disabled" },
      },
      {
        id: COG_ID,
        name: "oai",
        type: "Microsoft.CognitiveServices/accounts",
        location: "westeurope",
        tags: {},
        kind: "OpenAI",
        properties: { publicNetworkAccess: "Disabled" },
      },
    ],
    storageKeys: {
      [STORAGE_ID]: [
        { keyName: "key1", value: ST_KEY1 },
        { keyName: "key2", value: ST_KEY2 },
      ],
      [COG_ID]: [
        { keyName: "key1", value: COG_KEY1 },
        { keyName: "key2", value: COG_KEY2 },
      ],
    },
    secrets: [
      {
        vault: VAULT,
        name: "storage-key",
        value: ST_KEY1,
        tags: { CredentialId: "key1", ProviderAddress: STORAGE_ID, ValidityPeriodDays: "45", team: "data" },
        contentType: "text/plain",
        expiresOn: inDays(10),
      },
      {
        vault: VAULT,
        name: "openai-key",
        value: COG_KEY2,
        tags: { CredentialId: "key2", ProviderAddress: COG_ID },
        contentType: "application/x-api-key",
        expiresOn: inDays(-1),
      },
      {
        vault: VAULT,
        name: "app-password",
        value: PLAIN_VALUE,
        tags: { owner: "ml-team" },
        contentType: "password",
        expiresOn: inDays(5),
      },
      {
        vault: VAULT,
        name: "already-rotated",
        value: ALREADY_VALUE,
        tags: { owner: "ml-team" },
        expiresOn: inDays(3),
      },
    ],
  };
}

describe("rotate-secret against the Azure simulator", () => {
  let sim: AzureSimulator;
  let clients: AzureClients;
  const lines: string[] = [];
  const log = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
  /** Every secret value and key this suite ever sees, to prove none leaks. */
  const values = new Set<string>([ST_KEY1, ST_KEY2, COG_KEY1, COG_KEY2, PLAIN_VALUE, ALREADY_VALUE]);

  beforeAll(async () => {
    const tls = await loadOrCreateLocalTls();
    sim = await startAzureSimulator({ port: 0, tls, seed: simSeed() });
    clients = simulatorClients(sim, tls);
  });

  afterAll(async () => {
    // Nothing may hold a value in clear: request log (redacted bodies) and every log line.
    const requestLog = JSON.stringify(sim?.requests() ?? []);
    for (const v of values) {
      expect(requestLog.includes(v), "request log holds a secret value").toBe(false);
      expect(lines.join("\n").includes(v), "a log line holds a secret value").toBe(false);
    }
    await sim?.close();
  });

  afterEach(() => sim.clearFaults());

  const ctx = (signal: Signal, params: Partial<RotateSecretParams> = {}) =>
    kindContext(rotateSecret, signal, { policy: POLICY, params, clients, log });

  const currentVersion = (name: string) => sim.getSecret(VAULT, name)!.version;
  const vaultWrites = () => sim.writes().filter((r) => r.origin !== "arm");

  /** Asserts no known value (plus extras) appears in the given objects' JSON. */
  function assertNoValues(label: string, ...objs: unknown[]) {
    for (const o of objs) {
      const json = JSON.stringify(o, (_k, v) => (v instanceof Error ? { ...v, message: v.message } : v));
      for (const v of values) expect(json.includes(v), `${label} holds a secret value`).toBe(false);
    }
  }

  async function runAll(signal: Signal, params: Partial<RotateSecretParams> = {}) {
    const r = await runKind(rotateSecret, ctx(signal, params));
    assertNoValues("state", r.current);
    return r;
  }

  it("Storage: regenerates key2, stores it as the new version with CredentialId=key2 and the tag's validity", async () => {
    const from = currentVersion("storage-key");
    const started = Date.now();
    const r = await runAll(kvSignal("storage-key", "SecretNearExpiry", from));
    expect(r.plan.action).toBe("change");
    if (r.plan.action !== "change") return;
    const keys = sim.getStorageKeys(STORAGE_ID);
    const newKey2 = keys.find((k) => k.keyName === "key2")!.value;
    values.add(newKey2);
    expect(newKey2).not.toBe(ST_KEY2);
    expect(keys.find((k) => k.keyName === "key1")!.value).toBe(ST_KEY1); // the key in use stays valid
    const latest = sim.getSecret(VAULT, "storage-key")!;
    expect(latest.version).not.toBe(from);
    expect(latest.value).toBe(newKey2);
    expect(latest.tags).toEqual({
      CredentialId: "key2",
      ProviderAddress: STORAGE_ID,
      ValidityPeriodDays: "45",
      team: "data",
    });
    expect(latest.contentType).toBe("text/plain");
    const exp = latest.attributes.exp! * 1000;
    expect(exp).toBeGreaterThanOrEqual(started + 45 * DAY - 2000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 45 * DAY + 1000);
    // Planned changes have the placeholder; the changes apply returns name the actual version.
    expect(r.plan.changes[0]).toEqual({ path: "version", from, to: NEW_VERSION_PLACEHOLDER });
    expect(r.changes).toEqual([
      { path: "version", from, to: latest.version },
      { path: "tags.CredentialId", from: "key1", to: "key2" },
      { path: "provider.regeneratedKey", from: null, to: `${STORAGE_ID}#key2` },
      { path: "attributes.expires", from: expect.any(String), to: new Date(exp).toISOString() },
    ]);
    expect(r.verified).toEqual({ ok: true });
    assertNoValues("plan", r.plan, r.changes);
    // Wire: POST regenerateKey {keyName: "key2"} on the account.
    const regen = sim.requests().filter((q) => q.method === "POST" && /\/regenerateKey$/i.test(q.path));
    expect(regen.at(-1)?.body).toEqual({ keyName: "key2" });
  });

  it("Cognitive Services: CredentialId key2 → regenerates Key1 and stores it; expiry from policy validityDays", async () => {
    const from = currentVersion("openai-key");
    const started = Date.now();
    const r = await runAll(kvSignal("openai-key", "SecretExpired", from), { validityDays: 20 });
    expect(r.plan.action).toBe("change");
    const regen = sim
      .requests()
      .filter((q) => q.method === "POST" && q.path.toLowerCase().includes("/accounts/oai/regeneratekey"));
    expect(regen.at(-1)?.body).toEqual({ keyName: "Key1" });
    const latest = sim.getSecret(VAULT, "openai-key")!;
    values.add(latest.value);
    expect(latest.value).not.toBe(COG_KEY1);
    expect(latest.value).not.toBe(COG_KEY2);
    // The stored value is the provider's current Key1, read independently through the SDK.
    const listed = await clients.cognitiveServices(SUB).accounts.listKeys(RG, "oai");
    expect(latest.value).toBe(listed.key1);
    expect(listed.key2).toBe(COG_KEY2);
    expect(latest.tags).toEqual({ CredentialId: "key1", ProviderAddress: COG_ID });
    expect(latest.contentType).toBe("application/x-api-key");
    expect(latest.attributes.exp! * 1000).toBeGreaterThanOrEqual(started + 20 * DAY - 2000);
    expect(r.verified).toEqual({ ok: true });
    if (r.plan.action === "change") assertNoValues("plan", r.plan);
  });

  it("plain secret: new random value of the policy length; tags and content type copied", async () => {
    const from = currentVersion("app-password");
    const r = await runAll(manualSignal("app-password"), { length: 48, validityDays: 30 });
    const latest = sim.getSecret(VAULT, "app-password")!;
    values.add(latest.value);
    expect(latest.version).not.toBe(from);
    expect(latest.value).toHaveLength(48);
    expect(latest.value).toMatch(/^[A-Za-z0-9_-]{48}$/);
    expect(latest.value).not.toBe(PLAIN_VALUE);
    expect(latest.tags).toEqual({ owner: "ml-team" });
    expect(latest.contentType).toBe("password");
    expect(Math.abs(latest.attributes.exp! * 1000 - (Date.now() + 30 * DAY))).toBeLessThan(5000);
    expect(r.verified).toEqual({ ok: true });
    expect(r.changes?.[0]).toEqual({
      path: "version",
      from,
      to: latest.version,
    });
    if (r.plan.action === "change") assertNoValues("plan", r.plan);
    // No ARM call for a plain rotation.
    expect(lines.some((l) => l.includes('"secret rotated"') && l.includes(latest.version))).toBe(true);
  });

  it("already rotated (late, duplicate event for an older version) → noop, nothing written", async () => {
    const old = currentVersion("already-rotated");
    // Someone rotated by hand: a new version valid for a year.
    const v = `by-hand-${Math.random().toString(36).slice(2)}-value`;
    values.add(v);
    await clients
      .secrets(VAULT)
      .setSecret("already-rotated", v, { expiresOn: new Date(Date.now() + 365 * DAY) });
    const writesBefore = sim.writes().length;
    for (const event of ["SecretNearExpiry", "SecretExpired", "SecretNearExpiry"] as const) {
      const r = await runAll(kvSignal("already-rotated", event, old));
      expect(r.plan).toEqual({ action: "noop", reason: expect.stringMatching(/already rotated/) });
    }
    expect(sim.writes().length).toBe(writesBefore);
    expect(sim.listSecretVersions(VAULT, "already-rotated")).toHaveLength(2);
  });

  it("regeneration fails (403) → RemediationError step regenerate, nothing written to Key Vault", async () => {
    const from = currentVersion("storage-key");
    const keysBefore = JSON.stringify(sim.getStorageKeys(STORAGE_ID));
    const vaultWritesBefore = vaultWrites().length;
    sim.addFault({ method: "POST", path: "/regenerateKey", status: 403, count: -1 });
    const c = ctx(kvSignal("storage-key", "SecretNearExpiry", from));
    const plan = await rotateSecret.plan(await rotateSecret.read(c), c);
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    const err = await rotateSecret.apply(plan, c).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({
      step: "regenerate",
      retryable: false,
      statusCode: 403,
      resourceId: secretId("storage-key"),
    });
    expect(vaultWrites().length).toBe(vaultWritesBefore);
    expect(currentVersion("storage-key")).toBe(from);
    expect(JSON.stringify(sim.getStorageKeys(STORAGE_ID))).toBe(keysBefore);
    expect(plan.changes[0]?.to).toBe(NEW_VERSION_PLACEHOLDER);
    assertNoValues("error", err, { message: (err as Error).message, cause: (err as Error).cause });
  });

  it("Key Vault write fails (500 every time) → step write-secret, retryable; a redelivery succeeds", async () => {
    const from = currentVersion("storage-key");
    sim.addFault({ method: "PUT", path: "/secrets/", status: 500, count: -1, origin: `vault:${VAULT}` });
    const c = ctx(kvSignal("storage-key", "SecretNearExpiry", from));
    const plan = await rotateSecret.plan(await rotateSecret.read(c), c);
    if (plan.action !== "change") throw new Error("expected a change plan");
    const err = await rotateSecret.apply(plan, c).then(
      () => undefined,
      (e: unknown) => e,
    );
    const regenerated = sim.getStorageKeys(STORAGE_ID).find((k) => k.keyName === "key1")!.value;
    values.add(regenerated);
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({ step: "write-secret", retryable: true, statusCode: 500 });
    expect((err as Error).cause).toBeUndefined(); // the SDK error carries the request body
    expect(currentVersion("storage-key")).toBe(from);
    // The SDK retried the PUT (3 retries) and all were faulted.
    const puts = sim
      .requests()
      .filter((q) => q.method === "PUT" && q.origin === `vault:${VAULT}` && q.faulted);
    expect(puts.length).toBeGreaterThanOrEqual(4);
    assertNoValues("error", err, { message: (err as Error).message });

    // Redelivery: the same event again. Key1 (not in use: the current version still holds key2)
    // is regenerated once more and this time stored.
    sim.clearFaults();
    const r = await runAll(kvSignal("storage-key", "SecretNearExpiry", from));
    expect(r.plan.action).toBe("change");
    const latest = sim.getSecret(VAULT, "storage-key")!;
    const key1 = sim.getStorageKeys(STORAGE_ID).find((k) => k.keyName === "key1")!.value;
    values.add(key1);
    expect(key1).not.toBe(regenerated);
    expect(latest.value).toBe(key1);
    expect(latest.tags.CredentialId).toBe("key1");
    expect(r.verified).toEqual({ ok: true });
  });

  it("429 with Retry-After on regenerateKey → retried by the SDK and recovered", async () => {
    const from = currentVersion("openai-key");
    sim.addFault({ method: "POST", path: "/regenerateKey", status: 429, retryAfter: 1, count: 1 });
    const before = sim.requests().length;
    const started = Date.now();
    const r = await runAll(manualSignal("openai-key"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const regen = sim
      .requests()
      .slice(before)
      .filter((q) => q.method === "POST" && /regenerateKey$/i.test(q.path));
    expect(regen.map((q) => q.status)).toEqual([429, 200]);
    const latest = sim.getSecret(VAULT, "openai-key")!;
    values.add(latest.value);
    expect(latest.version).not.toBe(from);
    expect(latest.tags.CredentialId).toBe("key2");
    expect(r.verified).toEqual({ ok: true });
  });

  it("verify compares the stored value with the provider key by hash: a later regeneration is caught, no value in the detail", async () => {
    const c = ctx(manualSignal("openai-key"));
    const plan = await rotateSecret.plan(await rotateSecret.read(c), c);
    if (plan.action !== "change") throw new Error("expected a change plan");
    const applied = { ...plan, changes: await rotateSecret.apply(plan, c) };
    expect(await rotateSecret.verify(applied, c)).toEqual({ ok: true });
    // Someone regenerates the same key right after us: the secret no longer matches the provider.
    const res = await clients
      .cognitiveServices(SUB)
      .accounts.regenerateKey(RG, "oai", plan.data.regenerate === "key1" ? "Key1" : "Key2");
    for (const k of [res.key1, res.key2, sim.getSecret(VAULT, "openai-key")!.value]) if (k) values.add(k);
    const v = await rotateSecret.verify(applied, c);
    expect(v.ok).toBe(false);
    expect(v.detail).toMatch(/does not match .* \(hash differs\)/);
    assertNoValues("verify result", v);
  });

  it("a secret that does not exist → read error (not retryable), nothing written", async () => {
    const writes = sim.writes().length;
    const err = await rotateSecret.read(ctx(manualSignal("no-such-secret"))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({ code: "SecretNotFound", step: "read", retryable: false, statusCode: 404 });
    expect(sim.writes().length).toBe(writes);
  });

  it("dry-run: the plan lists the exact changes and nothing is written", async () => {
    const current = sim.getSecret(VAULT, "storage-key")!;
    const writesBefore = sim.writes().length;
    const c = ctx(manualSignal("storage-key"), { validityDays: 10 });
    const plan = await rotateSecret.plan(await rotateSecret.read(c), c);
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    const cred = current.tags.CredentialId;
    const next = cred === "key1" ? "key2" : "key1";
    expect(plan.changes).toEqual([
      { path: "version", from: current.version, to: NEW_VERSION_PLACEHOLDER },
      { path: "tags.CredentialId", from: cred, to: next },
      { path: "provider.regeneratedKey", from: null, to: `${STORAGE_ID}#${next}` },
      {
        path: "attributes.expires",
        from: new Date(current.attributes.exp! * 1000).toISOString(),
        to: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    // ValidityPeriodDays tag (45) wins over params (10).
    const to = Date.parse(plan.changes[3]!.to as string);
    expect(Math.abs(to - (Date.now() + 45 * DAY))).toBeLessThan(5000);
    expect(plan.summary).toMatch(/storage-key/);
    expect(sim.writes().length).toBe(writesBefore);
    assertNoValues("plan", plan);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the real pipeline (harness): one audit record per decision, and no record holds a value.

const ROTATE_POLICIES = `
version: 1
policies:
  - name: rotate-secrets
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers:
      - keyVault: SecretNearExpiry
      - keyVault: SecretExpired
      - manual: "*"
    kind: rotate-secret
    params: { validityDays: 30, length: 40 }
`;

describe("rotate-secret through the pipeline (harness)", () => {
  let h: Harness;
  let dry: Harness;

  beforeAll(async () => {
    h = await startHarness({ seed: simSeed(), policies: ROTATE_POLICIES });
    dry = await startHarness({ seed: simSeed(), policies: ROTATE_POLICIES, mode: "dry-run" });
  });

  afterAll(async () => {
    // Every value any version or provider key ever had, in either simulator, against every record.
    const all = new Set([ST_KEY1, ST_KEY2, COG_KEY1, COG_KEY2, PLAIN_VALUE, ALREADY_VALUE]);
    for (const x of [h, dry]) {
      if (!x) continue;
      for (const name of ["storage-key", "openai-key", "app-password", "already-rotated"]) {
        for (const v of x.sim.listSecretVersions(VAULT, name)) all.add(v.value);
      }
      for (const id of [STORAGE_ID, COG_ID]) for (const k of x.sim.getStorageKeys(id)) all.add(k.value);
      const records = await x.records();
      expect(records.length).toBeGreaterThan(0);
      for (const r of records) {
        const json = JSON.stringify(r);
        for (const v of all)
          expect(json.includes(v), `record ${r.id} (${r.outcome}) holds a secret value`).toBe(false);
      }
      const requestLog = JSON.stringify(x.sim.requests());
      for (const v of all) expect(requestLog.includes(v), "request log holds a secret value").toBe(false);
    }
    await h?.close();
    await dry?.close();
  });

  const recordOf = (d: { record?: AuditRecord }) => {
    expect(d.record).toBeDefined();
    return d.record!;
  };

  it("SecretNearExpiry → remediated record with the actual new version; a duplicate delivery adds no record", async () => {
    const from = h.sim.getSecret(VAULT, "storage-key")!.version;
    const signal = kvSignal("storage-key", "SecretNearExpiry", from);
    const [d] = await h.handle(signal);
    expect(d?.outcome).toBe("remediated");
    const latest = h.sim.getSecret(VAULT, "storage-key")!;
    const rec = recordOf(d!);
    expect(rec).toMatchObject({
      outcome: "remediated",
      kind: "rotate-secret",
      policy: "rotate-secrets",
      resourceId: secretId("storage-key"),
      resourceType: "Microsoft.KeyVault/vaults/secrets",
    });
    expect(rec.changes).toEqual([
      { path: "version", from, to: latest.version },
      { path: "tags.CredentialId", from: "key1", to: "key2" },
      { path: "provider.regeneratedKey", from: null, to: `${STORAGE_ID}#key2` },
      {
        path: "attributes.expires",
        from: expect.any(String),
        to: new Date(latest.attributes.exp! * 1000).toISOString(),
      },
    ]);
    expect(latest.value).toBe(h.sim.getStorageKeys(STORAGE_ID).find((k) => k.keyName === "key2")!.value);
    const count = (await h.records()).length;
    const again = await h.handle(signal);
    expect(again[0]?.outcome).toBe("duplicate");
    expect((await h.records()).length).toBe(count);
  });

  it("a late event for the replaced version → compliant record, nothing written", async () => {
    const versions = h.sim.listSecretVersions(VAULT, "storage-key");
    const old = versions[0]!.version;
    const writes = h.sim.writes().length;
    const [d] = await h.handle({
      ...kvSignal("storage-key", "SecretExpired", old),
      id: "late-1",
      dedupeKey: "late-1",
    });
    expect(d?.outcome).toBe("compliant");
    expect(recordOf(d!).reason).toMatch(/already rotated/);
    expect(h.sim.writes().length).toBe(writes);
  });

  it("regenerateKey 403 → failed record with error.step regenerate, no redelivery, no Key Vault write", async () => {
    const from = h.sim.getSecret(VAULT, "openai-key")!.version;
    h.sim.addFault({ method: "POST", path: "/regenerateKey", status: 403, count: -1 });
    try {
      const [d] = await h.handle(kvSignal("openai-key", "SecretExpired", from));
      expect(d?.outcome).toBe("failed");
      expect(d?.retry).toBe(false);
      const rec = recordOf(d!);
      expect(rec.error).toMatchObject({ step: "regenerate" });
      expect(rec.changes[0]).toEqual({ path: "version", from, to: NEW_VERSION_PLACEHOLDER });
      expect(h.sim.getSecret(VAULT, "openai-key")!.version).toBe(from);
      expect(h.sim.writes({ pathIncludes: "/secrets/" }).filter((w) => w.origin !== "arm")).toHaveLength(1); // storage-key only
    } finally {
      h.sim.clearFaults();
    }
  });

  it("Key Vault PUT 500 (every retry) → failed record with error.step write-secret and a redelivery request; the redelivery remediates", async () => {
    const from = h.sim.getSecret(VAULT, "app-password")!.version;
    const signal = kvSignal("app-password", "SecretNearExpiry", from);
    h.sim.addFault({ method: "PUT", path: "/secrets/", status: 500, count: -1, origin: `vault:${VAULT}` });
    let d: Awaited<ReturnType<Harness["handle"]>>[number] | undefined;
    try {
      [d] = await h.handle(signal);
    } finally {
      h.sim.clearFaults();
    }
    expect(d?.outcome).toBe("failed");
    expect(d?.retry).toBe(true);
    expect(recordOf(d!).error).toMatchObject({ step: "write-secret" });
    expect(h.sim.getSecret(VAULT, "app-password")!.version).toBe(from);
    // Event Grid redelivers the same event.
    const [again] = await h.handle(signal);
    expect(again?.outcome).toBe("remediated");
    const latest = h.sim.getSecret(VAULT, "app-password")!;
    expect(latest.value).toHaveLength(40);
    expect(latest.tags).toEqual({ owner: "ml-team" });
    expect(latest.contentType).toBe("password");
    expect(recordOf(again!).changes[0]).toEqual({ path: "version", from, to: latest.version });
  });

  it("global dry-run → dry-run record with the exact planned changes and no write at all", async () => {
    const current = dry.sim.getSecret(VAULT, "storage-key")!;
    const [d] = await dry.handle(manualSignal("storage-key"));
    expect(d?.outcome).toBe("dry-run");
    const rec = recordOf(d!);
    expect(rec.mode).toBe("dry-run");
    expect(rec.changes).toEqual([
      { path: "version", from: current.version, to: NEW_VERSION_PLACEHOLDER },
      { path: "tags.CredentialId", from: "key1", to: "key2" },
      { path: "provider.regeneratedKey", from: null, to: `${STORAGE_ID}#key2` },
      {
        path: "attributes.expires",
        from: new Date(current.attributes.exp! * 1000).toISOString(),
        to: expect.any(String),
      },
    ]);
    expect(dry.sim.writes()).toEqual([]);
    expect(dry.sim.getStorageKeys(STORAGE_ID).map((k) => k.value)).toEqual([ST_KEY1, ST_KEY2]);
  });
});
