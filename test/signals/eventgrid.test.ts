import { describe, expect, it } from "vitest";
import { armWriteEvent } from "../../dev/arm-event-builder.js";
import { parseEventGridDelivery } from "../../shared/signals/eventgrid.js";
import type { Signal } from "../../shared/signals/types.js";
import { expectInputError, expectNoPersonalData, fixture, RG, SUB } from "./helpers.js";

const NSG_RULE = `${RG}/providers/Microsoft.Network/networkSecurityGroups/ml-nsg/securityRules/allow-ssh-any`;
const WS = `${RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-ws`;
const OID = "4c1d9e2a-7b3f-4e8a-9d6c-1a2b3c4d5e6f";
const APP = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

function signals(body: unknown, headers: Record<string, string | undefined> = {}): Signal[] {
  const parsed = parseEventGridDelivery(body, headers);
  if (parsed.kind !== "signals") throw new Error(`expected signals, got ${parsed.kind}`);
  return parsed.signals;
}

describe("Event Grid schema: ARM events", () => {
  it("parses a batch of 3 ARM events into 3 Signals", () => {
    const out = signals(fixture("eg-arm-batch.json"), {
      "aeg-event-type": "Notification",
      "content-type": "application/json",
    });
    expect(out).toHaveLength(3);
    expect(out[0]).toEqual({
      source: "eventgrid",
      type: "Microsoft.Resources.ResourceWriteSuccess",
      id: "a3d1f6b0-8c2e-4b7a-9f10-5e4d3c2b1a01",
      dedupeKey: "eg:a3d1f6b0-8c2e-4b7a-9f10-5e4d3c2b1a01",
      correlationId: "7e2c4a90-1f3b-4d5e-8a6b-9c0d1e2f3a4b",
      time: "2024-07-19T08:38:04.611Z",
      subscriptionId: SUB,
      trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
      targets: [
        {
          resourceId: NSG_RULE,
          resourceType: "Microsoft.Network/networkSecurityGroups/securityRules",
          subscriptionId: SUB,
        },
      ],
      caller: { objectId: OID, appId: APP },
      operationName: "Microsoft.Network/networkSecurityGroups/securityRules/write",
    } satisfies Signal);
    expect(out[1]!.targets[0]).toEqual({
      resourceId: WS,
      resourceType: "Microsoft.MachineLearningServices/workspaces",
      subscriptionId: SUB,
    });
    expect(out[2]!.type).toBe("Microsoft.Resources.ResourceDeleteSuccess");
    expect(out[2]!.trigger).toEqual({ eventGrid: "Microsoft.Resources.ResourceDeleteSuccess" });
    // +00:00 offsets normalise to Z
    expect(out[2]!.time).toBe("2024-07-19T08:40:00.000Z");
  });

  it("never carries claims, names, UPNs or IP addresses into the Signal", () => {
    const out = signals(fixture("eg-arm-batch.json"));
    expectNoPersonalData(out);
    for (const s of out) expect(Object.keys(s.caller ?? {}).sort()).toEqual(["appId", "objectId"]);
  });

  it("takes the object ID from `oid` and the app ID from `azp` when the long claim names are absent", () => {
    const body = fixture("eg-arm-batch.json").slice(0, 1);
    const claims = body[0].data.claims;
    delete claims["http://schemas.microsoft.com/identity/claims/objectidentifier"];
    delete claims.appid;
    claims.oid = OID;
    claims.azp = APP;
    expect(signals(body)[0]!.caller).toEqual({ objectId: OID, appId: APP });
  });

  it("omits caller when the claims hold no GUID-shaped IDs (nothing personal leaks in through them)", () => {
    const body = fixture("eg-arm-batch.json").slice(0, 1);
    body[0].data.claims = { oid: "ada@contoso.com", appid: "Ada Lovelace", name: "Ada Lovelace" };
    const [s] = signals(body);
    expect(s!.caller).toBeUndefined();
    expectNoPersonalData(s);
  });

  it("accepts every ARM event type and matches event types case-insensitively (canonical casing out)", () => {
    for (const op of ["Write", "Delete", "Action"]) {
      for (const st of ["Success", "Failure", "Cancel"]) {
        const body = fixture("eg-arm-batch.json").slice(1, 2);
        body[0].eventType = `microsoft.resources.resource${op.toLowerCase()}${st.toLowerCase()}`;
        expect(signals(body)[0]!.type).toBe(`Microsoft.Resources.Resource${op}${st}`);
      }
    }
  });

  it("accepts subject/resourceUri differing only in case, and resource group topics", () => {
    const body = fixture("eg-arm-batch.json").slice(0, 1);
    body[0].subject = body[0].subject.toLowerCase();
    body[0].topic = RG.toUpperCase().replace("SUBSCRIPTIONS", "subscriptions");
    expect(signals(body)[0]!.targets[0]!.resourceId).toBe(NSG_RULE);
  });
});

