/**
 * The Event Grid custom topic that decisions are published to, through `EventGridPublisherClient`
 * from `@azure/eventgrid` (CloudEvents 1.0 input schema). In Azure it authenticates with the
 * managed identity (role `EventGrid Data Sender` on the topic; no keys). Only the local stack may use
 * a key, sent as `aeg-sas-key` — required there for a loopback `http://` endpoint, because the SDK
 * refuses bearer tokens over plain HTTP. The package is loaded on the first send.
 */
import type { TokenCredential } from "@azure/core-auth";
import type { EventGridPublisherClient } from "@azure/eventgrid";
import type { DecisionCloudEvent } from "./decision-event.js";
import type { EventSink } from "./publisher.js";

export interface EventGridSinkOptions {
  endpoint: string;
  credential: TokenCredential;
  /** Local stack only: the topic's access key (`aeg-sas-key`) instead of a token. */
  key?: string;
  /** Extra CA (PEM) to trust: the local stack's certificate. */
  ca?: string;
  retry?: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
}

/** Event Grid's token audience (role `EventGrid Data Sender`). */
export const EVENT_GRID_SCOPE = "https://eventgrid.azure.net/.default";

export function eventGridSink(opts: EventGridSinkOptions): EventSink {
  let client: Promise<EventGridPublisherClient<"CloudEvent">> | undefined;
  const load = () => {
    client ??= import("@azure/eventgrid")
      .then((sdk) => {
        const plainHttp = new URL(opts.endpoint).protocol === "http:";
        const credential = opts.key ? new sdk.AzureKeyCredential(opts.key) : opts.credential;
        return new sdk.EventGridPublisherClient(opts.endpoint, "CloudEvent", credential, {
          ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
          ...(plainHttp ? { allowInsecureConnection: true } : {}),
          retryOptions: opts.retry ?? { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 4_000 },
          userAgentOptions: { userAgentPrefix: "driftguard" },
        });
      })
      .catch((err: unknown) => {
        client = undefined;
        throw err;
      });
    return client;
  };
  return {
    async send(events: DecisionCloudEvent[]): Promise<void> {
      const publisher = await load();
      await publisher.send(
        events.map((e) => ({
          id: e.id,
          type: e.type,
          source: e.source,
          subject: e.subject,
          time: new Date(e.time),
          datacontenttype: e.datacontenttype,
          specversion: e.specversion,
          data: e.data,
        })),
      );
    },
  };
}
