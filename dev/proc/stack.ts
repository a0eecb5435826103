/**
 * The local stack as separate OS processes: the Cosmos DB stand-in, the Azure simulator and N
 * functions hosts each run in their own process (dev/proc/{cosmos,azure-sim,host}.ts), behind a
 * round-robin front end that runs in the supervisor (this process). Tests freeze (SIGSTOP) or kill
 * (SIGKILL) one of them; benchmarks see the hosts' own CPU. See dev/proc/README.md.
 *
 * The hosts are configured like the single-process stack (dev/stack.ts): by app settings in their
 * environment, pointing at the stand-ins; the dev knobs travel in their JSON option.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../../shared/config.js";
import type { Decision } from "../../shared/pipeline.js";
import type { PolicyMode } from "../../shared/policy/schema.js";
import { SimAdminClient } from "../azure-sim/admin-client.js";
import { loadSeedFile, type Seed, validateSeed } from "../azure-sim/index.js";
import { startLocalBlob } from "../blob.js";
import { EventGridAdminClient } from "../event-grid/admin-client.js";
import { driftguardSubscriptions, webhookUrl } from "../event-grid/driftguard.js";
import { generateFunctionKey } from "../host.js";
import {
  DEFAULT_SEED_FILE,
  LOCAL_APP_RESOURCE_ID,
  type LocalEventsOptions,
  localStackEventSettings,
} from "../stack.js";
import { type LocalTls, loadOrCreateLocalTls } from "../tls.js";
import { type FrontEnd, type FrontEndTarget, startFrontEnd } from "./front-end.js";
import type {
  CosmosProcessOptions,
  CosmosReady,
  EventGridProcessOptions,
  EventGridReady,
  HostMessage,
  HostProcessOptions,
  HostReady,
  SimProcessOptions,
  SimReady,
  TimerDoneMessage,
  UsageMessage,
} from "./protocol.js";
import { type ManagedProcess, spawnProcess } from "./spawn.js";

export interface ProcessStackOptions {
  /** Number of host processes behind the front end (default 1). */
  hosts?: number;
  /** Front end port: the stack's functions URL (default 7071; 0 = any free port). */
  port?: number;
  /** Each host's own port (default: any free port; a restarted host keeps its port). */
  hostPorts?: number[];
  cosmosPort?: number;
  azurePort?: number;
  seed?: Seed | string;
  policyFile?: string;
  mode?: PolicyMode;
  functionKey?: string;
  /** Extra app settings (names as in docs/settings.md) layered over the process environment. */
  env?: Record<string, string | undefined>;
  /** Run timer functions on their schedule — on host 0 only, like the host's singleton lock. */
  timers?: boolean;
  lro?: "sync" | "async";
  lroPollIntervalMs?: number;
  retry?: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
  busyWaitMs?: number;
  /** Dedupe lease length in the hosts (default 5 min). */
  leaseMs?: number;
  /** Cosmos client request timeout in the hosts (default: the client's 10 s). */
  cosmosRequestTimeoutMs?: number;
  /** pino level of the hosts' logs (default "warn"). */
  logLevel?: string;
  /** Each decision a host makes, with the host's index. */
  onDecision?: (decision: Decision, host: number) => void;
  /** Approval links, instead of the configured notifier (npm start prints them). */
  onApprovalLink?: (link: { resourceId: string; link: string }, host: number) => void;
  /** Every output line of the children (their logs), with the child's name; default: dropped. */
  onOutput?: (line: string, child: string) => void;
  /** How long each child may take to be ready (default 90 s). */
  readyTimeoutMs?: number;
  /** Run Azurite (blob storage) for the anchors, as its own process (npm start does). */
  blob?: boolean;
  /** Azurite's port (default 10000; 0 = any free port). */
  blobPort?: number;
  /** The local Event Grid's port (default: any free port). */
  eventGridPort?: number;
  /** Event Grid both ways, as in dev/stack.ts (delivery to the front end). */
  events?: LocalEventsOptions;
  /** Timer intervals (ms) by function name, on host 0 (tests). */
  timerEveryMs?: Record<string, number>;
}

