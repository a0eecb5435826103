/**
 * The simulator scaffolding of the kinds' tests: one HTTPS Azure simulator per file (or describe
 * block) with the real SDK clients, write-event and alert signals naming a test's resources, and a
 * pipeline harness started afresh per test.
 */
import { afterAll, beforeAll, beforeEach } from "vitest";
import {
  type AzureSimulator,
  type LoggedRequest,
  type Seed,
  startAzureSimulator,
} from "../../dev/azure-sim/index.js";
import { type LocalTls, loadOrCreateLocalTls } from "../../dev/tls.js";
import type { AzureClients } from "../../shared/azure/clients.js";
import type { Policy } from "../../shared/policy/schema.js";
import type { Signal } from "../../shared/signals/types.js";
import { type Harness, simulatorClients, startHarness } from "../helpers/harness.js";

export interface KindSimulator {
  /** The simulator and the clients that call it (set before the first test runs). */
  readonly sim: AzureSimulator;
  readonly clients: AzureClients;
  readonly tls: LocalTls;
  /** Requests and writes the simulator logged since the current test began (with `resetEachTest`) or since `mark()`. */
  since(): LoggedRequest[];
  writes(): LoggedRequest[];
  /** From now on `since()` and `writes()` show only what comes after this. */
  mark(): void;
}

/**
 * Starts the simulator on `seed()` before the tests and closes it after them. With `resetEachTest`
 * every test starts without faults and with the seeded resources as seeded.
 */
export function useKindSimulator(seed: () => Seed, opts: { resetEachTest?: boolean } = {}): KindSimulator {
  let sim: AzureSimulator | undefined;
  let clients: AzureClients | undefined;
  let tls: LocalTls | undefined;
  let baseSeq = 0;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the simulator starts in beforeAll: use it inside a test");
    return value;
  };
  beforeAll(async () => {
    tls = await loadOrCreateLocalTls();
    sim = await startAzureSimulator({ port: 0, tls, seed: seed() });
    clients = simulatorClients(sim, tls);
  });
  afterAll(async () => {
    await sim?.close();
  });
  const mark = () => {
    baseSeq = started(sim).requests().at(-1)?.seq ?? 0;
  };
  if (opts.resetEachTest)
    beforeEach(() => {
      const s = started(sim);
      s.clearFaults();
      for (const r of seed().resources ?? []) s.putResource(structuredClone(r));
      mark();
    });
  return {
    get sim() {
      return started(sim);
    },
    get clients() {
      return started(clients);
    },
    get tls() {
      return started(tls);
    },
    since: () =>
      started(sim)
        .requests()
        .filter((r) => r.seq > baseSeq),
    writes: () =>
      started(sim)
        .writes()
        .filter((w) => w.seq > baseSeq),
    mark,
  };
}

/**
 * `Microsoft.Resources.ResourceWriteSuccess` signals as the Event Grid parser makes them, at `now`,
 * with ids `evt-<prefix>-<n>` unique in the file; `typeOf` gives a resource ID's type.
 */
export function writeSignals(opts: {
  prefix: string;
  subscriptionId: string;
  now: Date;
  typeOf: (resourceId: string) => string;
}): (resourceId: string) => Signal {
  let seq = 0;
  return (resourceId) => {
    const n = ++seq;
    const resourceType = opts.typeOf(resourceId);
    return {
      source: "eventgrid",
      type: "Microsoft.Resources.ResourceWriteSuccess",
      id: `evt-${opts.prefix}-${n}`,
      dedupeKey: `evt-${opts.prefix}-${n}`,
      correlationId: `corr-${opts.prefix}-${n}`,
      time: opts.now.toISOString(),
      subscriptionId: opts.subscriptionId,
      trigger: { eventGrid: "Microsoft.Resources.ResourceWriteSuccess" },
      targets: [{ resourceId, resourceType, subscriptionId: opts.subscriptionId }],
      operationName: `${resourceType}/write`,
    };
  };
}

/**
 * Azure Monitor alert signals of one alert rule, as the alert parser makes them: each with a new ID,
 * naming `target` (of `resourceType`) and the alert's `dimensions`.
 */
export function alertSignals(opts: {
  rule: string;
  subscriptionId: string;
  resourceType: string;
  now: Date;
  firedAt: string;
}): (condition: "Fired" | "Resolved", target: string, dimensions: Record<string, string>) => Signal {
  return (condition, target, dimensions) => {
    const id = `alert-${Math.random().toString(36).slice(2)}`;
    return {
      source: "monitor",
      type: `alert.${condition}`,
      id,
      dedupeKey: `${id}|${condition}`,
      correlationId: id,
      time: opts.now.toISOString(),
      subscriptionId: opts.subscriptionId,
      trigger: { alert: opts.rule, condition },
      targets: [{ resourceId: target, resourceType: opts.resourceType, subscriptionId: opts.subscriptionId }],
      alert: { alertId: id, ruleName: opts.rule, condition, firedAt: opts.firedAt, dimensions },
    };
  };
}

/**
 * `fresh(overrides, mode)`: closes the harness the last test started and starts the pipeline on
 * `seed()` with `policy` (and the overrides) as the only policy, at `now`. The last one is closed
 * after the tests.
 */
export function useFreshHarness(
  seed: () => Seed,
  policy: Policy,
  now: Date,
): (overrides?: Partial<Policy>, mode?: "enforce" | "dry-run") => Promise<Harness> {
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
  });
  return async (overrides = {}, mode) => {
    await h?.close();
    h = await startHarness({
      seed: seed(),
      policies: { version: 1, policies: [{ ...policy, ...overrides }] },
      now,
      ...(mode ? { mode } : {}),
    });
    return h;
  };
}
