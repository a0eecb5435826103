// driftguard — Azure deployment (azd: `azd up`). Subscription scope: creates the resource group, deploys
// the app into it (resources.bicep), grants the app's identity the least-privilege custom role at
// subscription scope, and wires Event Grid (ARM + Key Vault events) to the `resourceEvents` function.
//
// Two phases (see infra/README.md): Event Grid validates that an `AzureFunction` destination exists,
// and the action group needs the app's function key — both exist only after the code is deployed. So
// the first `azd provision` runs with connectSignals=false; azure.yaml's postdeploy hook sets
// DRIFTGUARD_CONNECT_SIGNALS=true and provisions once more.
targetScope = 'subscription'

// ─── Parameters ──────────────────────────────────────────────────────────────────────────────────────

@minLength(1)
@maxLength(64)
@description('azd environment name: names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for all regional resources (must offer Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object ID of the person or pipeline running azd. Gets read-only access to the audit trail (Cosmos DB Built-in Data Reader) so `npx driftguard audit` works from a workstation. Empty: no grant.')
param principalId string = ''

@allowed([
  'enforce'
  'dry-run'
  'off'
])
@description('DRIFTGUARD_MODE, the global kill switch. First deploys run in dry-run: every decision is recorded, nothing is changed.')
param driftguardMode string = 'dry-run'

@minValue(0)
@maxValue(36500)
@description('DRIFTGUARD_AUDIT_RETENTION_DAYS: audit record retention (per-record Cosmos TTL); 0 keeps records forever.')
param auditRetentionDays int = 400

@description('DRIFTGUARD_POLICY_FILE, relative to the app root (the deployed package) or absolute.')
param policyFile string = 'policies/default.yaml'

@description('APPROVER_OBJECT_IDS: comma-separated Entra object IDs allowed to approve. Empty: nobody can approve (approval-mode actions expire).')
param approverObjectIds string = ''

@minValue(5)
@maxValue(10080)
@description('APPROVER_TTL_MINUTES: how long an approval request stays open.')
param approvalTtlMinutes int = 1440

@secure()
@description('Teams Workflows webhook URL (it carries a signature: stored as a Key Vault secret, never as a plain app setting). Empty: no Teams cards.')
param teamsWorkflowUrl string = ''

@description('TEAMS_BOT_APP_ID: Entra app ID of an optional Teams bot for in-card approvals. Empty: no bot.')
param teamsBotAppId string = ''

@description('Client ID of the Entra app registration used by App Service Authentication (approval page, audit API and viewer). Empty: authentication is NOT configured — the approval page then refuses every decision in Azure and the audit API refuses every caller (see infra/README.md).')
param authClientId string = ''

@description('DRIFTGUARD_PUBLIC_URL override (custom domain). Empty: https://<default host name of the function app>.')
param publicUrl string = ''

@description('Phase 2: create the Event Grid subscriptions and the Azure Monitor action group. Needs the code deployed (set by the postdeploy hook).')
param connectSignals bool = false

@description('Write the generated DRIFTGUARD_PSEUDONYM_KEY and APPROVER_SIGNING_KEY into Key Vault. True on the first provision only (the postprovision hook turns it off); set it again to rotate both keys.')
param writeGeneratedSecrets bool = true

@secure()
@description('Pseudonymisation key. Generated per deployment and never in source; only written to Key Vault when writeGeneratedSecrets is true.')
param pseudonymKey string = '${newGuid()}${newGuid()}'

@secure()
@description('HS256 key for one-time approval links. Generated per deployment and never in source; only written to Key Vault when writeGeneratedSecrets is true.')
param approverSigningKey string = '${newGuid()}${newGuid()}'

@description('Resource providers whose ResourceWriteSuccess events are delivered (advanced filter on data.resourceProvider). Must cover every resource type of an eventGrid-triggered policy.')
param eventProviders array = [
  'Microsoft.MachineLearningServices'
  'Microsoft.Storage'
  'Microsoft.KeyVault'
  'Microsoft.CognitiveServices'
  'Microsoft.Network'
]