describe("Event Grid schema: rejections (all-or-nothing)", () => {
  it("rejects a non-array Event Grid body", () => {
    expectInputError(() => parseEventGridDelivery(fixture("eg-arm-batch.json")[0], {}), {
      code: "InvalidEventGridBody",
      path: "",
    });
    expectInputError(() => parseEventGridDelivery("hello", {}), { code: "InvalidEventGridBody", path: "" });
    expectInputError(() => parseEventGridDelivery(null, {}), { code: "InvalidEventGridBody", path: "" });
  });

  it("rejects an empty array", () => {
    expectInputError(() => parseEventGridDelivery([], {}), { code: "EmptyDelivery", path: "" });
  });

  it("rejects a missing data.resourceUri naming the event index", () => {
    const body = fixture("eg-arm-batch.json");
    delete body[1].data.resourceUri;
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "InvalidEvent",
      path: "[1].data.resourceUri",
    });
  });

  it("rejects the whole batch when one event in the middle is bad, naming [i]", () => {
    const body = fixture("eg-arm-batch.json");
    body[2].data.resourceUri = `${RG}/providers/Microsoft.Storage/storageAccounts/../../../resourceGroups/other`;
    body[2].subject = body[2].data.resourceUri;
    const e = expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "InvalidResourceId",
      path: "[2].data.resourceUri",
    });
    expect(e.message).toMatch(/'\.\.'/);
  });

  it("rejects resource IDs with `..`, empty segments, odd characters or no leading slash", () => {
    const bad = [
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/..`,
      `/subscriptions/${SUB}//resourceGroups/ml-prod`,
      `${RG}/providers/Microsoft.Network/networkSecurityGroups//securityRules/r`,
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg?api-version=1`,
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg#frag`,
      `subscriptions/${SUB}/resourceGroups/ml-prod`,
      `${RG}/providers/Microsoft.Network/networkSecurityGroups`,
      "https://management.azure.com/subscriptions/x",
      "",
    ];
    for (const uri of bad) {
      const body = fixture("eg-arm-batch.json").slice(0, 1);
      body[0].data.resourceUri = uri;
      delete body[0].subject;
      expectInputError(() => parseEventGridDelivery(body, {}), {
        code: uri === "" ? "InvalidEvent" : "InvalidResourceId",
        path: "[0].data.resourceUri",
      });
    }
  });

  it("rejects a subject that is not the resourceUri", () => {
    const body = fixture("eg-arm-batch.json");
    body[1].subject = `${RG}/providers/Microsoft.MachineLearningServices/workspaces/other`;
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "InconsistentEvent",
      path: "[1].subject",
    });
  });

  it("rejects a topic that does not contain the resource", () => {
    const body = fixture("eg-arm-batch.json");
    body[0].topic = "/subscriptions/00000000-0000-0000-0000-000000000001";
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "InconsistentEvent",
      path: "[0].topic",
    });
  });

  it("rejects data.subscriptionId that disagrees with the resourceUri", () => {
    const body = fixture("eg-arm-batch.json");
    body[0].data.subscriptionId = "00000000-0000-0000-0000-000000000001";
    expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "InconsistentEvent",
      path: "[0].data.subscriptionId",
    });
  });

  it("rejects bad event times", () => {
    for (const t of [
      "yesterday",
      "2024-02-30T10:00:00Z",
      "2024-07-19T25:00:00Z",
      "2024-07-19T10:00:00",
      "2024-13-01T00:00:00Z",
    ]) {
      const body = fixture("eg-arm-batch.json");
      body[2].eventTime = t;
      expectInputError(() => parseEventGridDelivery(body, {}), {
        code: "InvalidEvent",
        path: "[2].eventTime",
      });
    }
  });

  it("rejects a missing id, a non-object event and non-object data", () => {
    const a = fixture("eg-arm-batch.json");
    delete a[0].id;
    expectInputError(() => parseEventGridDelivery(a, {}), { code: "InvalidEvent", path: "[0].id" });
    const b = fixture("eg-arm-batch.json");
    b[1] = 42;
    expectInputError(() => parseEventGridDelivery(b, {}), { code: "InvalidEvent", path: "[1]" });
    const c = fixture("eg-arm-batch.json");
    c[2].data = "not an object";
    expectInputError(() => parseEventGridDelivery(c, {}), { code: "InvalidEvent", path: "[2].data" });
  });

  it("rejects unknown event types from other publishers, naming [i].eventType", () => {
    const body = fixture("eg-arm-batch.json");
    body[1].eventType = "Microsoft.Storage.BlobCreated";
    const e = expectInputError(() => parseEventGridDelivery(body, {}), {
      code: "UnsupportedEventType",
      path: "[1].eventType",
    });
    expect(e.message).toContain("Microsoft.Storage.BlobCreated");
  });
});

