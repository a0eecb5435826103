/**
 * Exemptions per kind: for each of the ten kinds, its sample drift (the `npm start` sample seed and
 * sample event) under the shipped policy of that kind in enforce mode, with the resource whose tags
 * the kind checks tagged `driftguard:exclude-until`:
 * - a future date → one `excluded` record naming the exemption and its end, no write;
 * - a past date → fixed as usual;
 * - a value that does not parse → not an exemption: fixed, and the record says why the tag was ignored.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { parseJsonBody } from "../../shared/signals/body.js";
import { parseSignalFile } from "../../shared/signals/replay.js";
import type { Signal } from "../../shared/signals/types.js";
import { startHarness } from "../helpers/harness.js";
import { shippedPolicies } from "./storage-kinds-setup.js";

const RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml-prod/providers";
const VAULT = `${RG}/Microsoft.KeyVault/vaults/kv-ml-prod`;
const APIM = `${RG}/Microsoft.ApiManagement/service/apim-openai`;
const ACCOUNT = `${RG}/Microsoft.Storage/storageAccounts/stmlprod001`;

interface Case {
  kind: string;
  /** The sample event (dev/sample-events/) that shows this kind's drift. */
  event: string;
  /** The decision's target. */
  target: string;
  /** Whose tags the kind checks for this target (docs/policies.md#opt-out-tag). */
  tagged: string | { vault: string; secret: string };
}

const CASES: Case[] = [
  {
    kind: "disable-public-network-access",
    event: "01-ml-workspace-opened.json",
    target: `${RG}/Microsoft.MachineLearningServices/workspaces/mlw-prod`,
    tagged: `${RG}/Microsoft.MachineLearningServices/workspaces/mlw-prod`,
  },
  {
    kind: "close-internet-inbound-rule",
    event: "06-nsg-ssh-rule-opened.json",
    target: `${RG}/Microsoft.Network/networkSecurityGroups/nsg-gpu-nodes/securityRules/allow-ssh-internet`,
    tagged: `${RG}/Microsoft.Network/networkSecurityGroups/nsg-gpu-nodes`,
  },
  {
    kind: "rotate-secret",
    event: "09-secrets-near-expiry.json",
    target: `${VAULT}/secrets/db-password`,
    tagged: { vault: "kv-ml-prod", secret: "db-password" },
  },
  {
    kind: "scale-gpu-pool",
    event: "10-gpu-cost-fired-aml.json",
    target: `${RG}/Microsoft.MachineLearningServices/workspaces/mlw-prod/computes/gpu-cluster`,
    tagged: `${RG}/Microsoft.MachineLearningServices/workspaces/mlw-prod/computes/gpu-cluster`,
  },
  { kind: "throttle-api-subscription", event: "12-apim-abuse-fired.json", target: APIM, tagged: APIM },
  {
    kind: "disable-local-auth",
    event: "16-cosmos-keys-enabled.json",
    target: `${RG}/Microsoft.DocumentDB/databaseAccounts/cosmos-ml-chat`,
    tagged: `${RG}/Microsoft.DocumentDB/databaseAccounts/cosmos-ml-chat`,
  },
  {
    kind: "require-secure-transport",
    event: "17-function-app-tls-lowered.json",
    target: `${RG}/Microsoft.Web/sites/func-ml-gateway`,
    tagged: `${RG}/Microsoft.Web/sites/func-ml-gateway`,
  },
  {
    kind: "enable-diagnostic-logs",
    event: "18-apim-diagnostic-setting-deleted.json",
    target: APIM,
    tagged: APIM,
  },
  {
    kind: "protect-model-storage",
    event: "19-model-storage-versioning-off.json",
    // The event names the blob service; its kinds decide and record as the account.
    target: ACCOUNT,
    tagged: ACCOUNT,
  },
  {
    kind: "require-api-subscription",
    event: "20-inference-api-opened.json",
    target: `${APIM}/apis/chat-completions`,
    tagged: APIM,
  },
];

const TAG = "driftguard:exclude-until";
const DAY = 24 * 3600_000;
const FUTURE = new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10);
const PAST = "2020-01-31";
const GARBAGE = "next tuesday";

