/**
 * `npm start`: boots the local stack on embedded defaults (no Azure account, no env file), replays
 * the sample scenario through the real HTTP routes, prints each decision as it happens, and keeps
 * serving until Ctrl-C. Flags: docs/cli.md#npm-start. By default everything runs in this process;
 * `--separate` / `--hosts N` run the stand-ins and N hosts as separate processes behind a
 * round-robin front end on --port (dev/proc/README.md).
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { LOCAL_STACK_FILE, type LocalStackInfo } from "../cli/context.js";
import { formatDecision } from "../cli/format.js";
import { createLogger } from "../shared/log.js";
import type { Decision } from "../shared/pipeline.js";
import type { Seed } from "./azure-sim/index.js";
import { stopWhenAskedOrOrphaned } from "./lifetime.js";
import { startProcessStack } from "./proc/stack.js";
import { DEFAULT_SEED_FILE, startLocalStack } from "./stack.js";
import {
  DEMO_REVIEW_ENDPOINT,
  demoReviewEvent,
  startTeamsDemo,
  writeDemoPolicyFile,
} from "./teams-sim/demo.js";
import { loadOrCreateLocalTls } from "./tls.js";

const SAMPLE_EVENTS_DIR = path.resolve("dev", "sample-events");
/** The pipeline's reason for an event caused by driftguard's own write. */
const SELF_ECHO_REASON = "caused by driftguard itself";

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("expected a port number 0-65535 (0 = any free port)");
  return n;
}

function hostCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError("expected 1-16 hosts");
  return n;
}

/** What npm start needs of either kind of stack (in-process or separate processes). */
interface RunningStack {
  functionsUrl: string;
  eventGridUrl: string;
  decisionsEndpoint: string;
  functionKey: string;
  cosmosUrl: string;
  cosmosKey: string;
  azureUrl: string;
  vaults: Record<string, string>;
  caCertFile: string;
  blobUrl?: string;
  anchorContainerUrl?: string;
  seed: Seed;
  policyFile: string;
  mode: string;
  /** Resolves once decisions already made have been printed (host processes report them by pipe). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Posts every sample payload to the route Azure would deliver it to, in file-name order. */
async function replaySamples(stack: RunningStack, dir: string): Promise<void> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  for (const file of files) {
    const body = await readFile(path.join(dir, file), "utf8");
    const json = JSON.parse(body) as unknown;
    const isEventGrid =
      Array.isArray(json) || (typeof json === "object" && json !== null && "specversion" in json);
    const url = isEventGrid
      ? `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${encodeURIComponent(stack.functionKey)}`
      : `${stack.functionsUrl}/api/alerts`;
    const headers: Record<string, string> = isEventGrid
      ? Array.isArray(json)
        ? { "content-type": "application/json", "aeg-event-type": "Notification" }
        : { "content-type": "application/cloudevents+json" }
      : { "content-type": "application/json", "x-functions-key": stack.functionKey };
    process.stdout.write(`\n▶ ${file}\n`);
    const res = await fetch(url, { method: "POST", headers, body });
    const text = await res.text();
    await stack.settled();
    if (!res.ok) process.stdout.write(`  delivery answered ${res.status}: ${text.slice(0, 300)}\n`);
  }
}

