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

@description('TEAMS_SERVICE_URL / TEAMS_CONVERSATION_ID: where the bot posts approval cards. Empty: the team the bot is installed in (captured at installation).')
param teamsServiceUrl string = ''
param teamsConversationId string = ''

@description('Client ID of the Entra app registration used by App Service Authentication (approval page, audit API and viewer). Empty: authentication is NOT configured — the approval page then refuses every decision in Azure and the audit API refuses every caller (see infra/README.md).')
param authClientId string = ''

@description('DRIFTGUARD_PUBLIC_URL override (custom domain). Empty: https://<default host name of the function app>.')
param publicUrl string = ''

@description('Phase 2: create the Event Grid subscriptions and the Azure Monitor action group. Needs the code deployed (set by the postdeploy hook).')
param connectSignals bool = false

@description('Create the generated DRIFTGUARD_PSEUDONYM_KEY and APPROVER_SIGNING_KEY in Key Vault when the vault lacks them. Never overwrites a key that exists (see existingSecretNames); false: never write them (you manage both secrets yourself).')
param writeGeneratedSecrets bool = true

@description('Secret names the app\'s vault already holds, comma-separated. Set by the preprovision hook from the vault itself, so a provision from a new azd environment (another machine, CI) keeps the keys in use.')
param existingSecretNames string = ''

@description('Deliberate rotation: overwrite both generated keys with new values on this provision (the postprovision hook turns it off again). Splits pseudonymous IDs in the trail and voids open approval links.')
param rotateGeneratedSecrets bool = false

@secure()
@description('Pseudonymisation key. Generated per deployment and never in source; written to Key Vault only when missing there (or on rotateGeneratedSecrets).')
param pseudonymKey string = '${newGuid()}${newGuid()}'

@secure()
@description('HS256 key for one-time approval links. Generated per deployment and never in source; written to Key Vault only when missing there (or on rotateGeneratedSecrets).')
param approverSigningKey string = '${newGuid()}${newGuid()}'

@description('Resource providers whose ResourceWriteSuccess events are delivered (advanced filter on data.resourceProvider). Must cover every resource type of an eventGrid-triggered policy.')
param eventProviders array = loadJsonContent('event-subscriptions.json').resourceWrites.resourceProviders

@description('Publish every decision as a CloudEvent to an Event Grid custom topic this template creates (keys disabled; the app\'s identity gets EventGrid Data Sender on it). See docs/events.md.')
param publishDecisionEvents bool = false

@description('DRIFTGUARD_EVENTS_OUTCOMES: comma-separated record outcomes to publish (remediated,failed,pending-approval,…). Empty: every outcome.')
param decisionEventOutcomes string = ''

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

@description('Key Vaults whose secrets driftguard rotates (same subscription). Each gets the secret-rotation role (read and write secret values, nothing else) for the app identity and an Event Grid system topic (SecretNearExpiry, SecretExpired).')
param targetKeyVaults targetKeyVault[] = []

@description('Grant the secret-rotation role on the whole subscription instead of per vault. Simpler, but the identity can then read and write every secret in every RBAC vault of the subscription.')
param grantSecretRotationAtSubscription bool = false

@description('Resource groups (same subscription) of the Storage and Cognitive Services accounts whose keys rotate-secret alternates (the ProviderAddress tags of the rotated secrets). Listing and regenerating account keys is granted in these resource groups only; empty: nowhere.')
param keyRotationResourceGroups string[] = []

// ─── Sweeps of the estate ───────────────────────────────────────────────────────────────────────────
@description('Subscriptions driftguard governs: each gets Reader (Resource Graph); the others also the remediator role and their own Event Grid system topic and subscription. The sweep covers them. Default: this deployment\'s subscription.')
param targetSubscriptionIds string[] = [subscription().subscriptionId]

@description('NCRONTAB of the sweep timer (six fields). Never empty: the Functions host cannot index an empty schedule.')
@minLength(11)
param sweepSchedule string = '0 0 3 * * *'

