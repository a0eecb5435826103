/**
 * A stand-in for the App Service managed identity endpoint (what `IDENTITY_ENDPOINT` and
 * `IDENTITY_HEADER` point at inside a function app), so the built package runs with its
 * production credential (`@azure/identity`'s ManagedIdentityCredential) against the local stand-ins.
 * It hands out the local stack's fixed token; it checks the secret header as App Service does.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { LOCAL_STACK_TOKEN } from "../../shared/azure/clients.js";

export interface ManagedIdentityEndpoint {
  /** App settings that point a function app at this endpoint. */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** Tokens handed out so far (by resource). */
  readonly issued: string[];
  close(): Promise<void>;
}

export async function startManagedIdentityEndpoint(): Promise<ManagedIdentityEndpoint> {
  const secret = randomBytes(16).toString("hex");
  const issued: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const resource = url.searchParams.get("resource");
    if (req.headers["x-identity-header"] !== secret || !resource) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "invalid_request" }));
      return;
    }
    issued.push(resource);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        access_token: LOCAL_STACK_TOKEN,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: "Bearer",
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: secret },
    issued,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
