/**
 * `driftguard doctor`: checks a configuration before traffic arrives. One line per check, each
 * failure with its fix: settings valid, policies valid, Cosmos DB reachable with this identity and
 * its containers present, every policy's scope readable, every kind's operations granted there
 * (the identity's effective permissions, as ARM reports them), approvals and Teams configured, and
 * pending approvals whose Teams card could not be posted.
 * Nothing is written anywhere. Exit 1 when a check failed; warnings do not fail.
 */
import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import { AzureClients, productionVaultUrl } from "../shared/azure/clients.js";
import { type DriftguardConfig, loadConfig } from "../shared/config.js";
import { CosmosApprovalStore } from "../shared/cosmos/approval-store.js";
import { CONTAINERS, configuredCosmosClient } from "../shared/cosmos/client.js";
import { ConfigError } from "../shared/errors.js";
import { loadPolicyFile, PolicyValidationError } from "../shared/policy/load.js";
import type { Policy } from "../shared/policy/schema.js";
import type { RemediationRegistry } from "../shared/remediations/registry.js";
import { checkApprovalCards } from "./doctor-approvals.js";
import { checkPolicyScopes } from "./doctor-arm.js";
import type { CheckResult, CheckStatus } from "./doctor-result.js";
import { checkSweepSubscriptions } from "./doctor-sweep.js";
import { checkCardDestination } from "./doctor-teams.js";

export type { CheckResult, CheckStatus } from "./doctor-result.js";

export interface DoctorOptions {
  env: Record<string, string | undefined>;
  registry: RemediationRegistry;
  /** The identity to check with (the local stack's static token; else the configured identity). */
  credential?: TokenCredential;
  /** Subscriptions to check policies without a scope in (else AZURE_SUBSCRIPTION_ID). */
  subscriptions?: string[];
  /** Seconds per network check. */
  timeoutMs?: number;
}

export async function runDoctor(opts: DoctorOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let config: DriftguardConfig;
  try {
    config = loadConfig(opts.env);
    out.push({ status: "ok", check: "settings", detail: "every setting is valid" });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.push({
      status: "fail",
      check: "settings",
      detail: `${err.setting}: ${err.reason}`,
      fix: `set ${err.setting} as docs/settings.md describes, then run doctor again`,
    });
    return out; // nothing else can be checked with a broken configuration
  }
  let policies: Policy[] = [];
  try {
    policies = (await loadPolicyFile(config.policyFile, opts.registry)).policies;
    out.push({
      status: "ok",
      check: "policies",
      detail: `${policies.length} policies in ${config.policyFile}`,
    });
  } catch (err) {
    const issues =
      err instanceof PolicyValidationError
        ? err.issues.map((i) => `${i.path}: ${i.message}`)
        : [String((err as Error).message ?? err)];
    out.push({
      status: "fail",
      check: "policies",
      detail: `${config.policyFile}: ${issues.slice(0, 5).join("; ")}`,
      fix: "run `npx driftguard policy validate` for every error with its path",
    });
  }
  const credential = opts.credential ?? (await productionCredential(config));
  const ca = config.caFile ? readFileSync(config.caFile, "utf8") : undefined;
  out.push(...(await checkCosmos(config, credential, ca, opts.timeoutMs ?? 10_000)));
  const clients = new AzureClients({
    armEndpoint: config.armEndpoint,
    credential,
    ca,
    vaultUrl: (name) => config.vaultUrls[name] ?? productionVaultUrl(name),
    retry: { maxRetries: 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  });
  const subscriptions = opts.subscriptions?.length
    ? opts.subscriptions
    : opts.env.AZURE_SUBSCRIPTION_ID
      ? [opts.env.AZURE_SUBSCRIPTION_ID]
      : [];
  out.push(...(await checkPolicyScopes(clients.arm(), policies, opts.registry, subscriptions)));
  // Each governed subscription: Resource Graph (sweeps) and, in Azure, its Event Grid system topic.
  const governed = [
    ...new Set(
      [
        ...config.sweep.subscriptions,
        ...subscriptions,
        ...policies.flatMap((p) => p.scope.map((s) => s.split("/")[2] ?? "")),
      ]
        .filter(Boolean)
        .map((s) => s.toLowerCase()),
    ),
  ];
  out.push(
    ...(await checkSweepSubscriptions(
      clients.resourceGraph({ maxRetries: 1, maxThrottleWaits: 2, maxWaitMs: 5_000 }),
      clients.arm(),
      governed,
      { checkTopics: !config.localStack },
    )),
  );
  out.push(...checkApprovals(config, policies));
  out.push(...(await checkTeams(config, opts.timeoutMs ?? 10_000)));
  out.push(...(await checkCardDestination(config, credential, ca, opts.timeoutMs ?? 10_000)));
  out.push(...checkOperations(config));
  return out;
}

async function productionCredential(config: DriftguardConfig): Promise<TokenCredential> {
  const identity = await import("@azure/identity");
  return new identity.DefaultAzureCredential(
    config.azureClientId ? { managedIdentityClientId: config.azureClientId } : {},
  );
}

function reason(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; message?: string };
  const status =
    typeof e?.code === "number" ? e.code : typeof e?.statusCode === "number" ? e.statusCode : undefined;
  const first =
    String(e?.message ?? err)
      .split("\n")[0]
      ?.slice(0, 160) ?? "";
  return status ? `HTTP ${status}: ${first}` : first;
}

