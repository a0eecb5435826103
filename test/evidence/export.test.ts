/**
 * `driftguard audit export` over a period with automatic remediations, approvals (one approved, one
 * rejected) and a failure: the pack's record count is the API's for the period, `--check` passes,
 * changing one byte of any file makes `--check` fail naming that file, and records rewritten with
 * every later hash recomputed fail against the pack's anchors even when the manifest is rewritten too.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPack } from "../../cli/export.js";
import { computeRecordHash } from "../../shared/audit/chain.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { manifestText, type PackFile } from "../../shared/evidence/pack.js";
import { armWriteEvent, startTestStack, type TestStack } from "../helpers/stack.js";
import { runAudit } from "./cli-run.js";

const SUB = "00000000-0000-0000-0000-0000000000e2";
const account = (rg: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/${name}`;
const AUTO = [account("rg-auto", "stauto001"), account("rg-auto", "stauto002")];
const APPROVE = account("rg-approve", "stapprove001");
const REJECT = account("rg-approve", "streject001");
const FAIL = account("rg-auto", "stfail001");
const ALL = [...AUTO, APPROVE, REJECT, FAIL];

const POLICIES = `version: 1
policies:
  - name: storage-approval
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]
    kind: disable-public-network-access
    mode: approval
    scope: ["/subscriptions/${SUB}/resourceGroups/rg-approve/"]
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]
    kind: disable-public-network-access
`;

let stack: TestStack;
let scratch: string;
let pack: string;
let from: string;
let to: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "driftguard-export-"));
  stack = await startTestStack({
    seed: {
      resources: ALL.map((id) => ({
        id,
        name: id.split("/").pop()!,
        type: "Microsoft.Storage/storageAccounts",
        location: "westeurope",
        kind: "StorageV2",
        sku: { name: "Standard_LRS" },
        tags: {},
        properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
      })),
    },
    policyYaml: POLICIES,
    blob: true,
  });
  from = new Date(Date.now() - 1000).toISOString();
  stack.sim.addFault({ method: "PATCH", path: "stfail001", status: 400, count: -1 });
  for (const id of ALL) expect((await stack.deliver([armWriteEvent(id)])).status).toBeLessThan(300);
  const pending = (await stack.audit({ outcome: "pending-approval" })).filter((r) => r.approvalId);
  expect(pending.map((r) => r.resourceId).sort()).toEqual([APPROVE, REJECT].sort());
  const decide = (r: AuditRecord, d: "approved" | "rejected") =>
    stack.runtime.approvalLifecycle.decide(r.approvalId!, d, {
      principal: { objectId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" },
      via: "cli",
    });
  await decide(pending.find((r) => r.resourceId === APPROVE)!, "approved");
  await decide(pending.find((r) => r.resourceId === REJECT)!, "rejected");
  expect((await runAudit(stack.runtime, ["anchor"])).code).toBeUndefined();
  to = new Date(Date.now() + 60_000).toISOString();
  pack = path.join(scratch, "pack");
  const r = await runAudit(stack.runtime, ["export", "--from", from, "--to", to, "--out", pack, "--zip"]);
  expect(r.err).toBe("");
  expect(r.code).toBeUndefined();
}, 240_000);

afterAll(async () => {
  await stack?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("audit export", () => {
  it("writes every record of the period, as the API returns them, and what an auditor needs", async () => {
    const api = await stack.audit({ from, to });
    const lines = (await readFile(path.join(pack, "records.jsonl"), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(api.length);
    expect(lines.map((l) => JSON.parse(l))).toEqual(api);
    expect(new Set(api.map((r) => r.outcome))).toEqual(
      new Set(["remediated", "pending-approval", "approved", "rejected", "failed"]),
    );
    // Every record names the policy file in force; the pack holds that file, by its hash.
    const hashes = new Set(api.map((r) => r.policyFileHash));
    expect(hashes.size).toBe(1);
    const [hash] = [...hashes];
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const files = await readPack(pack);
    const policy = [...files.keys()].find((f) => f.startsWith(`policies/${hash}-`));
    expect(files.get(policy!)!.toString("utf8")).toBe(POLICIES);

    const csv = files.get("approvals.csv")!.toString("utf8").trim().split("\r\n");
    expect(csv[0]).toBe("approvalId,resource,change,requested,decidedBy,decidedAt,outcome,result");
    expect(csv.find((l) => l.includes(APPROVE))).toMatch(/,p-[0-9a-f]{24},[^,]+,approved,remediated$/);
    expect(csv.find((l) => l.includes(REJECT))).toMatch(/,rejected,$/);

    const summary = files.get("summary.md")!.toString("utf8");
    expect(summary).toMatch(/\| automatically \(policy in enforce\) \| 2 \|/);
    expect(summary).toMatch(/\| after a person approved \| 1 \|/);
    expect(summary).toMatch(/## Failures[\s\S]*stfail001/);
    const verification = JSON.parse(files.get("verification.json")!.toString("utf8"));
    expect(verification).toMatchObject({ ok: true, anchorBreaks: [], chainBreaks: [] });
    expect([...files.keys()].filter((f) => f.startsWith("anchors/"))).toHaveLength(1);
    expect(JSON.parse(files.get("manifest.json")!.toString("utf8")).records).toBe(api.length);
  });

  it("--check passes on the pack and its zip", async () => {
    const r = await runAudit(stack.runtime, ["export", "--check", pack]);
    expect(r.code).toBeUndefined();
    expect(r.out).toMatch(
      /^ok: \d+ file\(s\), \d+ record\(s\) in 5 chain\(s\), 1 anchor\(s\), 5 anchored head\(s\) checked/m,
    );
    expect((await runAudit(stack.runtime, ["export", "--check", `${pack}.zip`])).code).toBeUndefined();
  });

  it("changing one byte of any file makes --check fail naming it", async () => {
    const files = [...(await readPack(pack)).keys()];
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const file of files) {
      const copy = path.join(scratch, `byte-${files.indexOf(file)}`);
      await cp(pack, copy, { recursive: true });
      const target = path.join(copy, ...file.split("/"));
      const data = await readFile(target);
      const at = Math.floor(data.length / 2);
      data[at] = data[at] === 0x30 ? 0x31 : 0x30; // one byte, e.g. a digit of a hash or a letter
      await writeFile(target, data);
      const r = await runAudit(stack.runtime, ["export", "--check", copy]);
      expect(r.code, file).toBe(1);
      expect(r.out, file).toContain(`FAILED file=${file} `);
    }
  });

  it("records and manifest both rewritten still fail against the pack's anchors", async () => {
    const copy = path.join(scratch, "rewritten");
    await cp(pack, copy, { recursive: true });
    const records = (await readFile(path.join(copy, "records.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditRecord);
    const chain = records.filter((r) => r.resourceId === APPROVE).sort((a, b) => a.seq - b.seq);
    let prevHash = chain[0]!.prevHash;
    for (const [i, r] of chain.entries()) {
      if (i === 1) r.outcome = "excluded";
      r.prevHash = prevHash;
      r.hash = computeRecordHash(r);
      prevHash = r.hash;
    }
    await writeFile(path.join(copy, "records.jsonl"), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const files: PackFile[] = [...(await readPack(copy))]
      .filter(([p]) => p !== "manifest.json")
      .map(([p, data]) => ({ path: p, data }));
    const old = JSON.parse(await readFile(path.join(copy, "manifest.json"), "utf8"));
    await writeFile(
      path.join(copy, "manifest.json"),
      manifestText(
        {
          format: old.format,
          driftguardVersion: old.driftguardVersion,
          createdAt: old.createdAt,
          period: old.period,
          records: old.records,
        },
        files,
      ),
    );
    const r = await runAudit(stack.runtime, ["export", "--check", copy]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      new RegExp(
        `FAILED file=records.jsonl reason=resource=${APPROVE.toLowerCase()} anchor=anchors/\\S+: record seq \\d+ is not the one anchored`,
      ),
    );
    expect(r.out).not.toMatch(/file=manifest\.json/);
  });
});
