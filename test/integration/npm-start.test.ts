/**
 * `npm start` as a user (and the acceptance run) drives it: a child process with the flags of
 * docs/cli.md#npm-start, a ready file, and the demo's printed decisions; stopped the way docker,
 * systemd and `timeout` stop it (SIGTERM to npm), it releases its ports; the user's Teams settings
 * are kept.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const children: ChildProcess[] = [];

/** Every server of the stack on a port the system picks (tests run side by side). */
const FREE_PORTS = ["--port", "0", "--cosmos-port", "0", "--azure-port", "0"];

function start(
  args: string[],
  opts: { viaNpm?: boolean; env?: Record<string, string | undefined>; stackFile?: string } = {},
): {
  child: ChildProcess;
  output: () => string;
  waitFor: (re: RegExp, ms: number) => Promise<string>;
} {
  const [command, argv] = opts.viaNpm
    ? ["npm", ["start", "--", ...args]]
    : [process.execPath, ["--import", "tsx", "dev/start.ts", ...args]];
  const child = spawn(command, argv, {
    cwd: process.cwd(),
    env: {
      ...process.env,
      DRIFTGUARD_POLICY_FILE: "",
      DRIFTGUARD_STACK_FILE:
        opts.stackFile ?? path.join(tmpdir(), `driftguard-stack-${process.pid}-${Date.now()}.json`),
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  child.stderr!.on("data", (d) => {
    out += d;
  });
  const waitFor = (re: RegExp, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const started = Date.now();
      const tick = setInterval(() => {
        if (re.test(out)) {
          clearInterval(tick);
          resolve(out);
        } else if (Date.now() - started > ms || child.exitCode !== null) {
          clearInterval(tick);
          reject(new Error(`timed out waiting for ${re} (exit ${child.exitCode}); output:\n${out}`));
        }
      }, 100);
    });
  return { child, output: () => out, waitFor };
}

/** True when something accepts connections on the URL's port. */
function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGTERM");
      await new Promise((r) => c.once("exit", r));
    }
  }
});

