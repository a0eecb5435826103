/**
 * Test harness: the real pipeline and the real SDK clients against the HTTPS Azure simulator, with
 * in-memory stores (which follow the same contract tests as the Cosmos ones). For tests that need
 * the whole HTTP stack and Cosmos DB, use `startTestStack` (test/helpers/stack.ts).
 */
import { stringify } from "yaml";
import { type AzureSimulator, type Seed, startAzureSimulator } from "../../dev/azure-sim/index.js";
import { type LocalTls, loadOrCreateLocalTls } from "../../dev/tls.js";
import type { ApprovalLifecycle } from "../../shared/approvals/lifecycle.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { AzureClients, staticTokenCredential } from "../../shared/azure/clients.js";
import { InMemoryActionLimit } from "../../shared/fakes/action-limit.js";
import { InMemoryApprovalStore } from "../../shared/fakes/approval-store.js";
import { InMemoryAuditStore } from "../../shared/fakes/audit-store.js";
import { InMemoryResourceGate } from "../../shared/fakes/resource-gate.js";
import { silentLogger } from "../../shared/log.js";
import type { Decision, Pipeline, RunOptions } from "../../shared/pipeline.js";
import { validatePolicyText } from "../../shared/policy/load.js";
import type { PolicyFile, PolicyMode } from "../../shared/policy/schema.js";
import type { Approval } from "../../shared/ports/approval-store.js";
import type { Clock } from "../../shared/ports/clock.js";
import type { Notifier } from "../../shared/ports/notifier.js";
import type { ResourceGate } from "../../shared/ports/resource-gate.js";
import { BUILTIN_KINDS, createRegistry } from "../../shared/remediations/index.js";
import type { AnyRemediation } from "../../shared/remediations/types.js";
import { createCore } from "../../shared/runtime.js";
import type { Signal } from "../../shared/signals/types.js";

export class RecordingNotifier implements Notifier {
  readonly requests: Approval[] = [];
  async requestApproval(approval: Approval): Promise<void> {
    this.requests.push(approval);
  }
}

/** A clock tests can move. */
export class ManualClock implements Clock {
  constructor(private current: Date = new Date()) {}
  now(): Date {
    return new Date(this.current);
  }
  set(d: Date | string): void {
    this.current = new Date(d);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface HarnessOptions {
  seed: Seed;
  /** YAML/JSON text or a policy file object. */
  policies: string | PolicyFile | { version: 1; policies: unknown[] };
  /** Global DRIFTGUARD_MODE (default enforce). */
  mode?: PolicyMode;
  now?: Date;
  clock?: Clock;
  /** Reuse an audit store (restart-safety tests: a new pipeline over the same trail). */
  audit?: InMemoryAuditStore;
  /** Reuse a simulator instead of starting one. */
  sim?: AzureSimulator;
  lro?: "sync" | "async";
  selfPrincipalIds?: string[];
  busyWaitMs?: number;
  /** Kinds registered besides the shipped ones (test-only kinds). */
  extraKinds?: AnyRemediation[];
  /** `DRIFTGUARD_FLAP_LIMIT` (default 3). */
  flapLimit?: number;
  /** `APPROVER_OBJECT_IDS` (default none: locally, anyone may decide). */
  approverObjectIds?: string[];
  /** Wraps the in-memory gate (fault injection: a host that dies inside a session). */
  wrapGate?: (gate: ResourceGate) => ResourceGate;
  notifier?: Notifier;
}

export interface Harness {
  sim: AzureSimulator;
  tls: LocalTls;
  clients: AzureClients;
  pipeline: Pipeline;
  approvalLifecycle: ApprovalLifecycle;
  audit: InMemoryAuditStore;
  approvals: InMemoryApprovalStore;
  notifier: RecordingNotifier;
  clock: Clock;
  handle(signal: Signal, opts?: RunOptions): Promise<Decision[]>;
  /** Every record, oldest first. */
  records(): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

/** Real SDK clients pointed at the simulator: its URL, its CA, a static token, short retries, no LRO wait. */
export function simulatorClients(sim: AzureSimulator, tls: LocalTls): AzureClients {
  return new AzureClients({
    armEndpoint: sim.url,
    credential: staticTokenCredential(),
    ca: tls.cert,
    vaultUrl: (v) => {
      const url = sim.vaults[v];
      if (!url) throw new Error(`no simulated vault '${v}'`);
      return url;
    },
    disableChallengeResourceVerification: true,
    retry: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
    lroPollIntervalMs: 0,
  });
}

export const TEST_PSEUDONYM_KEY = "test-pseudonym-key-0123456789";

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const tls = await loadOrCreateLocalTls();
  const ownSim = !opts.sim;
  const sim = opts.sim ?? (await startAzureSimulator({ port: 0, tls, seed: opts.seed, lro: opts.lro }));
  const text = typeof opts.policies === "string" ? opts.policies : stringify(opts.policies);
  const registry = createRegistry([...BUILTIN_KINDS, ...(opts.extraKinds ?? [])]);
  const { file, issues } = validatePolicyText(text, registry);
  if (!file)
    throw new Error(`invalid test policies: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
  const clients = simulatorClients(sim, tls);
  const clock = opts.clock ?? (opts.now ? new ManualClock(opts.now) : { now: () => new Date() });
  const audit = opts.audit ?? new InMemoryAuditStore();
  const approvals = new InMemoryApprovalStore();
  const notifier = new RecordingNotifier();
  const { pipeline, approvalLifecycle } = createCore(
    {
      policies: file.policies,
      registry,
      globalMode: opts.mode ?? "enforce",
      clients,
      audit,
      gate: (opts.wrapGate ?? ((g) => g))(new InMemoryResourceGate(audit)),
      actionLimit: new InMemoryActionLimit(),
      clock,
      log: silentLogger,
      selfPrincipalIds: opts.selfPrincipalIds ?? [],
      pseudonymKey: TEST_PSEUDONYM_KEY,
      busyWaitMs: opts.busyWaitMs ?? 5_000,
      ...(opts.flapLimit !== undefined ? { flapLimit: opts.flapLimit } : {}),
    },
    {
      approvals,
      notifier: opts.notifier ?? notifier,
      approvalTtlMs: 24 * 3600_000,
      approvers: {
        objectIds: opts.approverObjectIds ?? [],
        requireSignIn: false,
        localDeveloper: "test",
        pseudonymKey: TEST_PSEUDONYM_KEY,
      },
    },
  );
  return {
    sim,
    tls,
    clients,
    pipeline,
    approvalLifecycle,
    audit,
    approvals,
    notifier,
    clock,
    handle: (signal, runOpts) => pipeline.handle(signal, runOpts),
    records: async () => {
      const all: AuditRecord[] = [];
      let token: string | null = null;
      do {
        const page: { items: AuditRecord[]; continuationToken: string | null } = await audit.query({
          limit: 1000,
          continuationToken: token,
        });
        all.push(...page.items);
        token = page.continuationToken;
      } while (token);
      return all.reverse();
    },
    close: async () => {
      if (ownSim) await sim.close();
    },
  };
}
