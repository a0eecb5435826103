/** HTTP calls a test makes against a running stack (in one process or several), as Event Grid,
 *  Azure Monitor and an operator would. */
import type { AuditRecord } from "../../shared/audit/types.js";

export interface StackClient {
  /** POSTs an Event Grid delivery (array) to the webhook URL of the front end. */
  deliver(
    events: unknown,
    init?: { headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response>;
  /** POSTs an alert payload to /api/alerts with the function key. */
  alert(payload: unknown): Promise<Response>;
  /** GET /api/audit with the given query; returns every page's items (newest first). */
  audit(query?: Record<string, string>): Promise<AuditRecord[]>;
}

/** HTTP calls a test makes against a running stack, as Event Grid, Monitor and an operator would. */
export function stackClient(functionsUrl: string, key: string): StackClient {
  return {
    deliver: (events, init = {}) =>
      fetch(`${functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${key}`, {
        method: "POST",
        headers: { "content-type": "application/json", "aeg-event-type": "Notification", ...init.headers },
        body: typeof events === "string" ? events : JSON.stringify(events),
        signal: init.signal,
      }),
    alert: (payload) =>
      fetch(`${functionsUrl}/api/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-functions-key": key },
        body: JSON.stringify(payload),
      }),
    audit: async (query = {}) => {
      const items: AuditRecord[] = [];
      let token: string | null = null;
      do {
        const qs = new URLSearchParams({
          limit: "1000",
          ...query,
          ...(token ? { continuationToken: token } : {}),
        });
        const res = await fetch(`${functionsUrl}/api/audit?${qs}`, { headers: { "x-functions-key": key } });
        if (res.status !== 200) throw new Error(`audit query answered ${res.status}: ${await res.text()}`);
        const page = (await res.json()) as { items: AuditRecord[]; continuationToken: string | null };
        items.push(...page.items);
        token = page.continuationToken;
      } while (token);
      return items;
    },
  };
}
