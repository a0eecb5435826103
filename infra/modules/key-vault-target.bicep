// A Key Vault whose secrets driftguard rotates (rotate-secret). Deployed in the vault's resource group:
// - the secret-rotation role for the app identity on this vault only (read the secret, write a new version);
// - the vault's Event Grid system topic (SecretNearExpiry / SecretExpired are delivered from it), unless
//   one already exists (Event Grid allows one system topic per source; pass its name to reuse it);
// - for a topic created here, its identity may write dead letters into driftguard's storage container.
targetScope = 'resourceGroup'

param vaultName string

@description('Region of the vault (a Key Vault system topic lives in its source\'s region).')
param location string

param tags object = {}

@description('Object ID of driftguard\'s user-assigned identity.')
param principalId string

@description('Resource ID of driftguard\'s secret-rotation custom role (dataActions getSecret and setSecret only).')
param secretRotationRoleId string

@description('Existing system topic of this vault, in this resource group. Empty: create one.')
param existingSystemTopicName string = ''

param deadLetterEnabled bool = true
param driftguardResourceGroup string
param storageAccountName string
param deadLetterContainerName string

var createTopic = empty(existingSystemTopicName)
var topicName = createTopic ? take('evgt-${vaultName}-driftguard', 128) : existingSystemTopicName

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secretRotation 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, secretRotationRoleId)
  scope: vault
  properties: {
    roleDefinitionId: secretRotationRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'driftguard rotate-secret'
  }
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (createTopic) {
  name: topicName
  location: location
  tags: tags
  // The identity only writes dead letters.
  identity: {
    type: deadLetterEnabled ? 'SystemAssigned' : 'None'
  }
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

module deadLetterAccess 'dead-letter-access.bicep' = if (createTopic && deadLetterEnabled) {
  name: take('driftguard-dl-${vaultName}', 64)
  scope: resourceGroup(driftguardResourceGroup)
  params: {
    storageAccountName: storageAccountName
    containerName: deadLetterContainerName
    principalId: createTopic && deadLetterEnabled ? topic.identity.principalId : ''
  }
}

output systemTopicName string = topicName
output topicPrincipalId string = createTopic && deadLetterEnabled ? topic.identity.principalId : ''
