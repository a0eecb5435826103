import { afterEach, describe, expect, it } from "vitest";
import { auditCommand } from "../../cli/audit.js";
import { parseDuration } from "../../cli/io.js";
import { InMemoryAuditStore } from "../../shared/fakes/audit-store.js";
import { input, NSG_RULE, STORAGE, SUB2, WORKSPACE } from "./contract.js";

const NOW = new Date("2025-07-10T12:00:00.000Z");

async function run(store: InMemoryAuditStore, args: string[]) {
  let out = "";
  let err = "";
  const cmd = auditCommand(async () => store, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    now: () => NOW,
  });
  cmd.exitOverride();
  cmd.configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  for (const sub of cmd.commands) {
    sub.exitOverride();
    sub.configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  }
  let thrown: unknown;
  try {
    await cmd.parseAsync(args, { from: "user" });
  } catch (e) {
    thrown = e;
  }
  const code = process.exitCode;
  process.exitCode = undefined;
  return { out, err, code, thrown };
}

async function seeded(): Promise<InMemoryAuditStore> {
  const store = new InMemoryAuditStore();
  await store.append(input({ time: "2025-07-01T00:00:00.000Z", outcome: "dry-run", mode: "dry-run" }));
  await store.append(input({ time: "2025-07-10T11:00:00.000Z" }));
  await store.append(
    input({
      time: "2025-07-10T11:30:00.000Z",
      resourceId: NSG_RULE,
      kind: "close-internet-inbound-rule",
      policy: "nsg-open",
      outcome: "failed",
      changes: [],
    }),
  );
  await store.append(
    input({
      time: "2025-07-09T00:00:00.000Z",
      resourceId: STORAGE,
      subscriptionId: SUB2,
      policy: "storage-private",
    }),
  );
  return store;
}

afterEach(() => {
  process.exitCode = undefined;
});

describe("driftguard audit", () => {
  it("prints an aligned table, newest first, with resource names and change counts", async () => {
    const { out, code } = await run(await seeded(), []);
    expect(code).toBeUndefined();
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TIME\s+OUTCOME\s+KIND\s+POLICY\s+RESOURCE\s+CHANGES$/);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(
      /^2025-07-10T11:30:00.000Z\s+failed\s+close-internet-inbound-rule\s+nsg-open\s+nsg-ml\/allow-ssh\s+0$/,
    );
    expect(lines[2]).toMatch(/remediated .*ws-prod\s+1$/);
    // Columns line up: "OUTCOME" starts at the same offset in every row.
    const col = lines[0]!.indexOf("OUTCOME");
    for (const l of lines.slice(1)) expect(l.slice(col - 2, col)).toBe("  ");
  });

  it("filters by resource, kind, outcome, policy and --since; follows continuation tokens up to --limit", async () => {
    const store = await seeded();
    expect((await run(store, ["--resource", NSG_RULE, "--format", "json"])).out).toContain(
      '"outcome": "failed"',
    );
    const json = JSON.parse((await run(store, ["--since", "24h", "--format", "json"])).out);
    expect(json.items.map((r: { outcome: string }) => r.outcome)).toEqual(["failed", "remediated"]);
    const pt = JSON.parse(
      (await run(store, ["--since", "PT2H", "--kind", "disable-public-network-access", "--format", "json"]))
        .out,
    );
    expect(pt.items).toHaveLength(1);
    const week = JSON.parse(
      (await run(store, ["--since", "7d", "--outcome", "dry-run", "--format", "json"])).out,
    );
    expect(week.items).toHaveLength(0);
    expect(
      JSON.parse((await run(store, ["--policy", "storage-private", "--format", "json"])).out).items[0]
        .resourceId,
    ).toBe(STORAGE);

    for (let i = 0; i < 1200; i++)
      await store.append(input({ resourceId: WORKSPACE, time: "2025-06-01T00:00:00.000Z" }));
    const big = JSON.parse((await run(store, ["--limit", "1100", "--format", "json"])).out);
    expect(big.items).toHaveLength(1100);
    expect(new Set(big.items.map((r: { id: string }) => r.id)).size).toBe(1100);
    expect(typeof big.continuationToken).toBe("string");
    const table = await run(store, ["--limit", "2"]);
    expect(table.out).toContain("more records exist");
  });

  it("writes CSV", async () => {
    const { out } = await run(await seeded(), ["--format", "csv", "--limit", "1"]);
    expect(out.split("\r\n")[0]).toMatch(/^id,time,subscriptionId,resourceId/);
    expect(out.split("\r\n")).toHaveLength(3);
  });

  it("rejects bad options naming them, exit 1, without touching the store", async () => {
    let opened = 0;
    const store = await seeded();
    const guard = new Proxy(store, {
      get(t, p, r) {
        if (p === "query") opened++;
        return Reflect.get(t, p, r);
      },
    });
    const bad = await run(guard, ["--resource", "' OR 1=1 --"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/invalid --resource/);
    expect((await run(guard, ["--outcome", "done"])).err).toMatch(/--outcome/);
    const since = await run(guard, ["--since", "yesterday"]);
    expect(since.err).toMatch(/--since/);
    expect(since.thrown).toBeDefined();
    expect((await run(guard, ["--limit", "0"])).err).toMatch(/--limit/);
    expect((await run(guard, ["--format", "xml"])).err).toMatch(/--format/);
    expect(opened).toBe(0);
  });

  it("parses durations", () => {
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("7d")).toBe(7 * 86_400_000);
    expect(parseDuration("PT1H")).toBe(3_600_000);
    expect(parseDuration("P1DT12H")).toBe(36 * 3_600_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    for (const bad of ["", "P", "PT", "0h", "1y", "-1h", "PT1H1", "1 h"])
      expect(() => parseDuration(bad)).toThrow(/duration/);
  });
});

