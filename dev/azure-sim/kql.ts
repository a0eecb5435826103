/**
 * The subset of Kusto (KQL) the simulator's Resource Graph answers (README.md, "Resource Graph"):
 *
 *   resources
 *   | where <expr>                       (any number of where)
 *   | project <column>, …                (id, name, type, tags, properties, …)
 *   | order by <column> [asc|desc]
 *   | take N / limit N
 *
 * <expr>: `and` / `or` / `not(…)` / parentheses over comparisons `<path> <op> <literal>` with
 * `==`, `!=`, `=~`, `!~`, `in`, `in~`, `!in`, `!in~` (a parenthesised list), and `isnotempty(path)`,
 * `isempty(path)`. A path is a column, then `.name` or `['name']` steps (`properties.publicNetworkAccess`,
 * `tags['driftguard:exclude']`). Anything else is a parse error: the caller answers 400 as Resource
 * Graph does for a query it cannot run.
 */

export class KqlError extends Error {
  constructor(
    message: string,
    readonly position: number,
    readonly token: string,
  ) {
    super(message);
  }
}

type Token = { kind: "ident" | "string" | "number" | "op"; text: string; pos: number; value?: unknown };

const OPS = ["!in~", "in~", "!in", "==", "!=", "=~", "!~", "|", "(", ")", ",", ".", "[", "]"];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let value = "";
      while (j < src.length && src[j] !== c) {
        if (src[j] === "\\" && j + 1 < src.length) j++;
        value += src[j];
        j++;
      }
      if (j >= src.length) throw new KqlError("unterminated string literal", i, src.slice(i, i + 20));
      out.push({ kind: "string", text: src.slice(i, j + 1), pos: i, value });
      i = j + 1;
      continue;
    }
    const op = OPS.find(
      (o) => src.startsWith(o, i) && (!/[a-z]$/.test(o) || !/[A-Za-z0-9_]/.test(src[i + o.length] ?? "")),
    );
    if (op && !(op === "in~" && /[A-Za-z0-9_]/.test(src[i - 1] ?? ""))) {
      out.push({ kind: "op", text: op, pos: i });
      i += op.length;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ kind: "number", text: num[0], pos: i, value: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ kind: "ident", text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    throw new KqlError(`unexpected character '${c}'`, i, c);
  }
  return out;
}

export type Row = Record<string, unknown>;
type Expr = (row: Row) => boolean;

export interface KqlQuery {
  table: "resources";
  where: Expr[];
  project?: string[];
  order?: { column: string; desc: boolean };
  take?: number;
}

const COLUMNS = new Set([
  "id",
  "name",
  "type",
  "tenantId",
  "kind",
  "location",
  "resourceGroup",
  "subscriptionId",
  "managedBy",
  "sku",
  "plan",
  "properties",
  "tags",
  "identity",
  "zones",
  "extendedLocation",
]);

class Parser {
  private i = 0;
  constructor(
    private readonly t: Token[],
    private readonly src: string,
  ) {}

  private peek(): Token | undefined {
    return this.t[this.i];
  }
  private fail(message: string): never {
    const tok = this.peek();
    throw new KqlError(message, tok?.pos ?? this.src.length, tok?.text ?? "<end of query>");
  }
  private next(): Token {
    const tok = this.t[this.i++];
    if (!tok) this.fail("unexpected end of query");
    return tok;
  }
  private isOp(text: string): boolean {
    const p = this.peek();
    return p?.kind === "op" && p.text === text;
  }
  private isWord(text: string): boolean {
    const p = this.peek();
    return p?.kind === "ident" && p.text.toLowerCase() === text;
  }
  private expectOp(text: string): void {
    if (!this.isOp(text)) this.fail(`expected '${text}'`);
    this.i++;
  }

  parse(): KqlQuery {
    const table = this.next();
    if (table.kind !== "ident" || table.text.toLowerCase() !== "resources")
      throw new KqlError(
        "the simulator answers queries over the 'resources' table only",
        table.pos,
        table.text,
      );
    const q: KqlQuery = { table: "resources", where: [] };
    while (this.peek()) {
      this.expectOp("|");
      const op = this.next();
      const word = op.kind === "ident" ? op.text.toLowerCase() : "";
      if (word === "where") q.where.push(this.orExpr());
      else if (word === "project") q.project = this.columns();
      else if (word === "order" || word === "sort") {
        if (!this.isWord("by")) this.fail("expected 'by'");
        this.i++;
        const column = this.column();
        let desc = true; // Kusto's default order is descending
        if (this.isWord("asc") || this.isWord("desc")) desc = this.next().text.toLowerCase() === "desc";
        q.order = { column, desc };
      } else if (word === "take" || word === "limit") {
        const n = this.next();
        if (n.kind !== "number" || !Number.isInteger(n.value) || (n.value as number) < 0)
          throw new KqlError("expected a row count", n.pos, n.text);
        q.take = n.value as number;
      } else throw new KqlError(`operator '${op.text}' is not supported by the simulator`, op.pos, op.text);
    }
    return q;
  }

