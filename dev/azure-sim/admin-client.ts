/**
 * Typed client for the simulator's `/_sim` admin API (README.md next to this file), for a simulator
 * running in another process. It trusts exactly the local-stack CA it is given.
 */
import https from "node:https";
import type { ArmResource, Fault, LoggedRequest } from "./common.js";
import type { PermissionSet } from "./permissions.js";
import type { SecretState } from "./vault.js";

export class SimAdminError extends Error {
  constructor(
    readonly route: string,
    readonly status: number,
    body: string,
  ) {
    super(`simulator admin ${route} answered ${status}: ${body.slice(0, 300)}`);
    this.name = "SimAdminError";
  }
}

export type RequestFilter = { method?: string; pathIncludes?: string; origin?: string };

export class SimAdminClient {
  private readonly agent: https.Agent;

  /** `url`: the simulator's ARM origin; `ca`: the local-stack certificate (PEM). */
  constructor(
    readonly url: string,
    ca: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, ca });
  }

  health(): Promise<{ status: string; url: string; vaults: Record<string, string> }> {
    return this.call("GET", "/_sim/health");
  }

  /** The request log (ARM and vault origins), oldest first. */
  requests(filter: RequestFilter = {}): Promise<LoggedRequest[]> {
    return this.call("GET", `/_sim/requests${query(filter)}`);
  }

  /** Writes that reached a handler (not faulted, not a 401 challenge), as `AzureSimulator.writes()`. */
  writes(filter: { pathIncludes?: string } = {}): Promise<LoggedRequest[]> {
    return this.call("GET", `/_sim/writes${query(filter)}`);
  }

  async clearRequests(): Promise<void> {
    await this.call("DELETE", "/_sim/requests");
  }

  /** Narrows the simulated caller's effective permissions (empty list: everything allowed again). */
  async setPermissions(sets: PermissionSet[]): Promise<void> {
    if (sets.length === 0) await this.call("DELETE", "/_sim/permissions");
    else await this.call("PUT", "/_sim/permissions", sets);
  }

  async addFault(fault: Fault): Promise<string> {
    return (await this.call<{ id: string }>("POST", "/_sim/faults", fault)).id;
  }

  /** Active faults; `remaining` is null for an unlimited one. */
  faults(): Promise<(Fault & { id: string; remaining: number | null })[]> {
    return this.call("GET", "/_sim/faults");
  }

  async clearFaults(): Promise<void> {
    await this.call("DELETE", "/_sim/faults");
  }

  /** The stored resource (case-insensitive ID), or undefined. */
  async getResource(id: string): Promise<ArmResource | undefined> {
    try {
      return await this.call<ArmResource>("GET", `/_sim/resources${query({ id })}`);
    } catch (err) {
      if (err instanceof SimAdminError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Seeds or overwrites a resource directly ("a person changed it"); answers the stored state. */
  putResource(resource: ArmResource): Promise<ArmResource> {
    return this.call("PUT", "/_sim/resources", resource);
  }

  /** A secret's versions, oldest first, without their values. */
  secretVersions(vault: string, name: string): Promise<Omit<SecretState, "value">[]> {
    return this.call("GET", `/_sim/secret-versions${query({ vault, name })}`);
  }

  close(): void {
    this.agent.destroy();
  }

  /** A kept-alive socket the simulator closed while idle (its keep-alive timeout is 5 s: a test that
   *  waits longer races it) answers the next request with ECONNRESET; a read is safe to send again. */
  private async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.callOnce<T>(method, route, body);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (method !== "GET" || attempt >= 3 || (code !== "ECONNRESET" && code !== "EPIPE")) throw err;
      }
    }
  }

  private callOnce<T>(method: string, route: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        new URL(route, this.url),
        {
          method,
          agent: this.agent,
          headers: payload
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299)
              return reject(new SimAdminError(`${method} ${route}`, status, text));
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function query(params: Record<string, string | undefined>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.set(k, v);
  const s = qs.toString();
  return s ? `?${s}` : "";
}