@description('What the sweep timer does: each policy\'s own mode (policy), report only (dry-run), or nothing (off).')
@allowed([
  'policy'
  'dry-run'
  'off'
])
param sweepMode string = 'policy'

@minValue(0)
@maxValue(100000)
@description('Changes one sweep may make; past it, candidates are reported over-limit and left for the next run.')
param sweepMaxChanges int = 50

@description('Resource groups (same subscription) of the Key Vaults a disable-public-network-access policy governs (its scopes). Writing a vault (Microsoft.KeyVault/vaults/write) is granted in these resource groups only: on an access-policy vault that write could add the identity to its access policies. Empty: driftguard cannot close any vault (doctor warns).')
param vaultWriteResourceGroups string[] = []

@description('Resource groups (same subscription) of the user-assigned identities that ML online endpoints in a disable-public-network-access policy\'s scope use. The endpoint\'s PUT names them again, and ARM checks assigning each one (Microsoft.ManagedIdentity/userAssignedIdentities/assign/action): granted in these resource groups only. Empty: endpoints with a user-assigned identity cannot be closed (doctor warns).')
param identityAssignResourceGroups string[] = []

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

@description('Create the write-once anchor storage (docs/audit.md#anchors): a storage account in a resource group of its own (rg-<environment>-anchors, outside the azd environment\'s group, so azd down still works) whose container keeps every anchor immutable for anchorRetentionDays. False: no anchors (audit verify then cannot detect truncated or rewritten chains).')
param anchorStorage bool = true

@minValue(180)
@maxValue(146000)
@description('DRIFTGUARD_ANCHOR_RETENTION_DAYS: how long each anchor stays immutable (locked policy: can be raised later, never lowered).')
param anchorRetentionDays int = 400

@description('DRIFTGUARD_ANCHOR_SCHEDULE: NCRONTAB of the anchorDigests timer.')
param anchorSchedule string = '0 0 * * * *'

@description('Lock the anchor retention policy. A policy can only be created unlocked: the postprovision hook sets this (DRIFTGUARD_ANCHOR_LOCKED) once the account exists, so azd up\'s second provision locks it. Irreversible.')
param anchorRetentionLocked bool = false

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
// driftguard's Event Grid subscriptions: the same file the local Event Grid reads (dev/event-grid/driftguard.ts).
var eventSubscriptions = loadJsonContent('event-subscriptions.json')
var createSubscriptionTopic = empty(existingSubscriptionTopicName)
var subscriptionTopicName = createSubscriptionTopic ? 'evgt-driftguard-${resourceToken}' : existingSubscriptionTopicName
var subscriptionTopicResourceGroup = createSubscriptionTopic || empty(existingSubscriptionTopicResourceGroup)
  ? resourceGroupName
  : existingSubscriptionTopicResourceGroup

// Anchors: names fixed here (the app's settings need the URL before the module runs).
var anchorResourceGroupName = 'rg-${environmentName}-anchors'
var anchorAccountName = 'stanc${resourceToken}'
var anchorContainerName = 'driftguard-anchors'
var anchorContainerUrl = anchorStorage
  ? 'https://${anchorAccountName}.blob.${environment().suffixes.storage}/${anchorContainerName}'
  : ''

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
    teamsServiceUrl: teamsServiceUrl
    teamsConversationId: teamsConversationId
    authClientId: authClientId
    publicUrl: publicUrl
    connectSignals: connectSignals
    writeGeneratedSecrets: writeGeneratedSecrets
    rotateGeneratedSecrets: rotateGeneratedSecrets
    existingSecretNames: filter(map(split(existingSecretNames, ','), name => trim(name)), name => !empty(name))
    pseudonymKey: pseudonymKey
    approverSigningKey: approverSigningKey
    createSubscriptionTopic: createSubscriptionTopic
    subscriptionTopicName: subscriptionTopicName
    deadLetterEnabled: deadLetterEnabled
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    anchorContainerUrl: anchorContainerUrl
    anchorSchedule: anchorSchedule
    anchorRetentionDays: anchorRetentionDays
    publishDecisionEvents: publishDecisionEvents
    decisionEventOutcomes: decisionEventOutcomes
    sweepSchedule: sweepSchedule
    sweepMode: sweepMode
    sweepMaxChanges: sweepMaxChanges
    sweepSubscriptions: join(targetSubscriptionIds, ',')
  }
}

