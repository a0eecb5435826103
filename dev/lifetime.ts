/**
 * How long `npm start` lives: until Ctrl-C, SIGTERM or SIGHUP (`docker stop`, systemd, `timeout`,
 * a closed terminal), or until the process that started it is gone. npm runs the script through
 * `sh -c`, which does not pass a signal on: npm forwards SIGTERM to the shell, the shell dies, and
 * the stack would keep its ports. So the stack also watches its parent and grandparent (the shell
 * and npm) and stops when either is gone — as the dev/proc children watch their supervisor.
 */
import { readFileSync } from "node:fs";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const POLL_MS = 500;

/** The parent's parent, where the system says (Linux /proc); undefined elsewhere. */
function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …" — comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) && ppid > 1 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Calls `stop` (once) on SIGINT, SIGTERM or SIGHUP, or when the parent or grandparent process ends
 * (the parent changes when this process is re-parented). Returns the reason it was called with.
 */
export function stopWhenAskedOrOrphaned(stop: (why: string) => void): void {
  let stopped = false;
  const once = (why: string) => {
    if (stopped) return;
    stopped = true;
    stop(why);
  };
  for (const signal of SIGNALS) process.on(signal, () => once(signal));
  const parent = process.ppid;
  const grandparent = parentOf(parent);
  setInterval(() => {
    if (process.ppid !== parent || !alive(parent)) once("its parent process ended");
    else if (grandparent !== undefined && !alive(grandparent)) once("the process that started it ended");
  }, POLL_MS).unref();
}
