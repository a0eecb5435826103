/**
 * Pure analysis of NSG security rules for `close-internet-inbound-rule` (no Azure SDK here).
 *
 * A rule is *offending* when it is `Allow` + `Inbound`, its source is the whole Internet and (when
 * the policy names ports) its destination ports overlap one of the requested ports or ranges.
 *
 * "Source is the whole Internet" means `sourceAddressPrefix` or any entry of
 * `sourceAddressPrefixes` is `*`, `Internet`, `Any` (case-insensitive), any IPv4 or IPv6 prefix of
 * length 0 (`0.0.0.0/0`, `::/0`, `10.0.0.0/0`, …), or the rule's IPv4 prefixes *together* cover
 * the whole IPv4 space (e.g. `0.0.0.0/1` + `128.0.0.0/1`, an easy way around a naive check).
 * Everything else (restricted CIDRs, service tags such as `VirtualNetwork`, application security
 * groups) is not the Internet.
 */
import { InputError } from "../../errors.js";

/** The fields of an NSG security rule this module reads (the SDK's flattened `SecurityRule`). */
export interface NsgRule {
  id?: string;
  name?: string;
  etag?: string;
  description?: string;
  protocol?: string;
  priority?: number;
  direction?: string;
  access?: string;
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  sourcePortRange?: string;
  sourcePortRanges?: string[];
  destinationAddressPrefix?: string;
  destinationAddressPrefixes?: string[];
  destinationPortRange?: string;
  destinationPortRanges?: string[];
  sourceApplicationSecurityGroups?: { id?: string }[];
  destinationApplicationSecurityGroups?: { id?: string }[];
  provisioningState?: string;
}

/** A port (`22`) or an inclusive range string (`"20-30"`), as written in a policy. */
export type PortSpec = number | string;

/** Inclusive port range. */
export interface PortRange {
  from: number;
  to: number;
}

export const MAX_PORT = 65535;
const ALL_PORTS: PortRange = { from: 0, to: MAX_PORT };

const INTERNET_WORDS = new Set(["*", "internet", "any"]);

function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_PORT ? n : undefined;
}

/**
 * Parses a rule's port expression: `*`, `"22"`, `"20-30"` (whitespace tolerated). Undefined for
 * anything else (an unparseable entry never counts as exposing a requested port).
 */
export function parseRulePortRange(expr: string): PortRange | undefined {
  const s = expr.trim();
  if (s === "*") return ALL_PORTS;
  const m = /^(\d+)\s*-\s*(\d+)$/.exec(s);
  if (m) {
    const from = parsePort(m[1]!);
    const to = parsePort(m[2]!);
    if (from === undefined || to === undefined || from > to) return undefined;
    return { from, to };
  }
  const single = parsePort(s);
  return single === undefined ? undefined : { from: single, to: single };
}

/**
 * Parses a policy port spec (`22`, `"22"`, `"20-30"`). Throws InputError naming `path` for
 * anything else (`*` is rejected: leave `ports` out for "any port").
 */
export function parsePortSpec(spec: PortSpec, path = "ports"): PortRange {
  if (typeof spec === "number") {
    if (!Number.isInteger(spec) || spec < 0 || spec > MAX_PORT) {
      throw new InputError("InvalidPort", `port must be an integer between 0 and ${MAX_PORT}`, path);
    }
    return { from: spec, to: spec };
  }
  if (typeof spec !== "string" || spec.trim() === "*") {
    throw new InputError(
      "InvalidPort",
      `expected a port or a range like "20-30" (leave ports out for any port)`,
      path,
    );
  }
  const r = parseRulePortRange(spec);
  if (!r) {
    throw new InputError(
      "InvalidPort",
      `'${spec.slice(0, 40)}' is not a port or a range like "20-30" within 0-${MAX_PORT} (from ≤ to)`,
      path,
    );
  }
  return r;
}

/** Parses every spec; InputError path `ports[i]` on the first bad one. */
export function parsePortSpecs(specs: readonly PortSpec[]): PortRange[] {
  return specs.map((s, i) => parsePortSpec(s, `ports[${i}]`));
}

// ---------------------------------------------------------------------------------------------
// Sources

/** `a.b.c.d` → 32-bit number, or undefined. */
function parseIpv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** IPv4 CIDR (or bare address = /32) → inclusive numeric interval. */
function ipv4Interval(prefix: string): { from: number; to: number } | undefined {
  const [addr, mask, extra] = prefix.trim().split("/");
  if (addr === undefined || extra !== undefined) return undefined;
  const ip = parseIpv4(addr);
  if (ip === undefined) return undefined;
  let bits = 32;
  if (mask !== undefined) {
    if (!/^\d{1,2}$/.test(mask)) return undefined;
    bits = Number(mask);
    if (bits > 32) return undefined;
  }
  const size = 2 ** (32 - bits);
  const from = Math.floor(ip / size) * size;
  return { from, to: from + size - 1 };
}

