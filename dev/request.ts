/**
 * What the local HTTP stand-ins (the Functions host, the local Event Grid, the Teams simulator) do
 * with a request alike: read a body up to a size limit, and compare a key or signature in constant
 * time.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * The whole body, or `"too-large"` past `limit` bytes. The rest of a body too large is still
 * drained (not kept), so the answer reaches a client that is still sending.
 */
export function readCapped(req: IncomingMessage, limit: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on("end", () => resolve(over ? "too-large" : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** True when `given` equals `expected` (compared in constant time); false when nothing was given. */
export function sameSecret(given: string | undefined | null, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
