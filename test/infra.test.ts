/**
 * Static checks of the deployment (infra/*.bicep, infra/main.parameters.json, azure.yaml) against the
 * code it deploys. There is no Bicep compiler on this machine and no Azure subscription in CI, so this
 * test only READS the templates: it proves that names, settings, routes, containers and roles agree with
 * the source (shared/config.ts, functions/app.ts, shared/cosmos/client.ts, policies/default.yaml), that
 * modules are called with the parameters they declare, and that a few security properties hold. It does
 * not prove that ARM accepts the templates: run `az bicep build --file infra/main.bicep` and
 * `azd provision --preview` for that (see infra/README.md).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadEventSubscriptionsFile } from "../dev/event-grid/driftguard.js";
import { type FunctionDefinition, functionsTable } from "../functions/app.js";
import { APPROVALS_INDEXING_POLICY, AUDIT_INDEXING_POLICY, CONTAINERS } from "../shared/cosmos/client.js";
import {
  blockAfter,
  type Entry,
  entries,
  params,
  resourceBody,
  resources,
  skipBracket,
  skipString,
  stringItems,
} from "./infra/bicep-reader.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const read = (rel: string) => readFileSync(path.join(root, rel), "utf8");
/** An azd placeholder `${NAME}` (spelled out so it is not mistaken for a JS template). */
const azdVar = (name: string) => `$\{${name}}`;

// ─── Fixtures ─────────────────────────────────────────────────────────────────────────────────────

const bicepFiles = [
  "infra/main.bicep",
  "infra/resources.bicep",
  ...readdirSync(path.join(root, "infra/modules"))
    .filter((f) => f.endsWith(".bicep"))
    .map((f) => `infra/modules/${f}`),
];
let main: string;
let res: string;
let eventSub: string;
let kvTarget: string;
let appVaultSrc: string;
let allBicep: string;

beforeAll(() => {
  main = read("infra/main.bicep");
  res = read("infra/resources.bicep");
  eventSub = read("infra/modules/event-subscription.bicep");
  kvTarget = read("infra/modules/key-vault-target.bicep");
  appVaultSrc = read("infra/modules/app-key-vault.bicep");
  allBicep = bicepFiles.map(read).join("\n");
});

// Settings shared/config.ts reads that must NOT be app settings in Azure, and why.
const LOCAL_ONLY = [
  "COSMOS_KEY",
  "DRIFTGUARD_VAULT_URLS",
  "DRIFTGUARD_CA_FILE",
  "DRIFTGUARD_LOCAL_STACK",
  "DRIFTGUARD_EVENTS_KEY",
]; // refused or useless in Azure
const PLATFORM = ["WEBSITE_SITE_NAME"]; // set by App Service itself
// The defaults are what production wants: Bot Framework's public keys; a flapping limit of 3.
const PRODUCTION_DEFAULT = ["TEAMS_BOT_JWKS_URL", "DRIFTGUARD_FLAP_LIMIT"];

