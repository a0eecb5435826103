/**
 * The module structure the code relies on: no import cycles, the ports depend on no adapter, the
 * in-memory fakes are used by tests only (the Cosmos DB adapters share rules with them through the
 * ports, never by importing a fake), the pure core loads no Azure SDK, and the function triggers
 * know no kind (follow-ups come from the registry).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { INTEGRATION_MARKERS, testSuites } from "../scripts/test-suites.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE_DIRS = ["shared", "functions", "cli", "dev", "bench", "scripts", "test"];
const SOURCE_FILE = /\.(?:ts|mts|mjs)$/;
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    if (name === "node_modules") return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return SOURCE_FILE.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The repository's own modules a file imports (statically, for types, or dynamically), as repo paths. */
function localImports(file: string): string[] {
  const out = new Set<string>();
  for (const m of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
    const specifier = m[1] ?? m[2] ?? m[3];
    if (!specifier?.startsWith(".")) continue;
    const base = resolve(dirname(file), specifier);
    const target = [base.replace(/\.js$/, ".ts"), base.replace(/\.mjs$/, ".mts"), base, `${base}.ts`].find(
      (p) => existsSync(p) && statSync(p).isFile(),
    );
    if (target) out.add(repoPath(target));
  }
  return [...out];
}

/** Import statements whose bindings are all types are erased: they load nothing at run time. */
const STATEMENT =
  /(?:^|[\s;])(import|export)\s+([^;]*?)\s*from\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function typeOnly(clause: string): boolean {
  if (/^type\s/.test(clause)) return true;
  const braces = /^\{([^}]*)\}$/.exec(clause.trim());
  if (!braces) return false;
  const names = braces[1]!
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith("type "));
}

/** What a file loads at run time: repository modules (repo paths) and packages (bare specifiers). */
function runtimeImports(file: string): { local: string[]; packages: string[] } {
  const local = new Set<string>();
  const packages = new Set<string>();
  for (const m of readFileSync(join(ROOT, file), "utf8").matchAll(STATEMENT)) {
    const specifier = m[3] ?? m[4] ?? m[5];
    if (!specifier || (m[2] !== undefined && typeOnly(m[2]))) continue;
    if (!specifier.startsWith(".")) {
      packages.add(specifier);
      continue;
    }
    const base = resolve(dirname(join(ROOT, file)), specifier);
    const target = [base.replace(/\.js$/, ".ts"), base, `${base}.ts`].find(
      (p) => existsSync(p) && statSync(p).isFile(),
    );
    if (target) local.add(repoPath(target));
  }
  return { local: [...local], packages: [...packages] };
}

/** Every package `roots` load at run time, directly or through repository modules, with the path to it. */
function packagesLoadedBy(roots: string[]): Map<string, string> {
  const found = new Map<string, string>();
  const seen = new Set<string>();
  const queue = roots.map((r) => [r, r] as const);
  while (queue.length > 0) {
    const [file, path] = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const { local, packages } = runtimeImports(file);
    for (const p of packages) if (!found.has(p)) found.set(p, `${path} -> ${p}`);
    for (const l of local) queue.push([l, `${path} -> ${l}`]);
  }
  return found;
}

function repoPath(path: string): string {
  return relative(ROOT, path).split(sep).join("/");
}

const graph = new Map<string, string[]>(
  SOURCE_DIRS.flatMap((d) => sourceFiles(join(ROOT, d))).map((f) => [repoPath(f), localImports(f)]),
);

/** Every import cycle, each as the path of modules that closes it (found by depth-first search). */
function importCycles(): string[] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "open");
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === "open") cycles.push([...stack.slice(stack.indexOf(dep)), dep].join(" -> "));
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

function importsMatching(from: (file: string) => boolean, to: (dep: string) => boolean): string[] {
  return [...graph]
    .filter(([file]) => from(file))
    .flatMap(([file, deps]) => deps.filter(to).map((dep) => `${file} imports ${dep}`));
}

/** The kind folder (`shared/remediations/<kind>/…`) a file belongs to, if any. */
function kindFolderOf(file: string): string | undefined {
  return /^shared\/remediations\/([^/]+)\//.exec(file)?.[1];
}

