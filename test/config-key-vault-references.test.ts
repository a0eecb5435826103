/**
 * A Key Vault reference App Service could not resolve stays in the setting as its literal text. The
 * app must refuse to start with it (naming the setting) instead of using that text as a key, a URL
 * or an ID — e.g. as the approval-link signing key, which it would otherwise accept (long enough).
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../shared/config.js";
import { ConfigError } from "../shared/errors.js";

/** A complete, valid Azure configuration (as resources.bicep sets it, with the references resolved). */
const azureEnv = (): Record<string, string> => ({
  WEBSITE_SITE_NAME: "func-driftguard-abc",
  DRIFTGUARD_MODE: "dry-run",
  COSMOS_ENDPOINT: "https://cosmos-driftguard-abc.documents.azure.com:443/",
  AZURE_CLIENT_ID: "0f6b2a43-51c1-4e57-9c1a-2b8f4f2f7c11",
  DRIFTGUARD_SELF_PRINCIPAL_IDS: "5a1c0e2b-4b7e-4d2a-9d51-3f0e8c7b6a10,0f6b2a43-51c1-4e57-9c1a-2b8f4f2f7c11",
  DRIFTGUARD_PSEUDONYM_KEY: "6b1f5c0e8f7e4f0a9b3c2d1e0f9a8b7c",
  APPROVER_SIGNING_KEY: "0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
  TEAMS_WORKFLOW_URL: "https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke",
});

const reference = (secret: string) =>
  `@Microsoft.KeyVault(SecretUri=https://kvabc.vault.azure.net/secrets/${secret}/)`;

function refusal(env: Record<string, string>): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

describe("unresolved Key Vault references fail at start", () => {
  it("the resolved configuration loads (the cases below fail only because of the reference)", () => {
    const config = loadConfig(azureEnv());
    expect(config.approvers.signingKey).toBe(azureEnv().APPROVER_SIGNING_KEY);
    expect(config.inAzure).toBe(true);
  });

  it.each([
    ["APPROVER_SIGNING_KEY", reference("approver-signing-key")],
    ["DRIFTGUARD_PSEUDONYM_KEY", reference("driftguard-pseudonym-key")],
    ["TEAMS_WORKFLOW_URL", reference("teams-workflow-url")],
    ["COSMOS_ENDPOINT", "@Microsoft.KeyVault(VaultName=kvabc;SecretName=cosmos-endpoint)"],
    ["APPROVER_SIGNING_KEY", "  @microsoft.keyvault(SecretUri=https://kvabc.vault.azure.net/secrets/k/)"],
  ])("%s = %s → ConfigError naming the setting, not the value", (name, value) => {
    const err = refusal({ ...azureEnv(), [name]: value });
    expect(err.setting).toBe(name);
    expect(err.message).toMatch(/Key Vault reference that did not resolve/);
    expect(err.message).not.toContain("vault.azure.net");
    expect(err.message).not.toContain("SecretName");
  });

  it("any setting counts, not only driftguard's own (the platform resolves every app setting alike)", () => {
    const err = refusal({ ...azureEnv(), APPLICATIONINSIGHTS_CONNECTION_STRING: reference("appi") });
    expect(err.setting).toBe("APPLICATIONINSIGHTS_CONNECTION_STRING");
  });

  it("locally too, and only a value that starts with the reference", () => {
    const local = { DRIFTGUARD_PSEUDONYM_KEY: reference("p") };
    expect(refusal(local).setting).toBe("DRIFTGUARD_PSEUDONYM_KEY");
    const mentions = {
      DRIFTGUARD_PSEUDONYM_KEY: "not-a-reference @Microsoft.KeyVault( inside",
      DRIFTGUARD_LOCAL_STACK: "1",
    };
    expect(loadConfig(mentions).pseudonymKey).toBe(mentions.DRIFTGUARD_PSEUDONYM_KEY);
  });
});
