/**
 * The blob stand-in as its own process: Azurite (npm `azurite`, Microsoft's Azure Storage emulator),
 * blob service only, started from its `azurite-blob` command with the local stack's certificate
 * (HTTPS), `--oauth basic` (bearer tokens are checked for shape, audience, issuer and lifetime, as the
 * local credential issues them) and `--inMemoryPersistence` (like the Cosmos stand-in, it forgets
 * everything when it stops). This process supervises it: it prints `@driftguard {"type":"ready",…}`
 * once Azurite listens, and stops it when stopped or when its own supervisor goes away.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { loadOrCreateLocalTls } from "../tls.js";
import { runChild } from "./child.js";
import type { BlobProcessOptions, BlobReady } from "./protocol.js";

/** Azurite's one account (its well-known development account). */
export const AZURITE_ACCOUNT = "devstoreaccount1";

/** The `azurite-blob` command of the installed package. */
function azuriteBlobMain(): string {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve("azurite/package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { bin: Record<string, string> };
  return path.join(path.dirname(pkgFile), pkg.bin["azurite-blob"]!);
}

runChild<BlobProcessOptions>("blob stand-in (Azurite)", async (opts) => {
  const tls = await loadOrCreateLocalTls(opts.tlsDir);
  const keyFile = path.join(path.dirname(tls.caCertFile), "local-ca.key");
  // Azurite writes nothing with --inMemoryPersistence; its working directory is a scratch folder anyway.
  const cwd = await mkdtemp(path.join(tmpdir(), "driftguard-azurite-"));
  const azurite: ChildProcess = spawn(
    process.execPath,
    [
      azuriteBlobMain(),
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(opts.port ?? 10000),
      "--cert",
      tls.caCertFile,
      "--key",
      keyFile,
      "--oauth",
      "basic",
      "--inMemoryPersistence",
      "--extentMemoryLimit",
      "256",
      "--disableTelemetry",
      "--silent",
    ],
    { cwd, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => azurite.once("exit", () => resolve()));
  createInterface({ input: azurite.stderr! }).on("line", (line) => process.stderr.write(`${line}\n`));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("Azurite did not listen within 60 s")), 60_000);
    azurite.once("error", (err) => reject(new Error(`could not start Azurite: ${err.message}`)));
    void exited.then(() => reject(new Error(`Azurite exited (code ${azurite.exitCode})`)));
    createInterface({ input: azurite.stdout! }).on("line", (line) => {
      const m = /listens on (https:\/\/[^\s]+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      } else process.stderr.write(`${line}\n`);
    });
  });
  const port = Number(new URL(url).port);
  const ready: BlobReady = {
    type: "ready",
    pid: process.pid,
    azuritePid: azurite.pid!,
    url: `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`,
    port,
  };
  return {
    ready,
    close: async () => {
      if (azurite.exitCode === null) {
        azurite.kill("SIGTERM");
        const killer = setTimeout(() => azurite.kill("SIGKILL"), 2_000);
        await exited;
        clearTimeout(killer);
      }
      await rm(cwd, { recursive: true, force: true });
    },
  };
});
