// The Event Grid system topic of the subscription this resource group is in (ARM resource events).
targetScope = 'resourceGroup'

param name string
param tags object

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

output name string = topic.name
