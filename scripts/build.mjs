#!/usr/bin/env node
/**
 * `npm run build`: the deployable function app package in dist/ (what azure.yaml deploys).
 *
 *   dist/host.json, dist/package.json (no dependencies), dist/policies/, dist/web/audit-viewer.html
 *   dist/functions/index.js            the entry: registers every function (functions/index.ts)
 *   dist/functions/*-<hash>.js         chunks loaded on first use (handlers, runtime, Cosmos, each SDK)
 *   dist/functions/*.js.map            source maps (run Node with --enable-source-maps to use them)
 *
 * One esbuild bundle of functions/index.ts (ESM, Node 22), split at every dynamic `import()`, so a
 * cold start evaluates only the function table and `@azure/functions`. Everything the app imports is
 * bundled: the package needs no node_modules, so it holds no dev dependency and no tsx.
 * `@azure/functions-core` is not a package: the Functions worker provides it at run time.
 *
 * Usage: node scripts/build.mjs [--outdir DIR] [--metafile FILE]
 */
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Modules the Functions worker provides; never bundled. */
export const PROVIDED_BY_HOST = ["@azure/functions-core"];

/**
 * Bundled CommonJS code calls `require()` (Node built-ins, the worker's `@azure/functions-core`);
 * an ES module has no `require`, so each output file gets one.
 */
const REQUIRE_BANNER =
  'import { createRequire as __driftguardCreateRequire } from "node:module"; const require = __driftguardCreateRequire(import.meta.url);';

/**
 * Builds the package into `outdir` (default dist/). Returns esbuild's metafile (inputs per output
 * file and each output's imports), which the bundle test reads to prove what loads at start.
 */
export async function buildPackage({ outdir = path.join(root, "dist") } = {}) {
  const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { index: "functions/index.ts" },
    outdir: path.join(outdir, "functions"),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    sourcemap: true,
    // Maps name the original file and line (stack traces); the sources themselves stay out of the package.
    sourcesContent: false,
    // Smaller files parse faster on a cold instance; names are kept for error names and stack traces.
    minify: true,
    keepNames: true,
    legalComments: "linked",
    chunkNames: "[name]-[hash]",
    external: PROVIDED_BY_HOST,
    banner: { js: REQUIRE_BANNER },
    metafile: true,
    logLevel: "warning",
  });
  await cp(path.join(root, "host.json"), path.join(outdir, "host.json"));
  await cp(path.join(root, "policies"), path.join(outdir, "policies"), { recursive: true });
  await mkdir(path.join(outdir, "web"), { recursive: true });
  await cp(path.join(root, "web", "audit-viewer.html"), path.join(outdir, "web", "audit-viewer.html"));
  // The package's own manifest: the entry, ES modules, and nothing to install.
  const manifest = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    private: true,
    type: "module",
    main: "functions/index.js",
    engines: { node: ">=22" },
  };
  await writeFile(path.join(outdir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return result.metafile;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const outdir = path.resolve(option("--outdir") ?? path.join(root, "dist"));
  const started = performance.now();
  const metafile = await buildPackage({ outdir });
  const metafileOut = option("--metafile");
  if (metafileOut) await writeFile(path.resolve(metafileOut), JSON.stringify(metafile));
  const outputs = Object.entries(metafile.outputs).filter(([f]) => f.endsWith(".js"));
  const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
  process.stdout.write(
    `built ${path.relative(process.cwd(), outdir) || "."}: ${outputs.length} JavaScript files, ${(bytes / 1e6).toFixed(2)} MB, in ${Math.round(performance.now() - started)} ms\n`,
  );
}
