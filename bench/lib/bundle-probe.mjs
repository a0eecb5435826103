#!/usr/bin/env node
/**
 * Runs in a FRESH `node` process: loads the built package's entry the way the Azure Functions Node
 * worker does and reports what it registered, then (optionally) invokes registered functions.
 *
 *   node bench/lib/bundle-probe.mjs <dist/functions/index.js> ['{"invoke":[{"function","input"}]}']
 *
 * The worker hands the app its API as the module `@azure/functions-core` (it exists only inside the
 * worker); this probe provides the same module, recording every `registerFunction` call. Prints one
 * line `@probe <json>` (the app's own logs share stdout): time from process start to "every function
 * registered", RSS then, the registrations, and each invocation's outcome and time (again from
 * process start). Plain JavaScript: no loader.
 */
import Module from "node:module";
import { pathToFileURL } from "node:url";

export const PROBE_PREFIX = "@probe ";
const [entry, commandJson] = process.argv.slice(2);
if (!entry) throw new Error("usage: bundle-probe.mjs <entry.js> [command-json]");
const command = commandJson ? JSON.parse(commandJson) : {};

const registrations = [];
const coreApi = {
  setProgrammingModel() {},
  getProgrammingModel() {},
  registerFunction(metadata, handler) {
    registrations.push({ metadata, handler });
    return { dispose() {} };
  },
  registerHook() {
    return { dispose() {} };
  },
  log() {},
};
const load = Module._load;
Module._load = function loadWithCore(request, ...rest) {
  if (request === "@azure/functions-core") return coreApi;
  return load.call(this, request, ...rest);
};

const importStartMs = performance.now();
await import(pathToFileURL(entry).href);
const registeredMs = performance.now();
const rssBytes = process.memoryUsage.rss();

const invocations = [];
for (const call of command.invoke ?? []) {
  const fn = registrations.find((r) => r.metadata.name === call.function);
  const started = performance.now();
  const context = {
    invocationId: crypto.randomUUID(),
    functionName: call.function,
    log() {},
    trace() {},
    debug() {},
    info() {},
    warn() {},
    error() {},
  };
  try {
    if (!fn) throw new Error(`no function '${call.function}' was registered`);
    const result = await fn.handler(call.input, context);
    invocations.push({
      function: call.function,
      ok: true,
      result: result === undefined ? null : result,
      atMs: performance.now(),
      ms: performance.now() - started,
    });
  } catch (err) {
    invocations.push({
      function: call.function,
      ok: false,
      error: String(err?.message ?? err).slice(0, 500),
      atMs: performance.now(),
      ms: performance.now() - started,
    });
  }
}
process.stdout.write(
  `\n${PROBE_PREFIX}${JSON.stringify({
    importStartMs,
    registeredMs,
    rssBytes,
    functions: registrations.map((r) => r.metadata),
    invocations,
  })}\n`,
);
// Keep-alive sockets of the stores must not hold the process.
process.exit(0);
