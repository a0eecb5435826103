/**
 * What a stand-in or host process and its supervisor say to each other. A child takes its options
 * as one JSON argument (`node --import tsx <entry> '<json>'`) and talks back on stdout, one message
 * per line, each line `@driftguard {json}`; anything else on stdout is ordinary output. Logs go to
 * stderr. The first message is `ready`; a host process may then send `decision` and `approval-link`.
 * The supervisor may write `{"type":"usage"}` lines to a child's stdin; each is answered by `usage`.
 */
import type { Decision } from "../../shared/pipeline.js";

export const MESSAGE_PREFIX = "@driftguard ";

/** Options every child takes. */
export interface ChildBaseOptions {
  /** Set by the supervisor: the child exits when this process is gone or its stdin closes. */
  parentPid?: number;
}

export interface CosmosProcessOptions extends ChildBaseOptions {
  port?: number;
  /** Folder of the local-stack certificate (created by the supervisor beforehand). */
  tlsDir?: string;
}

export interface CosmosReady {
  type: "ready";
  pid: number;
  url: string;
  port: number;
  key: string;
}

export interface BlobProcessOptions extends ChildBaseOptions {
  port?: number;
  /** Folder of the local-stack certificate (Azurite serves it: HTTPS, needed for bearer tokens). */
  tlsDir?: string;
}

export interface BlobReady {
  type: "ready";
  pid: number;
  /** PID of the Azurite process itself (a child of this one). */
  azuritePid: number;
  /** Blob service endpoint of the emulator's account: `https://127.0.0.1:<port>/devstoreaccount1`. */
  url: string;
  port: number;
}

export interface SimProcessOptions extends ChildBaseOptions {
  port?: number;
  tlsDir?: string;
  /** Seed file (JSON); a seed is passed as a file so large seeds do not hit argument limits. */
  seedFile?: string;
  vaultPorts?: Record<string, number>;
  lro?: "sync" | "async";
  /** The local Event Grid's origin: the simulator sends it the events Azure would. */
  eventGridUrl?: string;
}

export interface EventGridProcessOptions extends ChildBaseOptions {
  port?: number;
  tlsDir?: string;
  /** Compresses Event Grid's retry schedule and time to live (tests). */
  timeScale?: number;
}

export interface EventGridReady {
  type: "ready";
  pid: number;
  url: string;
  port: number;
  /** The local decisions topic's publish endpoint. */
  decisionsEndpoint: string;
}

export interface SimReady {
  type: "ready";
  pid: number;
  url: string;
  port: number;
  vaults: Record<string, string>;
}

/**
 * Dev-only knobs of a host process. App settings (COSMOS_ENDPOINT, ARM_ENDPOINT, …) come from the
 * environment, exactly as in Azure; these are the test levers the local stack adds on top.
 */
export interface HostProcessOptions extends ChildBaseOptions {
  port?: number;
  functionKey: string;
  /** Index among the stack's hosts; reported in the `x-driftguard-host-index` response header. */
  index?: number;
  /** Run timer functions on their schedule (the supervisor enables it on one host only). */
  timers?: boolean;
  lroPollIntervalMs?: number;
  retry?: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
  busyWaitMs?: number;
  /** Dedupe lease length (default 5 min); tests shorten it to stand for Event Grid's later redeliveries. */
  leaseMs?: number;
  /** Cosmos client request timeout (ms); short in tests so a frozen store fails a delivery quickly. */
  cosmosRequestTimeoutMs?: number;
  /** pino level for the host's logs (stderr); default "warn". */
  logLevel?: string;
  /** Send every decision to the supervisor (npm start prints them). */
  reportDecisions?: boolean;
  /** Send approval links to the supervisor instead of the configured notifier (npm start's console). */
  reportApprovalLinks?: boolean;
  /** Timer intervals (ms) by function name (tests). */
  timerEveryMs?: Record<string, number>;
  /** The decision publisher's timings (tests). */
  events?: { minAgeMs?: number; pauseMs?: number };
}

export interface HostReady {
  type: "ready";
  pid: number;
  url: string;
  port: number;
  policyFile: string;
  mode: string;
}

export interface DecisionMessage {
  type: "decision";
  decision: Decision;
}

export interface ApprovalLinkMessage {
  type: "approval-link";
  resourceId: string;
  link: string;
}

export type HostMessage = DecisionMessage | ApprovalLinkMessage;

/** Sent by the supervisor on a child's stdin (one JSON line); the child answers with a UsageMessage. */
export interface UsageRequest {
  type: "usage";
}

/** A child's own resource use since it started, from `process.cpuUsage()` / `memoryUsage()`. */
export interface UsageMessage {
  type: "usage";
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
}

/** Sent by the supervisor to a host: run one timer function now (tests: two timers firing at once). */
export interface RunTimerRequest {
  type: "run-timer";
  name: string;
}

/** A host's answer to a RunTimerRequest, once the timer function has returned or thrown. */
export interface TimerDoneMessage {
  type: "timer-done";
  name: string;
  ok: boolean;
  error?: string;
}

/** Response headers each host process adds, so a caller can see which process answered. */
export const HOST_PID_HEADER = "x-driftguard-host-pid";
export const HOST_INDEX_HEADER = "x-driftguard-host-index";