function isIpv6ZeroPrefix(prefix: string): boolean {
  const [addr, mask, extra] = prefix.trim().split("/");
  if (addr === undefined || mask === undefined || extra !== undefined) return false;
  if (!addr.includes(":") || !/^[0-9a-fA-F:.]+$/.test(addr)) return false;
  return /^0{1,3}$/.test(mask);
}

/**
 * True when this single source prefix is the whole Internet: `*`, `Internet`, `Any`
 * (case-insensitive), or any IPv4/IPv6 prefix of length 0 (`0.0.0.0/0`, `::/0`).
 */
export function isInternetSource(prefix: string | undefined | null): boolean {
  if (typeof prefix !== "string") return false;
  const s = prefix.trim().toLowerCase();
  if (INTERNET_WORDS.has(s)) return true;
  if (isIpv6ZeroPrefix(s)) return true;
  const v4 = ipv4Interval(s);
  return v4 !== undefined && v4.from === 0 && v4.to === 2 ** 32 - 1;
}

/** All source prefixes of a rule (`sourceAddressPrefix` and `sourceAddressPrefixes`). */
export function sourcePrefixes(rule: NsgRule): string[] {
  const out: string[] = [];
  if (typeof rule.sourceAddressPrefix === "string" && rule.sourceAddressPrefix.trim() !== "") {
    out.push(rule.sourceAddressPrefix);
  }
  for (const p of rule.sourceAddressPrefixes ?? []) if (typeof p === "string") out.push(p);
  return out;
}

/** True when the union of the IPv4 prefixes covers 0.0.0.0–255.255.255.255. */
function ipv4UnionCoversAll(prefixes: string[]): boolean {
  const intervals = prefixes
    .map(ipv4Interval)
    .filter((i): i is { from: number; to: number } => i !== undefined)
    .sort((a, b) => a.from - b.from);
  let next = 0; // first address not yet covered
  for (const i of intervals) {
    if (i.from > next) return false;
    next = Math.max(next, i.to + 1);
    if (next > 2 ** 32 - 1) return true;
  }
  return false;
}

/**
 * The rule with only its Internet source prefixes taken out, when what remains still names a
 * source that is not the Internet (a private range, a restricted CIDR, a service tag, an
 * application security group): `["10.1.0.0/16", "0.0.0.0/0"]` becomes `["10.1.0.0/16"]`. Each
 * remaining prefix stays where it was (`sourceAddressPrefix` or `sourceAddressPrefixes`).
 * Undefined when nothing would remain, when the remaining IPv4 prefixes still cover every address
 * together, or when the rule has no Internet prefix to take out.
 */
export function withoutInternetSources(rule: NsgRule): RuleDefinition | undefined {
  const def = ruleDefinition(rule);
  const single = typeof def.sourceAddressPrefix === "string" ? def.sourceAddressPrefix : undefined;
  const list = def.sourceAddressPrefixes ?? [];
  const singleIsInternet = single !== undefined && isInternetSource(single);
  const keptList = list.filter((p) => !isInternetSource(p));
  if (!singleIsInternet && keptList.length === list.length) return undefined;
  const remaining = [
    ...(single !== undefined && !singleIsInternet && single.trim() !== "" ? [single] : []),
    ...keptList,
  ];
  const groups = def.sourceApplicationSecurityGroups ?? [];
  if (remaining.length === 0 && groups.length === 0) return undefined;
  if (ipv4UnionCoversAll(remaining)) return undefined;
  const out: RuleDefinition = { ...def };
  if (singleIsInternet) delete out.sourceAddressPrefix;
  if (list.length > 0) out.sourceAddressPrefixes = keptList;
  return out;
}

/** True when the rule's source (any of its prefixes, or all of them together) is the whole Internet. */
export function hasInternetSource(rule: NsgRule): boolean {
  const prefixes = sourcePrefixes(rule);
  return prefixes.some(isInternetSource) || ipv4UnionCoversAll(prefixes);
}

// ---------------------------------------------------------------------------------------------
// Ports

/** The rule's destination port ranges; a rule with none given exposes every port (`*`). */
export function destinationPortRanges(rule: NsgRule): PortRange[] {
  const exprs: string[] = [];
  if (typeof rule.destinationPortRange === "string" && rule.destinationPortRange.trim() !== "") {
    exprs.push(rule.destinationPortRange);
  }
  for (const p of rule.destinationPortRanges ?? []) if (typeof p === "string") exprs.push(p);
  if (exprs.length === 0) return [ALL_PORTS];
  return exprs.map(parseRulePortRange).filter((r): r is PortRange => r !== undefined);
}

export function rangesOverlap(a: PortRange, b: PortRange): boolean {
  return a.from <= b.to && b.from <= a.to;
}