async function checkCosmos(
  config: DriftguardConfig,
  credential: TokenCredential,
  ca: string | undefined,
  timeoutMs: number,
): Promise<CheckResult[]> {
  const client = configuredCosmosClient(config, credential, ca, timeoutMs);
  try {
    const database = client.database(config.cosmos.database);
    try {
      await database.read();
    } catch (err) {
      const code = (err as { code?: number }).code;
      return [
        {
          status: "fail",
          check: "cosmos",
          detail: `database '${config.cosmos.database}' at ${config.cosmos.endpoint} not reachable (${reason(err)})`,
          fix:
            code === 401 || code === 403
              ? "grant this identity the 'Cosmos DB Built-in Data Contributor' role on the account (infra/ does)"
              : code === 404
                ? "provision the database with infra/ (azd provision), or check COSMOS_DATABASE"
                : "check COSMOS_ENDPOINT and that the account accepts this network (firewall, private endpoint)",
        },
      ];
    }
    const results: CheckResult[] = [
      {
        status: "ok",
        check: "cosmos",
        detail: `database '${config.cosmos.database}' reachable with this identity`,
      },
    ];
    const missing: string[] = [];
    for (const name of Object.values(CONTAINERS)) {
      try {
        await database.container(name).read();
      } catch (err) {
        missing.push(`${name} (${reason(err)})`);
      }
    }
    results.push(
      missing.length === 0
        ? { status: "ok", check: "cosmos containers", detail: Object.values(CONTAINERS).join(", ") }
        : {
            status: "fail",
            check: "cosmos containers",
            detail: `missing or unreadable: ${missing.join("; ")}`,
            fix: "provision the containers with infra/ (azd provision): with Managed Identity the app cannot create them",
          },
    );
    if (!missing.some((m) => m.startsWith(`${CONTAINERS.approvals} `)))
      results.push(
        ...(await checkApprovalCards(
          new CosmosApprovalStore(database.container(CONTAINERS.approvals)),
          config.publicUrl,
        )),
      );
    return results;
  } finally {
    client.dispose();
  }
}

