/**
 * The Teams part of `npm start`: the stand-in as the bot's Teams (its cards printed to the console
 * and written as HTML under `.driftguard/cards/`), the app settings that point the bot at it, and
 * the demo's policy file (the shipped policies with one approval policy in front, so the sample
 * scenario produces an approval).
 *
 * The user's own Teams settings win: `TEAMS_BOT_APP_ID`, `TEAMS_SERVICE_URL`,
 * `TEAMS_CONVERSATION_ID`, `TEAMS_BOT_JWKS_URL` and `TEAMS_WORKFLOW_URL` set in the environment are
 * kept (a real team through a dev tunnel, the Bot Framework Emulator, a Workflows webhook), and the
 * stand-in fills only what is unset — it is not started at all when the user brings a bot of their
 * own or a Workflows webhook.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse, stringify } from "yaml";
import { DEFAULT_POLICY_FILE } from "../../shared/policy/load.js";
import { armWriteEvent } from "../arm-event-builder.js";
import type { LocalTls } from "../tls.js";
import { startTeamsSimulator, type TeamsSimulator } from "./index.js";
import { bundleRelativeTo, cardHtml, cardText } from "./render.js";

/** The demo's bot (any GUID: the stand-in's issuer signs for it). */
export const DEMO_BOT_APP_ID = "5d0f7e0a-9a43-4d8e-b2f1-2a6c3b9d8e71";
/** The tenant of the stand-in's conversations. */
const STAND_IN_TENANT_ID = "11111111-2222-3333-4444-555555555555";

/** The demo's approver, a member of the stand-in's team. */
export const DEMO_APPROVER = { aadObjectId: "3f2a9c7e-1b4d-4e8a-9c6f-5d7e8a9b0c1d", name: "Alex Wilber" };

const CARDS_DIR = path.resolve(".driftguard", "cards");

/** The Teams settings npm start hands the app, and who each comes from. */
export const TEAMS_SETTINGS = [
  "TEAMS_BOT_APP_ID",
  "TEAMS_SERVICE_URL",
  "TEAMS_CONVERSATION_ID",
  "TEAMS_BOT_JWKS_URL",
  "TEAMS_WORKFLOW_URL",
] as const;

/**
 * Whether the stand-in is needed: not when the user set a bot of their own (TEAMS_BOT_APP_ID) or
 * chose the Workflows webhook (TEAMS_WORKFLOW_URL) — the stand-in's bot would take their cards.
 */
export function needsTeamsStandIn(userEnv: Record<string, string | undefined>): boolean {
  return !userEnv.TEAMS_BOT_APP_ID && !userEnv.TEAMS_WORKFLOW_URL;
}

/**
 * The app's Teams settings: the user's where set, the stand-in's (if started) for the rest, and the
 * console line that says which is which.
 */
export function teamsSettings(
  userEnv: Record<string, string | undefined>,
  standIn?: Pick<TeamsSimulator, "serviceUrl" | "conversationId" | "jwksUrl"> & { botAppId: string },
): { env: Record<string, string>; line: string } {
  const fromStandIn: Record<string, string | undefined> = standIn
    ? {
        TEAMS_BOT_APP_ID: standIn.botAppId,
        TEAMS_SERVICE_URL: standIn.serviceUrl,
        TEAMS_CONVERSATION_ID: standIn.conversationId,
        TEAMS_BOT_JWKS_URL: standIn.jwksUrl,
      }
    : {};
  const env: Record<string, string> = {};
  const yours: string[] = [];
  const stood: string[] = [];
  for (const name of TEAMS_SETTINGS) {
    const user = userEnv[name];
    if (user) {
      env[name] = user;
      yours.push(name);
    } else if (fromStandIn[name]) {
      env[name] = fromStandIn[name]!;
      stood.push(name);
    }
  }
  const parts = [
    ...(yours.length ? [`yours: ${yours.join(", ")}`] : []),
    ...(stood.length ? [`the stand-in: ${stood.join(", ")}`] : []),
  ];
  const line = standIn
    ? `Teams settings — ${parts.join("; ")}`
    : `Teams settings — ${yours.length ? `yours: ${yours.join(", ")}` : "none"}; the Teams stand-in is not started`;
  return { env, line };
}