// ─── Write-once anchor storage (its own resource group) ─────────────────────────────────────────────
// Deliberately NOT tagged azd-env-name: azd down deletes the resource groups carrying that tag, and a
// locked retention policy forbids deleting this one while anchors are under retention.

resource anchorRg 'Microsoft.Resources/resourceGroups@2024-03-01' = if (anchorStorage) {
  name: anchorResourceGroupName
  location: location
  tags: {
    'driftguard-anchors-for': environmentName
  }
}

module anchors 'modules/anchor-storage.bicep' = if (anchorStorage) {
  name: 'driftguard-anchors-${resourceToken}'
  scope: resourceGroup(anchorResourceGroupName)
  params: {
    location: location
    // driftguard's own storage opts out of its own policies, like everything it owns.
    tags: {
      'driftguard-anchors-for': environmentName
      'driftguard:exclude': 'true'
    }
    accountName: anchorAccountName
    containerName: anchorContainerName
    retentionDays: anchorRetentionDays
    locked: anchorRetentionLocked
    principalId: app.outputs.identityPrincipalId
  }
  dependsOn: [
    anchorRg
  ]
}

// ─── Least privilege: five custom roles ──────────────────────────────────────────────────────────────
// Exactly the operations the remediation kinds perform (shared/remediations/*.ts), split by where they
// are needed; test/infra/role-coverage.test.ts compares them with every request the simulator logs
// while the remediation test suites run. No Owner, no Contributor, no Microsoft.Authorization/*.
//
// 1. remediator (subscription): read what the policies govern, write only the resource types the
//    default policies name, delete only NSG rules; no account keys, no secret values.
var remediatorActions = [
  // disable-public-network-access: ML workspace (PATCH), online endpoint (GET + PUT of the whole endpoint)
  'Microsoft.MachineLearningServices/workspaces/read'
  'Microsoft.MachineLearningServices/workspaces/write'
  'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read'
  'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write'
  // scale-gpu-pool: AML compute clusters (GET/list + PATCH scaleSettings)
  'Microsoft.MachineLearningServices/workspaces/computes/read'
  'Microsoft.MachineLearningServices/workspaces/computes/write'
  'Microsoft.MachineLearningServices/locations/*/read'
  // disable-public-network-access on Storage (PATCH)
  'Microsoft.Storage/storageAccounts/read'
  'Microsoft.Storage/storageAccounts/write'
  // disable-public-network-access on Key Vault: read here; the write only where vaults are governed (4.)
  'Microsoft.KeyVault/vaults/read'
  // disable-public-network-access on Cognitive Services / Azure OpenAI
  'Microsoft.CognitiveServices/accounts/read'
  'Microsoft.CognitiveServices/accounts/write'
  'Microsoft.CognitiveServices/locations/*/read'
  // close-internet-inbound-rule: read the NSG and its rules, delete an Internet-only rule, narrow a mixed one (PUT)
  'Microsoft.Network/networkSecurityGroups/read'
  'Microsoft.Network/networkSecurityGroups/securityRules/read'
  'Microsoft.Network/networkSecurityGroups/securityRules/write'
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
  // disable-local-auth / require-secure-transport on Cosmos DB accounts (PATCH, long-running)
  'Microsoft.DocumentDB/databaseAccounts/read'
  'Microsoft.DocumentDB/databaseAccounts/write'
  'Microsoft.DocumentDB/locations/*/read'
  // require-secure-transport on web and function apps: the site (httpsOnly) and its web config (minTlsVersion)
  'Microsoft.Web/sites/read'
  'Microsoft.Web/sites/write'
  'Microsoft.Web/sites/config/read'
  'Microsoft.Web/sites/config/write'
  // enable-diagnostic-logs: list, read and write diagnostic settings on the governed resources
  'Microsoft.Insights/diagnosticSettings/read'
  'Microsoft.Insights/diagnosticSettings/write'
  // ... ARM's linked check on the Log Analytics workspace a setting sends to (LinkedAuthorizationFailed
  // without it). It would also let the identity read that workspace's keys: narrow its scope to the
  // workspace with a separate assignment where that matters.
  'Microsoft.OperationalInsights/workspaces/sharedKeys/action'
  // throttle-api-subscription, action rate-limit: the APIs a subscription reaches, the throttling
  // product (created when missing), its policy and its APIs; require-api-subscription: API PATCH
  'Microsoft.ApiManagement/service/apis/read'
  'Microsoft.ApiManagement/service/apis/write'
  'Microsoft.ApiManagement/service/products/read'
  'Microsoft.ApiManagement/service/products/write'
  'Microsoft.ApiManagement/service/products/policies/read'
  'Microsoft.ApiManagement/service/products/policies/write'
  'Microsoft.ApiManagement/service/products/apis/read'
  'Microsoft.ApiManagement/service/products/apis/write'
  // protect-model-storage: a storage account's blob service properties (GET + PUT)
  'Microsoft.Storage/storageAccounts/blobServices/read'
  'Microsoft.Storage/storageAccounts/blobServices/write'
]