function checkApprovals(config: DriftguardConfig, policies: Policy[]): CheckResult[] {
  const needApproval = policies.filter((p) => p.mode === "approval").map((p) => p.name);
  if (config.approvers.objectIds.length > 0)
    return [
      {
        status: "ok",
        check: "approvers",
        detail: `${config.approvers.objectIds.length} approver(s) configured`,
      },
    ];
  if (needApproval.length === 0 && config.mode !== "approval")
    return [
      {
        status: "warn",
        check: "approvers",
        detail:
          "APPROVER_OBJECT_IDS is empty: actions past a policy's blast-radius limit wait for an approver nobody can be",
        fix: "set APPROVER_OBJECT_IDS to the Entra object IDs of the people who approve",
      },
    ];
  return [
    {
      status: config.inAzure ? "fail" : "warn",
      check: "approvers",
      detail: `APPROVER_OBJECT_IDS is empty, but ${needApproval.length ? `policies ${needApproval.join(", ")} need` : "DRIFTGUARD_MODE needs"} approval`,
      fix: "set APPROVER_OBJECT_IDS to the Entra object IDs of the people who approve",
    },
  ];
}

async function checkTeams(config: DriftguardConfig, timeoutMs: number): Promise<CheckResult[]> {
  const { teams } = config;
  if (!teams.botAppId && !teams.workflowUrl)
    return [
      {
        status: "warn",
        check: "teams",
        detail:
          "no Teams configured: approval requests are recorded and open on the approval page, but nobody is told",
        fix: "set TEAMS_WORKFLOW_URL, or register the bot and set TEAMS_BOT_APP_ID (README: Approvals in Teams)",
      },
    ];
  const out: CheckResult[] = [];
  if (teams.botAppId) {
    const where =
      teams.serviceUrl && teams.conversationId
        ? `posts to conversation ${teams.conversationId}`
        : "posts to the team it is installed in (captured at installation)";
    out.push({ status: "ok", check: "teams bot", detail: `app ${teams.botAppId}; ${where}` });
    try {
      const res = await fetch(teams.botJwksUrl, { signal: AbortSignal.timeout(timeoutMs) });
      out.push(
        res.ok
          ? {
              status: "ok",
              check: "teams keys",
              detail: `Bot Framework signing keys reachable (${teams.botJwksUrl})`,
            }
          : {
              status: "fail",
              check: "teams keys",
              detail: `${teams.botJwksUrl} answered ${res.status}`,
              fix: "allow outbound HTTPS to login.botframework.com (or fix TEAMS_BOT_JWKS_URL)",
            },
      );
    } catch (err) {
      out.push({
        status: "fail",
        check: "teams keys",
        detail: `${teams.botJwksUrl} not reachable (${reason(err)})`,
        fix: "allow outbound HTTPS to login.botframework.com (or fix TEAMS_BOT_JWKS_URL)",
      });
    }
  }
  if (teams.workflowUrl)
    out.push({ status: "ok", check: "teams workflow", detail: "Workflows webhook configured" });
  return out;
}

function checkOperations(config: DriftguardConfig): CheckResult[] {
  const out: CheckResult[] = [];
  if (config.inAzure && config.selfPrincipalIds.length === 0)
    out.push({
      status: "warn",
      check: "self echo",
      detail:
        "DRIFTGUARD_SELF_PRINCIPAL_IDS is empty: driftguard's own writes come back as events it must re-read",
      fix: "set it to the app identity's principal and client IDs (infra/ does)",
    });
  out.push(
    config.telemetry.mode === "off"
      ? {
          status: config.inAzure ? "warn" : "ok",
          check: "telemetry",
          detail: "off (nothing is sent anywhere)",
          ...(config.inAzure ? { fix: "set APPLICATIONINSIGHTS_CONNECTION_STRING (infra/ does)" } : {}),
        }
      : { status: "ok", check: "telemetry", detail: config.telemetry.mode },
  );
  return out;
}

const MARK: Record<CheckStatus, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };

export function formatResults(results: CheckResult[]): string {
  return results
    .map((r) => `${MARK[r.status]}  ${r.check}: ${r.detail}${r.fix ? `\n      fix: ${r.fix}` : ""}`)
    .join("\n");
}
