/**
 * Local-stack TLS: one self-signed certificate (it is its own CA) for 127.0.0.1 and localhost.
 * Every local server (Azure simulator, vault origins, Cosmos DB) serves it, and every client trusts
 * exactly this CA through its own options — TLS verification is never switched off.
 */

import { X509Certificate } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { generate } from "selfsigned";

export interface LocalTls {
  /** PEM certificate; also the CA to trust. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Path of the PEM file holding `cert`, for NODE_EXTRA_CA_CERTS or a ready file. */
  caCertFile: string;
}

export const DEFAULT_TLS_DIR = path.resolve(".driftguard", "tls");

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function stillValid(certPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const sevenDays = 7 * 24 * 3600 * 1000;
    return (
      new Date(cert.validTo).getTime() - Date.now() > sevenDays &&
      (cert.subjectAltName ?? "").includes("IP Address:127.0.0.1")
    );
  } catch {
    return false;
  }
}

/** Generates a fresh certificate (valid one year) for 127.0.0.1 / localhost. */
export async function generateLocalCertificate(): Promise<{ cert: string; key: string }> {
  const now = new Date();
  const result = await generate([{ name: "commonName", value: "driftguard local stack" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  return { cert: result.cert, key: result.private };
}

/**
 * Loads the cached certificate from `dir`, or generates and caches a new one. Generated once per
 * machine (cheap to regenerate: delete the folder).
 */
export async function loadOrCreateLocalTls(dir: string = DEFAULT_TLS_DIR): Promise<LocalTls> {
  const certFile = path.join(dir, "local-ca.pem");
  const keyFile = path.join(dir, "local-ca.key");
  if ((await exists(certFile)) && (await exists(keyFile))) {
    const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    if (stillValid(cert)) return { cert, key, caCertFile: certFile };
  }
  const { cert, key } = await generateLocalCertificate();
  await mkdir(dir, { recursive: true });
  // Write the key first with owner-only permissions; the cert is public.
  await writeFile(keyFile, key, { mode: 0o600 });
  await writeFile(certFile, cert);
  return { cert, key, caCertFile: certFile };
}