@minValue(1)
@maxValue(5000)
@description('Events per Event Grid delivery. Event Grid waits 30 s for an answer and a remediation may poll a long-running ARM operation, so the default is one event per delivery.')
param maxEventsPerBatch int = 1

@minValue(1)
@maxValue(1024)
@description('Preferred Event Grid batch size in KB.')
param preferredBatchSizeInKilobytes int = 64

@description('Dead-letter undeliverable events (after 30 attempts / 24 h) into the app storage account, container eventgrid-deadletter. Applies to system topics this template creates.')
param deadLetterEnabled bool = true

@description('Name of an Event Grid system topic that already exists for this subscription (Event Grid allows only one per source). Empty: one is created in the driftguard resource group.')
param existingSubscriptionTopicName string = ''

@description('Resource group of existingSubscriptionTopicName.')
param existingSubscriptionTopicResourceGroup string = ''

@description('Key Vaults whose secrets driftguard rotates (same subscription). Each gets Key Vault Secrets Officer for the app identity and an Event Grid system topic (SecretNearExpiry, SecretExpired).')
param targetKeyVaults targetKeyVault[] = []

@description('Grant Key Vault Secrets Officer on the whole subscription instead of per vault. Simpler, but the identity can then read and write every secret in every RBAC vault of the subscription.')
param grantSecretsOfficerAtSubscription bool = false

@minValue(1)
@maxValue(1000)
@description('Flex Consumption scale-out limit (bounds concurrent remediations and Cosmos DB load).')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption instance memory.')
param instanceMemoryMB int = 2048

type targetKeyVault = {
  @description('Vault name.')
  name: string
  @description('Resource group of the vault (same subscription as the deployment).')
  resourceGroup: string
  @description('Region of the vault: its system topic must be created there.')
  location: string
  @description('An Event Grid system topic that already exists for this vault, in the vault\'s resource group (one per source). Omit to create one.')
  existingSystemTopicName: string?
}

// ─── Names ───────────────────────────────────────────────────────────────────────────────────────────

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var resourceGroupName = 'rg-${environmentName}'
var identityName = 'id-driftguard-${resourceToken}'
var functionAppName = 'func-driftguard-${resourceToken}'
// The Event Grid trigger's name in functions/app.ts (test/infra.test.ts checks they match).
var eventFunctionName = 'resourceEvents'
var createSubscriptionTopic = empty(existingSubscriptionTopicName)
var subscriptionTopicName = createSubscriptionTopic ? 'evgt-driftguard-${resourceToken}' : existingSubscriptionTopicName
var subscriptionTopicResourceGroup = createSubscriptionTopic || empty(existingSubscriptionTopicResourceGroup)
  ? resourceGroupName
  : existingSubscriptionTopicResourceGroup

// Built-in role: Key Vault Secrets Officer (data plane: read and write secrets; no key or certificate rights).
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

