import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../shared/errors.js";
import {
  destinationPortRanges,
  exposesPorts,
  hasInternetSource,
  isInternetSource,
  isOffending,
  type NsgRule,
  offendingRules,
  parsePortSpec,
  parseRulePortRange,
  ruleDefinition,
  sameDefinition,
} from "../../shared/remediations/close-internet-inbound-rule/rules.js";

// ---------------------------------------------------------------------------------------------
// Generators

const anyCase = (s: string) =>
  fc
    .array(fc.boolean(), { minLength: s.length, maxLength: s.length })
    .map((flags) => [...s].map((c, i) => (flags[i] ? c.toUpperCase() : c.toLowerCase())).join(""));

const internetSource = fc.oneof(
  fc.constantFrom("*", "0.0.0.0/0", "::/0", "0::/0", "10.1.2.3/0", " 0.0.0.0/0 "),
  anyCase("internet"),
  anyCase("any"),
);

const octet = fc.integer({ min: 0, max: 255 });
/** IPv4 CIDRs with a prefix length ≥ 8: a handful of them (≤ 5 per rule here) can never cover the whole space. */
const restrictedCidr = fc
  .tuple(octet, octet, octet, octet, fc.integer({ min: 8, max: 32 }))
  .map(([a, b, c, d, m]) => `${a}.${b}.${c}.${d}/${m}`);
const restrictedSource = fc.oneof(
  restrictedCidr,
  fc.tuple(octet, octet, octet, octet).map((o) => o.join(".")),
  fc.constantFrom(
    "VirtualNetwork",
    "AzureLoadBalancer",
    "AzureCloud",
    "10.0.0.0/8",
    "2001:db8::/32",
    "fe80::/10",
  ),
);

const port = fc.integer({ min: 0, max: 65535 });
const portRangeExpr = fc.oneof(
  port.map(String),
  fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
  fc.constant("*"),
);
const policyPortSpec = fc.oneof(
  port,
  fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
);

const caseOf = (v: string) => fc.constantFrom(v, v.toLowerCase(), v.toUpperCase());

/** A rule with arbitrary access/direction/ports and sources drawn from `source`. */
function ruleWith(opts: {
  access?: fc.Arbitrary<string>;
  direction?: fc.Arbitrary<string>;
  source: fc.Arbitrary<string>;
}): fc.Arbitrary<NsgRule> {
  return fc.record(
    {
      name: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
      priority: fc.integer({ min: 100, max: 4096 }),
      access: opts.access ?? fc.oneof(caseOf("Allow"), caseOf("Deny")),
      direction: opts.direction ?? fc.oneof(caseOf("Inbound"), caseOf("Outbound")),
      protocol: fc.constantFrom("Tcp", "Udp", "*", "Icmp"),
      sourceAddressPrefix: opts.source,
      sourceAddressPrefixes: fc.array(opts.source, { maxLength: 4 }),
      destinationPortRange: portRangeExpr,
      destinationPortRanges: fc.array(portRangeExpr, { maxLength: 3 }),
    },
    { requiredKeys: ["name", "priority", "access", "direction", "protocol"] },
  );
}

const anySource = fc.oneof(internetSource, restrictedSource);

// ---------------------------------------------------------------------------------------------

describe("isInternetSource", () => {
  it.each([
    "*",
    "0.0.0.0/0",
    "::/0",
    "Internet",
    "INTERNET",
    "internet",
    "Any",
    "ANY",
    "0.0.0.0/00",
    "192.168.1.1/0",
    "0:0:0:0:0:0:0:0/0",
  ])("%s is the Internet", (p) => {
    expect(isInternetSource(p)).toBe(true);
  });

  it.each([
    "10.0.0.0/8",
    "0.0.0.0/1",
    "0.0.0.0",
    "1.2.3.4/32",
    "VirtualNetwork",
    "AzureLoadBalancer",
    "::/1",
    "",
    "0.0.0.0/33",
    "256.0.0.0/0",
    "anything",
  ])("%s is not the Internet", (p) => {
    expect(isInternetSource(p)).toBe(false);
  });

  it("non-strings are not the Internet", () => {
    expect(isInternetSource(undefined)).toBe(false);
    expect(isInternetSource(null)).toBe(false);
  });

  it("any /0 IPv4 prefix is the Internet; any longer prefix alone is not", () => {
    fc.assert(
      fc.property(fc.tuple(octet, octet, octet, octet), fc.integer({ min: 0, max: 32 }), (o, m) => {
        expect(isInternetSource(`${o.join(".")}/${m}`)).toBe(m === 0);
      }),
    );
  });
});

