/**
 * Shared by the approval tests over one storage account: its `disable-local-auth` fix waits for a
 * person (policy mode `approval`), on the simulator through the in-process harness. A card log
 * stands in for Teams; a gate wrapper fails the next commit as an unavailable store would.
 */
import { afterEach } from "vitest";
import type { ArmResource } from "../../dev/azure-sim/index.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import type { Approval } from "../../shared/ports/approval-store.js";
import type { ApprovalChange, Notifier } from "../../shared/ports/notifier.js";
import type { GateSession, ResourceGate } from "../../shared/ports/resource-gate.js";
import { dispatchCandidate } from "../../shared/sweep/dispatch.js";
import { type Harness, type HarnessOptions, type ManualClock, startHarness } from "../helpers/harness.js";
import { writeEvent } from "../kinds/storage-kinds-setup.js";

export const SUB = "00000000-0000-0000-0000-0000000000d7";
export const ACCOUNT = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdedupe`;
export const ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts";
export const KIND = "disable-local-auth";
export const APPROVER = { objectId: "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b" };
export const DAY_MS = 24 * 3600_000;

export const policies = `
version: 1
policies:
  - name: no-local-auth
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-local-auth
    mode: approval
`;

/** A storage account that accepts shared keys (and is otherwise locked down). */
export function account(): ArmResource {
  return {
    id: ACCOUNT,
    name: "stdedupe",
    type: ACCOUNT_TYPE,
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags: {},
    properties: {
      publicNetworkAccess: "Disabled",
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: true,
      minimumTlsVersion: "TLS1_2",
      supportsHttpsTrafficOnly: true,
    },
  };
}

/** Posted cards and card updates, as a Teams notifier would get them. */
export class CardLog implements Notifier {
  readonly posted: Approval[] = [];
  readonly changed: { id: string; state: string; change: ApprovalChange }[] = [];
  async requestApproval(a: Approval): Promise<void> {
    this.posted.push(a);
  }
  async approvalChanged(a: Approval, change: ApprovalChange): Promise<void> {
    this.changed.push({ id: a.id, state: a.state, change });
  }
}

/** A gate whose next commit fails (the store is unavailable): the session's record is not written. */
export class FlakyCommits {
  failNext = false;
  wrap(gate: ResourceGate): ResourceGate {
    const failing = () => {
      this.failNext = false;
      return Promise.reject(Object.assign(new Error("store unavailable"), { statusCode: 503 }));
    };
    return {
      listInterrupted: (now, limit) => gate.listInterrupted(now, limit),
      enter: async (resourceId, causes, opts) => {
        const entry = await gate.enter(resourceId, causes, opts);
        if (entry.status !== "entered") return entry;
        const session = new Proxy(entry.session, {
          get: (target, prop) => {
            if (prop === "commit" && this.failNext) return failing;
            const v = Reflect.get(target, prop, target);
            return typeof v === "function" ? v.bind(target) : v;
          },
        }) as GateSession;
        return { status: "entered", session };
      },
    };
  }
}

/**
 * One harness per test over the account, closed after each (registers the `afterEach` in the
 * calling file); `cards` is the running harness's card log.
 */
export function approvalHarnesses(): {
  start(clock?: ManualClock, flaky?: FlakyCommits): Promise<Harness>;
  /** A harness over another seed and policies, its cards logged the same way. */
  startWith(options: Omit<HarnessOptions, "notifier">): Promise<Harness>;
  readonly cards: CardLog;
} {
  let harness: Harness | undefined;
  let cards = new CardLog();
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });
  return {
    async start(clock, flaky) {
      cards = new CardLog();
      harness = await startApprovalHarness(cards, clock, flaky);
      return harness;
    },
    async startWith(options) {
      cards = new CardLog();
      harness = await startHarness({ ...options, notifier: cards });
      return harness;
    },
    get cards() {
      return cards;
    },
  };
}

/** The harness over the account, its cards logged in `cards`. */
export function startApprovalHarness(
  cards: CardLog,
  clock?: ManualClock,
  flaky?: FlakyCommits,
): Promise<Harness> {
  return startHarness({
    seed: { resources: [account()] },
    policies,
    notifier: cards,
    ...(clock ? { clock } : {}),
    ...(flaky ? { wrapGate: (g: ResourceGate) => flaky.wrap(g) } : {}),
  });
}

export const write = () => writeEvent(ACCOUNT, ACCOUNT_TYPE, SUB);

export async function sweep(harness: Harness, runId = crypto.randomUUID()) {
  const policy = harness.pipeline.deps.policies.find((p) => p.name === "no-local-auth")!;
  return dispatchCandidate(
    harness.pipeline,
    { runId, startedAt: harness.clock.now().toISOString(), dryRun: false, actor: "driftguard:sweep" },
    { resourceId: ACCOUNT, resourceType: ACCOUNT_TYPE },
    policy,
  );
}

/** This resource's records of the kind, oldest first. */
export async function trail(harness: Harness): Promise<AuditRecord[]> {
  return (await harness.records()).filter((r) => r.resourceId === ACCOUNT && r.kind === KIND);
}

export const localAuthWrites = (harness: Harness) =>
  harness.sim
    .writes()
    .filter((w) => "allowSharedKeyAccess" in ((w.body as { properties?: object })?.properties ?? {}));

/** Someone changes the account so the planned change differs (its `from` value). */
export function drift(harness: Harness, props: Record<string, unknown>): void {
  const current = harness.sim.getResource(ACCOUNT)!;
  const { allowSharedKeyAccess: _old, ...rest } = current.properties as Record<string, unknown>;
  harness.sim.putResource({ ...current, properties: { ...rest, ...props } });
}