// 2. key rotation (only in keyRotationResourceGroups): rotate-secret's two-credential alternation.
var keyRotationActions = [
  'Microsoft.Storage/storageAccounts/listKeys/action'
  'Microsoft.Storage/storageAccounts/regenerateKey/action'
  'Microsoft.CognitiveServices/accounts/listKeys/action'
  'Microsoft.CognitiveServices/accounts/regenerateKey/action'
]

// 3. secret rotation (only on targetKeyVaults): read the current value, write a new version. Narrower
//    than Key Vault Secrets Officer, which could also delete, purge, back up and restore secrets.
var secretRotationDataActions = [
  'Microsoft.KeyVault/vaults/secrets/getSecret/action'
  'Microsoft.KeyVault/vaults/secrets/setSecret/action'
  // sweeps list a vault's secret properties (no values) to find those near expiry
  'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
]

// 4. vault writes (only in vaultWriteResourceGroups): on a vault with access policies, the write that
//    sets publicNetworkAccess could also add driftguard to the vault's access policies and so to its
//    secrets, so it is granted only where a policy governs vaults. (ARM offers no ABAC condition on
//    this action.)
var vaultWriteActions = [
  'Microsoft.KeyVault/vaults/write'
]

// 5. identity assignment (only in identityAssignResourceGroups): an online endpoint's PUT names its
//    user-assigned identities again and ARM checks assigning each of them; anywhere else it would let
//    driftguard attach any identity of the subscription to a resource it may write.
var identityAssignActions = [
  'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action'
]

var roleSuffix = '(${environmentName}, ${take(subscription().subscriptionId, 8)})'