describe("driftguard audit verify", () => {
  it("exits 0 on intact chains and 1 naming the first broken record per broken chain", async () => {
    const store = await seeded();
    for (let i = 0; i < 3; i++) await store.append(input({ resourceId: NSG_RULE }));
    const ok = await run(store, ["verify"]);
    expect(ok.code).toBeUndefined();
    expect(ok.out).toMatch(/^ok: 3 chain\(s\), 7 record\(s\) verified/);

    store.unsafeStoredChain(NSG_RULE)[1]!.outcome = "compliant";
    store.unsafeStoredChain(NSG_RULE)[2]!.outcome = "compliant";
    store.unsafeStoredChain(WORKSPACE)[0]!.durationMs = 1;
    const broken = await run(store, ["verify"]);
    expect(broken.code).toBe(1);
    const lines = broken.out.trim().split("\n");
    expect(lines.filter((l) => l.startsWith("BROKEN"))).toHaveLength(2);
    expect(broken.out).toContain(
      `BROKEN resource=${NSG_RULE} record=${store.unsafeStoredChain(NSG_RULE)[1]!.id} seq=2 reason=hash mismatch`,
    );
    expect(broken.out).toContain(
      `resource=${WORKSPACE} record=${store.unsafeStoredChain(WORKSPACE)[0]!.id} seq=1`,
    );
    const one = await run(store, ["verify", "--resource", STORAGE, "--json"]);
    expect(one.code).toBeUndefined();
    expect(JSON.parse(one.out)).toEqual({ chains: 1, records: 1, breaks: [] });
    expect((await run(store, ["verify", "--resource", "nope"])).code).toBe(1);
  });
});

describe("driftguard audit --source", () => {
  it("filters on the record's signal source and names a bad one", async () => {
    const store = await seeded();
    await store.append(
      input({
        time: "2025-07-10T11:45:00.000Z",
        signal: { source: "sweep", type: "driftguard.sweep", id: "run-1", correlationId: "run-1" },
      }),
    );
    const ok = await run(store, ["--source", "sweep", "--format", "json"]);
    const items = (JSON.parse(ok.out) as { items: { signal: { source: string } }[] }).items;
    expect(items).toHaveLength(1);
    expect(items[0]!.signal.source).toBe("sweep");
    const bad = await run(store, ["--source", "carrier-pigeon"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("invalid --source");
  });
});
