/**
 * `npm start` as a user (and the acceptance run) drives it: a child process with the flags of
 * docs/cli.md#npm-start, a ready file, and the demo's printed decisions.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const children: ChildProcess[] = [];

function start(args: string[]): {
  child: ChildProcess;
  output: () => string;
  waitFor: (re: RegExp, ms: number) => Promise<string>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", "dev/start.ts", ...args], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      DRIFTGUARD_POLICY_FILE: "",
      DRIFTGUARD_STACK_FILE: path.join(tmpdir(), `driftguard-stack-${process.pid}-${Date.now()}.json`),
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

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill("SIGTERM");
      await new Promise((r) => c.once("exit", r));
    }
  }
});

describe("npm start", () => {
  it("boots on embedded defaults, replays the sample scenario and prints every kind's decision", async () => {
    const run = start(["--port", "0", "--cosmos-port", "0", "--azure-port", "0"]);
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
      "--port",
      "0",
      "--cosmos-port",
      "0",
      "--azure-port",
      "0",
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
    const run = start([
      "--hosts",
      "2",
      "--port",
      "0",
      "--cosmos-port",
      "0",
      "--azure-port",
      "0",
      "--ready-file",
      readyFile,
    ]);
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
});