resource remediatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'driftguard-remediator', environmentName)
  properties: {
    roleName: 'driftguard remediator ${roleSuffix}'
    description: 'driftguard remediations: read the resources it governs, set publicNetworkAccess, turn key authentication off, require HTTPS/TLS 1.2+, keep audit diagnostic settings, delete or narrow Internet-facing NSG rules, cap GPU pools, suspend or rate-limit APIM subscriptions, require APIM subscription keys, protect model storage. No account keys, no secret values (the Log Analytics sharedKeys action is only the linked check for diagnostic settings).'
    type: 'CustomRole'
    permissions: [
      {
        actions: remediatorActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    // Every governed subscription may hold the assignment (modules/target-subscription.bicep).
    assignableScopes: union([subscription().id], map(targetSubscriptionIds, s => '/subscriptions/${s}'))
  }
}

resource keyRotationRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'driftguard-key-rotation', environmentName)
  properties: {
    roleName: 'driftguard key rotation ${roleSuffix}'
    description: 'driftguard rotate-secret: list and regenerate Storage and Cognitive Services account keys (assigned per resource group).'
    type: 'CustomRole'
    permissions: [
      {
        actions: keyRotationActions
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

resource secretRotationRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'driftguard-secret-rotation', environmentName)
  properties: {
    roleName: 'driftguard secret rotation ${roleSuffix}'
    description: 'driftguard rotate-secret: read a secret and write its new version (assigned per Key Vault).'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: secretRotationDataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource vaultWriteRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'driftguard-vault-write', environmentName)
  properties: {
    roleName: 'driftguard vault network ${roleSuffix}'
    description: 'driftguard disable-public-network-access on Key Vaults: write the vault (assigned per resource group where a policy governs vaults).'
    type: 'CustomRole'
    permissions: [
      {
        actions: vaultWriteActions
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

resource identityAssignRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'driftguard-identity-assign', environmentName)
  properties: {
    roleName: 'driftguard identity assign ${roleSuffix}'
    description: 'driftguard disable-public-network-access on ML online endpoints: name their user-assigned identities again (assigned per resource group of those identities).'
    type: 'CustomRole'
    permissions: [
      {
        actions: identityAssignActions
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

// Named from the identity's principal ID (in the module): a new identity after azd down gets a new
// assignment instead of ARM refusing to re-point the old one.
module remediatorAssignment 'modules/subscription-role-assignment.bicep' = {
  name: 'driftguard-remediator-${resourceToken}'
  params: {
    principalId: app.outputs.identityPrincipalId
    roleDefinitionId: remediatorRole.id
    purpose: 'driftguard remediations (subscription scope)'
  }
}

module keyRotationAccess 'modules/key-rotation-access.bicep' = [
  for (rgName, i) in keyRotationResourceGroups: {
    name: 'driftguard-key-rotation-${i}-${resourceToken}'
    scope: resourceGroup(rgName)
    params: {
      principalId: app.outputs.identityPrincipalId
      roleDefinitionId: keyRotationRole.id
    }
  }
]

module vaultWriteAccess 'modules/resource-group-role-assignment.bicep' = [
  for (rgName, i) in vaultWriteResourceGroups: {
    name: 'driftguard-vault-write-${i}-${resourceToken}'
    scope: resourceGroup(rgName)
    params: {
      principalId: app.outputs.identityPrincipalId
      roleDefinitionId: vaultWriteRole.id
      purpose: 'driftguard disable-public-network-access: Key Vaults in this resource group'
    }
  }
]

module identityAssignAccess 'modules/resource-group-role-assignment.bicep' = [
  for (rgName, i) in identityAssignResourceGroups: {
    name: 'driftguard-identity-assign-${i}-${resourceToken}'
    scope: resourceGroup(rgName)
    params: {
      principalId: app.outputs.identityPrincipalId
      roleDefinitionId: identityAssignRole.id
      purpose: 'driftguard disable-public-network-access: user-assigned identities of ML online endpoints'
    }
  }
]

// Optional, broad: secret rotation on the whole subscription (see grantSecretRotationAtSubscription).
module secretRotationAtSubscription 'modules/subscription-role-assignment.bicep' = if (grantSecretRotationAtSubscription) {
  name: 'driftguard-secret-rotation-${resourceToken}'
  params: {
    principalId: app.outputs.identityPrincipalId
    roleDefinitionId: secretRotationRole.id
    purpose: 'driftguard rotate-secret on every vault of the subscription'
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
      secretRotationRoleId: secretRotationRole.id
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
    name: eventSubscriptions.resourceWrites.name
    functionResourceId: '${app.outputs.functionAppId}/functions/${eventFunctionName}'
    includedEventTypes: eventSubscriptions.resourceWrites.includedEventTypes
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

// enable-diagnostic-logs: a diagnostic setting written or deleted (its event names the setting's own
// ID, which driftguard maps to the resource it is on). Only these operations, so that deletes of other
// resources are not delivered.
module diagnosticSettingEvents 'modules/event-subscription.bicep' = if (connectSignals) {
  name: 'driftguard-diag-events-${resourceToken}'
  scope: resourceGroup(subscriptionTopicResourceGroup)
  params: {
    systemTopicName: subscriptionTopicName
    name: eventSubscriptions.diagnosticSettings.name
    functionResourceId: '${app.outputs.functionAppId}/functions/${eventFunctionName}'
    includedEventTypes: eventSubscriptions.diagnosticSettings.includedEventTypes
    advancedFilters: [
      {
        operatorType: 'StringIn'
        key: 'data.operationName'
        values: eventSubscriptions.diagnosticSettings.operationNames
      }
    ]
    maxEventsPerBatch: maxEventsPerBatch
    preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
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
      name: eventSubscriptions.secretExpiry.name
      functionResourceId: '${app.outputs.functionAppId}/functions/${eventFunctionName}'
      includedEventTypes: eventSubscriptions.secretExpiry.includedEventTypes
      advancedFilters: []
      maxEventsPerBatch: maxEventsPerBatch
      preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
      deadLetterStorageAccountId: deadLetterEnabled && empty(kv.?existingSystemTopicName ?? '') ? app.outputs.storageAccountId : ''
      deadLetterContainerName: app.outputs.deadLetterContainerName
    }
  }
]

// ─── Governed subscriptions: Reader (Resource Graph) in each; in the others also the remediator role
// and their own Event Grid system topic and subscription (this subscription has them above) ──────────

module targetSubscriptions 'modules/target-subscription.bicep' = [
  for (sub, i) in targetSubscriptionIds: {
    name: 'driftguard-target-${i}-${resourceToken}'
    scope: subscription(sub)
    params: {
      environmentName: environmentName
      location: location
      tags: tags
      principalId: app.outputs.identityPrincipalId
      remediatorRoleId: remediatorRole.id
      isDeploymentSubscription: toLower(sub) == toLower(subscription().subscriptionId)
      connectSignals: connectSignals
      functionResourceId: '${app.outputs.functionAppId}/functions/${eventFunctionName}'
      eventProviders: eventProviders
      maxEventsPerBatch: maxEventsPerBatch
      preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
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
output DRIFTGUARD_KEY_ROTATION_ROLE_ID string = keyRotationRole.id
output DRIFTGUARD_SECRET_ROTATION_ROLE_ID string = secretRotationRole.id
output DRIFTGUARD_VAULT_WRITE_ROLE_ID string = vaultWriteRole.id
output DRIFTGUARD_IDENTITY_ASSIGN_ROLE_ID string = identityAssignRole.id
output DRIFTGUARD_SUBSCRIPTION_TOPIC string = '${subscriptionTopicResourceGroup}/${subscriptionTopicName}'
output DRIFTGUARD_ACTION_GROUP_ID string = app.outputs.actionGroupId
output DRIFTGUARD_EVENTS_ENDPOINT string = app.outputs.decisionEventsEndpoint
output COSMOS_ENDPOINT string = app.outputs.cosmosEndpoint
output COSMOS_DATABASE string = app.outputs.cosmosDatabase
output AZURE_KEY_VAULT_NAME string = app.outputs.keyVaultName
output DRIFTGUARD_ANCHOR_CONTAINER_URL string = anchorContainerUrl
output DRIFTGUARD_ANCHOR_RESOURCE_GROUP string = anchorStorage ? anchorResourceGroupName : ''
