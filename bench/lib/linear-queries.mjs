/**
 * Preloaded into the bench's child processes (`NODE_OPTIONS=--import …/linear-queries.mjs`); acts
 * only in the Cosmos DB stand-in's process (dev/proc/cosmos.ts) and changes nothing elsewhere.
 *
 * The stand-in (`@vercel/cosmosdb-server`) runs every query with `@zeit/cosmosdb-query` 0.7.2, whose
 * generated code first lists the documents a query reads with `reduce(($, c) => [...$, { c }], [])`:
 * a copy of the list so far for every document, so each query costs O(n²) in the container's size,
 * not the O(n) of a scan (measured here: 0.15 s of the stand-in's CPU at 8,000 documents, 46 s at
 * 24,000; once the list outgrows V8's regular heap objects every copy is a large-object allocation).
 * With the bench's 30,000+ documents one query blocked the single-threaded stand-in for minutes.
 * Azure Cosmos DB serves these queries from its index. This replaces the copying step with a push
 * (and the package's array `stripUndefined`, which copies the same way, with a loop): the same
 * documents in the same order, the same answers and continuation tokens (test/bench/linear-queries
 * .test.ts compares both on every query shape driftguard and the bench send), in O(n). A query is
 * still a scan of the whole container, as docs/performance.md says.
 */
import { createRequire } from "node:module";
import path from "node:path";

/** `[...$, { … }]` in a generated reduce step (an object literal with no nested braces or brackets). */
const COPY_STEP = /\[\.\.\.\$, (\{[^{}[\]]*\})\]/g;

/** The generated code of a query with its per-document copies turned into pushes. */
export function linearQueryCode(code) {
  return code.replace(COPY_STEP, "($.push($1), $)");
}

/** `stripUndefined` of the package, with arrays built by a loop instead of a copy per element. */
export function linearStripUndefined(obj) {
  if (Array.isArray(obj)) {
    const out = [];
    for (const v of obj) if (typeof v !== "undefined") out.push(linearStripUndefined(v));
    return out;
  }
  if (obj && typeof obj === "object") {
    const out = {};
    for (const [k, v] of Object.entries(obj)) if (typeof v !== "undefined") out[k] = linearStripUndefined(v);
    return out;
  }
  return obj;
}

/** The stand-in's query package, resolved from the stand-in itself (its own dependency). */
export function standInQueryPackage() {
  const fromBench = createRequire(import.meta.url);
  const server = fromBench.resolve("@vercel/cosmosdb-server");
  const require = createRequire(server);
  return {
    query: require("@zeit/cosmosdb-query").default,
    helpers: require("@zeit/cosmosdb-query/lib/helpers.js"),
    executor: require("@zeit/cosmosdb-query/lib/executor.js").default,
  };
}

/** Patches the package in this process: every query compiled from now on runs in linear time. */
export function installLinearQueries() {
  const { query, helpers } = standInQueryPackage();
  const proto = Object.getPrototypeOf(query("SELECT * FROM c"));
  const code = Object.getOwnPropertyDescriptor(proto, "code");
  if (!code?.get)
    throw new Error("linear-queries: @zeit/cosmosdb-query has no `code` getter (version changed?)");
  // Fail loudly rather than measure the quadratic engine unknowingly after an upgrade.
  const probe = code.get.call(query("SELECT * FROM c WHERE c.pk = @pk"));
  if (linearQueryCode(probe) === probe)
    throw new Error("linear-queries: the generated code's copy step was not found (version changed?)");
  Object.defineProperty(proto, "code", {
    configurable: true,
    get() {
      this._linearCode ??= linearQueryCode(code.get.call(this));
      return this._linearCode;
    },
  });
  helpers.stripUndefined = linearStripUndefined;
}

const entry = process.argv[1] ?? "";
if (entry.endsWith(path.join("dev", "proc", "cosmos.ts"))) installLinearQueries();