describe("subscription validation handshakes", () => {
  it("answers the Event Grid schema handshake (header + event type)", () => {
    const parsed = parseEventGridDelivery(fixture("eg-validation.json"), {
      "Aeg-Event-Type": "SubscriptionValidation",
    });
    expect(parsed).toEqual({
      kind: "validation",
      handshake: {
        validationCode: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
        validationUrl: expect.stringMatching(/^https:\/\/rp-eastus2\.eventgrid\.azure\.net:553\//),
      },
    });
  });

  it("recognises the handshake from the event type alone (no header)", () => {
    const parsed = parseEventGridDelivery(fixture("eg-validation.json"), {});
    expect(parsed.kind).toBe("validation");
  });

  it("recognises a CloudEvents-shaped validation event", () => {
    const eg = fixture("eg-validation.json")[0];
    const ce = {
      specversion: "1.0",
      id: eg.id,
      source: eg.topic,
      type: eg.eventType,
      time: eg.eventTime,
      data: { validationCode: "abc-123" },
    };
    expect(parseEventGridDelivery(ce, { "content-type": "application/cloudevents+json" })).toEqual({
      kind: "validation",
      handshake: { validationCode: "abc-123" },
    });
  });

  it("rejects a validation header on a non-validation event", () => {
    expectInputError(
      () =>
        parseEventGridDelivery(fixture("eg-arm-batch.json").slice(0, 1), {
          "aeg-event-type": "SubscriptionValidation",
        }),
      { code: "InvalidValidationEvent", path: "[0].eventType" },
    );
  });

  it("rejects a validation event without a code, or with a non-https URL, or batched with others", () => {
    const a = fixture("eg-validation.json");
    delete a[0].data.validationCode;
    expectInputError(() => parseEventGridDelivery(a, {}), {
      code: "InvalidValidationEvent",
      path: "[0].data.validationCode",
    });
    const b = fixture("eg-validation.json");
    b[0].data.validationUrl = "http://example.com/validate";
    expectInputError(() => parseEventGridDelivery(b, {}), {
      code: "InvalidValidationEvent",
      path: "[0].data.validationUrl",
    });
    const c = [...fixture("eg-arm-batch.json").slice(0, 1), ...fixture("eg-validation.json")];
    expectInputError(() => parseEventGridDelivery(c, {}), {
      code: "InvalidValidationEvent",
      path: "[1].eventType",
    });
  });
});

describe("CloudEvents 1.0", () => {
  it("parses a single CloudEvent (content type application/cloudevents+json)", () => {
    const out = signals(fixture("ce-arm-write.json"), {
      "content-type": "application/cloudevents+json; charset=utf-8",
    });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      source: "eventgrid",
      type: "Microsoft.Resources.ResourceWriteSuccess",
      dedupeKey: "eg:a3d1f6b0-8c2e-4b7a-9f10-5e4d3c2b1a01",
      trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
      targets: [
        { resourceId: NSG_RULE, resourceType: "Microsoft.Network/networkSecurityGroups/securityRules" },
      ],
      caller: { objectId: OID, appId: APP },
    });
    expectNoPersonalData(out);
  });

  it("detects a single CloudEvent from the body (no content type)", () => {
    expect(signals(fixture("ce-arm-write.json"))).toHaveLength(1);
  });

  it("parses a CloudEvents batch with ARM and Key Vault events", () => {
    const out = signals(fixture("ce-batch.json"), { "content-type": "application/cloudevents-batch+json" });
    expect(out.map((s) => s.type)).toEqual([
      "Microsoft.Resources.ResourceWriteSuccess",
      "Microsoft.KeyVault.SecretExpired",
    ]);
    expect(out[1]!.trigger).toEqual({ keyVault: "SecretExpired" });
    // detected from the body too
    expect(signals(fixture("ce-batch.json")).map((s) => s.id)).toEqual(out.map((s) => s.id));
  });

  it("names CloudEvents fields in errors ([i].type, [i].source, time)", () => {
    const a = fixture("ce-batch.json");
    a[1].type = "Contoso.Custom.Thing";
    expectInputError(() => parseEventGridDelivery(a, {}), { code: "UnsupportedEventType", path: "[1].type" });
    const b = fixture("ce-arm-write.json");
    b.source = "/subscriptions/00000000-0000-0000-0000-000000000001";
    expectInputError(() => parseEventGridDelivery(b, {}), { code: "InconsistentEvent", path: "source" });
    const c = fixture("ce-arm-write.json");
    c.time = "not a time";
    expectInputError(() => parseEventGridDelivery(c, {}), { code: "InvalidCloudEvent", path: "time" });
    const d = fixture("ce-arm-write.json");
    d.specversion = "0.3";
    expectInputError(() => parseEventGridDelivery(d, {}), { code: "InvalidCloudEvent", path: "specversion" });
  });

  it("rejects content types that contradict the body, binary data and mixed schemas", () => {
    expectInputError(
      () =>
        parseEventGridDelivery(fixture("ce-batch.json"), { "content-type": "application/cloudevents+json" }),
      {
        code: "InvalidCloudEvent",
        path: "",
      },
    );
    expectInputError(
      () =>
        parseEventGridDelivery(fixture("ce-arm-write.json"), {
          "content-type": "application/cloudevents-batch+json",
        }),
      { code: "InvalidCloudEvent", path: "" },
    );
    const bin = fixture("ce-arm-write.json");
    delete bin.data;
    bin.data_base64 = "eyJ4IjoxfQ==";
    expectInputError(() => parseEventGridDelivery(bin, {}), {
      code: "InvalidCloudEvent",
      path: "data_base64",
    });
    const mixed = [fixture("ce-arm-write.json"), fixture("eg-arm-batch.json")[1]];
    expectInputError(() => parseEventGridDelivery(mixed, {}), { code: "MixedSchemas", path: "[1]" });
  });
});

