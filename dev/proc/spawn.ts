/**
 * The supervisor side of one child process: spawn `node --import tsx <entry> '<options json>'`,
 * wait for its `ready` message, relay its later messages and output, and signal, stop or kill it.
 * Every live child is SIGKILLed when the supervisor exits, so a crashed test leaves no orphans
 * (a child whose supervisor is SIGKILLed notices by itself: see child.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MESSAGE_PREFIX, type UsageMessage, type UsageRequest } from "./protocol.js";

const PROC_DIR = path.dirname(fileURLToPath(import.meta.url));
/** tsx's loader by absolute URL, so children start from any working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const STDERR_TAIL_BYTES = 8_192;

export type ProcessEntry = "cosmos" | "azure-sim" | "event-grid" | "host" | "blob";

export interface SpawnOptions {
  /** For messages: "cosmos", "host 2", … */
  name: string;
  entry: ProcessEntry;
  options: object;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Protocol messages after `ready`. */
  onMessage?: (message: { type: string } & Record<string, unknown>) => void;
  /** Each line the child writes to stderr (its logs) or, outside the protocol, to stdout. */
  onOutput?: (line: string) => void;
}

export class ChildProcessError extends Error {
  constructor(
    readonly child: string,
    message: string,
  ) {
    super(`${child}: ${message}`);
    this.name = "ChildProcessError";
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of live) if (child.pid) child.kill("SIGKILL");
  });
}

export interface ManagedProcess<R> {
  readonly name: string;
  readonly pid: number;
  readonly ready: R;
  /** Exit code or signal once the process has ended, else undefined. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  signal(sig: NodeJS.Signals): void;
  /** Resolves when the process has ended (at once if it has). */
  exited(): Promise<void>;
  /** SIGCONT (in case it is frozen), SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL and wait for the end. */
  kill(): Promise<void>;
  /** Its own CPU time and RSS, as it reports them (a frozen child does not answer: rejects after `timeoutMs`). */
  usage(timeoutMs?: number): Promise<UsageMessage>;
  /** The last few KB of its stderr, for error messages. */
  stderrTail(): string;
  /** Writes `message` on its stdin and resolves with its next message of type `answer`. */
  request<A>(
    message: { type: string } & Record<string, unknown>,
    answer: string,
    timeoutMs?: number,
  ): Promise<A>;
}

export async function spawnProcess<R extends { type: "ready" }>(
  opts: SpawnOptions,
): Promise<ManagedProcess<R>> {
  installExitHook();
  const entryFile = path.join(PROC_DIR, `${opts.entry}.ts`);
  const child = spawn(
    process.execPath,
    ["--import", TSX_LOADER, entryFile, JSON.stringify({ ...opts.options, parentPid: process.pid })],
    { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] },
  );
  live.add(child);
  let exit: ManagedProcess<R>["exit"];
  const exitedPromise = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      resolve();
    });
  });
  child.stdin?.on("error", () => undefined); // EPIPE once the child is gone

  const usageWaiters: ((usage: UsageMessage) => void)[] = [];
  const answerWaiters: { type: string; resolve: (m: unknown) => void }[] = [];
  let tail = "";
  createInterface({ input: child.stderr! }).on("line", (line) => {
    tail = `${tail}${line}\n`.slice(-STDERR_TAIL_BYTES);
    opts.onOutput?.(line);
  });

  const ready = await new Promise<R>((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new ChildProcessError(opts.name, `${message}${tail ? `\n${tail.trimEnd()}` : ""}`));
    };
    const timeoutMs = opts.readyTimeoutMs ?? 60_000;
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    child.once("error", (err) => fail(`could not start (${err.message})`));
    // Let stderr drain before reporting the exit, so the reason is in the message.
    void exitedPromise.then(() =>
      setTimeout(() => fail(`exited before it was ready (code ${exit?.code}, signal ${exit?.signal})`), 50),
    );
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith(MESSAGE_PREFIX)) return opts.onOutput?.(line);
      let message: { type: string } & Record<string, unknown>;
      try {
        message = JSON.parse(line.slice(MESSAGE_PREFIX.length));
      } catch {
        return opts.onOutput?.(line);
      }
      if (message.type === "ready" && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(message as unknown as R);
      } else if (message.type === "usage") usageWaiters.shift()?.(message as unknown as UsageMessage);
      else {
        const waiter = answerWaiters.findIndex((w) => w.type === message.type);
        if (waiter >= 0) answerWaiters.splice(waiter, 1)[0]!.resolve(message);
        else opts.onMessage?.(message);
      }
    });
  });

  const pid = child.pid!;
  const signal = (sig: NodeJS.Signals) => {
    if (exit === undefined) child.kill(sig);
  };
  return {
    name: opts.name,
    pid,
    ready,
    get exit() {
      return exit;
    },
    signal,
    exited: () => exitedPromise,
    stop: async (graceMs = 3_000) => {
      if (exit !== undefined) return;
      signal("SIGCONT");
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      await exitedPromise;
      clearTimeout(timer);
    },
    kill: async () => {
      signal("SIGKILL");
      await exitedPromise;
    },
    usage: (timeoutMs = 5_000) =>
      new Promise<UsageMessage>((resolve, reject) => {
        if (exit !== undefined) return reject(new ChildProcessError(opts.name, "has exited"));
        const timer = setTimeout(() => {
          const i = usageWaiters.indexOf(answer);
          if (i >= 0) usageWaiters.splice(i, 1);
          reject(new ChildProcessError(opts.name, `did not report its usage within ${timeoutMs} ms`));
        }, timeoutMs);
        const answer = (usage: UsageMessage) => {
          clearTimeout(timer);
          resolve(usage);
        };
        usageWaiters.push(answer);
        child.stdin?.write(`${JSON.stringify({ type: "usage" } satisfies UsageRequest)}\n`);
      }),
    stderrTail: () => tail,
    request: <A>(message: { type: string } & Record<string, unknown>, answer: string, timeoutMs = 120_000) =>
      new Promise<A>((resolve, reject) => {
        if (exit !== undefined) return reject(new ChildProcessError(opts.name, "has exited"));
        const waiter = {
          type: answer,
          resolve: (m: unknown) => {
            clearTimeout(timer);
            resolve(m as A);
          },
        };
        const timer = setTimeout(() => {
          const i = answerWaiters.indexOf(waiter);
          if (i >= 0) answerWaiters.splice(i, 1);
          reject(new ChildProcessError(opts.name, `did not answer ${message.type} within ${timeoutMs} ms`));
        }, timeoutMs);
        answerWaiters.push(waiter);
        child.stdin?.write(`${JSON.stringify(message)}\n`);
      }),
  };
}
