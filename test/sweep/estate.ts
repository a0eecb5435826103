/**
 * A small estate with drift that was there before driftguard: three subscriptions, compliant,
 * drifted, excluded, exempt-until-future, exemption-ended and unparseable-exemption resources,
 * for the sweep tests.
 */
import type { Seed } from "../../dev/azure-sim/index.js";
import { armResource } from "../helpers/seed.js";

export const SUB_A = "00000000-0000-0000-0000-0000000000a1";
export const SUB_B = "00000000-0000-0000-0000-0000000000b2";
export const SUB_C = "00000000-0000-0000-0000-0000000000c3";

const rg = (sub: string, name: string) => `/subscriptions/${sub}/resourceGroups/${name}`;
const storage = (sub: string, name: string) =>
  `${rg(sub, "rg-data")}/providers/Microsoft.Storage/storageAccounts/${name}`;

export const IDS = {
  driftedStorage: storage(SUB_A, "stdrifta"),
  compliantStorage: storage(SUB_A, "stoka"),
  workspace: `${rg(SUB_A, "rg-ml")}/providers/Microsoft.MachineLearningServices/workspaces/mlw-a`,
  excludedStorage: storage(SUB_A, "stexcluded"),
  exemptStorage: storage(SUB_A, "stexemptfuture"),
  nsg: `${rg(SUB_B, "rg-net")}/providers/Microsoft.Network/networkSecurityGroups/nsg-b`,
  openRule: `${rg(SUB_B, "rg-net")}/providers/Microsoft.Network/networkSecurityGroups/nsg-b/securityRules/allow-ssh-internet`,
  cognitive: `${rg(SUB_B, "rg-ai")}/providers/Microsoft.CognitiveServices/accounts/cog-b`,
  expiredExemption: storage(SUB_B, "stexemptended"),
  vault: `${rg(SUB_C, "rg-sec")}/providers/Microsoft.KeyVault/vaults/kv-sweep-c`,
  nearSecret: `${rg(SUB_C, "rg-sec")}/providers/Microsoft.KeyVault/vaults/kv-sweep-c/secrets/api-key-near`,
  invalidExemption: storage(SUB_C, "stbadexempt"),
  compliantStorageC: storage(SUB_C, "stokc"),
};

/** What a sweep must find non-compliant, nothing else. */
export const DRIFTED = [
  IDS.driftedStorage,
  IDS.workspace,
  IDS.openRule,
  IDS.expiredExemption,
  IDS.nearSecret,
  IDS.invalidExemption,
].sort();

const openStorage = { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true };
const closedStorage = { publicNetworkAccess: "Disabled", allowBlobPublicAccess: false };

export function sweepEstate(): Seed {
  return {
    resources: [
      armResource(IDS.driftedStorage, { kind: "StorageV2", properties: { ...openStorage } }),
      armResource(IDS.compliantStorage, { kind: "StorageV2", properties: { ...closedStorage } }),
      armResource(IDS.workspace, { properties: { publicNetworkAccess: "Enabled" } }),
      armResource(IDS.excludedStorage, {
        kind: "StorageV2",
        tags: { "driftguard:exclude": "true" },
        properties: { ...openStorage },
      }),
      armResource(IDS.exemptStorage, {
        kind: "StorageV2",
        tags: { "driftguard:exclude-until": "2999-12-31" },
        properties: { ...openStorage },
      }),
      armResource(IDS.nsg, {
        properties: {
          securityRules: [
            {
              name: "allow-ssh-internet",
              properties: {
                protocol: "Tcp",
                sourceAddressPrefix: "*",
                sourcePortRange: "*",
                destinationAddressPrefix: "*",
                destinationPortRange: "22",
                access: "Allow",
                direction: "Inbound",
                priority: 100,
              },
            },
            {
              name: "allow-https-vnet",
              properties: {
                protocol: "Tcp",
                sourceAddressPrefix: "VirtualNetwork",
                sourcePortRange: "*",
                destinationAddressPrefix: "*",
                destinationPortRange: "443",
                access: "Allow",
                direction: "Inbound",
                priority: 110,
              },
            },
          ],
        },
      }),
      armResource(IDS.cognitive, { kind: "OpenAI", properties: { publicNetworkAccess: "Disabled" } }),
      armResource(IDS.expiredExemption, {
        kind: "StorageV2",
        tags: { "driftguard:exclude-until": "2020-01-31" },
        properties: { ...openStorage },
      }),
      armResource(IDS.vault, { properties: { publicNetworkAccess: "Disabled", tenantId: SUB_C } }),
      armResource(IDS.invalidExemption, {
        kind: "StorageV2",
        tags: { "driftguard:exclude-until": "next tuesday" },
        properties: { ...openStorage },
      }),
      armResource(IDS.compliantStorageC, { kind: "StorageV2", properties: { ...closedStorage } }),
    ],
    secrets: [
      {
        vault: "kv-sweep-c",
        name: "api-key-near",
        value: "old-value-near-000000000000000000",
        expiresOn: "P5D",
      },
      {
        vault: "kv-sweep-c",
        name: "api-key-far",
        value: "old-value-far-0000000000000000000",
        expiresOn: "P200D",
      },
    ],
  };
}

export const SWEEP_POLICIES = `version: 1
policies:
  - name: ai-services-private
    resourceTypes:
      - Microsoft.MachineLearningServices/workspaces
      - Microsoft.Storage/storageAccounts
      - Microsoft.KeyVault/vaults
      - Microsoft.CognitiveServices/accounts
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: disable-public-network-access
    maxActionsPerHour: 100
  - name: no-internet-inbound
    resourceTypes:
      - Microsoft.Network/networkSecurityGroups
      - Microsoft.Network/networkSecurityGroups/securityRules
    triggers:
      - eventGrid: Microsoft.Resources.ResourceWriteSuccess
    kind: close-internet-inbound-rule
    maxActionsPerHour: 100
  - name: rotate-expiring-secrets
    resourceTypes: [Microsoft.KeyVault/vaults/secrets]
    triggers:
      - keyVault: SecretNearExpiry
    kind: rotate-secret
    maxActionsPerHour: 100
  - name: gpu-cost-guard
    resourceTypes: [Microsoft.ContainerService/managedClusters]
    triggers:
      - alert: "gpu-cost-*"
    kind: scale-gpu-pool
    params:
      maxNodes: 2
`;
