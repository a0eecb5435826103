// Assigns a role to driftguard's identity on one resource group: operations it needs only where the
// resources they act on live (vault writes where a policy governs vaults, assigning user-assigned
// identities where an online endpoint's identities live). Named from the principal ID, so a new
// identity after `azd down` gets a new assignment.
targetScope = 'resourceGroup'

@description('Object ID of driftguard\'s user-assigned identity.')
param principalId string

@description('Resource ID of the role definition.')
param roleDefinitionId string

@description('Why the identity holds this role here (shown on the assignment).')
param purpose string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: purpose
  }
}
