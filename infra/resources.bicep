// driftguard — the app and its own resources, in one resource group (called from main.bicep).
// Identity everywhere: no storage key, no Cosmos key, no App Insights key, no secret in an app setting.
targetScope = 'resourceGroup'

param location string
param tags object
param resourceToken string
param identityName string
param functionAppName string
param principalId string
param driftguardMode string
param auditRetentionDays int
param policyFile string
param approverObjectIds string
param approvalTtlMinutes int
@secure()
param teamsWorkflowUrl string
param teamsBotAppId string
param teamsServiceUrl string
param teamsConversationId string
param authClientId string
param publicUrl string
param connectSignals bool
param writeGeneratedSecrets bool
param rotateGeneratedSecrets bool
param existingSecretNames array
@secure()
param pseudonymKey string
@secure()
param approverSigningKey string
param createSubscriptionTopic bool
param subscriptionTopicName string
param deadLetterEnabled bool
param maximumInstanceCount int
param instanceMemoryMB int
@description('The write-once anchor container (infra/modules/anchor-storage.bicep); empty: no anchors.')
param anchorContainerUrl string
param anchorSchedule string
param anchorRetentionDays int
@description('Create the decisions topic and publish every decision to it (docs/events.md).')
param publishDecisionEvents bool
param decisionEventOutcomes string

@description('NCRONTAB of the sweep timer (never empty: the host cannot index an empty schedule).')
param sweepSchedule string

@allowed([
  'policy'
  'dry-run'
  'off'
])
param sweepMode string

param sweepMaxChanges int

@description('Comma-separated subscription IDs the sweep covers when a policy has no scope.')
param sweepSubscriptions string

// driftguard's own Storage account and Key Vault are exactly the kind of resource its default policy
// closes to the Internet; this Flex app reaches them over public endpoints (no VNet), so they carry
// the opt-out tag. Everything driftguard owns carries it.
var ownTags = union(tags, {
  'driftguard:exclude': 'true'
})
var authEnabled = !empty(authClientId)
var cosmosDatabaseName = 'driftguard'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var pseudonymSecretName = 'driftguard-pseudonym-key'
var signingSecretName = 'approver-signing-key'
var teamsWorkflowSecretName = 'teams-workflow-url'

// Built-in role definition IDs.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}
// Cosmos DB data-plane built-in roles (sqlRoleDefinitions of every account).
var cosmosDataReaderRoleId = '00000000-0000-0000-0000-000000000001'
var cosmosDataContributorRoleId = '00000000-0000-0000-0000-000000000002'

// ─── Identities ──────────────────────────────────────────────────────────────────────────────────────

// The app's identity: ARM (custom role), Key Vault, Cosmos DB, Storage, App Insights.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: ownTags
}

// Used only as the federated credential of the Entra app registration for App Service Authentication
// (no client secret). Kept apart from the remediation identity, which holds subscription-wide rights.
resource authIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (authEnabled) {
  name: 'id-driftguard-auth-${resourceToken}'
  location: location
  tags: ownTags
}

// ─── Storage (host state, deployment package, dead letters) ──────────────────────────────────────────

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${resourceToken}'
  location: location
  tags: ownTags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ─── Monitoring (Entra ID ingestion only) ────────────────────────────────────────────────────────────

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-driftguard-${resourceToken}'
  location: location
  tags: ownTags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-driftguard-${resourceToken}'
  location: location
  tags: ownTags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ─── Cosmos DB (serverless, Entra ID only) ───────────────────────────────────────────────────────────
// Containers mirror shared/cosmos/client.ts (ensureContainers): partition key /pk everywhere, the same
// indexing policies and default TTLs. The app cannot create them itself — with data-plane RBAC,
// creating databases and containers is a control-plane operation — so they are created here.
// Audit retention is per record (`ttl` on each record, 400 days, CosmosAuditStore); the audit container's
// defaultTtl is -1 (TTL on, nothing expires by default) because the chain-head documents must never
// expire on their own. Decided approvals carry a per-document `ttl` (90 days); counters expire after 2 days.

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: 'cosmos-driftguard-${resourceToken}'
  location: location
  tags: ownTags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource cosmosDatabase 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: cosmos
  name: cosmosDatabaseName
  properties: {
    resource: {
      id: cosmosDatabaseName
    }
  }
}