/** A stand-in process: freeze/thaw (SIGSTOP/SIGCONT) or kill it. */
export interface StandInProcess {
  readonly pid: number;
  freeze(): void;
  thaw(): void;
  /** SIGKILL; an in-memory stand-in is not restarted (its data would be gone). */
  kill(): Promise<void>;
  /** Its own CPU time and RSS so far (benchmarks: what the stand-in cost, apart from the hosts). */
  usage(timeoutMs?: number): Promise<UsageMessage>;
}

export interface ProcessHost {
  readonly index: number;
  /** The host's own URL (bypassing the front end). */
  readonly url: string;
  readonly port: number;
  /** PID of the current process (changes on restart). */
  readonly pid: number;
  readonly running: boolean;
  signal(sig: NodeJS.Signals): void;
  freeze(): void;
  thaw(): void;
  /** SIGKILL, as a crashed instance; the front end then answers 503 for requests routed to it. */
  kill(): Promise<void>;
  /** Starts the host again on the same port (stops it first if it is still running). */
  restart(): Promise<void>;
  /** The current process's own CPU time and RSS so far (benchmarks: driftguard's own cost). */
  usage(timeoutMs?: number): Promise<UsageMessage>;
  /** Runs one of its timer functions now (whatever `timers` says) and resolves when it returns. */
  runTimer(name: string, timeoutMs?: number): Promise<TimerDoneMessage>;
}

export interface ProcessStack {
  /** The front end: requests are spread over the hosts in turn. */
  functionsUrl: string;
  functionKey: string;
  cosmosUrl: string;
  cosmosKey: string;
  azureUrl: string;
  vaults: Record<string, string>;
  caCertFile: string;
  tls: LocalTls;
  seed: Seed;
  policyFile: string;
  mode: string;
  hosts: ProcessHost[];
  cosmos: StandInProcess;
  /** Azurite (with `blob: true`): its endpoint, the anchor container, its process. */
  blob?: StandInProcess & { url: string; anchorContainerUrl: string };
  blobUrl?: string;
  anchorContainerUrl?: string;
  sim: StandInProcess & { admin: SimAdminClient };
  /** The local Event Grid process and its admin API. */
  eventGridUrl: string;
  eventGrid: EventGridAdminClient;
  eventGridProcess: StandInProcess;
  decisionsEndpoint: string;
  frontEnd: FrontEnd;
  close(): Promise<void>;
}

function standIn(proc: ManagedProcess<{ type: "ready" }>): StandInProcess {
  return {
    pid: proc.pid,
    freeze: () => proc.signal("SIGSTOP"),
    thaw: () => proc.signal("SIGCONT"),
    kill: () => proc.kill(),
    usage: (timeoutMs) => proc.usage(timeoutMs),
  };
}

/** Like Promise.all, but waits for every start to settle, so a failure leaves nothing half-started
 *  that the clean-up would miss. */
async function allStarted<T extends unknown[]>(starts: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as T;
}

