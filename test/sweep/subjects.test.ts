/**
 * How a page's rows become subjects (shared/sweep/subjects.ts): kinds that read nothing answer at
 * once; per-row reads run at most PER_ROW_READS_IN_FLIGHT at a time, the result keeps row order, and a
 * row whose read fails is reported and skipped, not fatal.
 */
import { describe, expect, it } from "vitest";
import type { AzureClients } from "../../shared/azure/clients.js";
import { silentLogger } from "../../shared/log.js";
import type { Policy } from "../../shared/policy/schema.js";
import type { SweepRow, SweepSupport } from "../../shared/remediations/types.js";
import type { SweepingKind } from "../../shared/sweep/select.js";
import { findSubjects, PER_ROW_READS_IN_FLIGHT } from "../../shared/sweep/subjects.js";

const TYPE = "Microsoft.Storage/storageAccounts";
const row = (i: number): SweepRow => ({
  id: `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/${TYPE}/st${String(i).padStart(3, "0")}`,
  name: `st${i}`,
  type: TYPE.toLowerCase(),
  subscriptionId: "00000000-0000-0000-0000-000000000001",
  resourceGroup: "rg",
  tags: {},
  properties: {},
});

const policy = { name: "p", kind: "k", resourceTypes: [TYPE], scope: [] } as unknown as Policy;

function kindOf(sweep: SweepSupport): SweepingKind {
  return {
    remediation: { kind: "k" } as SweepingKind["remediation"],
    sweep,
    policies: [policy],
    sweeping: [policy],
    rowTypes: new Set([TYPE.toLowerCase()]),
    covers: () => true,
    governing: () => ({ policy: "p", params: {} }),
  };
}

const ctx = { clients: {} as AzureClients, now: new Date(), log: silentLogger };

describe("findSubjects", () => {
  it("reads per row at most PER_ROW_READS_IN_FLIGHT at a time, in row order, reporting failed rows", async () => {
    let inFlight = 0;
    let most = 0;
    const perRow: SweepSupport = {
      reads: "per-row",
      rowTypes: () => [TYPE.toLowerCase()],
      async subjects(r) {
        inFlight++;
        most = Math.max(most, inFlight);
        // Later rows answer sooner: the result must still follow the rows.
        await new Promise((res) => setTimeout(res, 30 - (Number(r.name.slice(2)) % 10) * 3));
        inFlight--;
        if (r.name === "st7") throw new Error("read failed");
        return [{ resourceId: r.id, resourceType: TYPE, tags: {}, state: {} }];
      },
      finding: () => undefined,
    };
    const rows = Array.from({ length: 30 }, (_, i) => row(i));
    const failed: string[] = [];
    const found = await findSubjects(rows, [kindOf(perRow)], ctx, (_k, r) => failed.push(r.id));
    expect(most).toBe(PER_ROW_READS_IN_FLIGHT);
    expect(failed).toEqual([rows[7]!.id]);
    expect(found.map((f) => f.subject.resourceId)).toEqual(rows.filter((_, i) => i !== 7).map((r) => r.id));
    expect(found.every((f) => f.policy === policy)).toBe(true);
  });

  it("answers rows of kinds that read nothing without waiting", async () => {
    const none: SweepSupport = {
      reads: "none",
      rowTypes: () => [TYPE.toLowerCase()],
      subjects: (r) => [{ resourceId: r.id, resourceType: TYPE, tags: {}, state: {} }],
      finding: () => undefined,
    };
    const rows = Array.from({ length: 3 }, (_, i) => row(i));
    const found = await findSubjects(rows, [kindOf(none)], ctx, () => {
      throw new Error("no failure expected");
    });
    expect(found.map((f) => f.subject.resourceId)).toEqual(rows.map((r) => r.id));
  });
});
