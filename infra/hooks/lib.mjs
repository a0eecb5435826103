// Shared by driftguard's azd hooks (Node, no dependencies, so the same code runs from sh and pwsh).
// Paths resolve from this file, never from the working directory. ARM is called with azd's own
// sign-in (`azd auth token`); nothing here prints a key or a token.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// Names the templates and the code use (test/infra/hooks.test.ts checks them against both).
export const ALERTS_FUNCTION = "alerts";
export const EVENT_GRID_FUNCTION = "resourceEvents";
export const GENERATED_SECRETS = ["driftguard-pseudonym-key", "approver-signing-key"];
export const WEB_API_VERSION = "2024-04-01";

const armEndpoint = (process.env.DRIFTGUARD_ARM_ENDPOINT || "https://management.azure.com").replace(
  /\/+$/,
  "",
);
// Tests run the waits at scale 0.
const delayScale = Number(process.env.DRIFTGUARD_HOOK_DELAY_SCALE ?? "1");

export function log(message) {
  process.stdout.write(`driftguard: ${message}\n`);
}

export function fail(message) {
  process.stderr.write(`driftguard: ${message}\n`);
  process.exit(1);
}

/** The azd environment values `names` (azd passes them to hooks as environment variables). */
export function requireEnv(names, hint) {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) fail(`missing azd environment values: ${missing.join(", ")} (${hint})`);
  return names.map((n) => process.env[n]);
}

/** Runs azd; returns its exit status (output goes to the terminal unless captured). */
export function azd(args, { capture = false } = {}) {
  const r = spawnSync("azd", args, {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
  });
  if (r.error) fail(`cannot run azd: ${r.error.message}`);
  return { status: r.status ?? 1, stdout: r.stdout ?? "" };
}

export function azdEnvSet(name, value) {
  if (azd(["env", "set", name, value]).status !== 0) fail(`azd env set ${name} failed`);
}

let token;
function armToken() {
  if (token) return token;
  const r = azd(["auth", "token", "--output", "json", "--no-prompt", "--scope", `${armEndpoint}/.default`], {
    capture: true,
  });
  try {
    token = r.status === 0 ? JSON.parse(r.stdout).token : undefined;
  } catch {
    token = undefined;
  }
  if (!token) fail("azd could not get an Azure Resource Manager token: run `azd auth login`");
  return token;
}

/** One ARM call: `{status, body}`; status 0 when the request did not get an answer. */
export async function arm(method, pathAndQuery) {
  try {
    const res = await fetch(`${armEndpoint}${pathAndQuery}`, {
      method,
      headers: { authorization: `Bearer ${armToken()}`, "content-type": "application/json" },
      ...(method === "POST" ? { body: "{}" } : {}),
    });
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body };
  } catch (err) {
    return { status: 0, body: { error: { message: String(err?.cause?.message ?? err?.message ?? err) } } };
  }
}

/** Every item of an ARM list (follows nextLink); throws with the status on a failed page. */
export async function armList(pathAndQuery) {
  const items = [];
  let next = pathAndQuery;
  while (next) {
    const r = await arm("GET", next);
    if (r.status !== 200) throw new Error(`GET ${next.split("?")[0]} answered ${describe(r)}`);
    items.push(...(r.body?.value ?? []));
    next = r.body?.nextLink ? r.body.nextLink.replace(armEndpoint, "") : undefined;
  }
  return items;
}

/** `404 ResourceNotFound: message` — status and ARM error code, never the body of a success. */
export function describe(r) {
  if (r.status === 0) return `no answer (${r.body?.error?.message ?? "network error"})`;
  const e = r.body?.error;
  return e?.code ? `${r.status} ${e.code}` : String(r.status);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms * delayScale));
}

/**
 * Retries `check` (→ `{ok}` or `{ok: false, detail}`) with exponential backoff, bounded in attempts;
 * fails the hook with `hint` when it never succeeds.
 */
export async function waitUntil(
  what,
  check,
  { attempts = 10, firstDelayMs = 5_000, maxDelayMs = 60_000, hint = "" } = {},
) {
  let delay = firstDelayMs;
  let detail = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const r = await check();
    if (r.ok) return;
    detail = r.detail;
    if (attempt < attempts) {
      log(
        `waiting for ${what} (${detail}); trying again in ${Math.round(delay / 1000)} s (${attempt}/${attempts})`,
      );
      await sleep(delay);
      delay = Math.min(delay * 2, maxDelayMs);
    }
  }
  fail(
    `${what} is still not available after ${attempts} attempts (last answer: ${detail}).${hint ? ` ${hint}` : ""}`,
  );
}