// ─── Resource group and app ──────────────────────────────────────────────────────────────────────────

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module app 'resources.bicep' = {
  name: 'driftguard-resources'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    identityName: identityName
    functionAppName: functionAppName
    principalId: principalId
    driftguardMode: driftguardMode
    auditRetentionDays: auditRetentionDays
    policyFile: policyFile
    approverObjectIds: approverObjectIds
    approvalTtlMinutes: approvalTtlMinutes
    teamsWorkflowUrl: teamsWorkflowUrl
    teamsBotAppId: teamsBotAppId
    authClientId: authClientId
    publicUrl: publicUrl
    connectSignals: connectSignals
    writeGeneratedSecrets: writeGeneratedSecrets
    pseudonymKey: pseudonymKey
    approverSigningKey: approverSigningKey
    createSubscriptionTopic: createSubscriptionTopic
    subscriptionTopicName: subscriptionTopicName
    deadLetterEnabled: deadLetterEnabled
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

// ─── Least-privilege custom role at subscription scope ───────────────────────────────────────────────
// Exactly the ARM operations the remediation kinds perform (shared/remediations/*.ts), plus reads of
// the long-running-operation status URLs ARM returns for them (ARM authorises those GETs too).
// No Owner, no Contributor, no Microsoft.Authorization/*, no delete except the NSG rule the
// close-internet-inbound-rule kind removes.
var remediatorActions = [
  // disable-public-network-access: ML workspace (PATCH), online endpoint (GET + PUT)
  'Microsoft.MachineLearningServices/workspaces/read'
  'Microsoft.MachineLearningServices/workspaces/write'
  'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read'
  'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write'
  // scale-gpu-pool: AML compute clusters (GET/list + PATCH scaleSettings)
  'Microsoft.MachineLearningServices/workspaces/computes/read'
  'Microsoft.MachineLearningServices/workspaces/computes/write'
  'Microsoft.MachineLearningServices/locations/*/read'
  // disable-public-network-access (PATCH) and rotate-secret (listKeys + regenerateKey) on Storage
  'Microsoft.Storage/storageAccounts/read'
  'Microsoft.Storage/storageAccounts/write'
  'Microsoft.Storage/storageAccounts/listKeys/action'
  'Microsoft.Storage/storageAccounts/regenerateKey/action'
  // disable-public-network-access on Key Vault (management plane only; secrets need the data-plane role)
  'Microsoft.KeyVault/vaults/read'
  'Microsoft.KeyVault/vaults/write'
  // disable-public-network-access and rotate-secret on Cognitive Services / Azure OpenAI
  'Microsoft.CognitiveServices/accounts/read'
  'Microsoft.CognitiveServices/accounts/write'
  'Microsoft.CognitiveServices/accounts/listKeys/action'
  'Microsoft.CognitiveServices/accounts/regenerateKey/action'
  'Microsoft.CognitiveServices/locations/*/read'
  // close-internet-inbound-rule: read the NSG and its rules, delete only the offending rule
  'Microsoft.Network/networkSecurityGroups/read'
  'Microsoft.Network/networkSecurityGroups/securityRules/read'
  'Microsoft.Network/networkSecurityGroups/securityRules/delete'
  'Microsoft.Network/locations/*/read'
  // scale-gpu-pool: AKS clusters (read/list) and agent pools (GET + PUT count/min/max)
  'Microsoft.ContainerService/managedClusters/read'
  'Microsoft.ContainerService/managedClusters/agentPools/read'
  'Microsoft.ContainerService/managedClusters/agentPools/write'
  'Microsoft.ContainerService/locations/*/read'
  // throttle-api-subscription: APIM service (read) and subscriptions (GET + PATCH state)
  'Microsoft.ApiManagement/service/read'
  'Microsoft.ApiManagement/service/subscriptions/read'
  'Microsoft.ApiManagement/service/subscriptions/write'
]

resource remediatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'driftguard-remediator', environmentName)
  properties: {
    roleName: 'driftguard remediator (${environmentName}, ${take(subscription().subscriptionId, 8)})'
    description: 'Least privilege for driftguard remediations: read the resources it governs, set publicNetworkAccess, delete Internet-facing NSG rules, rotate Storage/Cognitive Services keys, cap GPU pools, suspend APIM subscriptions.'
    type: 'CustomRole'
    permissions: [
      {
        actions: remediatorActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource remediatorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, identityName, remediatorRole.id)
  properties: {
    roleDefinitionId: remediatorRole.id
    principalId: app.outputs.identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'driftguard remediations (subscription scope)'
  }
}

// Optional, broad: Key Vault Secrets Officer on the whole subscription (see grantSecretsOfficerAtSubscription).
resource secretsOfficerAtSubscription 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantSecretsOfficerAtSubscription) {
  name: guid(subscription().id, identityName, keyVaultSecretsOfficerRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRoleId)
    principalId: app.outputs.identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'driftguard rotate-secret on every vault of the subscription'
  }
}

