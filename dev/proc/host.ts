/**
 * One functions host as its own process: `node --import tsx dev/proc/host.ts '{"port":0,"functionKey":"…"}'`.
 * The runtime is built exactly as in Azure — from the app settings in the environment (COSMOS_ENDPOINT,
 * COSMOS_KEY, ARM_ENDPOINT, DRIFTGUARD_VAULT_URLS, DRIFTGUARD_CA_FILE, DRIFTGUARD_POLICY_FILE,
 * DRIFTGUARD_MODE, …) — with the local stack's static token in place of a managed identity; the JSON
 * option carries only dev knobs (LRO poll interval, SDK retry, busy wait, Cosmos timeout, timers).
 * Every response names the process (`x-driftguard-host-pid`, `x-driftguard-host-index`).
 */
import { pino } from "pino";
import { approvalPageLink } from "../../shared/approvals/notifier.js";
import { localStackCredential } from "../../shared/azure/local-credential.js";
import { loadConfig } from "../../shared/config.js";
import { createLogger } from "../../shared/log.js";
import type { Notifier } from "../../shared/ports/notifier.js";
import { createRuntime, setRuntime } from "../../shared/runtime.js";
import { startLocalHost } from "../host.js";
import { runChild, sendMessage } from "./child.js";
import {
  type ApprovalLinkMessage,
  type DecisionMessage,
  HOST_INDEX_HEADER,
  HOST_PID_HEADER,
  type HostProcessOptions,
  type HostReady,
  type TimerDoneMessage,
} from "./protocol.js";

runChild<HostProcessOptions>("functions host", async (opts) => {
  if (!opts.functionKey) throw new Error("option functionKey is required");
  // stdout carries protocol messages; logs go to stderr.
  const log = createLogger({ level: opts.logLevel ?? "warn", destination: pino.destination(2) });
  const config = loadConfig(process.env);
  const notifier: Notifier | undefined = opts.reportApprovalLinks
    ? {
        requestApproval: async (approval) => {
          const link = await approvalPageLink(approval, config.publicUrl ?? "", config.approvers.signingKey);
          const message: ApprovalLinkMessage = {
            type: "approval-link",
            resourceId: approval.target.resourceId,
            link,
          };
          sendMessage(message);
        },
      }
    : undefined;
  const runtime = await createRuntime(config, {
    credential: localStackCredential(),
    log,
    lroPollIntervalMs: opts.lroPollIntervalMs,
    retry: opts.retry,
    busyWaitMs: opts.busyWaitMs,
    leaseMs: opts.leaseMs,
    cosmosRequestTimeoutMs: opts.cosmosRequestTimeoutMs,
    events: opts.events,
    notifier,
    onDecision: opts.reportDecisions
      ? (decision) => sendMessage<DecisionMessage>({ type: "decision", decision })
      : undefined,
  });
  setRuntime(runtime);
  const host = await startLocalHost({
    port: opts.port ?? 7071,
    functionKey: opts.functionKey,
    log,
    timers: opts.timers,
    timerEveryMs: opts.timerEveryMs,
    responseHeaders: {
      [HOST_PID_HEADER]: String(process.pid),
      [HOST_INDEX_HEADER]: String(opts.index ?? 0),
    },
  });
  const ready: HostReady = {
    type: "ready",
    pid: process.pid,
    url: host.url,
    port: Number(new URL(host.url).port),
    policyFile: config.policyFile,
    mode: config.mode,
  };
  return {
    ready,
    close: async () => {
      await host.close();
      setRuntime(undefined);
    },
    onRequest: (request) => {
      if (request.type !== "run-timer" || typeof request.name !== "string") return;
      const name = request.name;
      host.runTimer(name).then(
        () => sendMessage<TimerDoneMessage>({ type: "timer-done", name, ok: true }),
        (err: unknown) =>
          sendMessage<TimerDoneMessage>({
            type: "timer-done",
            name,
            ok: false,
            error: String((err as Error)?.message ?? err),
          }),
      );
    },
  };
});
