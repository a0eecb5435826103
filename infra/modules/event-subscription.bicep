// One Event Grid subscription on an existing system topic, delivering to a function of the app through
// the `AzureFunction` endpoint type (Event Grid fetches the function's system key itself; no key in
// the template). Deployed in the topic's resource group. Needs the function to exist already.
targetScope = 'resourceGroup'

@description('System topic (in this resource group).')
param systemTopicName string

@description('Event subscription name.')
param name string

@description('Resource ID of the destination function: <function app ID>/functions/<function name>.')
param functionResourceId string

param includedEventTypes array

@description('Event Grid advanced filters (operatorType, key, values).')
param advancedFilters array = []

@minValue(1)
@maxValue(5000)
param maxEventsPerBatch int = 1

@minValue(1)
@maxValue(1024)
param preferredBatchSizeInKilobytes int = 64

@description('Storage account for dead letters, written with the topic\'s system-assigned identity. Empty: no dead-lettering.')
param deadLetterStorageAccountId string = ''

param deadLetterContainerName string = ''

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource eventSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: name
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: functionResourceId
        maxEventsPerBatch: maxEventsPerBatch
        preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: includedEventTypes
      advancedFilters: advancedFilters
      enableAdvancedFilteringOnArrays: true
    }
    // Event Grid's own ceiling: 30 attempts over 24 h. Deliveries are at least once; the app dedupes.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: empty(deadLetterStorageAccountId)
      ? null
      : {
          identity: {
            type: 'SystemAssigned'
          }
          deadLetterDestination: {
            endpointType: 'StorageBlob'
            properties: {
              resourceId: deadLetterStorageAccountId
              blobContainerName: deadLetterContainerName
            }
          }
        }
  }
}

output id string = eventSubscription.id
