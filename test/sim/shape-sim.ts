/**
 * The set-up every arm-shapes-*.test.ts shares: one simulator seeded with fixture bodies (through
 * `seedResource`, so the simulator computes etags and provisioning states itself), the real SDK
 * clients, a raw HTTPS call at an explicit api-version, and the policy a kind run there uses.
 */
import { afterAll, beforeAll } from "vitest";
import { type AzureSimulator, startAzureSimulator } from "../../dev/azure-sim/index.js";
import type { LocalTls } from "../../dev/tls.js";
import type { AzureClients } from "../../shared/azure/clients.js";
import type { Policy } from "../../shared/policy/schema.js";
import { simulatorClients } from "../helpers/harness.js";
import { seedResource } from "./arm-shapes.js";
import { call, type SimResponse, tls } from "./helpers.js";

export interface ShapeSimulator {
  /** Set before the first test runs. */
  readonly sim: AzureSimulator;
  readonly clients: AzureClients;
  readonly tls: LocalTls;
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
  let sim: AzureSimulator | undefined;
  let clients: AzureClients | undefined;
  let localTls: LocalTls | undefined;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the simulator starts in beforeAll: use it inside a test");
    return value;
  };
  beforeAll(async () => {
    localTls = await tls();
    sim = await startAzureSimulator({ tls: localTls });
    for (const body of bodies()) sim.putResource(seedResource(body));
    clients = simulatorClients(sim, localTls);
  });
  afterAll(async () => {
    await sim?.close();
  });
  return {
    get sim() {
      return started(sim);
    },
    get clients() {
      return started(clients);
    },
    get tls() {
      return started(localTls);
    },
    raw: (method, id, apiVersion, body, headers = {}) =>
      call(`${started(sim).url}${id}?api-version=${apiVersion}`, started(localTls).cert, method, body, {
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
