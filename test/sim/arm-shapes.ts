/**
 * Shape pinning for the simulator: compact fixtures under test/fixtures/arm-shapes/ keep the field
 * names, nesting and JSON types of the Azure REST API specs' example responses (with our own values).
 * These helpers load them, seed them into the simulator and compare a real response's shape with them.
 */
import { readFileSync } from "node:fs";
import type { ArmResource } from "../../dev/azure-sim/index.js";

const FIXTURE_DIR = new URL("../fixtures/arm-shapes/", import.meta.url);

/** One recorded response: where its shape comes from and the body (our values, the example's shape). */
export interface ShapeResponse {
  operation: string;
  /** spec example path in Azure/azure-rest-api-specs (absent when `shapeOf` points at another response) */
  example?: string;
  apiVersion?: string;
  method: string;
  /** status codes the example (or the operation) allows */
  status: number[];
  /** fields driftguard reads that the example lacks, added from the API definition of that version */
  notInExample?: string[];
  /** the response is the same model as another response of this fixture */
  shapeOf?: string;
  /** why a version, a status or a field differs from the example (documentation only) */
  note?: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, navigated by the tests
  body?: any;
}

export interface ShapeFixture {
  resourceType: string;
  sdk: { package: string; apiVersion: string };
  responses: Record<string, ShapeResponse>;
}

export function loadShapeFixture(name: string): ShapeFixture {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURE_DIR), "utf8")) as ShapeFixture;
}

/** The body whose shape a response must have (following `shapeOf`). */
// biome-ignore lint/suspicious/noExplicitAny: see ShapeResponse.body
export function expectedBody(fixture: ShapeFixture, name: string): any {
  const r = fixture.responses[name];
  if (!r) throw new Error(`fixture has no response '${name}'`);
  if (r.body !== undefined) return r.body;
  if (r.shapeOf) return expectedBody(fixture, r.shapeOf);
  throw new Error(`response '${name}' has neither a body nor shapeOf`);
}

/**
 * Fields the simulator computes itself (ETags, provisioning states). They are removed before seeding,
 * so the comparison checks that the simulator produces them; their values are never compared.
 */
export const SERVER_SET_FIELDS = [
  "etag",
  "eTag",
  "properties.eTag",
  "properties.provisioningState",
  "properties.securityRules[].etag",
  "properties.securityRules[].properties.provisioningState",
  "properties.agentPoolProfiles[].eTag",
  "properties.agentPoolProfiles[].provisioningState",
] as const;

type JsonType = "string" | "number" | "boolean" | "null" | "object" | "array";

function jsonType(v: unknown): JsonType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  const t = typeof v;
  if (t === "string" || t === "number" || t === "boolean") return t;
  return "object";
}

/** Every field path of a JSON value (`a.b`, array elements as `a[]`) with the JSON types seen there. */
export function shapeOf(value: unknown): Map<string, Set<JsonType>> {
  const out = new Map<string, Set<JsonType>>();
  const visit = (v: unknown, path: string) => {
    if (path) {
      const types = out.get(path) ?? new Set<JsonType>();
      types.add(jsonType(v));
      out.set(path, types);
    }
    if (Array.isArray(v)) {
      for (const item of v) visit(item, `${path}[]`);
    } else if (v !== null && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) visit(child, path ? `${path}.${k}` : k);
    }
  };
  visit(value, "");
  return out;
}

/**
 * What `actual` lacks of `expected`'s shape: a field missing (dropped or renamed) or of another JSON
 * type. A field the example shows as `null` only has to be present. Empty list = same shape or a superset.
 */
export function shapeProblems(expected: unknown, actual: unknown): string[] {
  const want = shapeOf(expected);
  const got = shapeOf(actual);
  const problems: string[] = [];
  for (const [path, types] of want) {
    const seen = got.get(path);
    if (!seen) {
      problems.push(`${path}: missing`);
      continue;
    }
    const concrete = [...types].filter((t) => t !== "null");
    if (concrete.some((t) => !seen.has(t))) {
      problems.push(`${path}: expected ${concrete.join("|")}, got ${[...seen].join("|")}`);
    }
  }
  return problems;
}

/** A deep copy of `body` without the given field paths (`a.b`, `a[].b`). */
export function withoutFields<T>(body: T, paths: readonly string[]): T {
  const copy = structuredClone(body);
  const drop = (node: unknown, segments: string[]) => {
    if (node === null || typeof node !== "object" || segments.length === 0) return;
    const [head, ...rest] = segments as [string, ...string[]];
    const isArray = head.endsWith("[]");
    const key = isArray ? head.slice(0, -2) : head;
    const obj = node as Record<string, unknown>;
    if (rest.length === 0 && !isArray) {
      delete obj[key];
      return;
    }
    const child = obj[key];
    if (isArray && Array.isArray(child)) for (const item of child) drop(item, rest);
    else if (!isArray) drop(child, rest);
  };
  for (const p of paths) drop(copy, p.split("."));
  return copy;
}

/** The fixture's GET body as the simulator stores it: without the fields the simulator sets itself. */
export function seedResource(body: unknown): ArmResource {
  return withoutFields(body, SERVER_SET_FIELDS) as ArmResource;
}

/** Value at a dotted path (no arrays), for reading what driftguard reads out of SDK models. */
export function at(value: unknown, path: string): unknown {
  let node = value;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Collects every raw response an SDK call sees (classic and modular clients both call `onResponse`). */
export function responseRecorder(): {
  onResponse: (raw: unknown) => void;
  /** the first response to a request with this method */
  first(method: string): { status: number; body: unknown } | undefined;
} {
  const seen: { method: string; status: number; body: unknown }[] = [];
  return {
    onResponse(raw: unknown) {
      const r = raw as {
        status?: number | string;
        request?: { method?: string };
        parsedBody?: unknown;
        bodyAsText?: string | null;
      };
      // Classic clients replace `parsedBody` with the deserialised (flattened) model: the wire
      // body is `bodyAsText`.
      let body = r.parsedBody;
      if (r.bodyAsText) {
        try {
          body = JSON.parse(r.bodyAsText);
        } catch {
          body = r.bodyAsText;
        }
      }
      seen.push({ method: r.request?.method ?? "", status: Number(r.status), body });
    },
    first(method: string) {
      return seen.find((s) => s.method === method);
    },
  };
}
