// Assigns a role to driftguard's identity on the whole subscription. A module of its own so that the
// assignment's name can include the identity's principal ID, known only once the identity exists:
// after `azd down` and `azd up` the identity is new, and ARM refuses to give an existing assignment
// (same name) another principal (RoleAssignmentUpdateNotPermitted). With the principal ID in the
// name, a new identity gets a new assignment.
targetScope = 'subscription'

@description('Object ID of driftguard\'s user-assigned identity.')
param principalId string

@description('Resource ID of the role definition.')
param roleDefinitionId string

@description('Why the identity holds this role (shown on the assignment).')
param purpose string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: purpose
  }
}