/** Every setting name shared/config.ts reads (grepped, so a new setting shows up here). */
function configSettingNames(): string[] {
  const src = read("shared/config.ts");
  const names = new Set<string>();
  for (const re of [
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*"([A-Z][A-Z0-9_]*)"\s*\]/g,
    /\(\s*env\s*,\s*"([A-Z][A-Z0-9_]*)"/g,
    /ConfigError\(\s*"([A-Z][A-Z0-9_]*)"/g,
  ]) {
    for (const m of src.matchAll(re)) names.add(m[1]!);
  }
  return [...names].sort();
}

function appSettingEntries(): Entry[] {
  return entries(blockAfter(res, /^var appSettings\s*=/m));
}

const eventSubscriptionsFile = () =>
  loadEventSubscriptionsFile(path.join(root, "infra/event-subscriptions.json"));

// ─── Tests ────────────────────────────────────────────────────────────────────────────────────────

describe("app settings cover shared/config.ts", () => {
  it("the grep finds the settings config.ts validates", () => {
    const names = configSettingNames();
    for (const n of ["DRIFTGUARD_MODE", "COSMOS_ENDPOINT", "AZURE_CLIENT_ID", "APPROVER_SIGNING_KEY"]) {
      expect(names).toContain(n);
    }
  });

  it("every setting required in Azure is an app setting; local-only ones are not", () => {
    const settings = appSettingEntries().map((e) => e.key);
    const names = configSettingNames();
    const skipped = new Set([...LOCAL_ONLY, ...PLATFORM, ...PRODUCTION_DEFAULT]);
    const missing = names.filter((n) => !skipped.has(n) && !settings.includes(n));
    expect(missing, "settings config.ts reads that infra/resources.bicep does not set").toEqual([]);
    for (const n of [...LOCAL_ONLY, ...PLATFORM]) expect(settings).not.toContain(n);
    // Every classified name still exists in config.ts (keeps the lists above honest).
    for (const n of skipped) expect(names).toContain(n);
  });

  it("keys and links are Key Vault references resolved with the user-assigned identity", () => {
    const byKey = new Map(appSettingEntries().map((e) => [e.key, e.value]));
    for (const k of ["DRIFTGUARD_PSEUDONYM_KEY", "APPROVER_SIGNING_KEY", "TEAMS_WORKFLOW_URL"]) {
      expect(byKey.get(k), k).toMatch(
        /@Microsoft\.KeyVault\(SecretUri=\$\{appVault\.outputs\.vaultUri\}secrets\//,
      );
    }
    expect(resourceBody(res, "functionApp")).toMatch(/keyVaultReferenceIdentity:\s*identity\.id/);
    expect(byKey.get("AZURE_CLIENT_ID")).toBe("identity.properties.clientId");
    expect(byKey.get("DRIFTGUARD_SELF_PRINCIPAL_IDS")).toContain("identity.properties.principalId");
    expect(byKey.get("AzureWebJobsStorage__credential")).toBe("'managedidentity'");
    expect(byKey.get("AzureWebJobsStorage__clientId")).toBe("identity.properties.clientId");
    expect(byKey.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")).toContain("Authorization=AAD");
    // The generated keys are params with newGuid() defaults: never a literal in source.
    expect(main).toMatch(/param pseudonymKey string = '\$\{newGuid\(\)\}\$\{newGuid\(\)\}'/);
    expect(main).toMatch(/param approverSigningKey string = '\$\{newGuid\(\)\}\$\{newGuid\(\)\}'/);
  });

  it("first deploys run in dry-run", () => {
    expect(main).toMatch(/param driftguardMode string = 'dry-run'/);
    const p = JSON.parse(read("infra/main.parameters.json")) as {
      parameters: Record<string, { value: unknown }>;
    };
    expect(p.parameters.driftguardMode?.value).toBe(azdVar("DRIFTGUARD_MODE=dry-run"));
    expect(new Map(appSettingEntries().map((e) => [e.key, e.value])).get("DRIFTGUARD_MODE")).toBe(
      "driftguardMode",
    );
  });
});

describe("least privilege", () => {
  const FORBIDDEN_ROLES = {
    Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  };

  it("no Owner / Contributor / access-admin role definition ID anywhere in the deployment", () => {
    const files = [...bicepFiles, "infra/main.parameters.json", "infra/README.md", "azure.yaml"];
    for (const f of files) {
      const text = read(f).toLowerCase();
      for (const [name, id] of Object.entries(FORBIDDEN_ROLES))
        expect(text.includes(id), `${name} in ${f}`).toBe(false);
    }
  });

  it("the custom roles list explicit actions: no bare wildcard, no authorization, no broad write/delete", () => {
    const remediator = stringItems(blockAfter(main, /^var remediatorActions\s*=/m));
    const keyRotation = stringItems(blockAfter(main, /^var keyRotationActions\s*=/m));
    const vaultWrite = stringItems(blockAfter(main, /^var vaultWriteActions\s*=/m));
    const identityAssign = stringItems(blockAfter(main, /^var identityAssignActions\s*=/m));
    expect(remediator.length).toBeGreaterThan(20);
    for (const a of [...remediator, ...keyRotation, ...vaultWrite, ...identityAssign]) {
      expect(a).toMatch(/^Microsoft\.[A-Za-z]+\//);
      expect(a.startsWith("Microsoft.Authorization/")).toBe(false);
      // Wildcards only for reads of long-running-operation status under locations/.
      if (a.includes("*")) expect(a).toMatch(/^Microsoft\.[A-Za-z]+\/locations\/\*\/read$/);
    }
    const deletes = remediator.filter((a) => a.endsWith("/delete"));
    expect(deletes).toEqual(["Microsoft.Network/networkSecurityGroups/securityRules/delete"]);
    // One write per kind's target (and nothing else writable).
    expect(remediator.filter((a) => a.endsWith("/write")).sort()).toEqual(
      [
        "Microsoft.ApiManagement/service/subscriptions/write",
        // require-api-subscription; throttle-api-subscription's rate-limit product, policy, APIs
        "Microsoft.ApiManagement/service/apis/write",
        "Microsoft.ApiManagement/service/products/write",
        "Microsoft.ApiManagement/service/products/policies/write",
        "Microsoft.ApiManagement/service/products/apis/write",
        "Microsoft.CognitiveServices/accounts/write",
        "Microsoft.ContainerService/managedClusters/agentPools/write",
        "Microsoft.MachineLearningServices/workspaces/computes/write",
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write",
        "Microsoft.MachineLearningServices/workspaces/write",
        // close-internet-inbound-rule narrows a mixed-source rule
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.DocumentDB/databaseAccounts/write",
        "Microsoft.Web/sites/write",
        "Microsoft.Web/sites/config/write",
        "Microsoft.Insights/diagnosticSettings/write",
        // protect-model-storage
        "Microsoft.Storage/storageAccounts/blobServices/write",
      ].sort(),
    );
    // Account keys: only in the key-rotation role, which is assigned per resource group.
    expect(remediator.filter((a) => /\/(listKeys|regenerateKey)\/action$/i.test(a))).toEqual([]);
    expect(keyRotation.sort()).toEqual(
      [
        "Microsoft.CognitiveServices/accounts/listKeys/action",
        "Microsoft.CognitiveServices/accounts/regenerateKey/action",
        "Microsoft.Storage/storageAccounts/listKeys/action",
        "Microsoft.Storage/storageAccounts/regenerateKey/action",
      ].sort(),
    );
    // Vault writes and identity assignment: only in their own roles, assigned where they are needed.
    expect(vaultWrite).toEqual(["Microsoft.KeyVault/vaults/write"]);
    expect(identityAssign).toEqual(["Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"]);
    expect(remediator).not.toContain("Microsoft.KeyVault/vaults/write");
    expect(remediator.filter((a) => a.includes("assign/action"))).toEqual([]);
    for (const [symbol, actions, dataActions] of [
      ["remediatorRole", "remediatorActions", "\\[\\]"],
      ["keyRotationRole", "keyRotationActions", "\\[\\]"],
      ["vaultWriteRole", "vaultWriteActions", "\\[\\]"],
      ["identityAssignRole", "identityAssignActions", "\\[\\]"],
      ["secretRotationRole", "\\[\\]", "secretRotationDataActions"],
    ] as const) {
      const role = resourceBody(main, symbol);
      expect(role, symbol).toMatch(new RegExp(`\\bactions:\\s*${actions}`));
      expect(role, symbol).toMatch(new RegExp(`dataActions:\\s*${dataActions}`));
      // The remediator may be assigned in every governed subscription; the others in this one only.
      expect(role, symbol).toMatch(
        symbol === "remediatorRole"
          ? /assignableScopes:\s*union\(\[subscription\(\)\.id\], map\(targetSubscriptionIds, s => '\/subscriptions\/\$\{s\}'\)\)/
          : /assignableScopes:\s*\[\s*subscription\(\)\.id\s*\]/,
      );
    }
  });

  it("governed subscriptions: Reader for Resource Graph in each, remediator and events in the others", () => {
    expect(main).toMatch(/param targetSubscriptionIds string\[\] = \[subscription\(\)\.subscriptionId\]/);
    const loop = main.slice(main.search(/^module targetSubscriptions /m));
    expect(loop).toMatch(
      /^module targetSubscriptions 'modules\/target-subscription\.bicep' = \[\s*for \(sub, i\) in targetSubscriptionIds:/,
    );
    expect(loop).toMatch(/scope:\s*subscription\(sub\)/);
    expect(loop).toMatch(
      /isDeploymentSubscription:\s*toLower\(sub\) == toLower\(subscription\(\)\.subscriptionId\)/,
    );
    const target = read("infra/modules/target-subscription.bicep");
    expect(target).toMatch(/targetScope = 'subscription'/);
    expect(resourceBody(target, "reader")).toMatch(
      /roleDefinitionId:\s*subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', readerRoleId\)/,
    );
    expect(target).toMatch(/var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'/);
    expect(target).toMatch(/resource remediator '[^']+' = if \(!isDeploymentSubscription\)/);
    expect(target).toMatch(
      /module events 'event-subscription\.bicep' = if \(!isDeploymentSubscription && connectSignals\)/,
    );
    expect(read("infra/modules/subscription-topic.bicep")).toMatch(
      /topicType:\s*'Microsoft\.Resources\.Subscriptions'/,
    );
    // The sweep covers the governed subscriptions, and its timer schedule is never empty.
    expect(main).toMatch(/sweepSubscriptions:\s*join\(targetSubscriptionIds, ','\)/);
    expect(main).toMatch(/@minLength\(11\)\s*param sweepSchedule string = '0 0 3 \* \* \*'/);
    expect(res).toMatch(/DRIFTGUARD_SWEEP_SCHEDULE:\s*sweepSchedule/);
    expect(functionsTable.find((f) => f.name === "sweep")).toMatchObject({
      schedule: "%DRIFTGUARD_SWEEP_SCHEDULE%",
    });
  });

  it("only the remediator role is assigned at subscription scope; the narrower roles per listed resource group", () => {
    const remediator = main.slice(main.search(/^module remediatorAssignment /m));
    expect(remediator).toMatch(
      /^module remediatorAssignment 'modules\/subscription-role-assignment\.bicep' = \{/,
    );
    expect(remediator).toMatch(/roleDefinitionId:\s*remediatorRole\.id/);
    for (const [module, list, role, file] of [
      ["keyRotationAccess", "keyRotationResourceGroups", "keyRotationRole", "key-rotation-access"],
      ["vaultWriteAccess", "vaultWriteResourceGroups", "vaultWriteRole", "resource-group-role-assignment"],
      [
        "identityAssignAccess",
        "identityAssignResourceGroups",
        "identityAssignRole",
        "resource-group-role-assignment",
      ],
    ] as const) {
      expect(main).toMatch(new RegExp(`param ${list} string\\[\\] = \\[\\]`));
      const access = main.slice(main.search(new RegExp(`^module ${module} `, "m")));
      expect(access).toMatch(
        new RegExp(`^module ${module} 'modules/${file}\\.bicep' = \\[\\s*for \\(rgName, i\\) in ${list}:`),
      );
      expect(access).toMatch(/scope:\s*resourceGroup\(rgName\)/);
      expect(access).toMatch(new RegExp(`roleDefinitionId:\\s*${role}\\.id`));
      const assignments = [...main.matchAll(/roleDefinitionId:\s*(\w+)\.id/g)].map((m) => m[1]);
      expect(
        assignments.filter((r) => r === role),
        role,
      ).toHaveLength(1);
    }
    expect(read("infra/modules/key-rotation-access.bicep")).toMatch(/targetScope = 'resourceGroup'/);
    expect(read("infra/modules/resource-group-role-assignment.bicep")).toMatch(
      /targetScope = 'resourceGroup'/,
    );
  });

  it("every role assignment is named from the identity's principal ID, so a second azd up after azd down works", () => {
    // After azd down + azd up the identity is new: an assignment name without its principal ID is
    // the old assignment's name, and ARM refuses to re-point it (RoleAssignmentUpdateNotPermitted).
    // Mutation: name the subscription module's assignment guid(subscription().id, roleDefinitionId)
    // → this fails.
    const assignments = bicepFiles.flatMap((f) =>
      resources(read(f))
        .filter((r) => r.type === "Microsoft.Authorization/roleAssignments")
        .map((r) => ({ file: f, where: `${f} ${r.symbol}`, body: r.body })),
    );
    expect(assignments.length).toBeGreaterThanOrEqual(10);
    const ownResources = new Set(resources(res).map((r) => r.symbol));
    for (const { file, where, body } of assignments) {
      const name = /^\s*name:\s*(guid\(.*\))\s*$/m.exec(body)?.[1];
      expect(name, where).toBeDefined();
      if (file === "infra/resources.bicep") {
        // Scoped to a resource of driftguard's own resource group: deleted with it by azd down.
        expect(ownResources.has(/^\s*scope:\s*(\w+)/m.exec(body)?.[1] ?? ""), where).toBe(true);
      } else expect(name, where).toMatch(/\b(?:principalId|identityPrincipalId)\b/);
    }
    // main.bicep assigns no role itself: the principal ID is known only after the app module, and a
    // resource's name must be known when the deployment starts — hence the modules.
    expect(
      resources(main).filter((r) => r.type.startsWith("Microsoft.Authorization/roleAssignments@")),
    ).toEqual([]);
    const sub = read("infra/modules/subscription-role-assignment.bicep");
    expect(sub).toMatch(/targetScope = 'subscription'/);
    expect(sub).toMatch(/name:\s*guid\(subscription\(\)\.id, principalId, roleDefinitionId\)/);
  });

  it("secret values: read and write only, per target vault unless explicitly widened (not Secrets Officer)", () => {
    // readMetadata: a sweep lists secret properties (never values) to find those near expiry.
    expect(stringItems(blockAfter(main, /^var secretRotationDataActions\s*=/m)).sort()).toEqual([
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
      "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    ]);
    const officer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
    for (const f of bicepFiles) expect(read(f).includes(officer), f).toBe(false);
    const perVault = resourceBody(kvTarget, "secretRotation");
    expect(perVault).toMatch(/scope:\s*vault\b/);
    expect(perVault).toMatch(/roleDefinitionId:\s*secretRotationRoleId/);
    expect(main).toMatch(/secretRotationRoleId:\s*secretRotationRole\.id/);
    expect(main).toMatch(
      /module secretRotationAtSubscription 'modules\/subscription-role-assignment\.bicep' = if \(grantSecretRotationAtSubscription\)/,
    );
    expect(main).toMatch(/param grantSecretRotationAtSubscription bool = false/);
  });
});

describe("data stores", () => {
  it("Cosmos DB: serverless, Entra ID only, TLS 1.2, Built-in Data Contributor for the identity", () => {
    const cosmos = resourceBody(res, "cosmos");
    expect(cosmos).toMatch(/disableLocalAuth:\s*true/);
    expect(cosmos).toMatch(/minimalTlsVersion:\s*'Tls12'/);
    expect(cosmos).toMatch(/name:\s*'EnableServerless'/);
    const ra = resourceBody(res, "cosmosDataContributor");
    expect(res).toMatch(/var cosmosDataContributorRoleId = '00000000-0000-0000-0000-000000000002'/);
    expect(ra).toMatch(
      /roleDefinitionId:\s*'\$\{cosmos\.id\}\/sqlRoleDefinitions\/\$\{cosmosDataContributorRoleId\}'/,
    );
    expect(ra).toMatch(/principalId:\s*identity\.properties\.principalId/);
  });

  it("containers match shared/cosmos/client.ts: names, /pk, default TTLs, indexing", () => {
    const client = read("shared/cosmos/client.ts");
    const pk = /partitionKey:\s*\{\s*paths:\s*\["([^"]+)"\]/.exec(client)?.[1];
    expect(pk).toBe("/pk");
    expect(resourceBody(res, "containers")).toContain(`'${pk}'`);

    const constants: Record<string, number> = { COUNTER_TTL_SECONDS: 2 * 24 * 3600 };
    const ttlInCode = new Map(
      [...client.matchAll(/make\(CONTAINERS\.(\w+),\s*([^,]+),/g)].map((m) => {
        const expr = m[2]!.trim();
        return [m[1]!, /^-?\d+$/.test(expr) ? Number(expr) : constants[expr]] as const;
      }),
    );
    expect([...ttlInCode.keys()].sort()).toEqual(Object.values(CONTAINERS).sort());

    const list = blockAfter(res, /^var cosmosContainers\s*=/m);
    const containers = [...list.matchAll(/name:\s*'(\w+)'\s*\n\s*defaultTtl:\s*(-?\d+)/g)].map((m) => ({
      name: m[1]!,
      ttl: Number(m[2]),
    }));
    expect(containers.map((c) => c.name).sort()).toEqual(Object.values(CONTAINERS).sort());
    for (const c of containers) expect(c.ttl, c.name).toBe(ttlInCode.get(c.name));

    const auditFields = stringItems(blockAfter(res, /^var auditIndexedFields\s*=/m)).map((f) => `/${f}/?`);
    expect(auditFields.sort()).toEqual(AUDIT_INDEXING_POLICY.includedPaths!.map((p) => p.path).sort());
    const approvals = list.slice(list.indexOf("name: 'approvals'"));
    for (const p of APPROVALS_INDEXING_POLICY.includedPaths!)
      expect(approvals).toContain(`path: '${p.path}'`);
  });

  it("storage: no shared keys, no public blobs; driftguard's own resources opt out of its policies", () => {
    const storage = resourceBody(res, "storage");
    expect(storage).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(storage).toMatch(/allowBlobPublicAccess:\s*false/);
    expect(res).toMatch(/'driftguard:exclude':\s*'true'/);
    for (const symbol of ["storage", "cosmos", "functionApp"]) {
      expect(resourceBody(res, symbol), symbol).toMatch(/tags:\s*(ownTags|union\(ownTags)/);
    }
    expect(
      entries(blockAfter(res, /^module appVault\s[^=]+=/m)).find((e) => e.key === "params")?.value,
    ).toMatch(/tags:\s*ownTags/);
    const vault = resourceBody(appVaultSrc, "vault");
    expect(vault).toMatch(/tags:\s*tags/);
    expect(vault).toMatch(/enableRbacAuthorization:\s*true/);
    expect(resourceBody(res, "appInsights")).toMatch(/DisableLocalAuth:\s*true/);
  });
});

describe("the app's Key Vault", () => {
  it("is named from the identity's principal ID: stable per deployment, new after azd down (no soft-delete clash)", () => {
    const vault = resourceBody(appVaultSrc, "vault");
    expect(vault).toMatch(/name:\s*'kv\$\{uniqueString\(resourceGroup\(\)\.id, identityPrincipalId\)\}'/);
    expect(vault).toMatch(/enableSoftDelete:\s*true/);
    expect(vault).toMatch(/enablePurgeProtection:\s*true/);
    const call = entries(blockAfter(res, /^module appVault\s[^=]+=/m)).find((e) => e.key === "params")!.value;
    expect(call).toMatch(/identityPrincipalId:\s*identity\.properties\.principalId/);
  });

  it("its generated name is a valid Key Vault name for whatever uniqueString returns", () => {
    // The name as the template writes it, evaluated for uniqueString's documented output (13
    // characters of lower-case base32), against Key Vault's rules: 3–24 characters, letters, digits
    // and hyphens, starting with a letter, not ending with a hyphen, no two hyphens in a row.
    // Mutation: name the vault 'kv-driftguard-${uniqueString(…)}' (27 characters) → this fails.
    const template = /^\s*name:\s*'([^']*)'/m.exec(resourceBody(appVaultSrc, "vault"))![1]!;
    const evaluate = (tpl: string, unique: string) =>
      tpl.replace(/\$\{uniqueString\((?:[^()]|\([^()]*\))*\)\}/g, unique).replace(/\$\{[^}]*\}/g, () => {
        throw new Error(`cannot evaluate ${tpl}: only uniqueString() is expected in the name`);
      });
    const validVaultName = (n: string) =>
      /^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/.test(n) && !n.includes("--");
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z2-7]{13}$/), (unique) =>
        validVaultName(evaluate(template, unique)),
      ),
    );
    // The storage account beside it (3–24 lower-case letters and digits), from the deployment's token.
    const token = /var resourceToken = toLower\(uniqueString\((?:[^()]|\([^()]*\))*\)\)/.exec(main);
    expect(token, "resourceToken is a lower-cased uniqueString").not.toBeNull();
    const storageName = /^\s*name:\s*'([^']*)'/m.exec(resourceBody(res, "storage"))![1]!;
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z2-7]{13}$/), (unique) =>
        /^[a-z0-9]{3,24}$/.test(storageName.replace(/\$\{resourceToken\}/, unique)),
      ),
    );
  });

  it("writes a generated key only when the vault lacks it, or on a deliberate rotation", () => {
    for (const [symbol, flag, name] of [
      ["pseudonymSecret", "writePseudonymKey", "pseudonymSecretName"],
      ["signingSecret", "writeSigningKey", "signingSecretName"],
    ] as const) {
      expect(appVaultSrc).toMatch(new RegExp(`^resource ${symbol} '[^']+' = if \\(${flag}\\)`, "m"));
      expect(appVaultSrc).toContain(
        `var ${flag} = rotateGeneratedSecrets || (writeGeneratedSecrets && !contains(existing, toLower(${name})))`,
      );
    }
    const p = JSON.parse(read("infra/main.parameters.json")) as {
      parameters: Record<string, { value: unknown }>;
    };
    expect(p.parameters.existingSecretNames?.value).toBe(azdVar("DRIFTGUARD_EXISTING_SECRETS="));
    expect(p.parameters.rotateGeneratedSecrets?.value).toBe(azdVar("DRIFTGUARD_ROTATE_SECRETS=false"));
    expect(main).toMatch(/param rotateGeneratedSecrets bool = false/);
  });
});

