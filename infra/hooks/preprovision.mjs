// azd preprovision, two checks before the templates run:
// 1. Phase 2 left on for a deployment that is gone. DRIFTGUARD_CONNECT_SIGNALS=true makes the
//    templates create the Event Grid subscriptions and the action group, which need the deployed
//    code; if the resource group (or the function app) was deleted outside `azd down`, the next
//    `azd up` would start there and fail. Seen from ARM, it turns phase 2 off, so that `azd up`
//    runs phase 1, deploys, and the postdeploy hook connects the signals again.
// 2. Tell the templates which generated keys the app's Key Vault already holds, so a provision
//    never overwrites one — also from a new azd environment (another machine, CI), where no local
//    flag remembers the first provision. Reads the vault through ARM (secret names only, never a
//    value). When it cannot tell, it stops: writing blind could replace the keys in use.
import {
  arm,
  armList,
  azdEnvSet,
  describe,
  fail,
  GENERATED_SECRETS,
  log,
  requireEnv,
  WEB_API_VERSION,
} from "./lib.mjs";

const writeSecrets =
  process.env.DRIFTGUARD_WRITE_SECRETS !== "false" || process.env.DRIFTGUARD_ROTATE_SECRETS === "true";
const connectSignals = process.env.DRIFTGUARD_CONNECT_SIGNALS === "true";
if (!writeSecrets && !connectSignals) {
  log("DRIFTGUARD_WRITE_SECRETS=false: the generated keys are not written");
  process.exit(0);
}
const [subscription, envName] = requireEnv(
  ["AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME"],
  "set them with azd env set AZURE_SUBSCRIPTION_ID <subscription ID>, or azd env new <name>",
);
const resourceGroup = process.env.AZURE_RESOURCE_GROUP || `rg-${envName}`;
const rgPath = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}`;
const rg = await arm("GET", `${rgPath}?api-version=2024-03-01`);

if (connectSignals) {
  const app = process.env.AZURE_FUNCTION_APP_NAME;
  const site =
    rg.status === 200 && app
      ? await arm("GET", `${rgPath}/providers/Microsoft.Web/sites/${app}?api-version=${WEB_API_VERSION}`)
      : undefined;
  const gone =
    rg.status === 404 ? `resource group ${resourceGroup}` : site?.status === 404 ? `function app ${app}` : "";
  if (gone) {
    log(
      `${gone} does not exist, but DRIFTGUARD_CONNECT_SIGNALS=true was left from an earlier deployment: turning phase 2 off, so this azd up deploys the app first and the postdeploy hook connects the signals again`,
    );
    azdEnvSet("DRIFTGUARD_CONNECT_SIGNALS", "false");
  } else if (rg.status !== 200 || (site && site.status !== 200)) {
    fail(
      `cannot tell whether the deployment still exists (GET ${site ? `function app ${app}` : `resource group ${resourceGroup}`} answered ${describe(site ?? rg)}); DRIFTGUARD_CONNECT_SIGNALS=true needs the deployed app. Check your access (azd auth login), or run azd env set DRIFTGUARD_CONNECT_SIGNALS false to start from phase 1.`,
    );
  }
}
if (!writeSecrets) {
  log("DRIFTGUARD_WRITE_SECRETS=false: the generated keys are not written");
  process.exit(0);
}

const refuse = (why) =>
  fail(
    `cannot tell which generated keys the app's Key Vault holds (${why}); not provisioning, as that could replace the keys in use. Check your access (azd auth login), or set DRIFTGUARD_WRITE_SECRETS=false if you manage the secrets yourself.`,
  );

let present = [];
if (rg.status === 404) {
  log(`resource group ${resourceGroup} does not exist yet: the generated keys will be created`);
} else if (rg.status !== 200) {
  refuse(`GET resource group ${resourceGroup} answered ${describe(rg)}`);
} else {
  let vaults;
  try {
    vaults = (await armList(`${rgPath}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01`)).filter(
      (v) => v.tags?.["azd-env-name"] === envName && /^kv/i.test(v.name ?? ""),
    );
  } catch (err) {
    refuse(err.message);
  }
  if (vaults.length > 1)
    refuse(`several driftguard vaults in ${resourceGroup}: ${vaults.map((v) => v.name).join(", ")}`);
  if (vaults.length === 1) {
    const vault = vaults[0];
    let names;
    try {
      names = (await armList(`${vault.id}/secrets?api-version=2023-07-01`)).map((s) =>
        String(s.name).toLowerCase(),
      );
    } catch (err) {
      refuse(err.message);
    }
    present = GENERATED_SECRETS.filter((n) => names.includes(n));
    log(
      `Key Vault ${vault.name} holds ${present.length ? present.join(", ") : "none of the generated keys"}; existing keys are kept`,
    );
  } else {
    log(`no driftguard Key Vault in ${resourceGroup} yet: the generated keys will be created`);
  }
}
azdEnvSet("DRIFTGUARD_EXISTING_SECRETS", present.join(","));