describe("hasInternetSource", () => {
  it("looks at sourceAddressPrefix and every entry of sourceAddressPrefixes", () => {
    expect(hasInternetSource({ sourceAddressPrefix: "*" })).toBe(true);
    expect(hasInternetSource({ sourceAddressPrefixes: ["10.0.0.0/8", "0.0.0.0/0"] })).toBe(true);
    expect(
      hasInternetSource({ sourceAddressPrefix: "", sourceAddressPrefixes: ["10.0.0.0/8", "Internet"] }),
    ).toBe(true);
    expect(hasInternetSource({ sourceAddressPrefixes: ["10.0.0.0/8", "192.168.0.0/16"] })).toBe(false);
    expect(hasInternetSource({ sourceApplicationSecurityGroups: [{ id: "/x" }] })).toBe(false);
    expect(hasInternetSource({})).toBe(false);
  });

  it("IPv4 prefixes that together cover the whole address space count as the Internet", () => {
    expect(hasInternetSource({ sourceAddressPrefixes: ["0.0.0.0/1", "128.0.0.0/1"] })).toBe(true);
    expect(
      hasInternetSource({
        sourceAddressPrefix: "128.0.0.0/1",
        sourceAddressPrefixes: ["0.0.0.0/2", "64.0.0.0/2"],
      }),
    ).toBe(true);
    // One /2 short of the whole space.
    expect(hasInternetSource({ sourceAddressPrefixes: ["0.0.0.0/2", "128.0.0.0/1"] })).toBe(false);
  });

  it("a rule whose every source is restricted never has an Internet source", () => {
    fc.assert(
      fc.property(restrictedSource, fc.array(restrictedSource, { maxLength: 4 }), (a, rest) => {
        expect(hasInternetSource({ sourceAddressPrefix: a, sourceAddressPrefixes: rest })).toBe(false);
      }),
    );
  });
});

describe("ports", () => {
  it("parses rule port expressions", () => {
    expect(parseRulePortRange("*")).toEqual({ from: 0, to: 65535 });
    expect(parseRulePortRange("22")).toEqual({ from: 22, to: 22 });
    expect(parseRulePortRange(" 20 - 30 ")).toEqual({ from: 20, to: 30 });
    expect(parseRulePortRange("30-20")).toBeUndefined();
    expect(parseRulePortRange("65536")).toBeUndefined();
    expect(parseRulePortRange("ssh")).toBeUndefined();
  });

  it("rejects bad policy specs with an InputError naming the field", () => {
    expect(() => parsePortSpec(70000, "ports[1]")).toThrow(InputError);
    try {
      parsePortSpec("30-20", "ports[2]");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).path).toBe("ports[2]");
    }
    expect(() => parsePortSpec("*")).toThrow(/leave ports out/);
    expect(() => parsePortSpec(2.5)).toThrow(InputError);
    expect(() => offendingRules([], ["x"])).toThrow(InputError);
  });

  it("a rule without destination ports exposes every port", () => {
    expect(destinationPortRanges({})).toEqual([{ from: 0, to: 65535 }]);
    expect(exposesPorts({}, [22])).toBe(true);
  });

  it("range 20-30 matches 22, port 22 does not match 443, * matches everything", () => {
    expect(exposesPorts({ destinationPortRange: "22" }, ["20-30"])).toBe(true);
    expect(exposesPorts({ destinationPortRange: "443" }, [22])).toBe(false);
    expect(exposesPorts({ destinationPortRange: "*" }, [22])).toBe(true);
    expect(exposesPorts({ destinationPortRange: "", destinationPortRanges: ["80", "440-450"] }, [443])).toBe(
      true,
    );
    expect(exposesPorts({ destinationPortRanges: ["80", "8080"] }, ["443", 22])).toBe(false);
  });

  it("no ports (or an empty list) means any port", () => {
    fc.assert(
      fc.property(ruleWith({ source: anySource }), (rule) => {
        expect(exposesPorts(rule)).toBe(true);
        expect(exposesPorts(rule, [])).toBe(true);
        expect(exposesPorts(rule, null)).toBe(true);
      }),
    );
  });

  it("exposesPorts agrees with a brute-force membership check", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            port.map(String),
            fc
              .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 }))
              .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        fc.array(fc.integer({ min: 0, max: 220 }), { minLength: 1, maxLength: 3 }),
        (ruleRanges, wanted) => {
          const rule: NsgRule = { destinationPortRanges: ruleRanges };
          const open = new Set<number>();
          for (const r of ruleRanges) {
            const [a, b] = r.split("-").map(Number);
            for (let p = a!; p <= (b ?? a!); p++) open.add(p);
          }
          expect(exposesPorts(rule, wanted)).toBe(wanted.some((p) => open.has(p)));
        },
      ),
    );
  });
});