describe("function app", () => {
  it("Flex Consumption, Linux, Node 22, deployment container with identity auth", () => {
    expect(resourceBody(res, "plan")).toMatch(/name:\s*'FC1'[\s\S]*tier:\s*'FlexConsumption'/);
    const app = resourceBody(res, "functionApp");
    expect(app).toMatch(/kind:\s*'functionapp,linux'/);
    expect(app).toMatch(/runtime:\s*\{\s*name:\s*'node'\s*version:\s*'22'\s*\}/);
    expect(app).toMatch(/type:\s*'UserAssignedIdentity'\s*userAssignedIdentityResourceId:\s*identity\.id/);
    expect(app).toMatch(/'azd-service-name':\s*'api'/);
    const pkg = JSON.parse(read("package.json")) as { main: string; scripts: Record<string, string> };
    expect(pkg.main).toBe("dist/functions/index.js");
    expect(pkg.scripts.build).toBeTruthy();
    // CI runs the suite on the production Node major too, after npm test.
    expect(pkg.scripts["test:node22"]).toMatch(
      /^npx -y node@22\.\d+\.\d+ node_modules\/vitest\/vitest\.mjs run$/,
    );
    const ci = read(".ci/run");
    expect(ci.indexOf("npm run test:node22")).toBeGreaterThan(ci.indexOf("npm test"));
    expect(ci.indexOf("npm test")).toBeGreaterThan(ci.indexOf("npm ci"));
  });

  it("Event Grid delivers to the Event Grid trigger of functions/app.ts through AzureFunction", () => {
    const egFunctions = functionsTable.filter((f) => f.trigger === "eventGrid").map((f) => f.name);
    expect(egFunctions).toHaveLength(1);
    expect(main).toMatch(new RegExp(`^var eventFunctionName = '${egFunctions[0]}'$`, "m"));
    const calls = [
      ...main.matchAll(
        /functionResourceId:\s*'\$\{app\.outputs\.functionAppId\}\/functions\/\$\{eventFunctionName\}'/g,
      ),
    ];
    // ARM events and diagnostic setting writes/deletes here and in the other governed subscriptions
    // (through modules/target-subscription.bicep), Key Vault events.
    expect(calls).toHaveLength(4);
    const sub = resourceBody(eventSub, "eventSubscription");
    expect(sub).toMatch(/endpointType:\s*'AzureFunction'/);
    expect(sub).toMatch(/resourceId:\s*functionResourceId/);
    expect(sub).toMatch(/maxEventsPerBatch:\s*maxEventsPerBatch/);
    expect(sub).toMatch(/preferredBatchSizeInKilobytes:\s*preferredBatchSizeInKilobytes/);
    expect(sub).toMatch(/maxDeliveryAttempts:\s*30\s*eventTimeToLiveInMinutes:\s*1440/);
    // The filters come from infra/event-subscriptions.json, which the local Event Grid reads too.
    const filters = eventSubscriptionsFile();
    expect(main).toMatch(/^var eventSubscriptions = loadJsonContent\('event-subscriptions\.json'\)$/m);
    expect(main).toContain("includedEventTypes: eventSubscriptions.resourceWrites.includedEventTypes");
    expect(main).toContain("includedEventTypes: eventSubscriptions.secretExpiry.includedEventTypes");
    expect(filters.resourceWrites.includedEventTypes).toEqual(["Microsoft.Resources.ResourceWriteSuccess"]);
    expect(filters.secretExpiry.includedEventTypes).toEqual([
      "Microsoft.KeyVault.SecretNearExpiry",
      "Microsoft.KeyVault.SecretExpired",
    ]);
    expect(main).toContain("includedEventTypes: eventSubscriptions.diagnosticSettings.includedEventTypes");
    expect(main).toContain("values: eventSubscriptions.diagnosticSettings.operationNames");
    expect(filters.diagnosticSettings.operationNames).toEqual([
      "Microsoft.Insights/diagnosticSettings/write",
      "Microsoft.Insights/diagnosticSettings/delete",
    ]);
    expect(resourceBody(res, "subscriptionTopic")).toMatch(
      /location:\s*'global'[\s\S]*topicType:\s*'Microsoft\.Resources\.Subscriptions'/,
    );
    expect(resourceBody(kvTarget, "topic")).toMatch(/topicType:\s*'Microsoft\.KeyVault\.vaults'/);
  });

  it("decision events: a keyless CloudEvents topic, EventGrid Data Sender for the identity, its endpoint as the app setting", () => {
    const module = read("infra/modules/decision-events.bicep");
    const topic = resourceBody(module, "topic");
    expect(topic).toMatch(/inputSchema:\s*'CloudEventSchemaV1_0'/);
    expect(topic).toMatch(/disableLocalAuth:\s*true/);
    expect(resourceBody(module, "dataSender")).toMatch(/scope:\s*topic/);
    expect(module).toContain("'d5a91429-5739-47e2-a06b-3470a27159e7'"); // EventGrid Data Sender
    expect(main).toMatch(/^param publishDecisionEvents bool = false$/m);
    expect(res).toMatch(/enabled:\s*publishDecisionEvents/);
    expect(res).toMatch(/principalId:\s*identity\.properties\.principalId/);
    const byKey = new Map(appSettingEntries().map((e) => [e.key, e.value]));
    expect(byKey.get("DRIFTGUARD_EVENTS_ENDPOINT")).toBe("decisionEvents.outputs.endpoint");
    expect(byKey.get("DRIFTGUARD_INSTANCE_NAME")).toBe("functionApp.name");
    expect(byKey.has("DRIFTGUARD_EVENTS_KEY")).toBe(false);
  });

  it("the provider filter covers every resource type of an eventGrid-triggered default policy", () => {
    expect(main).toMatch(
      /^param eventProviders array = loadJsonContent\('event-subscriptions\.json'\)\.resourceWrites\.resourceProviders$/m,
    );
    const providers = eventSubscriptionsFile().resourceWrites.resourceProviders.map((p) => p.toLowerCase());
    const file = parseYaml(read("policies/default.yaml")) as {
      policies: { name: string; resourceTypes: string[]; triggers: Record<string, unknown>[] }[];
    };
    const eventGridPolicies = file.policies.filter((p) => p.triggers.some((t) => "eventGrid" in t));
    expect(eventGridPolicies.length).toBeGreaterThan(0);
    for (const p of eventGridPolicies) {
      for (const type of p.resourceTypes) {
        expect(providers, `${p.name}: ${type}`).toContain(type.split("/")[0]!.toLowerCase());
      }
    }
  });

  it("App Service Authentication excludes exactly the machine-called routes of functions/app.ts", () => {
    const host = JSON.parse(read("host.json")) as { extensions?: { http?: { routePrefix?: string } } };
    const prefix = `/${host.extensions?.http?.routePrefix ?? "api"}`;
    const excluded = stringItems(blockAfter(res, /^var authExcludedPaths\s*=/m));
    // Called by machines with their own authentication vs. used by signed-in people.
    const MACHINE = new Set(["alerts", "teamsMessages", "health"]);
    const PEOPLE = new Set(["auditQuery", "auditViewer", "auditStatus", "approvalPage", "posture"]);
    const http = functionsTable.filter(
      (f): f is Extract<FunctionDefinition, { trigger: "http" }> => f.trigger === "http",
    );
    for (const f of http) {
      expect(MACHINE.has(f.name) || PEOPLE.has(f.name), `unclassified HTTP function ${f.name}`).toBe(true);
      const route = `${prefix}/${f.route}`;
      const staticPart = route.split("{")[0]!;
      const isExcluded = excluded.some((p) => route === p || staticPart.startsWith(p));
      expect(isExcluded, `${f.name} (${route})`).toBe(MACHINE.has(f.name));
    }
    expect(excluded).toContain("/runtime/webhooks/eventgrid");
    expect(excluded.length).toBe(MACHINE.size + 1);
    // Configured only when an Entra app is given; the client assertion comes from a managed identity.
    expect(res).toMatch(/var authEnabled = !empty\(authClientId\)/);
    expect(res).toMatch(/resource authConfig 'Microsoft\.Web\/sites\/config@[^']+' = if \(authEnabled\)/);
    expect(resourceBody(res, "authConfig")).toMatch(
      /clientSecretSettingName:\s*'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'/,
    );
    // The code believes x-ms-client-principal in Azure only when the platform reports authentication on
    // (WEBSITE_AUTH_ENABLED, set by App Service itself): the template turns it on, never fakes the flag.
    const auth = resourceBody(res, "authConfig");
    expect(auth).toMatch(/platform:\s*\{\s*enabled:\s*true\s*\}/);
    expect(auth).toMatch(/azureActiveDirectory:\s*\{\s*enabled:\s*true/);
    expect(res).toMatch(
      /resource authConfig 'Microsoft\.Web\/sites\/config@[^']+'[^{]*\{\s*parent:\s*functionApp\s*name:\s*'authsettingsV2'/,
    );
    expect(allBicep).not.toMatch(/WEBSITE_AUTH_ENABLED/);
    expect(read("shared/approvals/principal.ts")).toMatch(/env\.WEBSITE_AUTH_ENABLED/);
  });

  it("the action group posts the common alert schema to /api/alerts with the alerts function's own key", () => {
    const alerts = functionsTable.find((f) => f.name === "alerts");
    expect(alerts && alerts.trigger === "http" && alerts.authLevel).toBe("function");
    expect(res).toMatch(new RegExp(`^var alertsFunctionName = '${alerts!.name}'$`, "m"));
    expect(res).toMatch(
      new RegExp(`^var alertsRoute = '${alerts!.trigger === "http" ? alerts!.route : ""}'$`, "m"),
    );
    expect(res).toMatch(
      /^var alertsFunctionId = '\$\{functionApp\.id\}\/functions\/\$\{alertsFunctionName\}'$/m,
    );
    const ag = resourceBody(res, "actionGroup");
    expect(ag).toMatch(/useCommonAlertSchema:\s*true/);
    // Function scope: listKeys on …/functions/alerts, its `default` key; never a host key.
    expect(ag).toContain(`/api/$\{alertsRoute}?code=$\{listKeys(alertsFunctionId, '2024-04-01').default}`);
    expect(allBicep).not.toMatch(/Microsoft\.Web\/sites\/host/);
    expect(allBicep).not.toMatch(/functionKeys\.default|masterKey/);
  });

  it("phase 2 lists the alerts key before the app settings are rewritten, not during the restart that follows", () => {
    // Rewriting app settings restarts the app; a key listed right after it fails the provision.
    // Mutation: put `dependsOn: [ appSettingsConfig ]` back on actionGroup → this fails.
    const dependsOn = (symbol: string) =>
      /dependsOn:\s*\[([^\]]*)\]/.exec(resourceBody(res, symbol))?.[1]?.match(/\w+/g) ?? [];
    expect(dependsOn("actionGroup")).not.toContain("appSettingsConfig");
    expect(dependsOn("actionGroup")).not.toContain("authConfig");
    expect(dependsOn("appSettingsConfig")).toContain("actionGroup");
    const code = resourceBody(res, "actionGroup").replace(/\/\/.*$/gm, "");
    expect(code).not.toMatch(/appSettingsConfig|authConfig/);
  });
});

