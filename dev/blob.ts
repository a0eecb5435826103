/**
 * The local stack's blob storage: Azurite in a process of its own (dev/proc/blob.ts), for the anchor
 * container. The container is created here, by driftguard's own local identity with a bearer token
 * (in Azure the templates create it; the app never does).
 */
import path from "node:path";
import type { StoragePipelineOptions } from "@azure/storage-blob";
import { localStackCredential } from "../shared/azure/local-credential.js";
import type { BlobReady } from "./proc/protocol.js";
import { type ManagedProcess, spawnProcess } from "./proc/spawn.js";
import type { LocalTls } from "./tls.js";

/** The anchor container of the local stack. */
export const LOCAL_ANCHOR_CONTAINER = "driftguard-anchors";

export interface LocalBlob {
  /** Blob service endpoint (`https://127.0.0.1:<port>/devstoreaccount1`). */
  url: string;
  /** `${url}/driftguard-anchors`: DRIFTGUARD_ANCHOR_CONTAINER_URL of the local stack. */
  anchorContainerUrl: string;
  process: ManagedProcess<BlobReady>;
  close(): Promise<void>;
}

export async function startLocalBlob(opts: {
  port?: number;
  tls: LocalTls;
  onOutput?: (line: string) => void;
  readyTimeoutMs?: number;
}): Promise<LocalBlob> {
  const proc = await spawnProcess<BlobReady>({
    name: "blob",
    entry: "blob",
    options: { port: opts.port ?? 10000, tlsDir: path.dirname(opts.tls.caCertFile) },
    onOutput: opts.onOutput,
    readyTimeoutMs: opts.readyTimeoutMs ?? 90_000,
  });
  try {
    const anchorContainerUrl = `${proc.ready.url}/${LOCAL_ANCHOR_CONTAINER}`;
    const { ContainerClient } = await import("@azure/storage-blob");
    const container = new ContainerClient(anchorContainerUrl, localStackCredential(), {
      tlsOptions: { ca: opts.tls.cert },
    } as StoragePipelineOptions);
    await container.createIfNotExists();
    return { url: proc.ready.url, anchorContainerUrl, process: proc, close: () => proc.stop() };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
