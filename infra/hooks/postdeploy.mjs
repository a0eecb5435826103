// azd postdeploy: phase 2. Event Grid refuses an AzureFunction destination that does not exist yet,
// and the action group needs the `alerts` function's own key, which exists once the deployed code has
// been indexed; the custom roles created in phase 1 can take minutes to show everywhere. So after the
// first deploy: wait (bounded, with backoff) until the role definitions, the function key and the
// Event Grid function can be read, then provision once more with DRIFTGUARD_CONNECT_SIGNALS=true
// (retried with backoff). Later deploys skip all of this.
import {
  ALERTS_FUNCTION,
  arm,
  azd,
  azdEnvSet,
  describe,
  EVENT_GRID_FUNCTION,
  fail,
  log,
  requireEnv,
  sleep,
  WEB_API_VERSION,
  waitUntil,
} from "./lib.mjs";

const PROVISION_ATTEMPTS = 3;
const RETRY_HINT = "Fix the cause, then run: azd env set DRIFTGUARD_CONNECT_SIGNALS true && azd provision";

if (process.env.DRIFTGUARD_CONNECT_SIGNALS === "true") process.exit(0);

const [subscription, resourceGroup, app, ...roleIds] = requireEnv(
  [
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP",
    "AZURE_FUNCTION_APP_NAME",
    "DRIFTGUARD_REMEDIATOR_ROLE_ID",
    "DRIFTGUARD_KEY_ROTATION_ROLE_ID",
    "DRIFTGUARD_SECRET_ROTATION_ROLE_ID",
    "DRIFTGUARD_VAULT_WRITE_ROLE_ID",
    "DRIFTGUARD_IDENTITY_ASSIGN_ROLE_ID",
  ],
  "they are outputs of the templates: run azd provision, then azd deploy",
);
const site = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/sites/${app}`;

log(
  "code deployed; waiting for the roles and the functions before connecting Event Grid and the action group",
);
for (const id of roleIds) {
  await waitUntil(
    `role definition ${id.split("/").pop()}`,
    async () => {
      const r = await arm("GET", `${id}?api-version=2022-04-01`);
      return { ok: r.status === 200, detail: describe(r) };
    },
    { hint: "Role definitions can take a few minutes to replicate; run `azd deploy` again later." },
  );
}
await waitUntil(
  `the key of function '${ALERTS_FUNCTION}'`,
  async () => {
    const r = await arm(
      "POST",
      `${site}/functions/${ALERTS_FUNCTION}/listkeys?api-version=${WEB_API_VERSION}`,
    );
    const hasKey = r.status === 200 && typeof r.body?.default === "string" && r.body.default.length > 0;
    return { ok: hasKey, detail: r.status === 200 && !hasKey ? "200 without a default key" : describe(r) };
  },
  { hint: "Check that the deployment started: the function app's log stream shows indexing errors." },
);
await waitUntil(`function '${EVENT_GRID_FUNCTION}'`, async () => {
  const r = await arm("GET", `${site}/functions/${EVENT_GRID_FUNCTION}?api-version=${WEB_API_VERSION}`);
  return { ok: r.status === 200, detail: describe(r) };
});

azdEnvSet("DRIFTGUARD_CONNECT_SIGNALS", "true");
let delayMs = 30_000;
for (let attempt = 1; ; attempt++) {
  log(
    `provisioning the Event Grid subscriptions and the action group (attempt ${attempt} of ${PROVISION_ATTEMPTS})`,
  );
  if (azd(["provision", "--no-prompt"]).status === 0) break;
  if (attempt >= PROVISION_ATTEMPTS) {
    azdEnvSet("DRIFTGUARD_CONNECT_SIGNALS", "false");
    fail(`connecting the signals failed ${PROVISION_ATTEMPTS} times. ${RETRY_HINT}`);
  }
  log(`provision failed; trying again in ${delayMs / 1000} s`);
  await sleep(delayMs);
  delayMs *= 2;
}
log("Event Grid and the action group are connected");
