/**
 * The docs stay true to the code: docs/policies.md holds exactly what `npm run docs` generates from
 * the kinds, every link between the repository's pages (and every `docs/<page>.md#<anchor>` a
 * comment points at) lands on a heading that exists, and nothing cites a document that is not in
 * the repository.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { renderPoliciesDoc } from "../scripts/kinds-doc.js";
import { BUILTIN_KINDS, builtinRegistry, createRegistry } from "../shared/remediations/index.js";
import type { AnyRemediation } from "../shared/remediations/types.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const POLICIES_DOC = readFileSync(join(ROOT, "docs/policies.md"), "utf8");
const SKIPPED_DIRS = new Set(["node_modules", ".git", "dist", "test-artifacts", ".driftguard"]);
const TEXT_FILE = /\.(?:ts|mts|mjs|js|md|ya?ml|bicep|html|css|json)$/;
const THIS_FILE = "test/docs.test.ts";

function repoFiles(dir = ROOT): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIPPED_DIRS.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return repoFiles(path);
    return TEXT_FILE.test(name) ? [relative(ROOT, path).split(sep).join("/")] : [];
  });
}

const files = repoFiles();
const markdownFiles = files.filter((f) => f.endsWith(".md"));

/** GitHub's anchor for a heading: lower-cased, punctuation dropped, spaces → `-`, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(?:```|~~~)/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    let slug = base;
    for (let n = 1; anchors.has(slug); n++) slug = `${base}-${n}`;
    anchors.add(slug);
  }
  return anchors;
}

/** Why `target` (a path, optionally `#anchor`, relative to `from`'s folder) does not resolve, if it does not. */
function brokenTarget(from: string, target: string): string | undefined {
  const [path = "", anchor] = target.split("#");
  const file = path === "" ? join(ROOT, from) : resolve(ROOT, dirname(from), decodeURI(path));
  if (!existsSync(file)) return `'${target}': no such file`;
  if (anchor === undefined || anchor === "") return undefined;
  if (!file.endsWith(".md")) return `'${target}': an anchor in a file that is not Markdown`;
  return anchorsOf(readFileSync(file, "utf8")).has(anchor) ? undefined : `'${target}': no such heading`;
}

/** The kinds, with `change` applied to the one named `kind`. */
function registryWith(kind: string, change: (k: AnyRemediation) => AnyRemediation) {
  return createRegistry(BUILTIN_KINDS.map((k) => (k.kind === kind ? change(k) : k)));
}

describe("docs/policies.md", () => {
  it("holds what `npm run docs` writes from the kinds' schemas, descriptions and examples", () => {
    // Out of date? Run `npm run docs` and commit docs/policies.md.
    expect(renderPoliciesDoc(POLICIES_DOC, builtinRegistry())).toBe(POLICIES_DOC);
  });

  it("shows each param's type, default, bounds and description, and each example", () => {
    for (const kind of BUILTIN_KINDS) expect(POLICIES_DOC).toContain(kind.example.trimEnd());
    expect(POLICIES_DOC).toContain(
      "| `maxNodes` | integer | required | 0–5000 | Upper node limit a GPU pool is capped to (only ever lowered) |",
    );
    expect(POLICIES_DOC).toContain("| `validityDays` | integer | `90` | 1–3650 |");
  });

  it("changes when a kind's params change", () => {
    const widened = registryWith("rotate-secret", (k) => ({
      ...k,
      paramsSchema: z.strictObject({
        validityDays: z.number().int().min(1).max(30).default(7).describe("Days the new version lives"),
        dryRunFirst: z.boolean().default(false).describe("Plan once before acting"),
      }),
    }));
    const rendered = renderPoliciesDoc(POLICIES_DOC, widened);
    expect(rendered).not.toBe(POLICIES_DOC);
    expect(rendered).toContain("| `validityDays` | integer | `7` | 1–30 | Days the new version lives |");
    expect(rendered).toContain("| `dryRunFirst` | boolean | `false` | — | Plan once before acting |");
    expect(rendered).not.toContain("| `minAgeMinutes` |");
    // Rendering is stable: the page it writes is up to date with the same kinds.
    expect(renderPoliciesDoc(rendered, widened)).toBe(rendered);
  });

  it("refuses a param without a description, naming it", () => {
    const undescribed = registryWith("scale-gpu-pool", (k) => ({
      ...k,
      paramsSchema: z.strictObject({ maxNodes: z.number().int() }),
    }));
    expect(() => renderPoliciesDoc(POLICIES_DOC, undescribed)).toThrow(
      "kind 'scale-gpu-pool': param 'maxNodes' has no description",
    );
  });

  it("refuses a kind without a section, and a section of a kind that no longer exists", () => {
    const renamed = registryWith("rotate-secret", (k) => ({ ...k, kind: "rotate-credential" }));
    expect(() => renderPoliciesDoc(POLICIES_DOC, renamed)).toThrow(
      "docs/policies.md has no section for kind 'rotate-credential'",
    );
    const withSection = POLICIES_DOC.replace(
      "### rotate-secret\n",
      "### rotate-credential\n\n<!-- kind:rotate-credential:start -->\n<!-- kind:rotate-credential:end -->\n\n### rotate-secret\n",
    );
    expect(() => renderPoliciesDoc(withSection, builtinRegistry())).toThrow(
      "docs/policies.md documents kind 'rotate-credential', which is not in the registry",
    );
  });
});

describe("links between the repository's documents", () => {
  it("finds the Markdown pages and their headings", () => {
    // Guards the scan: a broken walk or slug rule would make the checks below pass vacuously.
    expect(markdownFiles).toEqual(expect.arrayContaining(["README.md", "docs/policies.md", "docs/cli.md"]));
    const cli = anchorsOf(readFileSync(join(ROOT, "docs/cli.md"), "utf8"));
    expect([...cli]).toEqual(
      expect.arrayContaining(["the-driftguard-cli", "which-environment-the-cli-talks-to", "npm-start"]),
    );
    expect(anchorsOf("# A\n```\n# not a heading\n```\n## `npm start` flags\n## A")).toEqual(
      new Set(["a", "npm-start-flags", "a-1"]),
    );
    expect(brokenTarget("README.md", "docs/cli.md#no-such-heading")).toMatch(/no such heading/);
  });

  it("every relative Markdown link lands on a file and heading that exist", () => {
    const broken: string[] = [];
    for (const file of markdownFiles) {
      const text = readFileSync(join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const why = brokenTarget(file, target);
        if (why) broken.push(`${file}: ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("every docs/<page>.md#<anchor> a file names exists", () => {
    const broken: string[] = [];
    let seen = 0;
    for (const file of files.filter((f) => f !== THIS_FILE)) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const m of text.matchAll(/(?<![\w-]\/)(?<![\w-])docs\/[A-Za-z0-9_-]+\.md(?:#[A-Za-z0-9_-]+)?/g)) {
        seen++;
        const why = brokenTarget("README.md", m[0]); // docs/ is at the root
        if (why) broken.push(`${file}: ${why}`);
      }
    }
    expect(seen).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });

  it("nothing cites a document that is not in the repository", () => {
    const outside = /CONTRACT(?:\.md| §)|AZURE-FACTS|real-payloads|\.\.\/shared\/[A-Z]/;
    const citing = files
      .filter((f) => f !== THIS_FILE)
      .flatMap((f) =>
        readFileSync(join(ROOT, f), "utf8")
          .split("\n")
          .flatMap((line, i) => (outside.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(citing).toEqual([]);
  });
});
