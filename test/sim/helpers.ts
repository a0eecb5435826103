/** Shared set-up for the simulator tests: TLS, a static credential, and real SDK clients. */

import https from "node:https";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { loadOrCreateLocalTls } from "../../dev/tls.js";

export const SUB = "00000000-0000-0000-0000-000000000001";
export const RG = "rg-ml-prod";
export const rgId = `/subscriptions/${SUB}/resourceGroups/${RG}`;

export const credential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: "sim-token", expiresOnTimestamp: Date.now() + 3600_000 };
  },
};

export async function tls() {
  return loadOrCreateLocalTls();
}

export const retryOptions = { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 50 };

/** Options for classic (core-client) ARM clients. */
export function classicOptions(url: string, ca: string) {
  return {
    endpoint: url,
    credentialScopes: ["https://management.azure.com/.default"],
    tlsOptions: { ca },
    retryOptions,
  };
}

/** Options for modular ARM clients (arm-storage 20, arm-containerservice 25, arm-keyvault 5). */
export function modularOptions(url: string, ca: string) {
  return {
    endpoint: url,
    credentials: { scopes: ["https://management.azure.com/.default"] },
    tlsOptions: { ca },
    retryOptions,
  };
}

export interface SimResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, inspected by the tests
  body: any;
}

/** Plain HTTPS request against the simulator (for shape checks and the admin API). */
export async function call(
  url: string,
  ca: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<SimResponse> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const req = https.request(
      url,
      {
        method,
        ca,
        headers: {
          ...(data !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on("error", reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}