var auditIndexedFields = [
  'docType'
  'rid'
  'sub'
  'kind'
  'outcome'
  'policy'
  'actor'
  'signal/source'
  'sk'
  'seq'
  // the resource gate's sweep: chain heads with an intent whose lease expired
  'intent/id'
  'lease/untilMs'
]

var auditIncludedPaths = [
  for field in auditIndexedFields: {
    path: '/${field}/?'
  }
]

var cosmosContainers = [
  {
    name: 'audit'
    defaultTtl: -1
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: auditIncludedPaths
      excludedPaths: [
        {
          path: '/*'
        }
        {
          path: '/"_etag"/?'
        }
      ]
    }
  }
  {
    name: 'approvals'
    defaultTtl: -1
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [
        {
          path: '/state/?'
        }
        {
          path: '/expiresAtMs/?'
        }
        {
          path: '/runDueAtMs/?'
        }
        {
          path: '/openFor/?'
        }
        {
          path: '/createdAt/?'
        }
        {
          path: '/cardPostFailed/*'
        }
        {
          path: '/recordDue/?'
        }
      ]
      excludedPaths: [
        {
          path: '/*'
        }
        {
          path: '/"_etag"/?'
        }
      ]
    }
  }
  {
    // The sweep lease (point-read) and the posture runs (by sort key and policy) and parts (by run).
    name: 'sweeps'
    defaultTtl: -1
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [
        {
          path: '/docType/?'
        }
        {
          path: '/sk/?'
        }
        {
          path: '/runId/?'
        }
        {
          path: '/policyNames/[]/?'
        }
      ]
      excludedPaths: [
        {
          path: '/*'
        }
        {
          path: '/"_etag"/?'
        }
      ]
    }
  }
  {
    name: 'counters'
    defaultTtl: 172800
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: []
      excludedPaths: [
        {
          path: '/*'
        }
      ]
    }
  }
]

resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for c in cosmosContainers: {
    parent: cosmosDatabase
    name: c.name
    properties: {
      resource: {
        id: c.name
        partitionKey: {
          paths: [
            '/pk'
          ]
          kind: 'Hash'
          version: 2
        }
        indexingPolicy: c.indexingPolicy
        defaultTtl: c.defaultTtl
      }
    }
  }
]

resource cosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, identity.id, cosmosDataContributorRoleId)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    principalId: identity.properties.principalId
    scope: cosmos.id
  }
}

// Read-only access for the person running azd (CLI: `driftguard audit`, `driftguard audit verify`).
resource cosmosDataReaderForDeployer 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = if (!empty(principalId)) {
  parent: cosmos
  name: guid(cosmos.id, principalId, cosmosDataReaderRoleId)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataReaderRoleId}'
    principalId: principalId
    scope: cosmos.id
  }
}

// ─── Key Vault (RBAC) for the app's own secrets ──────────────────────────────────────────────────────
// Its name derives from the identity's principal ID (see the module): no collision with a vault that
// soft delete keeps after `azd down`. Generated keys (params with newGuid() defaults) are written only
// when the vault lacks them (existingSecretNames, found by the preprovision hook) or on rotation.

module appVault 'modules/app-key-vault.bicep' = {
  name: 'driftguard-key-vault-${resourceToken}'
  params: {
    location: location
    tags: ownTags
    identityPrincipalId: identity.properties.principalId
    writeGeneratedSecrets: writeGeneratedSecrets
    rotateGeneratedSecrets: rotateGeneratedSecrets
    existingSecretNames: existingSecretNames
    pseudonymSecretName: pseudonymSecretName
    signingSecretName: signingSecretName
    teamsWorkflowSecretName: teamsWorkflowSecretName
    pseudonymKey: pseudonymKey
    approverSigningKey: approverSigningKey
    teamsWorkflowUrl: teamsWorkflowUrl
  }
}

// ─── Function app (Flex Consumption, Node 22) ────────────────────────────────────────────────────────

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-driftguard-${resourceToken}'
  location: location
  tags: ownTags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(ownTags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: union(
      {
        '${identity.id}': {}
      },
      authEnabled
        ? {
            '${authIdentity.id}': {}
          }
        : {}
    )
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
  dependsOn: [
    deploymentContainer
    storageBlobOwner
    storageQueueContributor
    storageTableContributor
  ]
}