describe("module structure", () => {
  it("reads the repository's modules and their imports", () => {
    // Guards the scan itself: a broken pattern would make the checks below pass vacuously.
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("shared/cosmos/stores.ts")).toContain("shared/ports/stores.ts");
    expect(graph.get("shared/runtime.ts")).toContain("shared/cosmos/stores.ts"); // a dynamic import
  });

  it("has no import cycles", () => {
    expect(importCycles()).toEqual([]);
  });

  it("keeps the ports free of adapters", () => {
    const adapter = (dep: string) =>
      /^shared\/(?:cosmos|fakes|teams|azure)\//.test(dep) || dep === "shared/runtime.ts";
    expect(importsMatching((f) => f.startsWith("shared/ports/"), adapter)).toEqual([]);
  });

  it("uses the in-memory fakes from tests only", () => {
    const product = (f: string) => /^(?:shared|functions|cli)\//.test(f) && !f.startsWith("shared/fakes/");
    expect(importsMatching(product, (dep) => dep.startsWith("shared/fakes/"))).toEqual([]);
  });

  it("keeps the pure core (signals, policy, pipeline) free of Azure SDKs at run time", () => {
    const pure = [...graph.keys()].filter((f) =>
      /^shared\/(?:signals\/|policy\/|pipeline\/|pipeline\.ts$|errors\.ts$)/.test(f),
    );
    expect(pure.length).toBeGreaterThan(15);
    const loaded = packagesLoadedBy(pure);
    // Guards the scan: the pipeline's breaker library is found through the graph.
    expect(loaded.has("cockatiel")).toBe(true);
    expect([...loaded].filter(([p]) => p.startsWith("@azure/")).map(([, path]) => path)).toEqual([]);
  });

  it("keeps the function triggers free of kinds: nothing in functions/ imports a kind folder", () => {
    const kindImports = importsMatching(
      (f) => f.startsWith("functions/"),
      (dep) => kindFolderOf(dep) !== undefined,
    );
    expect(kindImports).toEqual([]);
    // Guards the check: the kinds are reachable only through the registry.
    expect(graph.get("shared/remediations/index.ts")?.some((d) => kindFolderOf(d) !== undefined)).toBe(true);
  });

  it("keeps each kind in one folder: its helpers inside it, no other kind's helpers imported", () => {
    const kindFolders = new Set([...graph.keys()].map(kindFolderOf).filter((k): k is string => !!k));
    expect(kindFolders.size).toBeGreaterThanOrEqual(5);
    // Every kind folder holds its kind.
    expect([...kindFolders].filter((k) => !graph.has(`shared/remediations/${k}/kind.ts`))).toEqual([]);
    // A module beside the folders that is used by one kind only is that kind's helper: it belongs
    // in the kind's folder (shared helpers are used by several kinds, or outside the kinds).
    const loose = [...graph.keys()].filter((f) => /^shared\/remediations\/[^/]+\.ts$/.test(f));
    const misplaced = loose.flatMap((helper) => {
      const users = [...graph].filter(([, deps]) => deps.includes(helper)).map(([file]) => file);
      const kinds = new Set(users.map(kindFolderOf));
      return users.length > 0 && kinds.size === 1 && !kinds.has(undefined)
        ? [`${helper} is used only by ${[...kinds][0]}`]
        : [];
    });
    expect(misplaced).toEqual([]);
    // A kind's helpers are its own: another kind does not reach into its folder.
    const crossKind = importsMatching(
      (f) => kindFolderOf(f) !== undefined,
      (dep) => kindFolderOf(dep) !== undefined,
    ).filter((line) => {
      const [file, dep] = line.split(" imports ");
      return kindFolderOf(file!) !== kindFolderOf(dep!);
    });
    expect(crossKind).toEqual([]);
  });
});

describe("the test suites", () => {
  const { unit, integration } = testSuites(ROOT);

  it("npm run test:unit runs no test that starts the local stack, a child process or a browser", () => {
    // Guards the split: the suites cover every test file, once.
    expect([...unit, ...integration].sort()).toEqual(
      [...graph.keys()].filter((f) => f.startsWith("test/") && f.endsWith(".test.ts")).sort(),
    );
    expect(unit.filter((f) => integration.includes(f))).toEqual([]);
    for (const f of unit) expect(readFileSync(join(ROOT, f), "utf8"), f).not.toMatch(INTEGRATION_MARKERS);
    // What a unit test is: no stack, no browser (these folders hold only the others).
    expect(unit.filter((f) => /^test\/(?:integration|browser)\//.test(f))).toEqual([]);
    expect(unit).toEqual(
      expect.arrayContaining(["test/structure.test.ts", "test/signals/eventgrid.test.ts"]),
    );
    expect(integration).toEqual(
      expect.arrayContaining([
        "test/integration/npm-start.test.ts",
        "test/browser/approval-page.test.ts",
        "test/reliability/faults.test.ts",
        "test/cosmos/stores.test.ts",
      ]),
    );
  });
});
