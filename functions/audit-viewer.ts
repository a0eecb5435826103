/** HTTP trigger `auditViewer` (`/api/audit-viewer`): the static audit viewer page (data comes from `/api/audit`). */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpResponseInit } from "@azure/functions";

const here = path.dirname(fileURLToPath(import.meta.url));
let cached: string | undefined;

async function viewerHtml(): Promise<string> {
  if (cached) return cached;
  // Source layout (web/ beside functions/) and compiled layout (dist/functions → ../../web).
  for (const candidate of [
    path.join(here, "..", "web", "audit-viewer.html"),
    path.join(here, "..", "..", "web", "audit-viewer.html"),
  ]) {
    try {
      cached = await readFile(candidate, "utf8");
      return cached;
    } catch {
      // try the next layout
    }
  }
  throw new Error("web/audit-viewer.html not found");
}

export async function handleAuditViewer(): Promise<HttpResponseInit> {
  return {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      "content-security-policy":
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    },
    body: await viewerHtml(),
  };
}
