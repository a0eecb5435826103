/**
 * Typed client for the local Event Grid's `/_sim` admin API (README.md beside this file), whether it
 * runs in this process or another (dev/proc). It trusts exactly the local-stack CA it is given.
 */
import https from "node:https";
import type {
  DeadLetter,
  DeliveryAttempt,
  GridEventJson,
  SubscriptionInput,
  TopicFault,
  TopicInfo,
} from "./index.js";

export class EventGridAdminClient {
  private readonly agent: https.Agent;

  constructor(
    readonly url: string,
    ca: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, ca });
  }

  topics(): Promise<TopicInfo[]> {
    return this.call("GET", "/_sim/topics");
  }

  /** Creates a custom topic (idempotent): its publish endpoint and access key. */
  createTopic(
    name: string,
    inputSchema?: "CloudEventSchemaV1_0" | "EventGridSchema",
  ): Promise<{ endpoint: string; key: string }> {
    return this.call("PUT", `/_sim/topics/${encodeURIComponent(name)}`, inputSchema ? { inputSchema } : {});
  }

  /** What a topic accepted (custom) or received from the simulator (system), oldest first. */
  events(topic: string): Promise<GridEventJson[]> {
    return this.call("GET", `/_sim/topics/${encodeURIComponent(topic)}/events`);
  }

  async clearEvents(topic: string): Promise<void> {
    await this.call("DELETE", `/_sim/topics/${encodeURIComponent(topic)}/events`);
  }

  async subscribe(name: string, def: SubscriptionInput): Promise<void> {
    await this.call("PUT", `/_sim/subscriptions/${encodeURIComponent(name)}`, def);
  }

  async unsubscribe(name: string): Promise<void> {
    await this.call("DELETE", `/_sim/subscriptions/${encodeURIComponent(name)}`);
  }

  subscriptions(): Promise<(SubscriptionInput & { name: string; backlog: number })[]> {
    return this.call("GET", "/_sim/subscriptions");
  }

  deliveries(subscription?: string): Promise<DeliveryAttempt[]> {
    return this.call(
      "GET",
      `/_sim/deliveries${subscription ? `?subscription=${encodeURIComponent(subscription)}` : ""}`,
    );
  }

  deadLetters(subscription?: string): Promise<DeadLetter[]> {
    return this.call(
      "GET",
      `/_sim/deadletters${subscription ? `?subscription=${encodeURIComponent(subscription)}` : ""}`,
    );
  }

  async addFault(f: TopicFault): Promise<string> {
    return (await this.call<{ id: string }>("POST", "/_sim/faults", f)).id;
  }

  async clearFaults(): Promise<void> {
    await this.call("DELETE", "/_sim/faults");
  }

  close(): void {
    this.agent.destroy();
  }

  private call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${this.url}${route}`,
        {
          method,
          agent: this.agent,
          headers: data
            ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(data)) }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if ((res.statusCode ?? 0) >= 300)
              return reject(
                new Error(
                  `local Event Grid ${method} ${route} answered ${res.statusCode}: ${text.slice(0, 300)}`,
                ),
              );
            resolve((text ? JSON.parse(text) : undefined) as T);
          });
        },
      );
      req.on("error", reject);
      req.end(data);
    });
  }
}
