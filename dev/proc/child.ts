/**
 * The child side of dev/proc: read the JSON options argument, announce readiness on stdout, stop
 * cleanly on SIGTERM/SIGINT, and never outlive the supervisor (it is polled by pid, and its stdin
 * pipe closing — the supervisor died — also stops the child).
 */
import { createInterface } from "node:readline";
import type { ChildBaseOptions, UsageMessage } from "./protocol.js";
import { MESSAGE_PREFIX } from "./protocol.js";

/** Writes one protocol message line to stdout. */
export function sendMessage<M extends { type: string }>(message: M): void {
  process.stdout.write(`${MESSAGE_PREFIX}${JSON.stringify(message)}\n`);
}

function readOptions<T>(): T {
  const raw = process.argv[2];
  if (!raw) return {} as T;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    return parsed as T;
  } catch (err) {
    throw new Error(`the options argument must be a JSON object (${(err as Error).message})`);
  }
}

/**
 * Runs a child: `start` boots the server(s) and returns the ready message and a close function.
 * Exit codes: 0 after a clean stop, 1 when start fails (the reason on stderr).
 */
export function runChild<O extends ChildBaseOptions>(
  name: string,
  start: (opts: O) => Promise<{
    ready: { type: "ready" };
    close: () => Promise<void>;
    /** Other requests from the supervisor (one JSON line each), e.g. a host's `run-timer`. */
    onRequest?: (request: { type?: unknown } & Record<string, unknown>) => void;
  }>,
): void {
  let close: (() => Promise<void>) | undefined;
  let onRequest: ((request: { type?: unknown } & Record<string, unknown>) => void) | undefined;
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    // A stuck close must not keep the process (and its port) alive.
    setTimeout(() => process.exit(code), 3_000).unref();
    void (close?.() ?? Promise.resolve()).catch(() => undefined).finally(() => process.exit(code));
  };
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));

  const main = async () => {
    const opts = readOptions<O>();
    if (opts.parentPid !== undefined) {
      const parentPid = opts.parentPid;
      // Re-parenting (the supervisor died) changes ppid; a closed stdin pipe means the same.
      setInterval(() => {
        if (process.ppid !== parentPid) stop(0);
      }, 500).unref();
      process.stdin.on("end", () => stop(0));
      process.stdin.on("error", () => stop(0));
      // Requests from the supervisor, one JSON line each.
      createInterface({ input: process.stdin }).on("line", (line) => {
        let request: { type?: unknown } & Record<string, unknown> = {};
        try {
          request = JSON.parse(line) as { type?: unknown } & Record<string, unknown>;
        } catch {
          return;
        }
        if (request.type !== "usage") return onRequest?.(request);
        const cpu = process.cpuUsage();
        sendMessage<UsageMessage>({
          type: "usage",
          cpuUserUs: cpu.user,
          cpuSystemUs: cpu.system,
          rssBytes: process.memoryUsage.rss(),
        });
      });
    }
    const started = await start(opts);
    close = started.close;
    onRequest = started.onRequest;
    if (stopping) await close().catch(() => undefined);
    else sendMessage(started.ready);
  };
  main().catch((err) => {
    process.stderr.write(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
