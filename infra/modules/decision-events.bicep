// The custom topic driftguard publishes its decisions to (CloudEvents 1.0 input schema), and the
// `EventGrid Data Sender` role on it for the app's identity. Keys are disabled: the app publishes with
// its managed identity only. Subscribe your SIEM, ticketing or Logic Apps to it (docs/events.md).
targetScope = 'resourceGroup'

@description('Create the topic (publishDecisionEvents).')
param enabled bool

param name string
param location string
param tags object

@description('Principal ID of the app\'s identity (gets EventGrid Data Sender on the topic).')
param principalId string

// Built-in role: EventGrid Data Sender.
var eventGridDataSenderRoleId = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = if (enabled) {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource dataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enabled) {
  name: guid(resourceGroup().id, name, principalId, eventGridDataSenderRoleId)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSenderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'driftguard publishes its decisions as CloudEvents'
  }
}

@description('DRIFTGUARD_EVENTS_ENDPOINT: the topic endpoint, or empty when no topic is created.')
output endpoint string = enabled ? topic.properties.endpoint : ''
output topicId string = enabled ? topic.id : ''
