// azd preprovision: tell the templates which generated keys the app's Key Vault already holds, so a
// provision never overwrites one — also from a new azd environment (another machine, CI), where no
// local flag remembers the first provision. Reads the vault through ARM (secret names only, never a
// value). When it cannot tell, it stops: writing blind could replace the keys in use.
import { arm, armList, azdEnvSet, describe, fail, GENERATED_SECRETS, log, requireEnv } from "./lib.mjs";

if (process.env.DRIFTGUARD_WRITE_SECRETS === "false" && process.env.DRIFTGUARD_ROTATE_SECRETS !== "true") {
  log("DRIFTGUARD_WRITE_SECRETS=false: the generated keys are not written");
  process.exit(0);
}
const [subscription, envName] = requireEnv(
  ["AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME"],
  "set them with azd env set AZURE_SUBSCRIPTION_ID <subscription ID>, or azd env new <name>",
);
const resourceGroup = process.env.AZURE_RESOURCE_GROUP || `rg-${envName}`;
const rgPath = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}`;
const refuse = (why) =>
  fail(
    `cannot tell which generated keys the app's Key Vault holds (${why}); not provisioning, as that could replace the keys in use. Check your access (azd auth login), or set DRIFTGUARD_WRITE_SECRETS=false if you manage the secrets yourself.`,
  );

let present = [];
const rg = await arm("GET", `${rgPath}?api-version=2024-03-01`);
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
