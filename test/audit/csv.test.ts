/**
 * CSV formula neutralisation (GET /api/audit?format=csv and `driftguard audit --format csv` share
 * `toCsv`): no cell a spreadsheet reads may start — after the leading whitespace it trims — with a
 * formula character, ASCII or full-width, unless it starts with the neutralising `'`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CSV_COLUMNS, csvCell, toCsv } from "../../shared/audit/query-params.js";
import type { AuditRecord } from "../../shared/audit/types.js";

const FORMULA_CHARS = ["=", "+", "-", "@", "\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"];
const WHITESPACE = [" ", "\t", "\r", "\n", "\u3000", "\u00A0", "\uFEFF", "\u2028", "\v", "\f"];

/** Reads one RFC 4180 cell back (quoted or not), as a spreadsheet would before evaluating it. */
function readCell(cell: string): string {
  if (!cell.startsWith('"')) {
    expect(cell).not.toMatch(/[",\r\n]/);
    return cell;
  }
  expect(cell.endsWith('"')).toBe(true);
  const inner = cell.slice(1, -1);
  expect(inner.replace(/""/g, "")).not.toContain('"');
  return inner.replace(/""/g, '"');
}

function startsWithFormula(text: string): boolean {
  const t = text.trimStart();
  return FORMULA_CHARS.some((c) => t.startsWith(c));
}

/** Strings built to hit the edge: whitespace runs, formula characters, quotes, commas, anything. */
const risky = fc
  .array(
    fc.oneof(
      fc.constantFrom(...WHITESPACE),
      fc.constantFrom(...FORMULA_CHARS),
      fc.constantFrom("'", '"', ",", "A1", "cmd|' /C calc'!A0", "HYPERLINK("),
      fc.string({ unit: "binary", maxLength: 4 }),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(""));

describe("csvCell", () => {
  it("neutralises formulas after leading whitespace, line breaks and in full-width form", () => {
    for (const value of [
      "=1+1",
      " =1+1",
      "  \t=cmd",
      '\n=HYPERLINK("http://x")',
      "\r\n+1",
      "\u3000@SUM(A1)",
      "\uFF1D1+1",
      " \uFF0B1",
      "\uFF0D1",
      "\uFF20SUM(A1)",
      "\tplain",
      "\rplain",
    ]) {
      const cell = readCell(csvCell(value));
      expect(cell, JSON.stringify(value)).toBe(`'${value}`);
    }
  });

  it("leaves ordinary text alone", () => {
    for (const value of ["remediated", "a-b", "x=y", " spaced", "", "'=already quoted", "café"]) {
      expect(readCell(csvCell(value))).toBe(value);
    }
  });

  it("property: no cell starts (after trimming whitespace) with a formula character unless prefixed by '", () => {
    fc.assert(
      fc.property(fc.oneof(risky, fc.string({ unit: "grapheme" })), (value) => {
        const cell = readCell(csvCell(value));
        if (startsWithFormula(cell)) expect(cell.startsWith("'")).toBe(true);
        if (/^[\t\r]/.test(cell)) expect.fail("a cell starts with a tab or carriage return");
        // Nothing else changes: the cell is the value, or the value behind one `'`.
        expect(cell === value || cell === `'${value}`).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it("property: the same holds for every cell of a whole CSV export", () => {
    const record = fc.record({
      policy: risky,
      kind: risky,
      actor: risky,
      resourceId: risky,
      signalType: risky,
      errorCode: risky,
    });
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 3 }), (rows) => {
        const records = rows.map(
          (r, i) =>
            ({
              id: `id-${i}`,
              seq: i + 1,
              time: "2026-01-01T00:00:00.000Z",
              subscriptionId: "00000000-0000-0000-0000-000000000001",
              resourceId: r.resourceId,
              resourceType: "Microsoft.Storage/storageAccounts",
              signal: { source: "eventgrid", type: r.signalType, id: "s", correlationId: null },
              policy: r.policy,
              kind: r.kind,
              mode: "enforce",
              outcome: "failed",
              changes: [],
              actor: r.actor,
              error: { code: r.errorCode, message: "m", step: "apply" },
              durationMs: 1,
              prevHash: "0".repeat(64),
              hash: "a".repeat(64),
            }) as unknown as AuditRecord,
        );
        const cells = splitCsv(toCsv(records));
        expect(cells.length).toBe((records.length + 1) * CSV_COLUMNS.length);
        for (const cell of cells) if (startsWithFormula(cell)) expect(cell.startsWith("'")).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

/** Splits a whole RFC 4180 document (CRLF records, quoted cells may hold CR/LF) into cell values. */
function splitCsv(text: string): string[] {
  const cells: string[] = [];
  let i = 0;
  let cell = "";
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cell += c;
      i++;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      cells.push(cell);
      cell = "";
      i++;
    } else cell += c;
    i++;
  }
  return cells;
}
