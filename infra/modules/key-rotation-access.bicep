// Grants driftguard's identity the key-rotation role (list and regenerate Storage / Cognitive Services
// account keys) on one resource group: where the accounts whose keys `rotate-secret` alternates live.
// Nowhere else can the identity read or regenerate an account key.
targetScope = 'resourceGroup'

@description('Object ID of driftguard\'s user-assigned identity.')
param principalId string

@description('Resource ID of the key-rotation custom role definition.')
param roleDefinitionId string

resource keyRotation 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'driftguard rotate-secret: account keys in this resource group'
  }
}
