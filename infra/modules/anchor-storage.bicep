// driftguard — write-once storage for audit anchors (docs/audit.md#anchors). Deployed by main.bicep into a
// resource group of its own, outside the azd environment's group: a locked retention policy forbids
// deleting the account (and so its group) while any anchor is under retention, and `azd down` must
// still work (infra/README.md, "What azd down leaves behind").
//
// Version-level immutability (WORM) with a time-based retention policy: every blob version is
// immutable for retentionDays after it is written — not even the account owner can change or delete
// an anchor before then. A policy can only be created unlocked; it is locked on the next provision
// (`locked`, set by the postprovision hook once the account exists) and can then only be extended.
targetScope = 'resourceGroup'

param location string
param tags object
@minLength(3)
@maxLength(24)
param accountName string
param containerName string
@minValue(180)
@maxValue(146000)
param retentionDays int
@description('Lock the retention policy (irreversible). False only on the provision that creates the account.')
param locked bool
@description('Principal ID of the app\'s identity: Storage Blob Data Contributor on the anchor container only.')
param principalId string

// Built-in role: Storage Blob Data Contributor (write new blobs; immutability refuses overwrites and deletes).
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
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
    // Account-level version-level immutability (only at creation), with its time-based retention policy.
    immutableStorageWithVersioning: {
      enabled: true
      immutabilityPolicy: {
        immutabilityPeriodSinceCreationInDays: retentionDays
        state: locked ? 'Locked' : 'Unlocked'
        allowProtectedAppendWrites: false
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
    immutableStorageWithVersioning: {
      enabled: true
    }
  }
}

// The app's identity may write anchors into this container, and nothing else in the account.
resource anchorWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, principalId, storageBlobDataContributor)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'driftguard writes audit anchors (write-once container)'
  }
}

output containerUrl string = '${account.properties.primaryEndpoints.blob}${containerName}'
output accountId string = account.id
