// One subscription driftguard governs (main.bicep `targetSubscriptionIds`), deployed at that
// subscription's scope: `Reader` for driftguard's identity (Azure Resource Graph answers only what the
// caller may read; sweeps query it), and — for subscriptions other than the deployment's, which has
// them already — the remediator role, a resource group with the subscription's Event Grid system
// topic and, once the app exists (connectSignals), the event subscription to the app.
targetScope = 'subscription'

param environmentName string
param location string
param tags object

@description('Object ID of driftguard\'s user-assigned identity.')
param principalId string

@description('The remediator custom role (its assignable scopes include this subscription).')
param remediatorRoleId string

@description('True for the deployment\'s own subscription: its topic and remediator assignment exist in main.bicep.')
param isDeploymentSubscription bool

param connectSignals bool
param functionResourceId string
param eventProviders array
param maxEventsPerBatch int
param preferredBatchSizeInKilobytes int

// The same filters as the deployment's own subscription (and the local Event Grid).
var eventSubscriptions = loadJsonContent('../event-subscriptions.json')
// Built-in Reader: read every resource (Resource Graph filters its answers by what the caller may read).
var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var eventsResourceGroupName = 'rg-${environmentName}-events'
var topicName = 'evgt-driftguard-${uniqueString(subscription().id, environmentName)}'

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, readerRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'driftguard sweeps: Azure Resource Graph reads'
  }
}

resource remediator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!isDeploymentSubscription) {
  name: guid(subscription().id, principalId, remediatorRoleId)
  properties: {
    roleDefinitionId: remediatorRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'driftguard remediations (subscription scope)'
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (!isDeploymentSubscription) {
  name: eventsResourceGroupName
  location: location
  tags: union(tags, { 'driftguard:exclude': 'true' })
}

module topic 'subscription-topic.bicep' = if (!isDeploymentSubscription) {
  name: 'driftguard-topic-${uniqueString(subscription().id, environmentName)}'
  scope: resourceGroup(eventsResourceGroupName)
  dependsOn: [
    eventsGroup
  ]
  params: {
    name: topicName
    tags: tags
  }
}

module events 'event-subscription.bicep' = if (!isDeploymentSubscription && connectSignals) {
  name: 'driftguard-arm-events-${uniqueString(subscription().id, environmentName)}'
  scope: resourceGroup(eventsResourceGroupName)
  dependsOn: [
    topic
  ]
  params: {
    systemTopicName: topicName
    name: eventSubscriptions.resourceWrites.name
    functionResourceId: functionResourceId
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
  }
}

// enable-diagnostic-logs: diagnostic settings written or deleted in this subscription.
module diagnosticSettingEvents 'event-subscription.bicep' = if (!isDeploymentSubscription && connectSignals) {
  name: 'driftguard-diag-events-${uniqueString(subscription().id, environmentName)}'
  scope: resourceGroup(eventsResourceGroupName)
  dependsOn: [
    topic
  ]
  params: {
    systemTopicName: topicName
    name: eventSubscriptions.diagnosticSettings.name
    functionResourceId: functionResourceId
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
  }
}