describe("ARM events on extension resources", () => {
  it("a diagnostic setting's delete event targets the resource it was on", () => {
    const vault =
      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-1";
    const settingId = `${vault}/providers/Microsoft.Insights/diagnosticSettings/driftguard`;
    const event = armWriteEvent(settingId);
    event.eventType = "Microsoft.Resources.ResourceDeleteSuccess";
    const parsed = parseEventGridDelivery([event], { "content-type": "application/json" });
    expect(parsed.kind).toBe("signals");
    if (parsed.kind !== "signals") return;
    expect(parsed.signals[0]).toMatchObject({
      type: "Microsoft.Resources.ResourceDeleteSuccess",
      trigger: { eventGrid: "Microsoft.Resources.ResourceDeleteSuccess" },
      targets: [
        {
          resourceId: vault,
          resourceType: "Microsoft.KeyVault/vaults",
          subscriptionId: "00000000-0000-0000-0000-000000000001",
        },
      ],
      operationName: "Microsoft.Insights/diagnosticSettings/write",
    });
    // The subject must still name the setting: a subject naming the vault is inconsistent.
    expect(() =>
      parseEventGridDelivery([{ ...event, subject: `${vault}/secrets/x` }], {
        "content-type": "application/json",
      }),
    ).toThrow(/subject does not match/);
  });
});
