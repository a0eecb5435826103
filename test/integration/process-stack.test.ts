/**
 * The local stack as separate processes (dev/proc): the Cosmos stand-in, the simulator and three
 * hosts are distinct OS processes behind a round-robin front end; freezing or killing one of them
 * shows up where a user would see it (status codes, simulator state, the audit trail), and nothing
 * outlives the stack.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { HOST_PID_HEADER } from "../../dev/proc/protocol.js";
import { startTestProcessStack, type TestProcessStack } from "../helpers/process-stack.js";
import { armWriteEvent, TEST_SUB } from "../helpers/stack.js";

const RG = `/subscriptions/${TEST_SUB}/resourceGroups/rg-procs/providers/Microsoft.Storage/storageAccounts`;
const ST_ONCE = `${RG}/stonce001`;
const ST_KILLED = `${RG}/stkilled001`;
const ST_FROZEN = `${RG}/stfrozen001`;

function storage(id: string) {
  return {
    id,
    name: id.split("/").pop()!,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags: {},
    properties: { publicNetworkAccess: "Enabled", minimumTlsVersion: "TLS1_2" },
  };
}

const seed: Seed = { resources: [storage(ST_ONCE), storage(ST_KILLED), storage(ST_FROZEN)] };
const policyYaml = `
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
`;

/** Alive and not a zombie (a reaped-late child still answers kill(pid, 0)). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    return readFileSync(stat, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

/** Command lines of this process's live children that run a dev/proc entry (Linux /proc). */
function procChildren(): string[] {
  if (!existsSync("/proc/self/stat")) return [];
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.split(" ");
      if (stat?.[0] === "Z" || Number(stat?.[1]) !== process.pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(`dev${path.sep}proc${path.sep}`)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Event Grid's redelivery, compressed: retry a non-2xx delivery until it is accepted. */
async function deliverUntilAccepted(
  stack: TestProcessStack,
  events: unknown[],
  attempts = 20,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < attempts; i++) {
    const res = await stack.deliver(events);
    await res.text();
    statuses.push(res.status);
    if (res.ok) return statuses;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`never accepted: ${statuses.join(", ")}`);
}

async function remediatedRecords(stack: TestProcessStack, resourceId: string) {
  return (await stack.audit({ resourceId })).filter((r) => r.outcome === "remediated");
}

describe("separate-process stack, 3 hosts", () => {
  let stack: TestProcessStack;
  const everyPid = new Set<number>();
  const hostPids = () => stack.hosts.map((h) => h.pid);

  beforeAll(async () => {
    // A short lease stands for Event Grid's later redeliveries (10 s, 30 s, 1 min, 5 min, …): an
    // interrupted attempt's claim expires within the test instead of after the production 5 minutes.
    stack = await startTestProcessStack({ seed, policyYaml, hosts: 3, leaseMs: 3_000 });
    for (const pid of [stack.cosmos.pid, stack.sim.pid, ...hostPids()]) everyPid.add(pid);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it("runs the Cosmos stand-in, the simulator, the local Event Grid and each host as its own OS process", async () => {
    const pids = [stack.cosmos.pid, stack.sim.pid, stack.eventGridProcess.pid, ...hostPids()];
    expect(new Set(pids).size).toBe(6);
    expect(pids).not.toContain(process.pid);
    for (const pid of pids) expect(isRunning(pid)).toBe(true);
    // Each reports its own resource use (what a benchmark reads).
    for (const child of [stack.cosmos, stack.sim, stack.eventGridProcess, ...stack.hosts]) {
      const usage = await child.usage();
      expect(usage.cpuUserUs).toBeGreaterThan(0);
      expect(usage.rssBytes).toBeGreaterThan(20_000_000);
    }
    const lines = procChildren().join("\n");
    if (lines) {
      for (const entry of ["cosmos.ts", "azure-sim.ts", "event-grid.ts", "host.ts"])
        expect(lines).toContain(entry);
      expect(procChildren()).toHaveLength(6);
    }
  });

  it("spreads requests over the hosts in turn, each answered by its own process", async () => {
    const answeredBy: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${stack.functionsUrl}/api/audit?limit=1`, {
        headers: { "x-functions-key": stack.functionKey },
      });
      await res.text();
      expect(res.status).toBe(200);
      answeredBy.push(Number(res.headers.get(HOST_PID_HEADER)));
    }
    const first = hostPids().indexOf(answeredBy[0]!);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(answeredBy).toEqual([0, 1, 2, 3, 4, 5].map((k) => hostPids()[(first + k) % 3]));
  });

  it("remediates a delivery through the front end once, also when it is redelivered to another host", async () => {
    const event = armWriteEvent(ST_ONCE);
    const first = await stack.deliver([event]);
    expect(first.status).toBe(200);
    const firstHost = first.headers.get(HOST_PID_HEADER);
    const again = await stack.deliver([event]);
    expect(again.status).toBe(200);
    expect(again.headers.get(HOST_PID_HEADER)).not.toBe(firstHost);

    expect((await stack.sim.admin.getResource(ST_ONCE))?.properties?.publicNetworkAccess).toBe("Disabled");
    expect(await stack.sim.admin.writes({ pathIncludes: "stonce001" })).toHaveLength(1);
    expect(await remediatedRecords(stack, ST_ONCE)).toHaveLength(1);
    const outcomes = (await stack.audit({ resourceId: ST_ONCE })).map((r) => r.outcome);
    expect(outcomes).toEqual(["remediated"]);
  });

  it("answers non-2xx for requests routed to a SIGKILLed host; restart brings it back on its port", async () => {
    const victim = stack.hosts[1]!;
    const { pid: oldPid, port } = victim;
    await victim.kill();
    expect(isRunning(oldPid)).toBe(false);
    expect(victim.running).toBe(false);
    await expect(fetch(`${victim.url}/api/audit`)).rejects.toThrow();

    const answers: { status: number; pid: string | null }[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${stack.functionsUrl}/api/audit?limit=1`, {
        headers: { "x-functions-key": stack.functionKey },
      });
      await res.text();
      answers.push({ status: res.status, pid: res.headers.get(HOST_PID_HEADER) });
    }
    expect(answers.filter((a) => a.status === 503)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200).map((a) => Number(a.pid))).toEqual(
      expect.arrayContaining([stack.hosts[0]!.pid, stack.hosts[2]!.pid]),
    );

    await victim.restart();
    everyPid.add(victim.pid);
    expect(victim.pid).not.toBe(oldPid);
    expect(victim.port).toBe(port);
    expect(victim.running).toBe(true);
    const direct = await fetch(`${victim.url}/api/audit?limit=1`, {
      headers: { "x-functions-key": stack.functionKey },
    });
    await direct.text();
    expect(direct.status).toBe(200);
    expect(Number(direct.headers.get(HOST_PID_HEADER))).toBe(victim.pid);
    const served = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${stack.functionsUrl}/api/audit?limit=1`, {
        headers: { "x-functions-key": stack.functionKey },
      });
      await res.text();
      expect(res.status).toBe(200);
      served.add(Number(res.headers.get(HOST_PID_HEADER)));
    }
    expect([...served].sort()).toEqual(hostPids().sort());
  }, 120_000);

  it("a host killed mid-remediation: the delivery answers non-2xx, and the redelivery after restart fixes it once", async () => {
    // Hold the ARM write in the simulator, so the host is surely mid-remediation when it dies.
    await stack.sim.admin.addFault({ method: "PATCH", path: "stkilled001", status: 0, delayMs: 8_000 });
    const before = stack.frontEnd.handed();
    const inFlight = stack.deliver([armWriteEvent(ST_KILLED)]);
    await waitUntil(
      "the write reaches the simulator",
      async () =>
        (await stack.sim.admin.requests({ method: "PATCH", pathIncludes: "stkilled001" })).length > 0,
    );
    const index = stack.frontEnd.handed().findIndex((n, i) => n > (before[i] ?? 0));
    const victim = stack.hosts[index]!;
    await victim.kill();
    const answer = await inFlight;
    await answer.text();
    expect(answer.status).toBe(502);

    await victim.restart();
    everyPid.add(victim.pid);
    // The same event again, as Event Grid redelivers it, until a host accepts it.
    const event = armWriteEvent(ST_KILLED);
    const statuses = await deliverUntilAccepted(stack, [event]);
    expect(statuses.at(-1)).toBe(200);

    expect((await stack.sim.admin.getResource(ST_KILLED))?.properties?.publicNetworkAccess).toBe("Disabled");
    expect(await stack.sim.admin.writes({ pathIncludes: "stkilled001" })).toHaveLength(1);
    expect(await remediatedRecords(stack, ST_KILLED)).toHaveLength(1);
  }, 120_000);

  it("a frozen Cosmos stand-in makes a delivery answer non-2xx; after SIGCONT the redelivery succeeds once", async () => {
    const event = armWriteEvent(ST_FROZEN);
    stack.cosmos.freeze();
    let frozenAnswer: Response;
    try {
      // Really stopped: it cannot even answer its supervisor.
      await expect(stack.cosmos.usage(500)).rejects.toThrow(/did not report its usage/);
      // Bounded: the hosts' Cosmos timeout is 2 s; without it the delivery would hang here.
      frozenAnswer = await stack.deliver([event], { signal: AbortSignal.timeout(30_000) });
      await frozenAnswer.text();
    } finally {
      stack.cosmos.thaw();
    }
    expect(frozenAnswer.status).toBeGreaterThanOrEqual(500);
    // Nothing was changed while the store was away.
    expect(await stack.sim.admin.writes({ pathIncludes: "stfrozen001" })).toHaveLength(0);

    const statuses = await deliverUntilAccepted(stack, [event]);
    expect(statuses.at(-1)).toBe(200);
    expect((await stack.sim.admin.getResource(ST_FROZEN))?.properties?.publicNetworkAccess).toBe("Disabled");
    expect(await stack.sim.admin.writes({ pathIncludes: "stfrozen001" })).toHaveLength(1);
    expect(await remediatedRecords(stack, ST_FROZEN)).toHaveLength(1);
  }, 60_000);

  it("close() ends every child process, restarted hosts included", async () => {
    expect(everyPid.size).toBeGreaterThanOrEqual(7);
    await stack.close();
    for (const pid of everyPid) expect(isRunning(pid), `pid ${pid}`).toBe(false);
    expect(procChildren()).toEqual([]);
  });
});

describe("separate-process stack, supervisor killed", () => {
  it("its children notice and exit by themselves", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "driftguard-orphans-"));
    const script = path.join(dir, "supervisor.mts");
    const stackModule = pathToFileURL(path.resolve("dev/proc/stack.ts")).href;
    await writeFile(
      script,
      `import { startProcessStack } from ${JSON.stringify(stackModule)};
const stack = await startProcessStack({ hosts: 1, port: 0, cosmosPort: 0, azurePort: 0 });
process.stdout.write(JSON.stringify([stack.cosmos.pid, stack.sim.pid, stack.hosts[0].pid]) + "\\n");
setInterval(() => undefined, 1000);
`,
    );
    const supervisor = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: process.cwd(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      let err = "";
      supervisor.stdout.on("data", (d) => {
        out += d;
      });
      supervisor.stderr.on("data", (d) => {
        err += d;
      });
      await waitUntil(`the supervisor reports its children (${err})`, () => out.includes("]"), 90_000);
      const pids = JSON.parse(out.trim()) as number[];
      expect(pids).toHaveLength(3);
      for (const pid of pids) expect(isRunning(pid)).toBe(true);

      supervisor.kill("SIGKILL");
      await waitUntil("every orphan has exited", () => pids.every((pid) => !isRunning(pid)), 10_000);
    } finally {
      if (supervisor.exitCode === null) supervisor.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