// No basic-auth (FTP / SCM) publishing: azd deploys with Entra ID.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// Decisions as CloudEvents: a custom topic (no keys) with EventGrid Data Sender for the identity.
module decisionEvents 'modules/decision-events.bicep' = {
  name: 'driftguard-decision-events-${resourceToken}'
  params: {
    enabled: publishDecisionEvents
    name: 'evgt-driftguard-decisions-${resourceToken}'
    location: location
    tags: ownTags
    principalId: identity.properties.principalId
  }
}

var appUrl = empty(publicUrl) ? 'https://${functionApp.properties.defaultHostName}' : publicUrl

// Every setting shared/config.ts reads in Azure (test/infra.test.ts keeps this list honest). Secrets are
// Key Vault references resolved with the user-assigned identity (keyVaultReferenceIdentity).
var appSettings = {
  // Host storage and telemetry: identity-based.
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  // driftguard (docs/settings.md).
  DRIFTGUARD_MODE: driftguardMode
  DRIFTGUARD_POLICY_FILE: policyFile
  COSMOS_ENDPOINT: cosmos.properties.documentEndpoint
  COSMOS_DATABASE: cosmosDatabaseName
  DRIFTGUARD_AUDIT_RETENTION_DAYS: string(auditRetentionDays)
  ARM_ENDPOINT: environment().resourceManager
  AZURE_CLIENT_ID: identity.properties.clientId
  // Our own identity (object ID and app/client ID): the ARM events our fixes cause are recognised as echoes.
  DRIFTGUARD_SELF_PRINCIPAL_IDS: '${identity.properties.principalId},${identity.properties.clientId}'
  DRIFTGUARD_PSEUDONYM_KEY: '@Microsoft.KeyVault(SecretUri=${appVault.outputs.vaultUri}secrets/${pseudonymSecretName}/)'
  DRIFTGUARD_PUBLIC_URL: appUrl
  APPROVER_OBJECT_IDS: approverObjectIds
  APPROVER_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${appVault.outputs.vaultUri}secrets/${signingSecretName}/)'
  APPROVER_TTL_MINUTES: string(approvalTtlMinutes)
  TEAMS_WORKFLOW_URL: empty(teamsWorkflowUrl)
    ? ''
    : '@Microsoft.KeyVault(SecretUri=${appVault.outputs.vaultUri}secrets/${teamsWorkflowSecretName}/)'
  TEAMS_BOT_APP_ID: teamsBotAppId
  TEAMS_SERVICE_URL: teamsServiceUrl
  TEAMS_CONVERSATION_ID: teamsConversationId
  // Anchors (docs/audit.md#anchors): the timer's schedule is also its trigger's %DRIFTGUARD_ANCHOR_SCHEDULE%.
  DRIFTGUARD_ANCHOR_CONTAINER_URL: anchorContainerUrl
  DRIFTGUARD_ANCHOR_SCHEDULE: anchorSchedule
  DRIFTGUARD_ANCHOR_RETENTION_DAYS: string(anchorRetentionDays)
  // Decision events (docs/events.md): published with the identity; empty endpoint = off.
  DRIFTGUARD_EVENTS_ENDPOINT: decisionEvents.outputs.endpoint
  DRIFTGUARD_EVENTS_OUTCOMES: decisionEventOutcomes
  DRIFTGUARD_INSTANCE_NAME: functionApp.name
  // Sweeps of the estate (docs/settings.md#driftguard-settings).
  DRIFTGUARD_SWEEP_SCHEDULE: sweepSchedule
  DRIFTGUARD_SWEEP_MODE: sweepMode
  DRIFTGUARD_SWEEP_MAX_CHANGES: string(sweepMaxChanges)
  DRIFTGUARD_SWEEP_SUBSCRIPTIONS: sweepSubscriptions
  // Only a Teams conversation of this tenant is captured; captures are recorded on the app itself.
  AZURE_TENANT_ID: tenant().tenantId
  DRIFTGUARD_APP_RESOURCE_ID: functionApp.id
}

// App Service Authentication: the federated-credential client assertion comes from the auth identity.
var authSettings = authEnabled
  ? {
      OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: authIdentity.properties.clientId
      WEBSITE_AUTH_AAD_ALLOWED_TENANTS: tenant().tenantId
    }
  : {}