describe("template wiring", () => {
  it("modules are called with exactly the parameters they declare", () => {
    for (const file of bicepFiles) {
      const src = read(file);
      for (const m of src.matchAll(/^module\s+(\w+)\s+'([^']+)'\s*=/gm)) {
        const target = path.join(path.dirname(file), m[2]!);
        expect(existsSync(path.join(root, target)), `${file}: ${m[1]} → ${target}`).toBe(true);
        const declared = params(read(target));
        const body = src.slice(m.index!);
        const passed = entries(blockAfter(body, /\bparams:/)).map((e) => e.key);
        const names = declared.map((d) => d.name);
        expect(
          passed.filter((p) => !names.includes(p)),
          `${m[1]}: unknown params`,
        ).toEqual([]);
        const missing = declared.filter((d) => d.required && !passed.includes(d.name)).map((d) => d.name);
        expect(missing, `${m[1]}: missing required params`).toEqual([]);
      }
    }
  });

  it("every file has balanced brackets and terminated strings", () => {
    for (const file of bicepFiles) {
      const src = read(file);
      let j = 0;
      while (j < src.length) {
        const c = src[j];
        if (c === "/" && src[j + 1] === "/") {
          const nl = src.indexOf("\n", j);
          j = nl < 0 ? src.length : nl;
        } else if (c === "'") j = skipString(src, j);
        else if (c === "{" || c === "[" || c === "(") j = skipBracket(src, j);
        else {
          expect("}])".includes(c!), `${file}: stray '${c}' at ${j}`).toBe(false);
          j++;
        }
      }
    }
  });

  it("module outputs that callers read are declared by the module", () => {
    for (const file of bicepFiles) {
      const src = read(file);
      for (const m of src.matchAll(/^module\s+(\w+)\s+'([^']+)'\s*=/gm)) {
        const target = read(path.join(path.dirname(file), m[2]!));
        const declared = [...target.matchAll(/^output\s+(\w+)\s/gm)].map((o) => o[1]!);
        const used = [...src.matchAll(new RegExp(`\\b${m[1]}(?:\\[\\w+\\])?\\.outputs\\.(\\w+)`, "g"))].map(
          (u) => u[1]!,
        );
        expect(
          used.filter((u) => !declared.includes(u)),
          `${file}: ${m[1]} outputs`,
        ).toEqual([]);
      }
    }
  });

  it("the parameters file uses azd's variables and only declared parameters", () => {
    const text = read("infra/main.parameters.json");
    const file = JSON.parse(text) as { parameters: Record<string, { value: unknown }> };
    for (const v of ["AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"])
      expect(text).toContain(azdVar(v));
    const declared = params(main);
    const names = declared.map((d) => d.name);
    expect(Object.keys(file.parameters).filter((k) => !names.includes(k))).toEqual([]);
    const missing = declared.filter((d) => d.required && !(d.name in file.parameters)).map((d) => d.name);
    expect(missing).toEqual([]);
  });

  it("every resource has a GA API version", () => {
    const all = bicepFiles.flatMap((f) => resources(read(f)).map((r) => ({ ...r, file: f })));
    expect(all.length).toBeGreaterThan(30);
    for (const r of all) expect(r.apiVersion, `${r.file}: ${r.symbol}`).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(allBicep).not.toMatch(/-preview'/);
  });

  it("azure.yaml deploys the repository root as a TypeScript function app with the bicep in infra/", () => {
    const azd = parseYaml(read("azure.yaml")) as {
      infra: { provider: string; path: string };
      services: Record<string, { project: string; language: string; host: string }>;
      hooks: Record<string, Record<string, { run: string }>>;
    };
    expect(azd.infra).toMatchObject({ provider: "bicep", path: "infra" });
    expect(azd.services.api).toMatchObject({ project: ".", language: "ts", host: "function" });
    for (const hook of Object.values(azd.hooks)) {
      for (const platform of Object.values(hook))
        expect(existsSync(path.join(root, platform.run))).toBe(true);
    }
  });
});
