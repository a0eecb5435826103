import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { rotateCommand } from "../../cli/rotate.js";
import { RemediationError } from "../../shared/errors.js";
import { createLogger, silentLogger } from "../../shared/log.js";
import type { Policy } from "../../shared/policy/schema.js";
import { getRemediation } from "../../shared/remediations/registry.js";
import {
  generateSecretValue,
  NEW_VERSION_PLACEHOLDER,
  parseProviderAddress,
  parseSecretId,
  type RotateSecretParams,
  redactSecretValue,
  rotateSecret,
  rotateSecretParamsSchema,
  type SecretState,
} from "../../shared/remediations/rotate-secret.js";
import type { RemediationContext } from "../../shared/remediations/types.js";
import type { Signal } from "../../shared/signals/types.js";

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
  opts: { params?: Partial<RotateSecretParams>; clients?: unknown; log?: RemediationContext["log"] } = {},
): RemediationContext<RotateSecretParams> {
  return {
    target: signal.targets[0]!,
    signal,
    policy: POLICY,
    params: rotateSecretParamsSchema.parse(opts.params ?? {}),
    clients: opts.clients as RemediationContext["clients"],
    history: { query: async () => ({ items: [], continuationToken: null }) },
    now: () => NOW,
    log: opts.log ?? silentLogger,
  };
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
    expect(getRemediation("rotate-secret")).toBe(rotateSecret);
    expect(rotateSecret.supports("Microsoft.KeyVault/vaults/secrets")).toBe(true);
    expect(rotateSecret.supports("microsoft.keyvault/VAULTS/secrets")).toBe(true);
    expect(rotateSecret.supports("Microsoft.KeyVault/vaults")).toBe(false);
  });

  it("validates params strictly with defaults 90 days / 32 characters", () => {
    expect(rotateSecretParamsSchema.parse({})).toEqual({ validityDays: 90, length: 32 });
    expect(rotateSecretParamsSchema.parse({ validityDays: 3650, length: 256 })).toEqual({
      validityDays: 3650,
      length: 256,
    });
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
