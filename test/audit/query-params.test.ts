import { describe, expect, it } from "vitest";
import { AuthzError, checkAuditReader } from "../../shared/audit/authz.js";
import { CSV_COLUMNS, parseAuditQueryParams, toCsv } from "../../shared/audit/query-params.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { InputError } from "../../shared/errors.js";
import { input, NSG_RULE, SUB } from "./contract.js";

const parse = (qs: string) => parseAuditQueryParams(new URLSearchParams(qs));
const failure = (qs: string): InputError => {
  try {
    parse(qs);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error(`expected ${qs} to be rejected`);
};

describe("parseAuditQueryParams", () => {
  it("accepts every parameter of docs/http-api.md#audit-query", () => {
    const q = parse(
      `resourceId=${encodeURIComponent(NSG_RULE)}&subscriptionId=${SUB}&kind=close-internet-inbound-rule&outcome=remediated&policy=nsg-open&actor=driftguard:approval&from=2025-01-01T00:00:00Z&to=2025-02-01&limit=1000&continuationToken=abc_DEF-1&format=csv&code=function-key`,
    );
    expect(q).toEqual({
      resourceId: NSG_RULE,
      subscriptionId: SUB,
      kind: "close-internet-inbound-rule",
      outcome: "remediated",
      policy: "nsg-open",
      actor: "driftguard:approval",
      from: "2025-01-01T00:00:00Z",
      to: "2025-02-01",
      limit: 1000,
      continuationToken: "abc_DEF-1",
      format: "csv",
    });
    expect(parse("")).toEqual({ format: "json", limit: 50 });
    expect(parse(`resourceId=${encodeURIComponent(`${NSG_RULE}/`)}`).resourceId).toBe(NSG_RULE);
  });

  it.each([
    ["resourceId=' OR 1=1 --", "resourceId"],
    [`resourceId=${encodeURIComponent(`${NSG_RULE}' OR c.x = 1 --`)}`, "resourceId"],
    [`resourceId=${encodeURIComponent("/subscriptions/x/resourceGroups/../../secrets")}`, "resourceId"],
    ["subscriptionId=11111111-2222-3333-4444-55555555555' OR 1=1", "subscriptionId"],
    ["subscriptionId=not-a-guid", "subscriptionId"],
    ["kind=Rotate Secret", "kind"],
    ['kind=x" OR true', "kind"],
    ["outcome=done", "outcome"],
    ["policy=UPPER", "policy"],
    ["actor=a b", "actor"],
    ["from=yesterday", "from"],
    ["to=2025-13-45T99:00:00Z", "to"],
    ["from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z", "to"],
    ["limit=0", "limit"],
    ["limit=1001", "limit"],
    ["limit=10.5", "limit"],
    ["limit=-1", "limit"],
    ["limit=1e3", "limit"],
    [`continuationToken=${"x".repeat(4097)}`, "continuationToken"],
    ["continuationToken=has%20space", "continuationToken"],
    ["format=xml", "format"],
    ["resourceid=abc", "resourceid"],
    ["$filter=1 eq 1", "$filter"],
    ["kind=a&kind=b", "kind"],
    ["outcome=", "outcome"],
  ])("rejects %s naming %s", (qs, path) => {
    const err = failure(qs);
    expect(err.path).toBe(path);
    expect(err.status).toBe(400);
    expect(err.toBody().error.code).toMatch(/^[A-Z]/);
  });
});

describe("toCsv", () => {
  const rec = (o: Partial<AuditRecord>): AuditRecord => ({
    ...input(),
    id: "id-1",
    seq: 1,
    prevHash: "0".repeat(64),
    hash: "a".repeat(64),
    ...o,
  });

  it("writes the fixed header and one RFC 4180 row per record", () => {
    const csv = toCsv([
      rec({}),
      rec({
        id: "id-2",
        error: { code: "Http409", message: "m", step: "apply" },
        approver: { id: "p-1", decidedAt: "x", via: "teams" },
      }),
    ]);
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe(CSV_COLUMNS.join(","));
    expect(lines[0]).toBe(
      "id,time,subscriptionId,resourceId,resourceType,signal.source,signal.type,signal.id,policy,kind,mode,outcome,changes,actor,approver,error.code,error.step,durationMs,prevHash,hash",
    );
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe("");
    expect(lines[1]).toContain(
      ',"[{""path"":""properties.publicNetworkAccess"",""from"":""Enabled"",""to"":""Disabled""}]",driftguard,,,,42,',
    );
    expect(lines[2]).toContain(",p-1,Http409,apply,42,");
  });

  it("quotes commas, quotes and line breaks, and neutralises formula injection", () => {
    const csv = toCsv([
      rec({
        policy: '=HYPERLINK("http://x","y")',
        actor: "+cmd",
        kind: "-2+3",
        reason: "n/a",
        signal: { source: "eventgrid", type: "@SUM(A1)", id: "a,b\r\nc", correlationId: null },
      }),
    ]);
    const row = csv.split("\r\n").slice(1).join("\r\n");
    expect(row).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(row).toContain(",'+cmd,");
    expect(row).toContain(",'-2+3,");
    expect(row).toContain(",'@SUM(A1),");
    expect(row).toContain(',"a,b\r\nc",');
    // No cell starts with a formula character once the CSV is parsed.
    const cells = parseCsvRow(row);
    expect(cells).toHaveLength(CSV_COLUMNS.length);
    for (const c of cells) expect(c).not.toMatch(/^[=+\-@]/);
  });
});

/** Minimal RFC 4180 parser for one record (may contain quoted CRLF). */
function parseCsvRow(text: string): string[] {
  const cells: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') {
          v += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else v += text[i++];
      }
      cells.push(v);
    } else {
      const end = text.slice(i).search(/,|\r\n/);
      const stop = end < 0 ? text.length : i + end;
      cells.push(text.slice(i, stop));
      i = stop;
    }
    if (text[i] === ",") i++;
    else break;
  }
  return cells;
}

