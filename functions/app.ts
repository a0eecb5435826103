/**
 * The one table of the app's functions. `index.ts` registers it with the Azure Functions host;
 * `dev/host.ts` serves the same table locally. One source — no second routing list.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import { lazyHandler } from "./lazy-handler.js";

// Each handler's module is loaded on its first invocation (a cold start registers only this table).
const handleAlert = lazyHandler(() => import("./alerts.js"), "handleAlert");
const handleApprovalPage = lazyHandler(() => import("./approvals.js"), "handleApprovalPage");
const handleAuditQuery = lazyHandler(() => import("./audit.js"), "handleAuditQuery");
const handleAuditViewer = lazyHandler(() => import("./audit-viewer.js"), "handleAuditViewer");
const handleHealth = lazyHandler(() => import("./health.js"), "handleHealth");
const handleResourceEvent = lazyHandler(() => import("./resource-events.js"), "handleResourceEvent");
const handleTeamsMessage = lazyHandler(() => import("./teams-messages.js"), "handleTeamsMessage");
const runFollowUps = lazyHandler(() => import("./timers.js"), "runFollowUps");
const resumeWork = lazyHandler(() => import("./timers.js"), "resumeWork");
const expireApprovals = lazyHandler(() => import("./timers.js"), "expireApprovals");
const anchorDigests = lazyHandler(() => import("./anchors.js"), "anchorDigests");
const handleAuditStatus = lazyHandler(() => import("./anchors.js"), "handleAuditStatus");
const publishEvents = lazyHandler(() => import("./timers.js"), "publishEvents");
const handlePostureQuery = lazyHandler(() => import("./posture.js"), "handlePostureQuery");
const runSweepTimer = lazyHandler(() => import("./sweep.js"), "runSweepTimer");

export type AuthLevel = "anonymous" | "function" | "admin";

export interface HttpFunction {
  name: string;
  trigger: "http";
  /** Route under the `api` prefix (host.json `routePrefix`), with `{param}` segments. */
  route: string;
  methods: ("GET" | "POST" | "OPTIONS")[];
  authLevel: AuthLevel;
  handler: (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
}

export interface EventGridFunction {
  name: string;
  trigger: "eventGrid";
  /** Called once per event; throwing makes the host answer non-2xx (Event Grid redelivers). */
  handler: (event: unknown, context: InvocationContext) => Promise<void>;
}

export interface TimerFunction {
  name: string;
  trigger: "timer";
  /** NCRONTAB (six fields, with seconds). */
  schedule: string;
  /** Local host interval equivalent of `schedule`. */
  everyMs: number;
  handler: (timer: Timer | undefined, context: InvocationContext) => Promise<void>;
}

export type FunctionDefinition = HttpFunction | EventGridFunction | TimerFunction;

export const functionsTable: FunctionDefinition[] = [
  { name: "resourceEvents", trigger: "eventGrid", handler: handleResourceEvent },
  {
    name: "alerts",
    trigger: "http",
    route: "alerts",
    methods: ["POST"],
    authLevel: "function",
    handler: handleAlert,
  },
  {
    name: "auditQuery",
    trigger: "http",
    route: "audit",
    methods: ["GET"],
    authLevel: "function",
    handler: handleAuditQuery,
  },
  // The viewer page is static; the data it shows comes from `audit` with the caller's key.
  {
    name: "auditViewer",
    trigger: "http",
    route: "audit-viewer",
    methods: ["GET"],
    authLevel: "anonymous",
    handler: handleAuditViewer,
  },
  // The viewer's header: the last verification and the newest anchor's age.
  {
    name: "auditStatus",
    trigger: "http",
    route: "audit-status",
    methods: ["GET"],
    authLevel: "function",
    handler: handleAuditStatus,
  },
  // Signed one-time token + signed-in approver, checked by the handler itself.
  {
    name: "approvalPage",
    trigger: "http",
    route: "approvals/{id}",
    methods: ["GET", "POST"],
    authLevel: "anonymous",
    handler: handleApprovalPage,
  },
  // Bot Framework JWT, checked by the handler itself.
  {
    name: "teamsMessages",
    trigger: "http",
    route: "teams/messages",
    methods: ["POST"],
    authLevel: "anonymous",
    handler: handleTeamsMessage,
  },
  {
    name: "health",
    trigger: "http",
    route: "health",
    methods: ["GET"],
    authLevel: "anonymous",
    handler: handleHealth,
  },
  {
    name: "runFollowUps",
    trigger: "timer",
    schedule: "0 */1 * * * *",
    everyMs: 60_000,
    handler: runFollowUps,
  },
  {
    name: "resumeWork",
    trigger: "timer",
    schedule: "30 */1 * * * *",
    everyMs: 60_000,
    handler: resumeWork,
  },
  // The sweeps' run summaries: same function key (+ Audit.Read in Azure) as the audit query.
  {
    name: "posture",
    trigger: "http",
    route: "posture",
    methods: ["GET"],
    authLevel: "function",
    handler: handlePostureQuery,
  },
  // The resync of the whole estate. Its schedule is an app setting, which must never be empty (the
  // host cannot index an empty schedule); the local host runs it once a day.
  {
    name: "sweep",
    trigger: "timer",
    schedule: "%DRIFTGUARD_SWEEP_SCHEDULE%",
    everyMs: 24 * 3600_000,
    handler: runSweepTimer,
  },
  {
    name: "expireApprovals",
    trigger: "timer",
    schedule: "0 */5 * * * *",
    everyMs: 300_000,
    handler: expireApprovals,
  },
  // Anchors every chain head in the write-once container; the schedule is an app setting
  // (DRIFTGUARD_ANCHOR_SCHEDULE, default hourly); the local host runs it hourly.
  {
    name: "anchorDigests",
    trigger: "timer",
    schedule: "%DRIFTGUARD_ANCHOR_SCHEDULE%",
    everyMs: 3_600_000,
    handler: anchorDigests,
  },
  // Decision events a host could not send right after the commit (docs/events.md).
  {
    name: "publishEvents",
    trigger: "timer",
    schedule: "15 */1 * * * *",
    everyMs: 60_000,
    handler: publishEvents,
  },
];