/**
 * True when the rule's destination ports overlap any requested port or range. No `ports` (or an
 * empty list) means "any port": every rule qualifies.
 */
export function exposesPorts(rule: NsgRule, ports?: readonly PortSpec[] | null): boolean {
  if (!ports || ports.length === 0) return true;
  const wanted = parsePortSpecs(ports);
  const exposed = destinationPortRanges(rule);
  return exposed.some((e) => wanted.some((w) => rangesOverlap(e, w)));
}

// ---------------------------------------------------------------------------------------------
// Rules

function eqi(a: unknown, b: string): boolean {
  return typeof a === "string" && a.trim().toLowerCase() === b;
}

/** `Allow` + `Inbound` + Internet source + (ports given → overlapping ports). */
export function isOffending(rule: NsgRule, ports?: readonly PortSpec[] | null): boolean {
  return (
    eqi(rule.access, "allow") &&
    eqi(rule.direction, "inbound") &&
    hasInternetSource(rule) &&
    exposesPorts(rule, ports)
  );
}

/** The offending rules among `rules`, in their original order. Never includes any other rule. */
export function offendingRules<R extends NsgRule>(
  rules: readonly R[],
  ports?: readonly PortSpec[] | null,
): R[] {
  if (ports && ports.length > 0) parsePortSpecs(ports); // bad specs fail even when there are no rules
  return rules.filter((r) => isOffending(r, ports));
}

const DEFINITION_KEYS = [
  "priority",
  "direction",
  "access",
  "protocol",
  "sourceAddressPrefix",
  "sourceAddressPrefixes",
  "sourcePortRange",
  "sourcePortRanges",
  "destinationAddressPrefix",
  "destinationAddressPrefixes",
  "destinationPortRange",
  "destinationPortRanges",
  "sourceApplicationSecurityGroups",
  "destinationApplicationSecurityGroups",
  "description",
] as const;

/** The restorable definition of a rule (what a person needs to re-create it), in a stable key order. */
export type RuleDefinition = Pick<NsgRule, "id" | (typeof DEFINITION_KEYS)[number]> & { name: string };

/** The rule's full definition (no etag, no provisioning state, no read-only fields). */
export function ruleDefinition(rule: NsgRule): RuleDefinition {
  const def: RuleDefinition = { name: rule.name ?? "" };
  if (rule.id) def.id = rule.id;
  const out = def as unknown as Record<string, unknown>;
  for (const key of DEFINITION_KEYS) {
    const v = rule[key];
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) {
      out[key] = v.map((x) => (x && typeof x === "object" ? { id: (x as { id?: string }).id } : x));
    } else {
      out[key] = v;
    }
  }
  return def;
}

/** Canonical comparison key: case-insensitive where ARM is, array order-insensitive, empty = absent. */
function canonical(def: RuleDefinition): string {
  const norm = (v: unknown): unknown => {
    if (typeof v === "string") return v.trim().toLowerCase();
    if (Array.isArray(v)) {
      const items = v.map((x) => JSON.stringify(norm(x))).sort();
      return items.length === 0 ? undefined : items;
    }
    if (v && typeof v === "object") {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) o[k] = norm((v as Record<string, unknown>)[k]);
      return o;
    }
    return v;
  };
  const src = def as unknown as Record<string, unknown>;
  const o: Record<string, unknown> = { name: norm(def.name) };
  for (const key of DEFINITION_KEYS) {
    if (key === "description") {
      // Descriptions are free text: compare exactly.
      if (typeof def.description === "string" && def.description !== "") o.description = def.description;
      continue;
    }
    const v = norm(src[key]);
    if (v !== undefined && v !== "") o[key] = v;
  }
  return JSON.stringify(o);
}

/**
 * True when two rules have the same definition, reading `sourceAddressPrefix` and
 * `sourceAddressPrefixes` as one set of sources (ARM may show a one-entry list as the single field).
 */
export function sameEffectiveDefinition(a: NsgRule | RuleDefinition, b: NsgRule | RuleDefinition): boolean {
  const merged = (r: NsgRule | RuleDefinition): RuleDefinition => {
    const {
      sourceAddressPrefix: _single,
      sourceAddressPrefixes: _list,
      ...rest
    } = ruleDefinition(r as NsgRule);
    const sources = sourcePrefixes(r as NsgRule);
    return { ...rest, ...(sources.length > 0 ? { sourceAddressPrefixes: sources } : {}) };
  };
  return canonical(merged(a)) === canonical(merged(b));
}

/** True when two rules have the same definition (ignoring etag, provisioning state and IDs). */
export function sameDefinition(a: NsgRule | RuleDefinition, b: NsgRule | RuleDefinition): boolean {
  return canonical(ruleDefinition(a as NsgRule)) === canonical(ruleDefinition(b as NsgRule));
}

/** Case-insensitive rule-name comparison (ARM names are case-insensitive). */
export function sameName(a: string | undefined, b: string | undefined): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}