function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export async function startProcessStack(opts: ProcessStackOptions = {}): Promise<ProcessStack> {
  const hostCount = opts.hosts ?? 1;
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > 32)
    throw new RangeError("hosts: expected an integer from 1 to 32");
  const tls = await loadOrCreateLocalTls();
  const tlsDir = path.dirname(tls.caCertFile);
  const seed =
    typeof opts.seed === "object"
      ? validateSeed(opts.seed)
      : await loadSeedFile(opts.seed ?? DEFAULT_SEED_FILE);
  const functionKey = opts.functionKey ?? generateFunctionKey();
  const workDir = await mkdtemp(path.join(tmpdir(), "driftguard-procs-"));
  const closers: (() => Promise<void>)[] = [async () => rm(workDir, { recursive: true, force: true })];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };
  const output = (child: string) => (line: string) => opts.onOutput?.(line, child);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;

  try {
    // The resolved seed (durations already turned into dates) goes to the simulator as a file.
    const seedFile = path.join(workDir, "seed.json");
    await writeFile(seedFile, JSON.stringify(seed));
    // The Event Grid first: the simulator sends it its events from the start.
    const gridProc = await spawnProcess<EventGridReady>({
      name: "event-grid",
      entry: "event-grid",
      options: {
        port: opts.eventGridPort ?? 0,
        tlsDir,
        timeScale: opts.events?.timeScale,
      } satisfies EventGridProcessOptions,
      onOutput: output("event-grid"),
      readyTimeoutMs,
    });
    closers.push(() => gridProc.stop());
    const eventGrid = new EventGridAdminClient(gridProc.ready.url, tls.cert);
    closers.push(async () => eventGrid.close());
    const [cosmosProc, simProc] = await allStarted<[ManagedProcess<CosmosReady>, ManagedProcess<SimReady>]>([
      spawnProcess<CosmosReady>({
        name: "cosmos",
        entry: "cosmos",
        options: { port: opts.cosmosPort ?? 8081, tlsDir } satisfies CosmosProcessOptions,
        onOutput: output("cosmos"),
        readyTimeoutMs,
      }).then((p) => {
        closers.push(() => p.stop());
        return p;
      }),
      spawnProcess<SimReady>({
        name: "azure-sim",
        entry: "azure-sim",
        options: {
          port: opts.azurePort ?? 8443,
          tlsDir,
          seedFile,
          lro: opts.lro,
          eventGridUrl: gridProc.ready.url,
        } satisfies SimProcessOptions,
        onOutput: output("azure-sim"),
        readyTimeoutMs,
      }).then((p) => {
        closers.push(() => p.stop());
        return p;
      }),
    ]);
    const cosmos = cosmosProc.ready;
    const sim = simProc.ready;
    const blob = opts.blob
      ? await startLocalBlob({ port: opts.blobPort ?? 10000, tls, onOutput: output("blob"), readyTimeoutMs })
      : undefined;
    if (blob) closers.push(() => blob.close());

    const targets: FrontEndTarget[] = Array.from({ length: hostCount }, () => ({
      port: 0,
      available: false,
    }));
    const frontEnd = await startFrontEnd({ targets, port: opts.port ?? 7071 });
    closers.push(() => frontEnd.close());

    // App settings, exactly as dev/stack.ts sets them for the in-process runtime.
    const userEnv = { ...process.env, ...opts.env };
    const env = cleanEnv({
      ...userEnv,
      ...localStackEventSettings(
        userEnv,
        opts.events?.publish ? gridProc.ready.decisionsEndpoint : undefined,
      ),
      ...(opts.mode ? { DRIFTGUARD_MODE: opts.mode } : {}),
      ...(opts.policyFile ? { DRIFTGUARD_POLICY_FILE: path.resolve(opts.policyFile) } : {}),
      COSMOS_ENDPOINT: cosmos.url,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: opts.env?.COSMOS_DATABASE ?? "driftguard",
      ARM_ENDPOINT: sim.url,
      DRIFTGUARD_VAULT_URLS: JSON.stringify(sim.vaults),
      DRIFTGUARD_CA_FILE: tls.caCertFile,
      DRIFTGUARD_PUBLIC_URL: opts.env?.DRIFTGUARD_PUBLIC_URL ?? frontEnd.url,
      ...(blob ? { DRIFTGUARD_ANCHOR_CONTAINER_URL: blob.anchorContainerUrl } : {}),
      DRIFTGUARD_APP_RESOURCE_ID:
        opts.env?.DRIFTGUARD_APP_RESOURCE_ID ??
        process.env.DRIFTGUARD_APP_RESOURCE_ID ??
        LOCAL_APP_RESOURCE_ID,
      WEBSITE_SITE_NAME: undefined,
      DRIFTGUARD_LOCAL_STACK: "1",
    });
    // Fail fast here, with the setting's name, rather than in N children.
    const config = loadConfig(env);

    const hosts = await allStarted<ProcessHost[]>(
      targets.map(async (target, index) => {
        const name = `host-${index}`;
        const hostOptions = (port: number): HostProcessOptions => ({
          port,
          functionKey,
          index,
          timers: index === 0 && !!opts.timers,
          lroPollIntervalMs: opts.lroPollIntervalMs,
          retry: opts.retry,
          busyWaitMs: opts.busyWaitMs,
          leaseMs: opts.leaseMs,
          cosmosRequestTimeoutMs: opts.cosmosRequestTimeoutMs,
          logLevel: opts.logLevel,
          reportDecisions: !!opts.onDecision,
          reportApprovalLinks: !!opts.onApprovalLink,
          ...(index === 0 && opts.timerEveryMs ? { timerEveryMs: opts.timerEveryMs } : {}),
          events: { minAgeMs: opts.events?.minAgeMs, pauseMs: opts.events?.pauseMs },
        });
        const spawnHost = (port: number) =>
          spawnProcess<HostReady>({
            name,
            entry: "host",
            options: hostOptions(port),
            env,
            onOutput: output(name),
            readyTimeoutMs,
            onMessage: (m) => {
              const message = m as unknown as HostMessage;
              if (message.type === "decision") opts.onDecision?.(message.decision, index);
              else if (message.type === "approval-link")
                opts.onApprovalLink?.({ resourceId: message.resourceId, link: message.link }, index);
            },
          });
        const watch = (proc: ManagedProcess<HostReady>) => {
          target.port = proc.ready.port;
          target.available = true;
          void proc.exited().then(() => {
            if (current === proc) target.available = false;
          });
        };
        let current = await spawnHost(opts.hostPorts?.[index] ?? 0);
        closers.push(() => current.stop());
        watch(current);
        const handle: ProcessHost = {
          index,
          url: `http://127.0.0.1:${current.ready.port}`,
          port: current.ready.port,
          get pid() {
            return current.pid;
          },
          get running() {
            return current.exit === undefined;
          },
          signal: (sig) => current.signal(sig),
          freeze: () => current.signal("SIGSTOP"),
          thaw: () => current.signal("SIGCONT"),
          kill: async () => {
            target.available = false;
            await current.kill();
          },
          restart: async () => {
            target.available = false;
            await current.stop();
            current = await spawnHost(handle.port);
            watch(current);
          },
          usage: (timeoutMs) => current.usage(timeoutMs),
          runTimer: (timerName, timeoutMs) =>
            current.request<TimerDoneMessage>(
              { type: "run-timer", name: timerName },
              "timer-done",
              timeoutMs,
            ),
        };
        return handle;
      }),
    );

    const admin = new SimAdminClient(sim.url, tls.cert);
    closers.push(async () => admin.close());
    // driftguard's subscriptions deliver to the front end, as Event Grid delivers to the app.
    if (opts.events?.deliver) {
      for (const sub of driftguardSubscriptions(webhookUrl(frontEnd.url, functionKey)))
        await eventGrid.subscribe(sub.name, sub.def);
      closers.push(async () => {
        for (const sub of driftguardSubscriptions("")) await eventGrid.unsubscribe(sub.name);
      });
    }
    return {
      functionsUrl: frontEnd.url,
      functionKey,
      cosmosUrl: cosmos.url,
      cosmosKey: cosmos.key,
      azureUrl: sim.url,
      vaults: sim.vaults,
      caCertFile: tls.caCertFile,
      tls,
      seed,
      policyFile: config.policyFile,
      mode: config.mode,
      hosts,
      cosmos: standIn(cosmosProc),
      ...(blob
        ? {
            blob: { ...standIn(blob.process), url: blob.url, anchorContainerUrl: blob.anchorContainerUrl },
            blobUrl: blob.url,
            anchorContainerUrl: blob.anchorContainerUrl,
          }
        : {}),
      sim: { ...standIn(simProc), admin },
      eventGridUrl: gridProc.ready.url,
      eventGrid,
      eventGridProcess: standIn(gridProc),
      decisionsEndpoint: gridProc.ready.decisionsEndpoint,
      frontEnd,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