/** The sample seed with `tags[TAG] = value` on the resource (or secret) the kind checks. */
function taggedSeed(c: Case, value: string): Seed {
  const seed = JSON.parse(readFileSync("dev/sample-seed.json", "utf8")) as Seed & {
    secrets: { vault: string; name: string; tags?: Record<string, string> }[];
  };
  if (typeof c.tagged === "string") {
    const id = c.tagged.toLowerCase();
    const hits = seed.resources!.filter((r) => r.id.toLowerCase() === id);
    expect(hits, c.tagged).toHaveLength(1);
    hits[0]!.tags = { ...hits[0]!.tags, [TAG]: value };
  } else {
    const { vault, secret } = c.tagged;
    const hit = seed.secrets.find((s) => s.vault === vault && s.name === secret);
    expect(hit, secret).toBeDefined();
    hit!.tags = { ...hit!.tags, [TAG]: value };
  }
  return seed;
}

/** The sample event's signals about the case's target. */
function signalsOf(c: Case): Signal[] {
  const json = parseJsonBody(readFileSync(`dev/sample-events/${c.event}`));
  const signals = parseSignalFile(json)
    .map((s) => ({
      ...s,
      dedupeKey: `${s.dedupeKey}|${crypto.randomUUID()}`,
      targets: s.targets.filter((t) => t.resourceId.toLowerCase().startsWith(c.target.toLowerCase())),
    }))
    .filter((s) => s.targets.length > 0);
  expect(signals, c.event).toHaveLength(1);
  return signals;
}

/** Runs the case's sample event under the kind's shipped policy (enforce) with the tag set to `value`. */
async function run(c: Case, value: string) {
  const h = await startHarness({
    seed: taggedSeed(c, value),
    policies: (() => {
      const file = shippedPolicies((p) => {
        p.mode = "enforce";
      });
      return { ...file, policies: file.policies.filter((p) => p.kind === c.kind) };
    })(),
    lro: "async",
  });
  try {
    const decisions = [];
    for (const s of signalsOf(c)) decisions.push(...(await h.handle(s)));
    const records = (await h.records()).filter(
      (r) => r.resourceId.toLowerCase() === c.target.toLowerCase() && r.kind === c.kind,
    );
    return { decisions, records, writes: h.sim.writes() };
  } finally {
    await h.close();
  }
}

describe.each(CASES)("driftguard:exclude-until on $kind", (c) => {
  it("a future date: one `excluded` record naming the exemption and its end; nothing written", async () => {
    const { decisions, records, writes } = await run(c, FUTURE);
    const reason = `resource is exempt until ${FUTURE}T23:59:59.999Z (tag ${TAG}=${FUTURE})`;
    expect(decisions.map((d) => [d.kind, d.outcome, d.reason])).toEqual([[c.kind, "excluded", reason]]);
    expect(records.map((r) => [r.outcome, r.reason])).toEqual([["excluded", reason]]);
    expect(writes).toEqual([]);
  });

  it("a past date: fixed as usual", async () => {
    const { decisions, records, writes } = await run(c, PAST);
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual([[c.kind, "remediated"]]);
    expect(records.map((r) => r.outcome)).toEqual(["remediated"]);
    expect(records[0]!.reason).not.toMatch(/exempt/);
    expect(writes.length).toBeGreaterThan(0);
  });

  it("a value that does not parse is no exemption: fixed, and the record says why the tag was ignored", async () => {
    const { decisions, records, writes } = await run(c, GARBAGE);
    expect(decisions.map((d) => [d.kind, d.outcome])).toEqual([[c.kind, "remediated"]]);
    expect(records.map((r) => r.outcome)).toEqual(["remediated"]);
    expect(records[0]!.reason).toMatch(
      new RegExp(
        `\\S \\(tag ${TAG}=${GARBAGE} is not an exemption: expected an ISO 8601 date \\(2025-12-31\\) or date-time \\(2025-12-31T18:00:00Z\\)\\)$`,
      ),
    );
    expect(writes.length).toBeGreaterThan(0);
  });
});
