/**
 * The local stand-in for the Azure Functions front end: one HTTP address that hands each request to
 * the next host in turn (strict rotation, whether or not that host is up), forwarding method, path,
 * query, headers and body and streaming the answer back. Like the real front end it answers 503
 * while the chosen host is known to be down (killed, restarting) and 502 when the host cannot be
 * reached or drops the connection — both non-2xx, so Event Grid would redeliver.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FrontEndTarget {
  /** Loopback port of the host. */
  port: number;
  /** False while the supervisor knows the host is down. */
  available: boolean;
}

export interface FrontEnd {
  url: string;
  port: number;
  /** How many requests each target was handed, by index. */
  handed(): number[];
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, not forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

function forwardable(rawHeaders: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (!HOP_BY_HOP.has(rawHeaders[i]!.toLowerCase())) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

function answer(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "retry-after": "1" });
  res.end(JSON.stringify({ error: { code, message, path: "" } }));
}

export async function startFrontEnd(opts: {
  targets: FrontEndTarget[];
  port?: number;
  host?: string;
}): Promise<FrontEnd> {
  if (opts.targets.length === 0) throw new Error("the front end needs at least one host");
  const host = opts.host ?? "127.0.0.1";
  const agent = new http.Agent({ keepAlive: true });
  const handed = opts.targets.map(() => 0);
  let next = 0;

  const proxy = (req: IncomingMessage, res: ServerResponse) => {
    const index = next;
    next = (next + 1) % opts.targets.length;
    handed[index] = (handed[index] ?? 0) + 1;
    const target = opts.targets[index]!;
    if (!target.available) {
      req.resume();
      return answer(res, 503, "HostUnavailable", `host ${index} is not running`);
    }
    const upstream = http.request({
      agent,
      host: "127.0.0.1",
      port: target.port,
      method: req.method,
      path: req.url,
      headers: forwardable(req.rawHeaders),
    });
    upstream.on("response", (up) => {
      res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardable(up.rawHeaders));
      up.pipe(res);
      up.on("error", () => res.destroy());
      up.on("aborted", () => res.destroy());
    });
    // Never echo the socket error: it names internal addresses.
    upstream.on("error", () => answer(res, 502, "BadGateway", `host ${index} did not answer`));
    // The caller gave up: stop the upstream request too.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server = http.createServer(proxy);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    handed: () => [...handed],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
