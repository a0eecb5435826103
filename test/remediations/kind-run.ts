/**
 * The shared way remediation tests drive one kind directly (without the pipeline): a context built
 * as the pipeline builds it — params parsed once by the kind's schema, clients limited to the
 * services the kind declares — read → plan → apply → verify as in enforce mode, and the assertions
 * every kind test makes of a plan or a failure.
 */
import { expect } from "vitest";
import type { Change } from "../../shared/audit/types.js";
import { AZURE_SERVICES, type AzureClients } from "../../shared/azure/clients.js";
import { RemediationError } from "../../shared/errors.js";
import { type Logger, silentLogger } from "../../shared/log.js";
import type { Policy } from "../../shared/policy/schema.js";
import type {
  AnyRemediation,
  AuditHistory,
  AzureService,
  ChangePlan,
  Current,
  Plan,
  Remediation,
  RemediationContext,
  VerifyResult,
} from "../../shared/remediations/types.js";
import type { Signal } from "../../shared/signals/types.js";

/** A trail with nothing on it. */
export const EMPTY_HISTORY: AuditHistory = { query: async () => ({ items: [], continuationToken: null }) };

/**
 * `clients` as the kind may use them: a service the kind does not list in `services` throws, so
 * every test that drives a kind also checks its declaration. Without clients, any use throws.
 */
export function declaredClients(remediation: AnyRemediation, clients?: AzureClients): AzureClients {
  return new Proxy((clients ?? {}) as AzureClients, {
    get(target, key) {
      if (!clients)
        throw new Error(`this test gave ${remediation.kind} no Azure clients (clients.${String(key)})`);
      if (
        (AZURE_SERVICES as readonly string[]).includes(key as string) &&
        !remediation.services.includes(key as AzureService)
      )
        throw new Error(`${remediation.kind} calls clients.${String(key)} but does not list it in services`);
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export interface KindContextOptions {
  policy: Policy;
  /** Raw params as a policy file would write them (default: the policy's); parsed by the kind. */
  params?: unknown;
  clients?: AzureClients;
  history?: AuditHistory;
  /** The run's clock (default: the real one). */
  now?: Date | (() => Date);
  log?: Logger;
}

/** The context the pipeline would hand `remediation` for the signal's first target. */
export function kindContext<P>(
  remediation: Remediation<P, unknown, unknown> | AnyRemediation,
  signal: Signal,
  opts: KindContextOptions,
): RemediationContext<P> {
  const params = remediation.paramsSchema.parse(opts.params ?? opts.policy.params ?? {}) as P;
  const now = opts.now;
  return {
    target: signal.targets[0]!,
    signal,
    policy: { ...opts.policy, params: params as Record<string, unknown> },
    params,
    clients: declaredClients(remediation, opts.clients),
    history: opts.history ?? EMPTY_HISTORY,
    now: typeof now === "function" ? now : now ? () => new Date(now) : () => new Date(),
    log: opts.log ?? silentLogger,
  };
}

export interface KindRun<S, D> {
  current: Current<S>;
  plan: Plan<D>;
  /** The changes `apply` returned (what the pipeline records), when it ran. */
  changes?: Change[];
  verified?: VerifyResult;
}

/** read → plan → (apply → verify with the applied changes), as the pipeline does in enforce mode. */
export async function runKind<P, S, D>(
  remediation: Remediation<P, S, D>,
  ctx: RemediationContext<P>,
  opts: { apply?: boolean } = {},
): Promise<KindRun<S, D>> {
  const current = await remediation.read(ctx);
  const plan = await remediation.plan(current, ctx);
  if (plan.action === "noop" || opts.apply === false) return { current, plan };
  const changes = await remediation.apply(plan, ctx);
  const verified = await remediation.verify({ ...plan, changes }, ctx);
  return { current, plan, changes, verified };
}

/** read → plan only: what the kind would do, with the context it planned in. */
export async function planOnly<P, S, D>(remediation: Remediation<P, S, D>, ctx: RemediationContext<P>) {
  return { ctx, ...(await runKind(remediation, ctx, { apply: false })) };
}

/** Asserts that the kind planned a change (and narrows the plan's type). */
export function expectChange<D>(plan: Plan<D>): asserts plan is ChangePlan<D> {
  expect(plan.action).toBe("change");
}

/** Asserts that `p` fails with a RemediationError, and returns it. */
export async function remediationFailure(p: Promise<unknown>): Promise<RemediationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RemediationError);
  return err as RemediationError;
}