/** The demo's last delivery: a storage account whose fix needs a person (its card is printed). */
async function deliverDemoApproval(stack: RunningStack): Promise<void> {
  process.stdout.write(
    `\n▶ demo: someone opens ${DEMO_REVIEW_ENDPOINT.split("/").pop()} (its fixes need approval)\n`,
  );
  const res = await fetch(
    `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${encodeURIComponent(stack.functionKey)}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
      body: JSON.stringify(demoReviewEvent()),
    },
  );
  const text = await res.text();
  await stack.settled();
  if (!res.ok) process.stdout.write(`  delivery answered ${res.status}: ${text.slice(0, 300)}\n`);
}

/**
 * The console hint: a one-line `curl` that opens a storage account straight against the simulator,
 * as someone in the portal would; the local Event Grid delivers the write and driftguard fixes it.
 */
function makeAChangeYourself(stack: RunningStack): string | undefined {
  const account = (stack.seed.resources ?? []).find(
    (r) =>
      /\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+$/i.test(String(r.id)) &&
      (r.tags as Record<string, string> | undefined)?.["driftguard:exclude"] !== "true",
  );
  if (!account) return undefined;
  const ca = path.relative(process.cwd(), stack.caCertFile) || stack.caCertFile;
  return [
    "",
    "Make a change yourself: open a storage account to the Internet, straight against the simulator (no event file);",
    "the local Event Grid delivers the write to driftguard, which closes it again:",
    `  curl -s --cacert ${ca} -X PATCH -H "authorization: Bearer x" -H "content-type: application/json" -d '{"properties":{"publicNetworkAccess":"Enabled"}}' "${stack.azureUrl}${account.id}?api-version=2023-05-01"`,
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const program = new Command()
    .name("npm start --")
    .description("Boot the driftguard local stack and replay the sample scenario")
    .option("--port <n>", "functions host port", port, 7071)
    .option("--cosmos-port <n>", "embedded Cosmos DB port", port, 8081)
    .option("--azure-port <n>", "Azure simulator port (vaults take further free ports)", port, 8443)
    .option("--blob-port <n>", "Azurite blob port (default: any free port)", port, 0)
    .option("--event-grid-port <n>", "local Event Grid port (default: any free port)", port, 0)
    .option("--seed <file>", "simulated Azure environment", DEFAULT_SEED_FILE)
    .option("--no-demo", "skip the sample replay")
    .option("--function-key <key>", "function key (default: generated and printed)")
    .option("--ready-file <file>", "write the stack's URLs and key as JSON here when ready")
    .option("--policy <file>", "policy file (same as DRIFTGUARD_POLICY_FILE)")
    .option("--verbose", "structured logs at info level")
    .option("--separate", "run Cosmos, the simulator and the host as separate processes")
    .option(
      "--hosts <n>",
      "run N host processes behind a round-robin front end (implies --separate)",
      hostCount,
    )
    .parse(process.argv);
  const opts = program.opts<{
    port: number;
    cosmosPort: number;
    azurePort: number;
    blobPort: number;
    eventGridPort: number;
    seed: string;
    demo: boolean;
    functionKey?: string;
    readyFile?: string;
    policy?: string;
    verbose?: boolean;
    separate?: boolean;
    hosts?: number;
  }>();
  if (opts.functionKey !== undefined && !/^[A-Za-z0-9_\-=.]{16,128}$/.test(opts.functionKey)) {
    program.error("--function-key: 16-128 characters of letters, digits, '-', '_', '=', '.'");
  }

  const started = Date.now();
  const print = (d: Decision) =>
    process.stdout.write(
      d.outcome === "ignored" && d.reason === SELF_ECHO_REASON
        ? `    ↩ echo           ${d.target.resourceId.split("/").slice(-2).join("/")}: driftguard's own write came back from Event Grid; ignored\n`
        : `${formatDecision(d)}\n`,
    );
  const separate = opts.separate || opts.hosts !== undefined;
  // The bot's Teams: the user's settings where set, else the stand-in (its cards printed here and
  // written under .driftguard/cards/) for what is unset.
  const tls = await loadOrCreateLocalTls();
  const teams = await startTeamsDemo({
    tls,
    caCertFile: tls.caCertFile,
    print: (text) => process.stdout.write(`${text}\n`),
  });
  // Without a policy of the user's, the demo adds one approval policy (for one resource group of its
  // own) so the scenario ends with an approval.
  const userPolicy = opts.policy ?? (process.env.DRIFTGUARD_POLICY_FILE || undefined);
  const policyFile = userPolicy ?? (opts.demo ? await writeDemoPolicyFile() : undefined);
  const common = {
    port: opts.port,
    cosmosPort: opts.cosmosPort,
    azurePort: opts.azurePort,
    blob: true,
    blobPort: opts.blobPort,
    seed: path.resolve(opts.seed),
    policyFile,
    functionKey: opts.functionKey,
    timers: true,
    env: teams.env,
    eventGridPort: opts.eventGridPort,
    // A change made against the simulator reaches the host as Event Grid would deliver it; decisions
    // go to the local topic unless DRIFTGUARD_EVENTS_ENDPOINT says otherwise.
    events: { deliver: true, publish: true },
  };
  let stack: RunningStack;
  if (separate) {
    const procs = await startProcessStack({
      ...common,
      hosts: opts.hosts ?? 1,
      logLevel: opts.verbose ? "info" : "warn",
      onDecision: print,
      onOutput: (line, child) => process.stderr.write(`[${child}] ${line}\n`),
    });
    stack = {
      ...procs,
      // A decision travels by pipe, the delivery's answer by HTTP: let the pipe catch up.
      settled: () => new Promise((resolve) => setTimeout(resolve, 20)),
    };
  } else {
    const local = await startLocalStack({
      ...common,
      log: createLogger({ level: opts.verbose ? "info" : "warn" }),
      onDecision: print,
    });
    stack = {
      ...local,
      policyFile: local.runtime.config.policyFile,
      mode: local.runtime.config.mode,
      settled: async () => undefined,
    };
  }
  teams.connect(stack.functionsUrl);
  const eventsEndpoint = process.env.DRIFTGUARD_EVENTS_ENDPOINT || stack.decisionsEndpoint;
  const ready = {
    functions: stack.functionsUrl,
    cosmos: stack.cosmosUrl,
    azure: stack.azureUrl,
    vaults: stack.vaults,
    functionKey: stack.functionKey,
    caCertFile: stack.caCertFile,
    blob: stack.blobUrl!,
    anchorContainerUrl: stack.anchorContainerUrl!,
    eventGrid: stack.eventGridUrl,
    eventsEndpoint,
  };
  if (opts.readyFile) await writeFile(opts.readyFile, JSON.stringify(ready, null, 2));
  // For the CLI (`npx driftguard audit`, `replay`) to find this running stack.
  const subscriptions = [
    ...new Set((stack.seed.resources ?? []).map((r) => String(r.id).split("/")[2]).filter(Boolean)),
  ];
  const stackInfo: LocalStackInfo = {
    ...ready,
    cosmosKey: stack.cosmosKey,
    subscriptions: subscriptions as string[],
    policyFile: stack.policyFile,
    pid: process.pid,
  };
  await mkdir(path.dirname(LOCAL_STACK_FILE), { recursive: true });
  await writeFile(LOCAL_STACK_FILE, JSON.stringify(stackInfo, null, 2));
  process.stdout.write(
    [
      `driftguard ready in ${((Date.now() - started) / 1000).toFixed(1)}s — functions ${stack.functionsUrl}  cosmos ${stack.cosmosUrl}  azure ${stack.azureUrl}  blob ${stack.blobUrl}`,
      `  function key: ${stack.functionKey}`,
      `  Event Grid webhook: ${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=<key>`,
      `  audit viewer: ${stack.functionsUrl}/api/audit-viewer?code=<key>`,
      `  ${teams.line}`,
      ...(teams.sim
        ? [`  Teams stand-in: ${teams.sim.url} (the bot's approval cards; rendered under .driftguard/cards/)`]
        : []),
      `  anchors: ${stack.anchorContainerUrl} (Azurite, in memory; npx driftguard audit anchor | verify | export)`,
      `  Event Grid: ${stack.eventGridUrl} (the simulator's ARM and Key Vault events are delivered to the host; decisions → ${eventsEndpoint})`,
      `  policies: ${stack.policyFile}   mode: ${stack.mode}`,
      ...(separate
        ? [
            `  processes: cosmos, azure-sim, event-grid, blob and ${opts.hosts ?? 1} host(s) behind a round-robin front end`,
          ]
        : []),
      "",
    ].join("\n"),
  );
  if (opts.demo) {
    process.stdout.write(
      "Replaying the sample scenario (dev/sample-events/) against the simulated environment…\n",
    );
    await replaySamples(stack, SAMPLE_EVENTS_DIR);
    if (!userPolicy) await deliverDemoApproval(stack);
    process.stdout.write(
      `\nDemo done. Query the trail: curl -s '${stack.functionsUrl}/api/audit?code=<key>&limit=20'\n`,
    );
  }
  const change = makeAChangeYourself(stack);
  if (change) process.stdout.write(change);
  process.stdout.write("Serving until Ctrl-C.\n");

  onStop = async () => {
    await rm(LOCAL_STACK_FILE, { force: true });
    await stack.close();
    await teams.close();
  };
}

/** What stopping closes; set once the stack is up (before that, exiting releases everything). */
let onStop: (() => Promise<void>) | undefined;
stopWhenAskedOrOrphaned((why) => {
  process.stdout.write(`\nStopping (${why})…\n`);
  // A stuck close must not keep the process, and its ports, alive.
  setTimeout(() => process.exit(0), 10_000).unref();
  void (onStop?.() ?? Promise.resolve())
    .catch((err: unknown) => process.stderr.write(`stopping: ${(err as Error).message}\n`))
    .finally(() => process.exit(0));
});

main().catch((err) => {
  process.stderr.write(`driftguard failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