describe("offendingRules", () => {
  it("a Deny rule is never offending, whatever its sources and ports", () => {
    fc.assert(
      fc.property(
        ruleWith({ access: caseOf("Deny"), source: anySource }),
        fc.option(fc.array(policyPortSpec, { maxLength: 3 })),
        (rule, ports) => {
          expect(isOffending(rule, ports)).toBe(false);
          expect(offendingRules([rule], ports)).toEqual([]);
        },
      ),
    );
  });

  it("an Outbound rule is never offending", () => {
    fc.assert(
      fc.property(
        ruleWith({ direction: caseOf("Outbound"), source: anySource }),
        fc.option(fc.array(policyPortSpec, { maxLength: 3 })),
        (rule, ports) => {
          expect(offendingRules([rule], ports)).toEqual([]);
        },
      ),
    );
  });

  it("a rule with only restricted sources is never offending, whatever its ports", () => {
    fc.assert(
      fc.property(
        ruleWith({ access: caseOf("Allow"), direction: caseOf("Inbound"), source: restrictedSource }),
        fc.option(fc.array(policyPortSpec, { maxLength: 3 })),
        (rule, ports) => {
          expect(offendingRules([rule], ports)).toEqual([]);
        },
      ),
    );
  });

  it("an Allow/Inbound rule with an Internet source anywhere is offending when no ports are given", () => {
    fc.assert(
      fc.property(
        ruleWith({ access: caseOf("Allow"), direction: caseOf("Inbound"), source: restrictedSource }),
        internetSource,
        fc.boolean(),
        (rule, internet, inList) => {
          const r: NsgRule = inList
            ? { ...rule, sourceAddressPrefixes: [...(rule.sourceAddressPrefixes ?? []), internet] }
            : { ...rule, sourceAddressPrefix: internet };
          expect(isOffending(r)).toBe(true);
          expect(offendingRules([r])).toEqual([r]);
        },
      ),
    );
  });

  it("returns a subset of the input, in order, and exactly the rules isOffending accepts", () => {
    fc.assert(
      fc.property(
        fc.array(ruleWith({ source: anySource }), { maxLength: 12 }),
        fc.option(fc.array(policyPortSpec, { minLength: 1, maxLength: 3 })),
        (rules, ports) => {
          const out = offendingRules(rules, ports);
          expect(out).toEqual(rules.filter((r) => isOffending(r, ports)));
          for (const r of out) {
            expect(r.access?.toLowerCase()).toBe("allow");
            expect(r.direction?.toLowerCase()).toBe("inbound");
            expect(hasInternetSource(r)).toBe(true);
          }
        },
      ),
    );
  });

  it("narrowing the ports never adds offending rules", () => {
    fc.assert(
      fc.property(
        fc.array(ruleWith({ source: anySource }), { maxLength: 10 }),
        fc.array(policyPortSpec, { minLength: 1, maxLength: 3 }),
        (rules, ports) => {
          const all = offendingRules(rules);
          const narrowed = offendingRules(rules, ports);
          for (const r of narrowed) expect(all).toContain(r);
        },
      ),
    );
  });
});

describe("rule definitions", () => {
  const rule: NsgRule = {
    id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n/securityRules/allow-ssh",
    name: "allow-ssh",
    etag: 'W/"1"',
    provisioningState: "Succeeded",
    priority: 100,
    direction: "Inbound",
    access: "Allow",
    protocol: "Tcp",
    sourceAddressPrefix: "*",
    sourcePortRange: "*",
    destinationAddressPrefix: "*",
    destinationPortRange: "22",
    description: "temporary",
  };

  it("keeps what restores the rule and drops etag and provisioning state", () => {
    const def = ruleDefinition(rule);
    expect(def).toEqual({
      id: rule.id,
      name: "allow-ssh",
      priority: 100,
      direction: "Inbound",
      access: "Allow",
      protocol: "Tcp",
      sourceAddressPrefix: "*",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "22",
      description: "temporary",
    });
    expect(def).not.toHaveProperty("etag");
    expect(def).not.toHaveProperty("provisioningState");
  });

  it("sameDefinition ignores etag, case of enums and empty arrays, but not a narrowed source", () => {
    expect(sameDefinition(rule, { ...rule, etag: 'W/"2"', access: "allow", sourceAddressPrefixes: [] })).toBe(
      true,
    );
    expect(sameDefinition(rule, { ...rule, sourceAddressPrefix: "10.0.0.0/8" })).toBe(false);
    expect(sameDefinition(rule, { ...rule, destinationPortRange: "2222" })).toBe(false);
    expect(sameDefinition(rule, { ...rule, description: "Temporary" })).toBe(false);
  });
});
