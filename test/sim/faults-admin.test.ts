/** Fault injection, the request log and its redaction, the admin HTTP API and seed validation. */
import { NetworkManagementClient } from "@azure/arm-network";
import { StorageManagementClient } from "@azure/arm-storage";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type AzureSimulator,
  loadSeedFile,
  type Seed,
  startAzureSimulator,
  validateSeed,
} from "../../dev/azure-sim/index.js";
import { call, classicOptions, credential, modularOptions, RG, rgId, SUB, tls } from "./helpers.js";

let sim: AzureSimulator;
let ca: string;
let seed: Seed;

beforeAll(async () => {
  const t = await tls();
  ca = t.cert;
  seed = await loadSeedFile("dev/sample-seed.json");
  sim = await startAzureSimulator({ tls: t, seed });
});
beforeEach(() => {
  sim.clearFaults();
  sim.clearRequests();
});
afterAll(async () => {
  await sim?.close();
});

const network = () => new NetworkManagementClient(credential, SUB, classicOptions(sim.url, ca));
const storage = () => new StorageManagementClient(credential, SUB, modularOptions(sim.url, ca));
const bearer = { authorization: "Bearer anything" };

describe("faults", () => {
  it("a 500 is recovered by the SDK's retry", async () => {
    sim.addFault({ method: "GET", path: "networkSecurityGroups/nsg-gpu-nodes", status: 500 });
    const nsg = await network().networkSecurityGroups.get(RG, "nsg-gpu-nodes");
    expect(nsg.name).toBe("nsg-gpu-nodes");
    const log = sim.requests();
    expect(log.map((r) => r.status)).toEqual([500, 200]);
    expect(log[0]?.faulted).toBe(true);
  });

  it("429 + Retry-After waits that long and recovers; 429 without it is not retried", async () => {
    sim.addFault({
      path: "^/subscriptions/[^/]+/resourceGroups/rg-ml-prod/providers/Microsoft.Storage/",
      status: 429,
      retryAfter: 1,
    });
    const t0 = Date.now();
    await storage().storageAccounts.getProperties(RG, "stmlprod001");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const r = sim.requests();
    expect(r.map((x) => x.status)).toEqual([429, 200]);

    sim.clearRequests();
    sim.addFault({ path: "stmlprod001", status: 429 });
    await expect(storage().storageAccounts.getProperties(RG, "stmlprod001")).rejects.toMatchObject({
      statusCode: 429,
    });
    expect(sim.requests()).toHaveLength(1);
  });

  it("delay only (status 0) then handles normally; count -1 never runs out", async () => {
    sim.addFault({ path: "stmlscratch001", status: 0, delayMs: 300 });
    const t0 = Date.now();
    const acct = await storage().storageAccounts.getProperties(RG, "stmlscratch001");
    expect(acct.name).toBe("stmlscratch001");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(sim.requests()[0]?.faulted).toBeUndefined();

    sim.addFault({
      method: "GET",
      path: "stmlscratch001",
      status: 503,
      count: -1,
      body: { error: { code: "Busy", message: "busy" } },
    });
    await expect(storage().storageAccounts.getProperties(RG, "stmlscratch001")).rejects.toMatchObject({
      statusCode: 503,
      code: "Busy",
    });
    // first try + 3 retries
    expect(sim.requests({ method: "GET" }).filter((r) => r.status === 503)).toHaveLength(4);
    sim.clearFaults();
    expect((await storage().storageAccounts.getProperties(RG, "stmlscratch001")).name).toBe("stmlscratch001");
  });

  it("faulted writes are not in writes(); handled ones are", async () => {
    sim.addFault({ method: "PATCH", path: "stmlscratch001", status: 500 });
    await storage().storageAccounts.update(RG, "stmlscratch001", { tags: { a: "1" } });
    expect(sim.requests({ method: "PATCH" }).map((r) => r.status)).toEqual([500, 200]);
    expect(sim.writes()).toHaveLength(1);
    expect(sim.writes()[0]?.status).toBe(200);
  });
});

