/**
 * A small Bicep reader for the infra tests: brackets, strings (with ${…} interpolation) and comments,
 * enough to pick out declarations, object entries and string lists. No Bicep compiler runs here.
 */
/** Index just past the string literal that starts at `i` (a `'`). */
export function skipString(src: string, i: number): number {
  if (src.startsWith("'''", i)) {
    const end = src.indexOf("'''", i + 3);
    if (end < 0) throw new Error(`unterminated multi-line string at ${i}`);
    return end + 3;
  }
  let j = i + 1;
  while (j < src.length) {
    const c = src[j];
    if (c === "\\") j += 2;
    else if (c === "'") return j + 1;
    else if (c === "$" && src[j + 1] === "{") j = skipBracket(src, j + 1);
    else j++;
  }
  throw new Error(`unterminated string at ${i}`);
}

/** Index just past the bracket that closes the one at `i` (`{`, `[` or `(`). */
export function skipBracket(src: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < src.length) {
    const c = src[j];
    if (c === "/" && src[j + 1] === "/") {
      const nl = src.indexOf("\n", j);
      j = nl < 0 ? src.length : nl;
    } else if (c === "/" && src[j + 1] === "*") {
      j = src.indexOf("*/", j) + 2;
    } else if (c === "'") {
      j = skipString(src, j);
    } else {
      if (c === "{" || c === "[" || c === "(") depth++;
      else if (c === "}" || c === "]" || c === ")") {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
  }
  throw new Error(`unbalanced bracket at ${i}`);
}

/** The `{…}`/`[…]` value that follows the first match of `anchor` in `src`. */
export function blockAfter(src: string, anchor: RegExp): string {
  const m = anchor.exec(src);
  if (!m) throw new Error(`anchor ${anchor} not found`);
  const start = src.slice(m.index + m[0].length).search(/[{[]/) + m.index + m[0].length;
  return src.slice(start, skipBracket(src, start));
}

export interface Entry {
  key: string;
  /** Source text of the value (up to the next key). */
  value: string;
}

/** Top-level `key: value` entries of an object literal `{…}`. */
export function entries(obj: string): Entry[] {
  const found: { key: string; start: number; end: number }[] = [];
  let j = 1;
  let lineStart = true;
  while (j < obj.length - 1) {
    const c = obj[j]!;
    if (c === "\n") {
      lineStart = true;
      j++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      j++;
      continue;
    }
    if (c === "/" && obj[j + 1] === "/") {
      const nl = obj.indexOf("\n", j);
      j = nl < 0 ? obj.length : nl;
      continue;
    }
    if (lineStart) {
      const m = /^(?:'([^'$]*)'|([A-Za-z_][A-Za-z0-9_]*))\s*:/.exec(obj.slice(j));
      if (m) {
        found.push({ key: (m[1] ?? m[2])!, start: j, end: j + m[0].length });
        j += m[0].length;
        lineStart = false;
        continue;
      }
    }
    lineStart = false;
    if (c === "'") j = skipString(obj, j);
    else if (c === "{" || c === "[" || c === "(") j = skipBracket(obj, j);
    else j++;
  }
  return found.map((f, i) => ({
    key: f.key,
    value: obj
      .slice(f.end, i + 1 < found.length ? found[i + 1]!.start : obj.length - 1)
      .split("\n")
      .filter((line) => !line.trim().startsWith("//"))
      .join("\n")
      .trim(),
  }));
}

/** Plain string literals at the top level of an array literal `[…]` (no interpolation). */
export function stringItems(arr: string): string[] {
  const items: string[] = [];
  let j = 1;
  while (j < arr.length - 1) {
    const c = arr[j];
    if (c === "/" && arr[j + 1] === "/") {
      const nl = arr.indexOf("\n", j);
      j = nl < 0 ? arr.length : nl;
    } else if (c === "'") {
      const end = skipString(arr, j);
      const text = arr.slice(j + 1, end - 1);
      if (!text.includes("${")) items.push(text);
      j = end;
    } else if (c === "{" || c === "[" || c === "(") j = skipBracket(arr, j);
    else j++;
  }
  return items;
}

export interface ParamDecl {
  name: string;
  required: boolean;
}

export function params(src: string): ParamDecl[] {
  return [...src.matchAll(/^param\s+(\w+)\s+([^\s=]+)[ \t]*(=)?/gm)].map((m) => ({
    name: m[1]!,
    required: m[3] === undefined && !m[2]!.endsWith("?"),
  }));
}

/** `resource` declarations with their type and API version. */
export function resources(src: string): { symbol: string; type: string; apiVersion: string; body: string }[] {
  return [...src.matchAll(/^resource\s+(\w+)\s+'([^'@]+)@([^']+)'/gm)].map((m) => {
    const start = m.index! + m[0].length;
    const open = src.slice(start).search(/[{[]/) + start;
    return { symbol: m[1]!, type: m[2]!, apiVersion: m[3]!, body: src.slice(open, skipBracket(src, open)) };
  });
}

export function resourceBody(src: string, symbol: string): string {
  const r = resources(src).find((x) => x.symbol === symbol);
  if (!r) throw new Error(`resource ${symbol} not declared`);
  return r.body;
}
