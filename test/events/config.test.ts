/** The decision-event settings are validated at start; an invalid one names itself and why. */
import { describe, expect, it } from "vitest";
import { COSMOS_EMULATOR_KEY, loadConfig } from "../../shared/config.js";
import { decisionEventType, pascalOutcome } from "../../shared/events/decision-event.js";

const LOCAL = { DRIFTGUARD_LOCAL_STACK: "1" };
const AZURE = {
  WEBSITE_SITE_NAME: "func-driftguard-abc",
  COSMOS_ENDPOINT: "https://cosmos.example.documents.azure.com",
  DRIFTGUARD_PSEUDONYM_KEY: "k".repeat(32),
  APPROVER_SIGNING_KEY: "s".repeat(40),
};

describe("decision event settings", () => {
  it("are off without an endpoint; the source names the function app in Azure, local-stack locally", () => {
    expect(loadConfig(AZURE).events).toEqual({ instanceName: "func-driftguard-abc" });
    expect(loadConfig(LOCAL).events).toEqual({ instanceName: "local-stack" });
    expect(loadConfig({ ...AZURE, DRIFTGUARD_INSTANCE_NAME: "prod-eu" }).events.instanceName).toBe("prod-eu");
    expect(() => loadConfig({ ...AZURE, DRIFTGUARD_INSTANCE_NAME: "no/slashes" })).toThrow(
      /DRIFTGUARD_INSTANCE_NAME/,
    );
  });

  it("an https endpoint is taken as is; plain http only on loopback, on the local stack, with a key", () => {
    const endpoint = "https://evgt.westeurope-1.eventgrid.azure.net/api/events";
    expect(loadConfig({ ...AZURE, DRIFTGUARD_EVENTS_ENDPOINT: endpoint }).events.endpoint).toBe(endpoint);
    expect(() =>
      loadConfig({ ...AZURE, DRIFTGUARD_EVENTS_ENDPOINT: "http://evgt.example/api/events" }),
    ).toThrow(/DRIFTGUARD_EVENTS_ENDPOINT.*https/);
    expect(() =>
      loadConfig({ ...LOCAL, DRIFTGUARD_EVENTS_ENDPOINT: "http://127.0.0.1:9000/api/events" }),
    ).toThrow(/DRIFTGUARD_EVENTS_KEY.*required/);
    expect(
      loadConfig({
        ...LOCAL,
        DRIFTGUARD_EVENTS_ENDPOINT: "http://127.0.0.1:9000/api/events",
        DRIFTGUARD_EVENTS_KEY: "key",
      }).events,
    ).toMatchObject({ endpoint: "http://127.0.0.1:9000/api/events", key: "key" });
    // The CLI pointed at the local Cosmos stand-in counts as the local stack too.
    expect(
      loadConfig({
        COSMOS_KEY: COSMOS_EMULATOR_KEY,
        COSMOS_ENDPOINT: "https://127.0.0.1:8081",
        DRIFTGUARD_EVENTS_ENDPOINT: "http://localhost:9000/api/events",
        DRIFTGUARD_EVENTS_KEY: "key",
      }).events.endpoint,
    ).toBe("http://localhost:9000/api/events");
  });

  it("the key is refused in Azure and outside the local stack", () => {
    expect(() => loadConfig({ ...AZURE, DRIFTGUARD_EVENTS_KEY: "key" })).toThrow(
      /DRIFTGUARD_EVENTS_KEY.*Azure/,
    );
    expect(() =>
      loadConfig({
        DRIFTGUARD_PSEUDONYM_KEY: "k".repeat(32),
        APPROVER_SIGNING_KEY: "s".repeat(40),
        DRIFTGUARD_EVENTS_KEY: "key",
      }),
    ).toThrow(/DRIFTGUARD_EVENTS_KEY.*local stack/);
  });

  it("DRIFTGUARD_EVENTS_OUTCOMES: outcomes as the audit API names them; an unknown one is named", () => {
    expect(
      loadConfig({ ...LOCAL, DRIFTGUARD_EVENTS_OUTCOMES: "remediated, Failed;pending-approval" }).events
        .outcomes,
    ).toEqual(["remediated", "failed", "pending-approval"]);
    expect(() => loadConfig({ ...LOCAL, DRIFTGUARD_EVENTS_OUTCOMES: "remediated,fixed" })).toThrow(
      /DRIFTGUARD_EVENTS_OUTCOMES.*'fixed'/,
    );
  });

  it("event types are the outcomes in PascalCase", () => {
    expect(pascalOutcome("pending-approval")).toBe("PendingApproval");
    expect(decisionEventType("dry-run")).toBe("Driftguard.Decision.DryRun");
    expect(decisionEventType("remediated")).toBe("Driftguard.Decision.Remediated");
  });
});
