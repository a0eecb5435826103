/**
 * The loop as in Azure, on the local stack: someone changes a resource directly against the
 * simulator → the simulator raises the ARM event → the local Event Grid delivers it to the host
 * through driftguard's own subscription (filters from infra/event-subscriptions.json) → one fix, one
 * `remediated` record → driftguard's own write comes back as an event, is recognised as its echo,
 * and causes nothing more. Decisions go out to the local topic as CloudEvents, one per record.
 */
import https from "node:https";
import { isSystemEvent } from "@azure/eventgrid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_USER } from "../../dev/azure-sim/events.js";
import { DECISIONS_TOPIC, loadEventSubscriptionsFile } from "../../dev/event-grid/driftguard.js";
import { SYSTEM_TOPICS } from "../../dev/event-grid/index.js";
import { DEFAULT_SEED_FILE, type LocalStack, startLocalStack } from "../../dev/stack.js";
import { LOCAL_PRINCIPAL_ID } from "../../shared/azure/local-credential.js";
import { silentLogger } from "../../shared/log.js";
import { type StackClient, stackClient } from "../helpers/stack-client.js";

const ACCOUNT =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml-prod/providers/Microsoft.Storage/storageAccounts/stmlprod001";
const OID = "http://schemas.microsoft.com/identity/claims/objectidentifier";

let stack: LocalStack;
let client: StackClient;

/** A person's write straight to the simulator, as `curl` or the portal would send it. */
function patchAsSomeone(id: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = https.request(
      `${stack.azureUrl}${id}?api-version=2023-05-01`,
      {
        method: "PATCH",
        ca: stack.tls.cert,
        headers: {
          authorization: "Bearer x",
          "content-type": "application/json",
          "content-length": String(data.length),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function until<T>(what: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed: DEFAULT_SEED_FILE,
    policyFile: "policies/default.yaml",
    functionKey: "integration-test-key-0123456789",
    log: silentLogger,
    lroPollIntervalMs: 0,
    retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 100 },
    events: { deliver: true, publish: true, timeScale: 0.001 },
  });
  client = stackClient(stack.functionsUrl, stack.functionKey);
});
afterAll(async () => stack?.close());

describe("a change made directly against the simulator", () => {
  it("is delivered by the local Event Grid and fixed once; driftguard's own write comes back as its echo and causes nothing", async () => {
    expect(await patchAsSomeone(ACCOUNT, { properties: { publicNetworkAccess: "Enabled" } })).toBe(200);
    // Every storage kind of the default policies looks at the account (one decision each); the
    // person's drift is public access.
    const record = await until(async () => {
      const r = await client.audit({ resourceId: ACCOUNT, kind: "disable-public-network-access" });
      return r.length > 0 && r[0];
    });
    expect(record).toMatchObject({
      outcome: "remediated",
      kind: "disable-public-network-access",
      resourceId: ACCOUNT,
    });
    expect(record!.signal.type).toBe("Microsoft.Resources.ResourceWriteSuccess");
    // The caller was the person (pseudonymised), never driftguard.
    expect(record!.signal.caller?.id).toMatch(/^p-[0-9a-f]{24}$/);
    expect(stack.sim.getResource(ACCOUNT)?.properties?.publicNetworkAccess).toBe("Disabled");

    // Wait until every write on the account has been delivered (the person's and driftguard's fixes).
    const accountEvents = async () =>
      (await stack.eventGrid.events(SYSTEM_TOPICS.arm)).filter((e) => e.subject === ACCOUNT);
    const settled = await until(async () => {
      const events = await accountEvents();
      const delivered = (await stack.eventGrid.deliveries("driftguard-resource-writes")).filter(
        (a) => a.outcome === "delivered" && events.some((w) => a.eventIds.includes(String(w.id))),
      );
      return events.length >= 2 && delivered.length === events.length && events;
    });
    for (const e of settled)
      expect(isSystemEvent("Microsoft.Resources.ResourceWriteSuccess", e as never)).toBe(true);
    // The person's write first; every later write on the account is driftguard's own (its oid).
    const callers = settled.map((e) => (e.data as { claims: Record<string, string> }).claims[OID]);
    expect(callers[0]).toBe(LOCAL_USER.objectId);
    expect(callers.slice(1).length).toBeGreaterThanOrEqual(1);
    expect(new Set(callers.slice(1))).toEqual(new Set([LOCAL_PRINCIPAL_ID]));
    const records = await client.audit({ resourceId: ACCOUNT });
    await new Promise((r) => setTimeout(r, 500));
    // The echoes changed nothing: no further write, no further record, one record per kind.
    expect(await accountEvents()).toHaveLength(settled.length);
    const after = await client.audit({ resourceId: ACCOUNT });
    expect(after.map((r) => r.id)).toEqual(records.map((r) => r.id));
    const kinds = after.map((r) => r.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
    // driftguard wrote the account once per kind that changed it, no more.
    const changedAccount = after.filter(
      (r) => r.outcome === "remediated" && r.changes.some((c) => c.path.startsWith("properties.")),
    );
    expect(settled.length - 1).toBeLessThanOrEqual(changedAccount.length);
  });

  it("publishes each decision to the local topic: one CloudEvent per record, the record as the audit API returns it", async () => {
    const records = await client.audit();
    expect(records.length).toBeGreaterThan(0);
    const events = await until(async () => {
      const e = await stack.eventGrid.events(DECISIONS_TOPIC);
      return e.length >= records.length && e;
    });
    expect(events.map((e) => e.id).sort()).toEqual(records.map((r) => r.id).sort());
    for (const r of records) {
      const e = events.find((x) => x.id === r.id)!;
      expect(e).toMatchObject({
        specversion: "1.0",
        type: `Driftguard.Decision.${r.outcome.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}`,
        source: "/driftguard/local-stack",
        subject: r.resourceId,
        datacontenttype: "application/json",
      });
      expect(new Date(String(e.time)).toISOString()).toBe(r.time);
      expect(e.data).toEqual(r);
    }
  });

  it("a write by a resource provider driftguard does not subscribe to is not delivered", async () => {
    // AKS pools are governed from budget alerts, not write events: its provider is not in the filter.
    const aks =
      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml-prod/providers/Microsoft.ContainerService/managedClusters/aks-inference";
    expect(loadEventSubscriptionsFile().resourceWrites.resourceProviders).not.toContain(
      "Microsoft.ContainerService",
    );
    expect(await patchAsSomeone(aks, { tags: { team: "ml" } })).toBe(200);
    const aksEvent = await until(async () =>
      (await stack.eventGrid.events(SYSTEM_TOPICS.arm)).find((e) => e.subject === aks),
    );
    // A delivery the filter let through would be attempted at once (timeScale 0.001); wait well
    // past that. Other deliveries (earlier writes' retries) may still run: only this event's id counts.
    await new Promise((r) => setTimeout(r, 500));
    const attempts = await stack.eventGrid.deliveries("driftguard-resource-writes");
    expect(attempts.filter((a) => a.eventIds.includes(String(aksEvent.id)))).toEqual([]);
    // The filter is what kept it out: the same delivery log does carry the storage account's writes.
    expect(attempts.some((a) => a.outcome === "delivered")).toBe(true);
  });
});
