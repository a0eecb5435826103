import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "../../shared/errors.js";
import { parseSignalFile } from "../../shared/signals/replay.js";
import { expectInputError, expectNoPersonalData, fixture } from "./helpers.js";

const now = () => new Date("2024-07-20T10:00:00Z");

describe("parseSignalFile (CLI replay)", () => {
  it("detects every kind of payload", () => {
    expect(parseSignalFile(fixture("eg-arm-batch.json")).map((s) => s.source)).toEqual([
      "eventgrid",
      "eventgrid",
      "eventgrid",
    ]);
    expect(parseSignalFile(fixture("ce-arm-write.json"))).toHaveLength(1);
    expect(parseSignalFile(fixture("ce-batch.json")).map((s) => s.trigger)).toEqual([
      { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
      { keyVault: "SecretExpired" },
    ]);
    expect(parseSignalFile(fixture("alert-metric-fired.json"))[0]!.source).toBe("monitor");
    expect(parseSignalFile(fixture("budget-common-actual.json"))[0]!.source).toBe("budget");
    expect(parseSignalFile(fixture("budget-legacy.json"), "b.json", { now })[0]!.time).toBe(
      "2024-07-20T10:00:00.000Z",
    );
    // a single Event Grid event saved on its own
    expect(parseSignalFile(fixture("eg-keyvault-near-expiry.json")[0])[0]!.trigger).toEqual({
      keyVault: "SecretNearExpiry",
    });
    // several alert payloads in one file
    const alerts = parseSignalFile([
      fixture("alert-metric-fired.json"),
      fixture("alert-metric-resolved.json"),
    ]);
    expect(alerts.map((s) => s.type)).toEqual(["alert.Fired", "alert.Resolved"]);
  });

  it("parses every non-validation fixture without leaking personal data", () => {
    const dir = new URL("../fixtures/events/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".json") && !f.includes("validation"));
    expect(files.length).toBeGreaterThanOrEqual(14);
    for (const f of files) {
      const signals = parseSignalFile(fixture(f), f, { now });
      expect(signals.length, f).toBeGreaterThan(0);
      for (const s of signals) expect(s.targets.length, f).toBeGreaterThan(0);
      expectNoPersonalData(signals);
    }
  });

  it("refuses validation handshakes", () => {
    const e = expectInputError(() => parseSignalFile(fixture("eg-validation.json"), "hs.json"), {
      code: "ValidationNotReplayable",
      path: "",
    });
    expect(e.message).toBe("hs.json: validation handshakes cannot be replayed");
  });

  it("names the file and the field in errors, keeping the path", () => {
    const body = fixture("eg-arm-batch.json");
    delete body[2].data.resourceUri;
    const e = expectInputError(() => parseSignalFile(body, "events/batch.json"), {
      code: "InvalidEvent",
      path: "[2].data.resourceUri",
    });
    expect(e.message).toMatch(/^events\/batch\.json \[2\]\.data\.resourceUri: /);
    const alerts = [fixture("alert-metric-fired.json"), fixture("alert-metric-fired.json")];
    alerts[1].data.essentials.alertTargetIDs = ["nope"];
    expectInputError(() => parseSignalFile(alerts), {
      code: "InvalidResourceId",
      path: "[1].data.essentials.alertTargetIDs[0]",
    });
  });

  it("rejects unrecognised payloads", () => {
    expectInputError(() => parseSignalFile({ hello: "world" }, "x.json"), {
      code: "UnrecognizedPayload",
      path: "",
    });
    expectInputError(() => parseSignalFile(42), { code: "UnrecognizedPayload", path: "" });
    expect(() => parseSignalFile("text")).toThrow(InputError);
  });
});