export interface TeamsDemo {
  /** The stand-in, unless the user's own Teams settings make it unnecessary. */
  sim?: TeamsSimulator;
  /** App settings for the bot (layered over the environment): the user's, then the stand-in's. */
  env: Record<string, string>;
  /** One console line: which Teams settings are the user's, which the stand-in's. */
  line: string;
  /** Tells the stand-in where the bot listens (for `/_sim/press`). */
  connect(functionsUrl: string): void;
  close(): Promise<void>;
}

export async function startTeamsDemo(opts: {
  tls: LocalTls;
  caCertFile: string;
  print: (text: string) => void;
  /** The user's settings (default: this process's environment). */
  userEnv?: Record<string, string | undefined>;
}): Promise<TeamsDemo> {
  const userEnv = opts.userEnv ?? process.env;
  if (!needsTeamsStandIn(userEnv)) {
    const { env, line } = teamsSettings(userEnv);
    return { env, line, connect: () => undefined, close: async () => undefined };
  }
  await mkdir(CARDS_DIR, { recursive: true });
  const script = bundleRelativeTo(CARDS_DIR);
  let simUrl = "";
  const sim = await startTeamsSimulator({
    tls: opts.tls,
    botAppId: DEMO_BOT_APP_ID,
    members: [DEMO_APPROVER],
    onActivity: (activity, method) => {
      const file = path.join(CARDS_DIR, `${activity.id}.html`);
      void writeFile(
        file,
        cardHtml(activity.card, { title: `driftguard card ${activity.id}`, scriptSrc: script }),
      );
      const live = Array.isArray(activity.card.actions) && activity.card.actions.length > 0;
      opts.print(
        [
          method === "POST"
            ? `    Teams: the bot posted an approval card (message ${activity.id}):`
            : `    Teams: the bot updated card ${activity.id}:`,
          cardText(activity.card).replace(/^/gm, "    "),
          `    (rendered: ${path.relative(process.cwd(), file)})`,
          ...(live
            ? [
                `    Approve it locally as ${DEMO_APPROVER.name} (the stand-in signs the Teams invoke):`,
                `      curl -s --cacert ${opts.caCertFile} -X POST ${simUrl}/_sim/press -H 'content-type: application/json' -d '{"activityId":"${activity.id}","verb":"approve"}'`,
                `    (or "verb":"reject")`,
              ]
            : []),
          "",
        ].join("\n"),
      );
    },
  });
  simUrl = sim.url;
  const { env, line } = teamsSettings(userEnv, { ...sim, botAppId: DEMO_BOT_APP_ID });
  return {
    sim,
    env: {
      ...env,
      APPROVER_OBJECT_IDS: userEnv.APPROVER_OBJECT_IDS || DEMO_APPROVER.aadObjectId,
      // The stand-in's team is in its own tenant: an approver installing the bot there is captured.
      AZURE_TENANT_ID: userEnv.AZURE_TENANT_ID || STAND_IN_TENANT_ID,
    },
    line,
    connect: (functionsUrl) => sim.setBotEndpoint(`${functionsUrl}/api/teams/messages`),
    close: () => sim.close(),
  };
}

/** The demo's resource that needs a person's approval (seeded in dev/sample-seed.json). */
export const DEMO_REVIEW_ENDPOINT =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml-prod/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod/onlineEndpoints/ep-review";

/**
 * The shipped policies with a demo policy in front: the review endpoint is closed to the Internet
 * only after a person approves it in Teams. It governs only that endpoint, so the sample
 * scenario's own decisions are exactly those of the shipped policies.
 */
export async function writeDemoPolicyFile(): Promise<string> {
  const file = parse(await readFile(DEFAULT_POLICY_FILE, "utf8")) as { policies: unknown[] };
  file.policies.unshift({
    name: "demo-review-needs-approval",
    description:
      "npm start demo: the model review endpoint is closed to the Internet after an approver agrees in Teams",
    resourceTypes: ["Microsoft.MachineLearningServices/workspaces/onlineEndpoints"],
    triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
    kind: "disable-public-network-access",
    params: {},
    mode: "approval",
    scope: [DEMO_REVIEW_ENDPOINT],
    maxActionsPerHour: 10,
  });
  const out = path.resolve(".driftguard", "demo-policies.yaml");
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(
    out,
    `# Written by npm start: ${DEFAULT_POLICY_FILE} with the demo's approval policy in front.\n${stringify(file)}`,
  );
  return out;
}

/** The demo's last delivery: someone opens the review endpoint (Event Grid schema). */
export function demoReviewEvent(): unknown[] {
  return [armWriteEvent(DEMO_REVIEW_ENDPOINT)];
}
