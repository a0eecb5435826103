/**
 * `protect-model-storage` against the simulator with the real arm-storage client: versioning and
 * soft delete turned on, retention raised but never lowered, the re-read right before the write
 * (blob service properties have no ETag), `requireTag`, transient and permanent failures, and the
 * pipeline's outcomes (remediated, dry-run, approval, opt-out, action limit, failed).
 */
import { describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { RemediationError } from "../../shared/errors.js";
import type { Policy } from "../../shared/policy/schema.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import {
  paramsSchema,
  remediation as protectModelStorage,
} from "../../shared/remediations/protect-model-storage/kind.js";
import {
  isProtected,
  protectionChanges,
} from "../../shared/remediations/protect-model-storage/protection.js";
import { armResource } from "../helpers/seed.js";
import { expectChange, kindContext, planOnly, runKind } from "./kind-run.js";
import { useFreshHarness, useKindSimulator, writeSignals } from "./kind-sim.js";
import { CORS } from "./resource-fixtures.js";

const SUB = "00000000-0000-0000-0000-0000000000d1";
const RG = "rg-models";
const KIND = "protect-model-storage";
const NOW = new Date("2030-05-01T08:00:00.000Z");
const accountId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${name}`;
const blobId = (name: string) => `${accountId(name)}/blobServices/default`;

const POLICY: Policy = {
  name: "model-storage-recoverable",
  resourceTypes: ["Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/blobServices"],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: {},
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

function account(name: string, tags: Record<string, string> = {}, kind = "StorageV2") {
  return armResource(accountId(name), {
    kind,
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags,
    properties: { publicNetworkAccess: "Disabled", allowBlobPublicAccess: false },
  });
}

function blobService(name: string, properties: Record<string, unknown>) {
  return armResource(blobId(name), { sku: { name: "Standard_LRS", tier: "Standard" }, properties });
}

function seed(): Seed {
  return {
    resources: [
      // Versioning off, 7-day blob soft delete, container soft delete off, CORS and change feed set.
      account("stmodels"),
      blobService("stmodels", {
        cors: CORS,
        isVersioningEnabled: false,
        changeFeed: { enabled: true, retentionInDays: 14 },
        deleteRetentionPolicy: { enabled: true, days: 7, allowPermanentDelete: false },
        containerDeleteRetentionPolicy: { enabled: false },
      }),
      // Everything on with 90 days: compliant and never lowered.
      account("stlong"),
      blobService("stlong", {
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 90 },
        containerDeleteRetentionPolicy: { enabled: true, days: 90 },
      }),
      // Versioning on, but soft delete at 7 days and container soft delete disabled at 120 days.
      account("stmixed"),
      blobService("stmixed", {
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 7 },
        containerDeleteRetentionPolicy: { enabled: false, days: 120 },
      }),
      // No blob service seeded: ARM shows a new account's defaults.
      account("stnew"),
      account("sttagged", { "data-class": "Models" }),
      account("stscratch", { "driftguard:exclude": "true" }),
      account("stfiles", {}, "FileStorage"),
    ],
  };
}

const writeSignal = writeSignals({
  prefix: "pms",
  subscriptionId: SUB,
  now: NOW,
  typeOf: (resourceId) =>
    resourceId.toLowerCase().endsWith("/blobservices/default")
      ? "Microsoft.Storage/storageAccounts/blobServices"
      : "Microsoft.Storage/storageAccounts",
});

const env = useKindSimulator(seed, { resetEachTest: true });
const { since, writes } = env;

const ctxFor = (resourceId: string, params: Record<string, unknown> = {}) =>
  kindContext(protectModelStorage, writeSignal(resourceId), {
    policy: POLICY,
    params,
    clients: env.clients,
    now: NOW,
  });

const props = (name: string) => env.sim.getResource(blobId(name))?.properties as Record<string, unknown>;

describe("the protection rules (pure)", () => {
  it("raises 7 days to 30, keeps 90, enables what is off and keeps a longer disabled retention", () => {
    const changes = protectionChanges(
      {
        isVersioningEnabled: false,
        deleteRetentionPolicy: { enabled: true, days: 7 },
        containerDeleteRetentionPolicy: { enabled: false, days: 120 },
      },
      30,
    );
    expect(changes).toEqual([
      { path: "properties.isVersioningEnabled", from: false, to: true },
      { path: "properties.deleteRetentionPolicy.days", from: 7, to: 30 },
      { path: "properties.containerDeleteRetentionPolicy.enabled", from: false, to: true },
    ]);
    expect(
      isProtected(
        {
          isVersioningEnabled: true,
          deleteRetentionPolicy: { enabled: true, days: 90 },
          containerDeleteRetentionPolicy: { enabled: true, days: 90 },
        },
        30,
      ),
    ).toBe(true);
    // Resource Graph rows and ARM bodies carry the same `properties`; absent means off.
    expect(isProtected({}, 1)).toBe(false);
    expect(isProtected(undefined, 1)).toBe(false);
  });

  it("validates params: retentionDays 1..365 (default 30), requireTag {name, value}, nothing else", () => {
    expect(paramsSchema.parse({})).toEqual({ retentionDays: 30 });
    expect(
      paramsSchema.parse({ retentionDays: 365, requireTag: { name: "data-class", value: "models" } }),
    ).toEqual({
      retentionDays: 365,
      requireTag: { name: "data-class", value: "models" },
    });
    for (const bad of [0, 366, 7.5, "30"]) {
      const r = paramsSchema.safeParse({ retentionDays: bad });
      expect(r.success, String(bad)).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(["retentionDays"]);
    }
    const tag = paramsSchema.safeParse({ requireTag: { name: " ", value: "x" } });
    expect(tag.error?.issues[0]?.path).toEqual(["requireTag", "name"]);
    expect(paramsSchema.safeParse({ requireTag: { name: "a", value: "b", extra: 1 } }).success).toBe(false);
    expect(paramsSchema.safeParse({ versioning: true }).success).toBe(false);
  });

  it("is registered and supports storage accounts and their blob service only", () => {
    expect(builtinRegistry().get(KIND)).toBe(protectModelStorage);
    expect(protectModelStorage.supports("Microsoft.Storage/storageAccounts")).toBe(true);
    expect(protectModelStorage.supports("microsoft.storage/storageaccounts/BLOBSERVICES")).toBe(true);
    expect(protectModelStorage.supports("Microsoft.Storage/storageAccounts/fileServices")).toBe(false);
    expect(protectModelStorage.supports("Microsoft.KeyVault/vaults")).toBe(false);
  });
});

describe("protect-model-storage against the simulator", () => {
  it("drifted: one PUT of the blob service, preceded by a fresh GET, without If-Match; verified", async () => {
    const { plan, changes, verified } = await runKind(protectModelStorage, ctxFor(blobId("stmodels")));
    expect(plan.action).toBe("change");
    expect(changes).toEqual([
      { path: "properties.isVersioningEnabled", from: false, to: true },
      { path: "properties.deleteRetentionPolicy.days", from: 7, to: 30 },
      { path: "properties.containerDeleteRetentionPolicy.enabled", from: false, to: true },
      { path: "properties.containerDeleteRetentionPolicy.days", from: null, to: 30 },
    ]);
    expect(verified).toEqual({ ok: true });

    expect(writes().map((w) => `${w.method} ${w.path}`)).toEqual([`PUT ${blobId("stmodels")}`]);
    const reqs = since().filter((r) => r.path.toLowerCase().includes("/blobservices/default"));
    const put = reqs.findIndex((r) => r.method === "PUT");
    // read (GET), the re-read right before the write (GET), the write, the read-back (GET).
    expect(reqs.map((r) => r.method)).toEqual(["GET", "GET", "PUT", "GET"]);
    expect(reqs[put - 1]!.method).toBe("GET");
    expect(reqs[put]!.headers["if-match"]).toBeUndefined();
    expect(reqs[put]!.apiVersion).toBeTruthy();

    const after = props("stmodels");
    expect(after).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 30, allowPermanentDelete: false },
      containerDeleteRetentionPolicy: { enabled: true, days: 30 },
      // Everything else the blob service had is still there.
      cors: CORS,
      changeFeed: { enabled: true, retentionInDays: 14 },
    });
  });

  it("compliant (90 days everywhere) → noop, no write; 90 is never lowered to 30", async () => {
    const { plan } = await runKind(protectModelStorage, ctxFor(accountId("stlong")));
    expect(plan).toEqual({
      action: "noop",
      reason:
        "blob service of 'stlong' already protected (versioning on, blob soft delete 90 days, container soft delete 90 days)",
    });
    expect(writes()).toEqual([]);
    expect(props("stlong")).toMatchObject({ deleteRetentionPolicy: { days: 90 } });
  });

  it("raises 7 to 30 and enables a disabled 120-day container policy at 120", async () => {
    const { changes, verified } = await runKind(protectModelStorage, ctxFor(accountId("stmixed")));
    expect(changes).toEqual([
      { path: "properties.deleteRetentionPolicy.days", from: 7, to: 30 },
      { path: "properties.containerDeleteRetentionPolicy.enabled", from: false, to: true },
    ]);
    expect(verified).toEqual({ ok: true });
    expect(props("stmixed")).toMatchObject({
      deleteRetentionPolicy: { enabled: true, days: 30 },
      containerDeleteRetentionPolicy: { enabled: true, days: 120 },
    });
  });

  it("an account whose blob service was never set gets the defaults fixed (retentionDays 14)", async () => {
    const { changes, verified } = await runKind(
      protectModelStorage,
      ctxFor(accountId("stnew"), { retentionDays: 14 }),
    );
    expect(changes).toEqual([
      { path: "properties.isVersioningEnabled", from: null, to: true },
      { path: "properties.deleteRetentionPolicy.enabled", from: false, to: true },
      { path: "properties.deleteRetentionPolicy.days", from: null, to: 14 },
      { path: "properties.containerDeleteRetentionPolicy.enabled", from: null, to: true },
      { path: "properties.containerDeleteRetentionPolicy.days", from: null, to: 14 },
    ]);
    expect(verified).toEqual({ ok: true });
    expect(props("stnew")).toMatchObject({ isVersioningEnabled: true, deleteRetentionPolicy: { days: 14 } });
  });

  it("requireTag: an untagged account is not model storage (noop); a tagged one is protected", async () => {
    const requireTag = { name: "Data-Class", value: "models" };
    const { plan } = await runKind(protectModelStorage, ctxFor(accountId("stnew"), { requireTag }));
    expect(plan).toMatchObject({
      action: "noop",
      reason: expect.stringMatching(/does not carry the tag Data-Class=models/),
    });
    expect(writes()).toEqual([]);
    const tagged = await runKind(protectModelStorage, ctxFor(accountId("sttagged"), { requireTag }));
    expect(tagged.plan.action).toBe("change");
    expect(tagged.verified).toEqual({ ok: true });
    expect(writes().map((w) => w.path)).toEqual([blobId("sttagged")]);
  });

  it("a FileStorage account has no blob service, a deleted account nothing to protect: noop", async () => {
    const { plan } = await runKind(protectModelStorage, ctxFor(accountId("stfiles")));
    expect(plan).toMatchObject({ action: "noop", reason: expect.stringMatching(/FileStorage/) });
    const gone = await runKind(protectModelStorage, ctxFor(blobId("stdeleted")));
    expect(gone.plan).toEqual({ action: "noop", reason: "storage account 'stdeleted' no longer exists" });
    expect(writes()).toEqual([]);
  });

  it("a change between plan and write (no ETag to catch it): the re-read sees it, nothing is written", async () => {
    const { ctx, plan } = await planOnly(protectModelStorage, ctxFor(blobId("stmodels")));
    expectChange(plan);
    // A person turns versioning on meanwhile.
    env.sim.putResource(
      blobService("stmodels", {
        cors: CORS,
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 7 },
        containerDeleteRetentionPolicy: { enabled: false },
      }),
    );
    const err = await protectModelStorage.apply(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({ code: "ConcurrentChange", step: "apply", retryable: true });
    expect(writes()).toEqual([]);
    expect(props("stmodels")).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { days: 7 },
    });
  });

  it("transient: 429 with Retry-After and a 500 on the PUT are retried; the write lands once", async () => {
    env.sim.addFault({ method: "PUT", path: "/blobServices/default", status: 429, retryAfter: 0 });
    env.sim.addFault({ method: "PUT", path: "/blobServices/default", status: 500 });
    const { verified } = await runKind(protectModelStorage, ctxFor(blobId("stmodels")));
    expect(verified).toEqual({ ok: true });
    const puts = since().filter((r) => r.method === "PUT");
    expect(puts.map((p) => p.status)).toEqual([429, 500, 200]);
    expect(props("stmodels")).toMatchObject({ isVersioningEnabled: true });
  });

  it("permanent: a 403 on the PUT fails at step apply, not retryable; a 400 too", async () => {
    for (const status of [403, 400]) {
      env.sim.clearFaults();
      env.sim.addFault({ method: "PUT", path: "/blobServices/default", status, count: -1 });
      const ctx = ctxFor(blobId("stmodels"));
      const err = await runKind(protectModelStorage, ctx).catch((e: unknown) => e);
      expect(err).toMatchObject({ step: "apply", retryable: false, statusCode: status });
      expect(props("stmodels")).toMatchObject({ isVersioningEnabled: false });
    }
  });

  it("a target of another type, or a blob service other than default, is refused at read", async () => {
    await expect(
      protectModelStorage.read(ctxFor(`${accountId("stmodels")}/fileServices/default`)),
    ).rejects.toMatchObject({ step: "read", code: "UnsupportedResourceType", retryable: false });
    await expect(
      protectModelStorage.read(ctxFor(`${accountId("stmodels")}/blobServices/other`)),
    ).rejects.toMatchObject({
      step: "read",
      code: "UnsupportedResourceType",
    });
  });
});

describe("protect-model-storage through the pipeline", () => {
  const fresh = useFreshHarness(seed, POLICY, NOW);

  it("enforce: one `remediated` record holding only this kind's fields; the next event is compliant", async () => {
    const hh = await fresh();
    const [d] = await hh.handle(writeSignal(blobId("stmodels")));
    expect(d?.outcome).toBe("remediated");
    const [rec] = await hh.records();
    // The event named the blob service; the kind decides and records as its account (one gate).
    expect(rec).toMatchObject({ outcome: "remediated", kind: KIND, resourceId: accountId("stmodels") });
    expect(rec!.changes.map((c) => c.path)).toEqual([
      "properties.isVersioningEnabled",
      "properties.deleteRetentionPolicy.days",
      "properties.containerDeleteRetentionPolicy.enabled",
      "properties.containerDeleteRetentionPolicy.days",
    ]);
    expect(hh.sim.writes()).toHaveLength(1);
    const [again] = await hh.handle(writeSignal(accountId("stmodels")));
    expect(again?.outcome).toBe("compliant");
    expect(hh.sim.writes()).toHaveLength(1);
  });

  it("dry-run: the planned changes recorded, nothing written", async () => {
    const hh = await fresh({}, "dry-run");
    const [d] = await hh.handle(writeSignal(accountId("stmodels")));
    expect(d?.outcome).toBe("dry-run");
    expect(d?.changes?.length).toBe(4);
    expect(hh.sim.writes()).toEqual([]);
  });

  it("approval: pending-approval with the changes, nothing written until approved", async () => {
    const hh = await fresh({ mode: "approval" });
    const [d] = await hh.handle(writeSignal(accountId("stmodels")));
    expect(d?.outcome).toBe("pending-approval");
    expect(hh.notifier.requests).toHaveLength(1);
    expect(hh.notifier.requests[0]!.changes.map((c) => c.path)).toContain("properties.isVersioningEnabled");
    expect(hh.sim.writes()).toEqual([]);
  });

  it("opt-out tag on the account → excluded, no write", async () => {
    const hh = await fresh();
    const [d] = await hh.handle(writeSignal(blobId("stscratch")));
    expect(d?.outcome).toBe("excluded");
    expect(hh.sim.writes()).toEqual([]);
  });

  it("past the action limit the next change waits for a person", async () => {
    const hh = await fresh({ maxActionsPerHour: 1 });
    const [a] = await hh.handle(writeSignal(accountId("stmodels")));
    const [b] = await hh.handle(writeSignal(accountId("stnew")));
    expect([a?.outcome, b?.outcome]).toEqual(["remediated", "pending-approval"]);
    expect(hh.sim.writes()).toHaveLength(1);
  });

  it("a permanent failure is a `failed` record with error.step apply; a transient one asks for redelivery", async () => {
    const hh = await fresh();
    hh.sim.addFault({ method: "PUT", path: "/stmodels/blobServices/default", status: 403, count: -1 });
    const [d] = await hh.handle(writeSignal(accountId("stmodels")));
    expect(d).toMatchObject({ outcome: "failed", retry: false });
    expect(d?.record?.error).toMatchObject({ step: "apply" });
    hh.sim.addFault({ method: "PUT", path: "/stnew/blobServices/default", status: 503, count: -1 });
    const [t] = await hh.handle(writeSignal(accountId("stnew")));
    expect(t).toMatchObject({ outcome: "failed", retry: true });
    expect(t?.record?.error).toMatchObject({ step: "apply" });
  });
});
