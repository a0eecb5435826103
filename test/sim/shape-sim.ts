/**
 * The set-up every arm-shapes-*.test.ts shares: one simulator (test/remediations/kind-sim.ts) seeded
 * with fixture bodies (through `seedResource`, so the simulator computes etags and provisioning
 * states itself), a raw HTTPS call at an explicit api-version, and the policy a kind run there uses.
 */
import { beforeAll } from "vitest";
import type { Policy } from "../../shared/policy/schema.js";
import { type KindSimulator, useKindSimulator } from "../remediations/kind-sim.js";
import { seedResource } from "./arm-shapes.js";
import { call, type SimResponse } from "./helpers.js";

export interface ShapeSimulator {
  /** The simulator, its clients and TLS (test/remediations/kind-sim.ts). */
  env: KindSimulator;
  /** A plain HTTPS call to `id` at `apiVersion`, with a bearer token (the simulator reads no claims). */
  raw(
    method: string,
    id: string,
    apiVersion: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<SimResponse>;
}

/** Starts the simulator before the tests, seeded with `bodies()` in order, and closes it after them. */
export function useShapeSimulator(bodies: () => unknown[]): ShapeSimulator {
  const env = useKindSimulator(() => ({}));
  beforeAll(() => {
    for (const body of bodies()) env.sim.putResource(seedResource(body));
  });
  return {
    env,
    raw: (method, id, apiVersion, body, headers = {}) =>
      call(`${env.sim.url}${id}?api-version=${apiVersion}`, env.tls.cert, method, body, {
        authorization: "Bearer shape-test",
        ...headers,
      }),
  };
}

/** `body` with every `from` in it (IDs, names, URLs) replaced by `to`: a second resource like it. */
export function renamed<T>(body: T, from: string, to: string): T {
  return JSON.parse(JSON.stringify(body).replaceAll(from, to)) as T;
}

/** An enforce-mode policy of `kind` over `resourceTypes`, for a kind's own run against the shapes. */
export function shapePolicy(
  kind: string,
  resourceTypes: string[],
  params: Record<string, unknown> = {},
): Policy {
  return {
    name: `shapes-${kind}`,
    resourceTypes,
    triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
    kind,
    params,
    mode: "enforce",
    scope: [],
    maxActionsPerHour: 20,
  };
}