// ─── Key Vaults whose secrets driftguard rotates ─────────────────────────────────────────────────────

module vaultTargets 'modules/key-vault-target.bicep' = [
  for (kv, i) in targetKeyVaults: {
    name: 'driftguard-kv-${i}-${resourceToken}'
    scope: resourceGroup(kv.resourceGroup)
    params: {
      vaultName: kv.name
      location: kv.location
      tags: tags
      principalId: app.outputs.identityPrincipalId
      existingSystemTopicName: kv.?existingSystemTopicName ?? ''
      deadLetterEnabled: deadLetterEnabled
      driftguardResourceGroup: resourceGroupName
      storageAccountName: app.outputs.storageAccountName
      deadLetterContainerName: app.outputs.deadLetterContainerName
    }
  }
]

// ─── Event Grid subscriptions (phase 2) ──────────────────────────────────────────────────────────────

module resourceWriteEvents 'modules/event-subscription.bicep' = if (connectSignals) {
  name: 'driftguard-arm-events-${resourceToken}'
  scope: resourceGroup(subscriptionTopicResourceGroup)
  params: {
    systemTopicName: subscriptionTopicName
    name: 'driftguard-resource-writes'
    functionResourceId: '${app.outputs.functionAppId}/functions/${eventFunctionName}'
    includedEventTypes: [
      'Microsoft.Resources.ResourceWriteSuccess'
    ]
    advancedFilters: [
      {
        operatorType: 'StringIn'
        key: 'data.resourceProvider'
        values: eventProviders
      }
    ]
    maxEventsPerBatch: maxEventsPerBatch
    preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
    // Dead-lettering uses the topic's own identity: only topics this template creates have one.
    deadLetterStorageAccountId: deadLetterEnabled && createSubscriptionTopic ? app.outputs.storageAccountId : ''
    deadLetterContainerName: app.outputs.deadLetterContainerName
  }
}

module secretEvents 'modules/event-subscription.bicep' = [
  for (kv, i) in targetKeyVaults: if (connectSignals) {
    name: 'driftguard-kv-events-${i}-${resourceToken}'
    scope: resourceGroup(kv.resourceGroup)
    params: {
      systemTopicName: vaultTargets[i].outputs.systemTopicName
      name: 'driftguard-secret-expiry'
      functionResourceId: '${app.outputs.functionAppId}/functions/${eventFunctionName}'
      includedEventTypes: [
        'Microsoft.KeyVault.SecretNearExpiry'
        'Microsoft.KeyVault.SecretExpired'
      ]
      advancedFilters: []
      maxEventsPerBatch: maxEventsPerBatch
      preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
      deadLetterStorageAccountId: deadLetterEnabled && empty(kv.?existingSystemTopicName ?? '') ? app.outputs.storageAccountId : ''
      deadLetterContainerName: app.outputs.deadLetterContainerName
    }
  }
]

// ─── Outputs (azd stores them in the environment) ────────────────────────────────────────────────────

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output DRIFTGUARD_PUBLIC_URL string = app.outputs.publicUrl
output DRIFTGUARD_IDENTITY_PRINCIPAL_ID string = app.outputs.identityPrincipalId
output DRIFTGUARD_IDENTITY_CLIENT_ID string = app.outputs.identityClientId
output DRIFTGUARD_AUTH_IDENTITY_PRINCIPAL_ID string = app.outputs.authIdentityPrincipalId
output DRIFTGUARD_REMEDIATOR_ROLE_ID string = remediatorRole.id
output DRIFTGUARD_SUBSCRIPTION_TOPIC string = '${subscriptionTopicResourceGroup}/${subscriptionTopicName}'
output DRIFTGUARD_ACTION_GROUP_ID string = app.outputs.actionGroupId
output COSMOS_ENDPOINT string = app.outputs.cosmosEndpoint
output COSMOS_DATABASE string = app.outputs.cosmosDatabase
output AZURE_KEY_VAULT_NAME string = app.outputs.keyVaultName