describe("request log", () => {
  it("redacts the authorization header and secret-looking body fields", async () => {
    const url = `${sim.url}${rgId}/providers/Microsoft.ApiManagement/service/apim-openai/subscriptions/new-sub?api-version=2022-08-01`;
    const put = await call(
      url,
      ca,
      "PUT",
      {
        properties: { scope: "/apis", displayName: "n", primaryKey: "pk-123456", secondaryKey: "sk-654321" },
      },
      { authorization: "Bearer very-secret-token" },
    );
    expect(put.status).toBe(201);
    const text = JSON.stringify(sim.requests());
    expect(text).not.toContain("very-secret-token");
    expect(text).not.toContain("pk-123456");
    expect(text).not.toContain("sk-654321");
    const entry = sim.requests({ method: "PUT" })[0]!;
    expect(entry).toMatchObject({
      origin: "arm",
      method: "PUT",
      status: 201,
      apiVersion: "2022-08-01",
      query: { "api-version": "2022-08-01" },
      headers: { authorization: "<redacted>" },
      body: { properties: { primaryKey: "<redacted>", displayName: "n" } },
    });
    expect(entry.seq).toBeGreaterThan(0);
    expect(Date.parse(entry.time)).not.toBeNaN();
  });
});

describe("admin HTTP API", () => {
  it("health, faults, requests over plain HTTPS (not logged themselves)", async () => {
    const health = await call(`${sim.url}/_sim/health`, ca, "GET");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", url: sim.url, vaults: sim.vaults });

    const bad = await call(`${sim.url}/_sim/faults`, ca, "POST", { path: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.path).toBe("status");

    const added = await call(`${sim.url}/_sim/faults`, ca, "POST", {
      method: "GET",
      path: "stmlprod001",
      status: 409,
      count: 1,
    });
    expect(added.status).toBe(201);
    expect(typeof added.body.id).toBe("string");
    const url = `${sim.url}${rgId}/providers/Microsoft.Storage/storageAccounts/stmlprod001?api-version=2025-01-01`;
    expect((await call(url, ca, "GET", undefined, bearer)).status).toBe(409);
    expect((await call(url, ca, "GET", undefined, bearer)).status).toBe(200);

    const listed = await call(`${sim.url}/_sim/requests?pathIncludes=STMLPROD001&method=get`, ca, "GET");
    expect(listed.body.map((r: { status: number }) => r.status)).toEqual([409, 200]);

    await call(`${sim.url}/_sim/faults`, ca, "POST", { path: "stmlprod001", status: 500, count: -1 });
    expect((await call(`${sim.url}/_sim/faults`, ca, "DELETE")).status).toBe(204);
    expect((await call(url, ca, "GET", undefined, bearer)).status).toBe(200);

    expect((await call(`${sim.url}/_sim/requests`, ca, "DELETE")).status).toBe(204);
    const empty = await call(`${sim.url}/_sim/requests`, ca, "GET");
    expect(empty.body).toEqual([]);
  });
});

describe("seed validation", () => {
  it("names the offending field path", () => {
    expect(() =>
      validateSeed({
        resources: [{ id: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts" }],
      }),
    ).toThrow(/resources\[0\]\.id: not a well-formed ARM resource ID/);
    expect(() =>
      validateSeed({
        resources: [
          {
            id: `${rgId}/providers/Microsoft.Storage/storageAccounts/a`,
            type: "Microsoft.Network/networkSecurityGroups",
          },
        ],
      }),
    ).toThrow(/resources\[0\]\.type/);
    expect(() => validateSeed({ secrets: [{ vault: "kv", name: "n", value: 1 }] })).toThrow(
      /secrets\[0\]\.vault/,
    );
    expect(() => validateSeed({ bogus: 1 })).toThrow(/bogus/);
  });

  it("the bundled sample has what the brief asks for", () => {
    const ids = (seed.resources ?? []).map((r) => r.id);
    expect(ids.every((id) => id.startsWith(`/subscriptions/${SUB}/resourceGroups/${RG}/`))).toBe(true);
    expect(seed.secrets?.map((s) => s.name)).toEqual(["storage-key", "openai-key", "db-password"]);
    for (const s of seed.secrets ?? []) {
      const days = (Date.parse(s.expiresOn!) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(0);
      expect(days).toBeLessThanOrEqual(30);
    }
    expect(
      sim.getResource(`${rgId}/providers/Microsoft.Storage/storageAccounts/stmlscratch001`)?.tags,
    ).toMatchObject({
      "driftguard:exclude": "true",
    });
  });
});
