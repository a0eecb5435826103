/**
 * driftguard's own event subscriptions on the local Event Grid, built from the same file the Bicep
 * reads (infra/event-subscriptions.json), so the local stack filters exactly as Azure does: ARM
 * writes of the listed resource providers, diagnostic settings written or deleted, and secrets near
 * expiry or expired, delivered to the
 * host's Event Grid webhook (`resourceEvents`) one event per delivery.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { SYSTEM_TOPICS } from "./index.js";
import type { SubscriptionInput } from "./subscription.js";

/** The custom topic driftguard's decisions go to on the local stack. */
export const DECISIONS_TOPIC = "driftguard-decisions";

export const EVENT_SUBSCRIPTIONS_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../infra/event-subscriptions.json",
);

const fileSchema = z.object({
  resourceWrites: z.object({
    name: z.string(),
    includedEventTypes: z.array(z.string()).min(1),
    resourceProviders: z.array(z.string()).min(1),
  }),
  diagnosticSettings: z.object({
    name: z.string(),
    includedEventTypes: z.array(z.string()).min(1),
    operationNames: z.array(z.string()).min(1),
  }),
  secretExpiry: z.object({ name: z.string(), includedEventTypes: z.array(z.string()).min(1) }),
  retryPolicy: z.object({
    maxDeliveryAttempts: z.number().int(),
    eventTimeToLiveInMinutes: z.number().int(),
  }),
});

export type EventSubscriptionsFile = z.infer<typeof fileSchema>;

export function loadEventSubscriptionsFile(file = EVENT_SUBSCRIPTIONS_FILE): EventSubscriptionsFile {
  return fileSchema.parse(JSON.parse(readFileSync(file, "utf8")));
}

/** The host's Event Grid webhook for `resourceEvents`, with the system key. */
export function webhookUrl(functionsUrl: string, functionKey: string): string {
  return `${functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${encodeURIComponent(functionKey)}`;
}

/** driftguard's subscriptions (name → definition) pointing at `endpoint`. */
export function driftguardSubscriptions(endpoint: string): { name: string; def: SubscriptionInput }[] {
  const f = loadEventSubscriptionsFile();
  return [
    {
      name: f.resourceWrites.name,
      def: {
        topic: SYSTEM_TOPICS.arm,
        endpoint,
        filter: {
          includedEventTypes: f.resourceWrites.includedEventTypes,
          advancedFilters: [
            {
              operatorType: "StringIn",
              key: "data.resourceProvider",
              values: f.resourceWrites.resourceProviders,
            },
          ],
        },
        maxEventsPerBatch: 1,
        retryPolicy: f.retryPolicy,
      },
    },
    {
      // enable-diagnostic-logs: a diagnostic setting written or deleted on any resource.
      name: f.diagnosticSettings.name,
      def: {
        topic: SYSTEM_TOPICS.arm,
        endpoint,
        filter: {
          includedEventTypes: f.diagnosticSettings.includedEventTypes,
          advancedFilters: [
            {
              operatorType: "StringIn",
              key: "data.operationName",
              values: f.diagnosticSettings.operationNames,
            },
          ],
        },
        maxEventsPerBatch: 1,
        retryPolicy: f.retryPolicy,
      },
    },
    {
      name: f.secretExpiry.name,
      def: {
        topic: SYSTEM_TOPICS.keyVault,
        endpoint,
        filter: { includedEventTypes: f.secretExpiry.includedEventTypes },
        maxEventsPerBatch: 1,
        retryPolicy: f.retryPolicy,
      },
    },
  ];
}