describe("checkAuditReader", () => {
  const principal = (p: unknown) => Buffer.from(JSON.stringify(p)).toString("base64");
  const withRoles = (roles: string[], roleTyp = "roles") =>
    principal({
      auth_typ: "aad",
      name_typ: "name",
      role_typ: roleTyp,
      claims: [{ typ: "name", val: "Alice" }, ...roles.map((val) => ({ typ: roleTyp, val }))],
    });

  it("locally (no WEBSITE_SITE_NAME) the function key suffices", () => {
    expect(checkAuditReader({}, { env: {} })).toEqual({ principalChecked: false });
  });

  it("in Azure requires the Audit.Read app role from App Service Authentication", () => {
    const env = { WEBSITE_SITE_NAME: "driftguard-func", WEBSITE_AUTH_ENABLED: "True" };
    expect(checkAuditReader({ "x-ms-client-principal": withRoles(["Audit.Read"]) }, { env })).toEqual({
      principalChecked: true,
    });
    expect(
      checkAuditReader(
        {
          "X-MS-CLIENT-PRINCIPAL": withRoles(
            ["Other", "Audit.Read"],
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
          ),
        },
        { env },
      ),
    ).toEqual({ principalChecked: true });
    expect(
      checkAuditReader(new Headers({ "x-ms-client-principal": withRoles(["Audit.Read"]) }), {
        requirePrincipal: true,
        env: {},
      }).principalChecked,
    ).toBe(true);
    const cases: [Record<string, string>, string][] = [
      [{}, "MissingPrincipal"],
      [{ "x-ms-client-principal": withRoles(["Audit.Write"]) }, "MissingRole"],
      [
        { "x-ms-client-principal": principal({ claims: [{ typ: "name", val: "Audit.Read" }] }) },
        "MissingRole",
      ],
      [{ "x-ms-client-principal": "!!!not base64 json" }, "InvalidPrincipal"],
      [{ "x-ms-client-principal": principal({ auth_typ: "aad" }) }, "InvalidPrincipal"],
    ];
    for (const [headers, code] of cases) {
      let caught: unknown;
      try {
        checkAuditReader(headers, { env });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AuthzError);
      expect((caught as AuthzError).code).toBe(code);
      expect((caught as AuthzError).status).toBe(403);
      expect((caught as AuthzError).message).not.toContain("Alice");
    }
  });
});
