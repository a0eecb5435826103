/**
 * Not one decision event lost (docs/events.md#not-one-lost), on the stack as separate processes:
 * the host is SIGKILLed between a commit and its publish (the topic frozen mid-send), and the topic
 * answers 503 for two minutes (compressed: 2 s, with the publisher's timings compressed alike).
 * Every record ends up published exactly once by ID — nothing lost, nothing under a fresh ID — each
 * event carries its record as the audit API returns it, and each resource's events reach the topic
 * in chain order.
 */

import { readFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { armWriteEvent } from "../../dev/arm-event-builder.js";
import { DECISIONS_TOPIC } from "../../dev/event-grid/driftguard.js";
import { DEFAULT_SEED_FILE } from "../../dev/stack.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { startTestProcessStack, type TestProcessStack } from "../helpers/process-stack.js";
import { saveFigures } from "./figures.js";

const RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml-prod/providers";
const RESOURCES = [
  `${RG}/Microsoft.Storage/storageAccounts/stmlprod001`,
  `${RG}/Microsoft.KeyVault/vaults/kv-ml-prod`,
  `${RG}/Microsoft.CognitiveServices/accounts/oai-ml-prod`,
];

let stack: TestProcessStack;

async function until<T>(what: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Someone opens the resource again, and Event Grid delivers the write. */
async function openAndDeliver(resourceId: string): Promise<void> {
  const r = (await stack.sim.admin.getResource(resourceId))!;
  await stack.sim.admin.putResource({
    ...r,
    properties: { ...r.properties, publicNetworkAccess: "Enabled" },
  });
  await until(async () => (await stack.deliver([armWriteEvent(resourceId)])).status === 200);
}

/** The policy file with the policies of one kind only. */
async function onlyKind(file: string, kind: string): Promise<string> {
  const doc = parse(await readFile(file, "utf8")) as { policies: { kind: string }[] };
  return stringify({ ...doc, policies: doc.policies.filter((p) => p.kind === kind) });
}

beforeAll(async () => {
  stack = await startTestProcessStack({
    seed: JSON.parse(await readFile(DEFAULT_SEED_FILE, "utf8")),
    // The shipped public-access policy only: one decision per delivery, so the count below is exact.
    policyYaml: await onlyKind("policies/default.yaml", "disable-public-network-access"),
    lro: "sync",
    // One "minute" = 1 s: the publisher waits 0.5 s before taking over a young entry, pauses 0.2 s
    // after a failed send, and the publishEvents timer runs every 0.3 s.
    events: { publish: true, minAgeMs: 500, pauseMs: 200 },
    timers: true,
    timerEveryMs: { publishEvents: 300 },
  });
}, 120_000);
afterAll(async () => stack?.close());

describe("decision events across a host crash and a topic outage", () => {
  it("publishes every record exactly once by ID, as the record, in chain order per resource", async () => {
    // 1. Normal operation.
    for (const id of RESOURCES) await openAndDeliver(id);

    // 2. A two-minute outage (2 s here): the topic answers 503; decisions go on being made.
    await stack.eventGrid.addFault({ topic: DECISIONS_TOPIC, status: 503, durationMs: 2_000 });
    for (const id of RESOURCES) await openAndDeliver(id);
    await openAndDeliver(RESOURCES[0]!);

    // 3. The host dies between commit and publish: the topic is frozen while the host sends, the
    //    record is committed (the delivery is answered), then the host is SIGKILLed.
    const host = stack.hosts[0]!;
    stack.eventGridProcess.freeze();
    try {
      await openAndDeliver(RESOURCES[1]!);
      await openAndDeliver(RESOURCES[2]!);
      await new Promise((r) => setTimeout(r, 300)); // the publishes are on the wire
      await host.kill();
    } finally {
      stack.eventGridProcess.thaw();
    }
    await host.restart();
    // After the restart, more decisions on the same resources: none may overtake a pending one.
    for (const id of RESOURCES) await openAndDeliver(id);

    const records = await stack.audit();
    expect(records.length).toBe(RESOURCES.length * 4); // 3 + (3 + 1) + 2 + 3
    const events = await until(async () => {
      const e = await stack.eventGrid.events(DECISIONS_TOPIC);
      return new Set(e.map((x) => x.id)).size >= records.length && e;
    });
    await new Promise((r) => setTimeout(r, 1_000)); // anything still to come would come now
    const final = await stack.eventGrid.events(DECISIONS_TOPIC);
    expect(final.length).toBeGreaterThanOrEqual(events.length);

    const byId = new Map<string, AuditRecord>(records.map((r) => [r.id, r]));
    const publishedIds = new Set(final.map((e) => String(e.id)));
    const inOrder = (id: string) => {
      const seen = new Set<string>();
      const seqs = final
        .filter((e) => e.subject === id && !seen.has(String(e.id)) && seen.add(String(e.id)))
        .map((e) => (e.data as AuditRecord).seq);
      return seqs.every((s, i) => i === 0 || s > seqs[i - 1]!);
    };
    await saveFigures("decision-events", {
      resources: RESOURCES.length,
      records: records.length,
      outageSeconds: 2,
      hostsKilled: 1,
      eventsReceived: final.length,
      repeatsOfSameEvent: final.length - publishedIds.size,
      recordsNeverPublished: [...byId.keys()].filter((id) => !publishedIds.has(id)).length,
      eventsUnderFreshId: [...publishedIds].filter((id) => !byId.has(id)).length,
      eventsDifferingFromRecord: final.filter((e) => !isDeepStrictEqual(e.data, byId.get(String(e.id))))
        .length,
      resourcesOutOfOrder: RESOURCES.filter((id) => !inOrder(id)).length,
    });

    // Exactly the records' IDs: none lost, none under a fresh ID.
    expect([...new Set(final.map((e) => String(e.id)))].sort()).toEqual([...byId.keys()].sort());
    // A repeat (a send whose answer was lost) is the same event, never a different one.
    for (const e of final) expect(e.data).toEqual(byId.get(String(e.id)));
    // Each resource's events arrived in chain order (first arrival of each ID).
    const firstSeen = [...new Map(final.map((e) => [String(e.id), e] as const)).values()];
    const seen = new Set<string>();
    const ordered = final.filter((e) => !seen.has(String(e.id)) && seen.add(String(e.id)));
    expect(ordered).toHaveLength(firstSeen.length);
    for (const id of RESOURCES) {
      const seqs = ordered.filter((e) => e.subject === id).map((e) => (e.data as AuditRecord).seq);
      expect(seqs.length).toBeGreaterThanOrEqual(4);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  }, 180_000);
});
