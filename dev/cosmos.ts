/**
 * Embedded Cosmos DB for the local stack and tests: `@vercel/cosmosdb-server` (in-memory, no
 * persistence) served over HTTPS with the local-stack certificate, so the real `@azure/cosmos`
 * client talks to it exactly as to Azure (it only trusts our CA; TLS verification stays on).
 */
import type { AddressInfo } from "node:net";
import { createHttpsServer } from "@vercel/cosmosdb-server";
import { COSMOS_EMULATOR_KEY } from "../shared/config.js";
import type { LocalTls } from "./tls.js";

/** The Cosmos DB emulator's published, well-known account key (not a secret; local stack only). */
export const EMULATOR_KEY = COSMOS_EMULATOR_KEY;

export interface EmbeddedCosmos {
  endpoint: string;
  key: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedCosmos(opts: {
  port?: number;
  host?: string;
  tls: Pick<LocalTls, "cert" | "key">;
}): Promise<EmbeddedCosmos> {
  const host = opts.host ?? "127.0.0.1";
  // The package ships an expired certificate for CN "cosmosdb": serve ours. keepAlive: without it the
  // server answers `connection: close` and every request pays a TLS handshake.
  const server = createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, keepAlive: true } as Parameters<
    typeof createHttpsServer
  >[0]);
  // Node closes an idle kept-alive socket after 5 s; a client that reuses it at that moment gets
  // ECONNRESET on a write it cannot safely resend. The clients here (the hosts' Cosmos DB pools) keep
  // their sockets far longer, as Azure Cosmos DB's gateway does: keep idle sockets open for 2 minutes.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://${host}:${port}`,
    key: EMULATOR_KEY,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
