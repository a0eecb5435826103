/** The round-robin front end of the separate-process stack, against plain HTTP servers as hosts. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FrontEnd, type FrontEndTarget, startFrontEnd } from "../../dev/proc/front-end.js";

interface Seen {
  host: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
const servers: http.Server[] = [];
let targets: FrontEndTarget[];
let front: FrontEnd;

async function echoHost(index: number): Promise<number> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ host: index, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.url?.startsWith("/drop")) return req.socket.destroy();
      res.writeHead(207, { "x-host": String(index), "set-cookie": ["a=1", "b=2"] });
      // Streamed in two chunks.
      res.write(`host ${index} `);
      setTimeout(() => res.end(`got ${body.length} bytes`), 10);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  targets = [];
  for (let i = 0; i < 3; i++) targets.push({ port: await echoHost(i), available: true });
  front = await startFrontEnd({ targets, port: 0 });
});
afterAll(async () => {
  await front?.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe("front end", () => {
  it("hands requests to the hosts in turn and forwards method, path, query, headers and body as sent", async () => {
    seen.length = 0;
    const statuses: number[] = [];
    const answeredBy: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${front.url}/api/x/${i}?a=1&a=2&__proto__=x`, {
        method: "POST",
        headers: { "x-functions-key": "k", "content-type": "application/json" },
        body: JSON.stringify({ i, pad: "é".repeat(1000) }),
      });
      statuses.push(res.status);
      answeredBy.push(res.headers.get("x-host") ?? "");
      expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
      const sent = JSON.stringify({ i, pad: "é".repeat(1000) });
      expect(await res.text()).toBe(`host ${answeredBy[i]} got ${sent.length} bytes`);
    }
    expect(statuses).toEqual([207, 207, 207, 207, 207, 207]);
    expect(answeredBy).toEqual(["0", "1", "2", "0", "1", "2"]);
    expect(seen.map((s) => s.url)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `/api/x/${i}?a=1&a=2&__proto__=x`));
    expect(seen.every((s) => s.method === "POST" && s.headers["x-functions-key"] === "k")).toBe(true);
    expect(JSON.parse(seen[4]!.body)).toMatchObject({ i: 4 });
    expect(front.handed()).toEqual([2, 2, 2]);
  });

  it("answers 503 for a host known to be down and 502 when the host drops or refuses, naming no address", async () => {
    const before = front.handed();
    const next = (before.reduce((a, b) => a + b, 0) % 3) as 0 | 1 | 2;
    targets[next]!.available = false;
    const down = await fetch(`${front.url}/api/x`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: { code: "HostUnavailable" } });
    targets[next]!.available = true;

    const dropped = await fetch(`${front.url}/drop`);
    expect(dropped.status).toBe(502);

    const refusedIndex = (next + 2) % 3;
    const port = targets[refusedIndex]!.port;
    servers[refusedIndex]!.closeAllConnections();
    await new Promise((r) => servers[refusedIndex]!.close(r));
    const refused = await fetch(`${front.url}/api/x`);
    expect(refused.status).toBe(502);
    const text = await refused.text();
    expect(text).toContain("BadGateway");
    expect(text).not.toContain(String(port));
    expect(text).not.toMatch(/ECONNREFUSED/);
  });
});
