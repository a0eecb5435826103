/**
 * Two hosts in one process, as two host instances have them: two pipelines, each with its own
 * Cosmos DB client and gate, over one Cosmos stand-in and the simulator of a test stack. The
 * several-kinds reliability tests deliver to both at once, as Event Grid delivers to any instance.
 */
import { staticTokenCredential } from "../../shared/azure/clients.js";
import { loadConfig } from "../../shared/config.js";
import { createCosmosStores } from "../../shared/cosmos/stores.js";
import { silentLogger } from "../../shared/log.js";
import type { Decision, Pipeline } from "../../shared/pipeline.js";
import type { PolicyFile } from "../../shared/policy/schema.js";
import type { Notifier } from "../../shared/ports/notifier.js";
import type { Stores } from "../../shared/ports/stores.js";
import type { RemediationRegistry } from "../../shared/remediations/registry.js";
import { createCore } from "../../shared/runtime.js";
import type { Signal } from "../../shared/signals/types.js";
import { simulatorClients, TEST_PSEUDONYM_KEY } from "../helpers/harness.js";
import type { TestStack } from "../helpers/stack.js";

export interface Host {
  pipeline: Pipeline;
  stores: Stores;
}

export interface TwoHosts {
  hosts: Host[];
  /** Delivers to host `i % 2` until no decision asks for a redelivery (as Event Grid retries
   *  non-2xx); returns the accepted decisions and how many deliveries that took. */
  deliver(i: number, signal: Signal): Promise<{ decisions: Decision[]; attempts: number }>;
  /** Delivers every signal to its host, at most `inFlight` at a time. */
  deliverAll(
    deliveries: readonly { s: Signal; host: number }[],
    inFlight: number,
  ): Promise<{ decisions: Decision[][]; attempts: number }>;
}

export async function startTwoHosts(
  stack: TestStack,
  registry: RemediationRegistry,
  policies: PolicyFile["policies"],
): Promise<TwoHosts> {
  const config = loadConfig({
    DRIFTGUARD_LOCAL_STACK: "1",
    COSMOS_ENDPOINT: stack.cosmosUrl,
    COSMOS_KEY: stack.cosmosKey,
    DRIFTGUARD_CA_FILE: stack.caCertFile,
  });
  const notifier: Notifier = { requestApproval: async () => {} };
  const hosts: Host[] = [];
  for (let i = 0; i < 2; i++) {
    const stores = await createCosmosStores(config, staticTokenCredential(), stack.tls.cert);
    const { pipeline } = createCore(
      {
        policies,
        registry,
        globalMode: "enforce",
        clients: simulatorClients(stack.sim, stack.tls),
        audit: stores.audit,
        gate: stores.gate,
        actionLimit: stores.actionLimit,
        clock: { now: () => new Date() },
        log: silentLogger,
        selfPrincipalIds: [],
        pseudonymKey: TEST_PSEUDONYM_KEY,
        busyWaitMs: 200,
      },
      {
        approvals: stores.approvals,
        notifier,
        approvalTtlMs: 3600_000,
        approvers: {
          objectIds: [],
          requireSignIn: false,
          localDeveloper: "test",
          pseudonymKey: TEST_PSEUDONYM_KEY,
        },
      },
    );
    hosts.push({ pipeline, stores });
  }

  async function deliver(i: number, signal: Signal) {
    for (let attempt = 1; attempt <= 60; attempt++) {
      const decisions = await hosts[i % 2]!.pipeline.handle(signal);
      if (!decisions.some((d) => d.retry)) return { decisions, attempts: attempt };
      await new Promise((r) => setTimeout(r, 50 * Math.min(attempt, 6)));
    }
    throw new Error(`never accepted: ${signal.id}`);
  }

  async function deliverAll(deliveries: readonly { s: Signal; host: number }[], inFlight: number) {
    const decisions: Decision[][] = [];
    let attempts = 0;
    const queue = [...deliveries];
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const answer = await deliver(next.host, next.s);
          decisions.push(answer.decisions);
          attempts += answer.attempts;
        }
      }),
    );
    return { decisions, attempts };
  }

  return { hosts, deliver, deliverAll };
}