  private column(): string {
    const tok = this.next();
    if (tok.kind !== "ident" || !COLUMNS.has(tok.text))
      throw new KqlError(`unknown column '${tok.text}'`, tok.pos, tok.text);
    return tok.text;
  }

  private columns(): string[] {
    const cols = [this.column()];
    while (this.isOp(",")) {
      this.i++;
      cols.push(this.column());
    }
    return cols;
  }

  private path(): (row: Row) => unknown {
    const steps: string[] = [this.column()];
    for (;;) {
      if (this.isOp(".")) {
        this.i++;
        const n = this.next();
        if (n.kind !== "ident") throw new KqlError("expected a property name", n.pos, n.text);
        steps.push(n.text);
      } else if (this.isOp("[")) {
        this.i++;
        const n = this.next();
        if (n.kind !== "string") throw new KqlError("expected a quoted property name", n.pos, n.text);
        steps.push(String(n.value));
        this.expectOp("]");
      } else break;
    }
    return (row) => {
      let v: unknown = row;
      for (const s of steps) {
        if (v === null || typeof v !== "object") return undefined;
        // Kusto property access on dynamic values is case-sensitive; tags are matched as stored.
        v = (v as Record<string, unknown>)[s];
      }
      return v;
    };
  }

  private literal(): unknown {
    const tok = this.next();
    if (tok.kind === "string" || tok.kind === "number") return tok.value;
    if (tok.kind === "ident" && (tok.text === "true" || tok.text === "false")) return tok.text === "true";
    throw new KqlError("expected a literal", tok.pos, tok.text);
  }

  private list(): unknown[] {
    this.expectOp("(");
    const items = [this.literal()];
    while (this.isOp(",")) {
      this.i++;
      items.push(this.literal());
    }
    this.expectOp(")");
    return items;
  }

  private orExpr(): Expr {
    let left = this.andExpr();
    while (this.isWord("or")) {
      this.i++;
      const l = left;
      const r = this.andExpr();
      left = (row) => l(row) || r(row);
    }
    return left;
  }

  private andExpr(): Expr {
    let left = this.unary();
    while (this.isWord("and")) {
      this.i++;
      const l = left;
      const r = this.unary();
      left = (row) => l(row) && r(row);
    }
    return left;
  }

  private unary(): Expr {
    if (this.isOp("(")) {
      this.i++;
      const e = this.orExpr();
      this.expectOp(")");
      return e;
    }
    for (const fn of ["not", "isnotempty", "isempty"]) {
      if (this.isWord(fn) && this.t[this.i + 1]?.text === "(") {
        this.i++;
        this.expectOp("(");
        if (fn === "not") {
          const e = this.orExpr();
          this.expectOp(")");
          return (row) => !e(row);
        }
        const p = this.path();
        this.expectOp(")");
        const empty = (v: unknown) => v === undefined || v === null || v === "";
        return fn === "isempty" ? (row) => empty(p(row)) : (row) => !empty(p(row));
      }
    }
    const left = this.path();
    const op = this.next();
    if (op.kind !== "op" && !(op.kind === "ident" && op.text === "in"))
      throw new KqlError("expected a comparison operator", op.pos, op.text);
    const text = op.text;
    const ci = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : v);
    if (text === "in" || text === "in~" || text === "!in" || text === "!in~") {
      const items = this.list();
      const insensitive = text.endsWith("~");
      const set = new Set(items.map((v) => (insensitive ? ci(v) : v)));
      const negate = text.startsWith("!");
      return (row) => {
        const v = left(row);
        return set.has(insensitive ? ci(v) : v) !== negate;
      };
    }
    const value = this.literal();
    switch (text) {
      case "==":
        return (row) => left(row) === value;
      case "!=":
        return (row) => left(row) !== value;
      case "=~":
        return (row) => ci(left(row)) === ci(value);
      case "!~":
        return (row) => ci(left(row)) !== ci(value);
      default:
        throw new KqlError(`operator '${text}' is not supported by the simulator`, op.pos, text);
    }
  }
}

/** Parses a query of the supported subset, or throws KqlError (position and token of the failure). */
export function parseKql(src: string): KqlQuery {
  if (src.length > 100_000) throw new KqlError("query too long", 0, "");
  return new Parser(tokenize(src), src).parse();
}