resource appSettingsConfig 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, authSettings)
  // Key Vault references resolve only once the secrets and the identity's access exist: the vault URI
  // comes from the module's output, so these settings wait for the whole module.
  dependsOn: [
    appInsightsPublisher
    cosmosDataContributor
    containers
    // Phase 2: the action group lists the alerts function's key before this rewrite restarts the app.
    actionGroup
  ]
}

// Entra ID sign-in in front of the approval page, the audit API and the audit viewer. Machine callers
// keep their own authentication and are excluded: Azure Monitor (function key), Teams bot (Bot Framework
// JWT), health probe (anonymous), Event Grid (system key on the webhook).
var authExcludedPaths = [
  '/api/alerts'
  '/api/teams/messages'
  '/api/health'
  '/runtime/webhooks/eventgrid'
]

resource authConfig 'Microsoft.Web/sites/config@2024-04-01' = if (authEnabled) {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: authExcludedPaths
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          clientId: authClientId
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
    login: {
      // Flex Consumption has no persistent file share for a file-based token store; the session cookie
      // and the x-ms-client-principal header (with the `roles` claims) do not need it.
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
  dependsOn: [
    appSettingsConfig
  ]
}

// ─── Event Grid system topic for this subscription's ARM events ──────────────────────────────────────

resource subscriptionTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (createSubscriptionTopic) {
  name: subscriptionTopicName
  location: 'global'
  tags: ownTags
  // The identity only writes dead letters; deadLetterEnabled=false leaves the topic without one.
  identity: {
    type: deadLetterEnabled ? 'SystemAssigned' : 'None'
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

// The topic's identity writes dead letters (deadLetterWithResourceIdentity): no storage key involved.
resource subscriptionTopicDeadLetter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (createSubscriptionTopic && deadLetterEnabled) {
  name: guid(deadLetterContainer.id, subscriptionTopicName, roles.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: createSubscriptionTopic && deadLetterEnabled ? subscriptionTopic.identity.principalId : ''
    principalType: 'ServicePrincipal'
  }
}

// ─── Azure Monitor action group → /api/alerts (phase 2) ──────────────────────────────────────────────
// The webhook carries the `alerts` function's own key (function scope: it opens no other function,
// unlike a host key). A function's keys exist once the deployed code has been indexed, hence
// connectSignals (the postdeploy hook waits until the key can be listed). The key is listed before
// the app settings are rewritten (appSettingsConfig depends on the action group), never during the
// restart that rewrite causes.

// The alerts trigger's name and route in functions/app.ts (test/infra.test.ts checks they match).
var alertsFunctionName = 'alerts'
var alertsRoute = 'alerts'
var alertsFunctionId = '${functionApp.id}/functions/${alertsFunctionName}'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (connectSignals) {
  name: 'ag-driftguard-${resourceToken}'
  location: 'Global'
  tags: ownTags
  properties: {
    groupShortName: 'driftguard'
    enabled: true
    webhookReceivers: [
      {
        name: 'driftguard-alerts'
        // ARM evaluates list functions even for a skipped conditional resource: guard it explicitly.
        serviceUri: connectSignals
          ? 'https://${functionApp.properties.defaultHostName}/api/${alertsRoute}?code=${listKeys(alertsFunctionId, '2024-04-01').default}'
          : ''
        useCommonAlertSchema: true
        useAadAuth: false
      }
    ]
  }
  // No dependency on the app settings: rewriting them restarts the app, and a function key listed
  // while the host restarts fails the provision. The settings are rewritten after this instead
  // (appSettingsConfig depends on it), so the key is listed from the app as it is running.
}

// ─── Outputs ─────────────────────────────────────────────────────────────────────────────────────────

output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output authIdentityPrincipalId string = authEnabled ? authIdentity.properties.principalId : ''
output functionAppName string = functionApp.name
output functionAppId string = functionApp.id
output publicUrl string = appUrl
output storageAccountName string = storage.name
output storageAccountId string = storage.id
output deadLetterContainerName string = deadLetterContainerName
output cosmosEndpoint string = cosmos.properties.documentEndpoint
output cosmosDatabase string = cosmosDatabaseName
output keyVaultName string = appVault.outputs.name
output decisionEventsEndpoint string = decisionEvents.outputs.endpoint
output actionGroupId string = connectSignals ? actionGroup.id : ''
