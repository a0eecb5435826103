/** The human table `driftguard sweep` prints: counts by policy, then one line per exempt resource. */
import { describe, expect, it } from "vitest";
import { formatSweepTable } from "../../cli/sweep.js";
import { type ExemptionNote, emptyCounts, type SweepReport } from "../../shared/sweep/report.js";

const ACCOUNT =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1";
const OTHER = ACCOUNT.replace("st1", "st2");

function report(exemptions: ExemptionNote[]): SweepReport {
  return {
    runId: "run-1",
    startedAt: "2026-12-07T00:00:00.000Z",
    endedAt: "2026-12-07T00:00:01.000Z",
    trigger: "cli",
    mode: "dry-run",
    subscriptions: null,
    resumed: false,
    policies: [
      {
        ...emptyCounts("no-local-auth", "disable-local-auth"),
        scanned: 2,
        excluded: 2,
        nonCompliantResourceIds: [],
      },
      {
        ...emptyCounts("secure-transport", "require-secure-transport"),
        scanned: 1,
        excluded: 1,
        nonCompliantResourceIds: [],
      },
    ],
    exemptions,
    exemptionsNotListed: 0,
    errors: [],
    graph: { queries: 1, pages: 1, rows: 2, throttled: 0, waitedMs: 0 },
    changes: 0,
  };
}

describe("the sweep table", () => {
  it("lists an exempt resource once, naming every policy it was exempt from", () => {
    const tag = { status: "exempt" as const, tag: "driftguard:exclude", value: "true" };
    const text = formatSweepTable(
      report([
        { resourceId: ACCOUNT, policy: "no-local-auth", ...tag },
        { resourceId: ACCOUNT, policy: "secure-transport", ...tag },
        {
          resourceId: OTHER,
          policy: "no-local-auth",
          ...tag,
          tag: "driftguard:exclude-until",
          value: "2999-01-01",
          until: "2999-01-01T23:59:59.999Z",
        },
      ]),
    );
    const exempt = text.split("\n").filter((l) => l.startsWith("exempt"));
    expect(exempt).toEqual([
      `exempt: ${ACCOUNT} (driftguard:exclude=true) — no-local-auth, secure-transport`,
      `exempt until 2999-01-01T23:59:59.999Z: ${OTHER} (driftguard:exclude-until=2999-01-01) — no-local-auth`,
    ]);
    expect(text).toMatch(
      /^policy\s+scanned\s+compliant\s+non-compliant\s+fixed\s+pending approval\s+excluded\s+over-limit\s+failed$/m,
    );
    expect(text).toMatch(/^no-local-auth\s+2\s+0\s+0\s+0\s+0\s+2\s+0\s+0$/m);
  });

  it("says when an exemption ended or does not parse, once per resource", () => {
    const text = formatSweepTable(
      report([
        {
          resourceId: ACCOUNT,
          policy: "no-local-auth",
          status: "invalid",
          tag: "driftguard:exclude-until",
          value: "soon",
          problem: "not an ISO 8601 date",
        },
        {
          resourceId: ACCOUNT,
          policy: "secure-transport",
          status: "invalid",
          tag: "driftguard:exclude-until",
          value: "soon",
          problem: "not an ISO 8601 date",
        },
      ]),
    );
    expect(text.split("\n").filter((l) => l.startsWith("not an exemption"))).toEqual([
      `not an exemption: ${ACCOUNT} (driftguard:exclude-until=soon: not an ISO 8601 date) — no-local-auth, secure-transport`,
    ]);
  });
});