describe("npm start", () => {
  it("boots on embedded defaults, replays the sample scenario and prints every kind's decision", async () => {
    const run = start([...FREE_PORTS]);
    const out = await run.waitFor(/Demo done/, 60_000);
    expect(out).toMatch(/^driftguard ready/m);
    for (const kind of [
      "disable-public-network-access",
      "close-internet-inbound-rule",
      "rotate-secret",
      "scale-gpu-pool",
      "throttle-api-subscription",
      "protect-model-storage",
    ]) {
      expect(out).toMatch(new RegExp(`remediated\\s+${kind}`));
    }
    // The shipped policy for open inference APIs asks a person first.
    expect(out).toMatch(/pending-approval\s+require-api-subscription\s+apis\/chat-completions/);
    expect(out).toMatch(/excluded\s+disable-public-network-access/);
    expect(out).toMatch(/duplicate\s+disable-public-network-access/);
    expect(out).toMatch(/reverted\s+scale-gpu-pool/);
    expect(out).toMatch(/reverted\s+throttle-api-subscription/);
    expect(out).not.toMatch(/failed/);
  }, 90_000);

  it("serves an acceptance run: own seed, policy, key and ready file on free ports", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "driftguard-start-"));
    const sub = "00000000-0000-0000-0000-0000000000bb";
    const ws = `/subscriptions/${sub}/resourceGroups/rg-x/providers/Microsoft.MachineLearningServices/workspaces/ws-x`;
    await writeFile(
      path.join(dir, "seed.json"),
      JSON.stringify({
        resources: [
          {
            id: ws,
            name: "ws-x",
            type: "Microsoft.MachineLearningServices/workspaces",
            location: "westeurope",
            tags: {},
            properties: { publicNetworkAccess: "Enabled" },
          },
        ],
      }),
    );
    await writeFile(
      path.join(dir, "policy.yaml"),
      "version: 1\npolicies:\n  - name: ws-private\n    resourceTypes: [Microsoft.MachineLearningServices/workspaces]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n",
    );
    const readyFile = path.join(dir, "ready.json");
    const key = "acceptance-key-0123456789";
    const run = start([
      "--no-demo",
      ...FREE_PORTS,
      "--seed",
      path.join(dir, "seed.json"),
      "--policy",
      path.join(dir, "policy.yaml"),
      "--function-key",
      key,
      "--ready-file",
      readyFile,
    ]);
    await run.waitFor(/^driftguard ready/m, 30_000);
    const ready = JSON.parse(await readFile(readyFile, "utf8"));
    expect(ready).toMatchObject({ functionKey: key, vaults: {} });
    for (const k of ["functions", "cosmos", "azure", "caCertFile"]) expect(typeof ready[k]).toBe("string");
    expect(run.output()).not.toMatch(/Replaying/);

    const res = await fetch(
      `${ready.functions}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${key}`,
      {
        method: "POST",
        headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
        body: JSON.stringify([
          {
            id: crypto.randomUUID(),
            topic: `/subscriptions/${sub}`,
            subject: ws,
            eventType: "Microsoft.Resources.ResourceWriteSuccess",
            eventTime: new Date().toISOString(),
            dataVersion: "2",
            metadataVersion: "1",
            data: {
              resourceUri: ws,
              subscriptionId: sub,
              operationName: "Microsoft.MachineLearningServices/workspaces/write",
              status: "Succeeded",
            },
          },
        ]),
      },
    );
    expect(res.status).toBe(200);
    const audit = await fetch(`${ready.functions}/api/audit?resourceId=${encodeURIComponent(ws)}`, {
      headers: { "x-functions-key": key },
    });
    const page = (await audit.json()) as { items: { outcome: string; policy: string }[] };
    expect(page.items).toMatchObject([{ outcome: "remediated", policy: "ws-private" }]);
  }, 60_000);

  it("--hosts 2: the demo runs across separate host processes, and Ctrl-C ends them all", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "driftguard-start-"));
    const readyFile = path.join(dir, "ready.json");
    const run = start(["--hosts", "2", ...FREE_PORTS, "--ready-file", readyFile]);
    const out = await run.waitFor(/Demo done/, 120_000);
    expect(out).toMatch(/^driftguard ready/m);
    expect(out).toMatch(/processes: cosmos, azure-sim, event-grid, blob and 2 host\(s\)/);
    // The hosts' decisions reach this console.
    for (const kind of ["disable-public-network-access", "close-internet-inbound-rule", "rotate-secret"]) {
      expect(out).toMatch(new RegExp(`remediated\\s+${kind}`));
    }
    expect(out).toMatch(/duplicate\s+disable-public-network-access/);
    expect(out).toMatch(/reverted\s+scale-gpu-pool/);
    expect(out).not.toMatch(/failed/);
    const ready = JSON.parse(await readFile(readyFile, "utf8"));
    const audit = await fetch(`${ready.functions}/api/audit?limit=1000`, {
      headers: { "x-functions-key": ready.functionKey },
    });
    expect(audit.status).toBe(200);
    const remediated = ((await audit.json()) as { items: { outcome: string }[] }).items.filter(
      (r) => r.outcome === "remediated",
    );
    expect(remediated.length).toBeGreaterThanOrEqual(10);

    // Each child names its supervisor in its options argument.
    const supervisedBy = (pid: number) =>
      readdirSync("/proc")
        .filter((e) => /^\d+$/.test(e))
        .filter((e) => {
          try {
            return readFileSync(`/proc/${e}/cmdline`, "utf8").includes(`"parentPid":${pid}`);
          } catch {
            return false;
          }
        });
    const onLinux = existsSync("/proc/self/cmdline");
    if (onLinux) expect(supervisedBy(run.child.pid!)).toHaveLength(6); // cosmos, azure-sim, event-grid, blob and 2 hosts
    run.child.kill("SIGINT");
    await new Promise((r) => run.child.once("exit", r));
    expect(run.child.exitCode).toBe(0);
    if (onLinux) expect(supervisedBy(run.child.pid!)).toEqual([]);
  }, 150_000);
  it("stops and releases its ports when npm gets SIGTERM (docker stop, systemd, timeout)", async () => {
    // npm runs the script through `sh -c`, which does not pass the signal on: the stack notices its
    // parent is gone. Mutation: drop the parent watch in dev/lifetime.ts → the ports stay open, this fails.
    const dir = await mkdtemp(path.join(tmpdir(), "driftguard-start-"));
    const readyFile = path.join(dir, "ready.json");
    const stackFile = path.join(dir, "stack.json");
    const run = start(["--no-demo", ...FREE_PORTS, "--ready-file", readyFile], { viaNpm: true, stackFile });
    await run.waitFor(/^driftguard ready/m, 60_000);
    const ready = JSON.parse(await readFile(readyFile, "utf8")) as Record<string, string>;
    const stackPid = (JSON.parse(await readFile(stackFile, "utf8")) as { pid: number }).pid;
    expect(stackPid).not.toBe(run.child.pid);
    for (const url of [ready.functions!, ready.cosmos!, ready.azure!])
      expect(await listening(url), url).toBe(true);

    run.child.kill("SIGTERM"); // to npm, as `docker stop` and `timeout` do
    await until("the stack process is gone", () => !alive(stackPid));
    for (const url of [ready.functions!, ready.cosmos!, ready.azure!])
      expect(await listening(url), `${url} after SIGTERM`).toBe(false);
    expect(existsSync(stackFile)).toBe(false);
  }, 90_000);

  it("stops on SIGHUP (a closed terminal) too", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "driftguard-start-"));
    const readyFile = path.join(dir, "ready.json");
    const run = start(["--no-demo", ...FREE_PORTS, "--ready-file", readyFile]);
    await run.waitFor(/^driftguard ready/m, 60_000);
    const ready = JSON.parse(await readFile(readyFile, "utf8")) as Record<string, string>;
    run.child.kill("SIGHUP");
    await new Promise((r) => run.child.once("exit", r));
    expect(run.child.exitCode).toBe(0);
    expect(await listening(ready.functions!)).toBe(false);
  }, 90_000);

  it("keeps the Teams settings the user set and says so; the stand-in only fills what is unset", async () => {
    const userBot = "7e0c2f1a-3b4d-4c5e-8f90-a1b2c3d4e5f6";
    const dir = await mkdtemp(path.join(tmpdir(), "driftguard-start-"));
    const readyFile = path.join(dir, "ready.json");
    const run = start(["--no-demo", ...FREE_PORTS, "--ready-file", readyFile], {
      env: { TEAMS_BOT_APP_ID: userBot, TEAMS_CONVERSATION_ID: "19:my-team@thread.tacv2" },
    });
    const out = await run.waitFor(/^driftguard ready/m, 60_000);
    expect(out).toContain(
      "Teams settings — yours: TEAMS_BOT_APP_ID, TEAMS_CONVERSATION_ID; the Teams stand-in is not started",
    );
    expect(out).not.toContain("Teams stand-in: https://");
    // The bot the app answers for is the user's: an activity for it is checked against Bot
    // Framework's keys (401 without a token), not refused as "no bot configured" (404).
    const ready = JSON.parse(await readFile(readyFile, "utf8")) as Record<string, string>;
    const res = await fetch(`${ready.functions}/api/teams/messages`, { method: "POST", body: "{}" });
    expect(res.status).toBe(401);
  }, 90_000);
});
