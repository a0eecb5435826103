// driftguard's own Key Vault (RBAC) with its generated keys. A module so that the vault's name can
// derive from the app identity's principal ID, a value known only once the identity exists:
// - stable for the life of the deployment (same identity: same vault, on any machine, in any new
//   azd environment);
// - new after `azd down` or a deleted resource group (a recreated identity gets a new principal ID),
//   so a new vault never collides with the old one, which soft delete and purge protection keep
//   reserved for softDeleteRetentionInDays.
targetScope = 'resourceGroup'

param location string
param tags object

@description('Principal (object) ID of the app\'s user-assigned identity: seeds the vault name and gets Key Vault Secrets User.')
param identityPrincipalId string

@description('Create the generated keys that are missing from the vault (never overwrites one that exists).')
param writeGeneratedSecrets bool

@description('Overwrite both generated keys with new values (deliberate rotation).')
param rotateGeneratedSecrets bool

@description('Names of the secrets the vault already holds (found by the preprovision hook).')
param existingSecretNames array

param pseudonymSecretName string
param signingSecretName string
param teamsWorkflowSecretName string

@secure()
param pseudonymKey string

@secure()
param approverSigningKey string

@secure()
@description('Teams Workflows webhook URL; empty: no secret.')
param teamsWorkflowUrl string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var existing = map(existingSecretNames, name => toLower(string(name)))
var writePseudonymKey = rotateGeneratedSecrets || (writeGeneratedSecrets && !contains(existing, toLower(pseudonymSecretName)))
var writeSigningKey = rotateGeneratedSecrets || (writeGeneratedSecrets && !contains(existing, toLower(signingSecretName)))

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv${uniqueString(resourceGroup().id, identityPrincipalId)}'
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 30
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

// Written only when missing (or on deliberate rotation): a new pseudonym key would split every
// pseudonymous ID in the trail, a new signing key would invalidate every open approval link.
resource pseudonymSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (writePseudonymKey) {
  parent: vault
  name: pseudonymSecretName
  properties: {
    value: pseudonymKey
    contentType: 'driftguard pseudonymisation key (DRIFTGUARD_PSEUDONYM_KEY)'
  }
}

resource signingSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (writeSigningKey) {
  parent: vault
  name: signingSecretName
  properties: {
    value: approverSigningKey
    contentType: 'driftguard approval link signing key (APPROVER_SIGNING_KEY)'
  }
}

resource teamsWorkflowSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWorkflowUrl)) {
  parent: vault
  name: teamsWorkflowSecretName
  properties: {
    value: teamsWorkflowUrl
    contentType: 'Teams Workflows webhook URL (TEAMS_WORKFLOW_URL)'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output id string = vault.id
// Whoever reads an output waits for the whole module: the secrets and the identity's access exist by then.
output vaultUri string = vault.properties.vaultUri
