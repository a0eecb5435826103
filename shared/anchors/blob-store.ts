/**
 * Anchors in Azure Blob Storage (Azurite on the local stack): one block blob per anchor, written
 * with `If-None-Match: *` so an existing name is never overwritten. In Azure the container has
 * version-level immutability with a locked time-based retention policy (infra/modules/anchor-storage.bicep),
 * so not even the account owner can change or delete an anchor before the retention ends.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { AnchorStore } from "../ports/anchor-store.js";
import { ANCHOR_PREFIX } from "./anchor.js";

export class AnchorStoreError extends Error {
  override readonly name = "AnchorStoreError";
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

function describe(err: unknown): { message: string; status?: number } {
  const e = err as { statusCode?: number; code?: string; message?: string };
  const status = typeof e?.statusCode === "number" ? e.statusCode : undefined;
  return {
    message: `${status ? `HTTP ${status} ` : ""}${e?.code ?? ""} ${e?.message ?? String(err)}`.trim(),
    status,
  };
}

export class BlobAnchorStore implements AnchorStore {
  constructor(private readonly container: ContainerClient) {}

  get location(): string {
    return this.container.url;
  }

  async put(name: string, body: string): Promise<void> {
    try {
      await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
        conditions: { ifNoneMatch: "*" },
        blobHTTPHeaders: { blobContentType: "application/json" },
      });
    } catch (err) {
      const { message, status } = describe(err);
      throw new AnchorStoreError(`writing anchor ${name} to ${this.location} failed: ${message}`, status);
    }
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix: ANCHOR_PREFIX })) names.push(blob.name);
    } catch (err) {
      const { message, status } = describe(err);
      throw new AnchorStoreError(`listing anchors in ${this.location} failed: ${message}`, status);
    }
    return names.sort();
  }

  async get(name: string): Promise<string> {
    try {
      const buffer = await this.container.getBlockBlobClient(name).downloadToBuffer();
      return buffer.toString("utf8");
    } catch (err) {
      const { message, status } = describe(err);
      throw new AnchorStoreError(`reading anchor ${name} from ${this.location} failed: ${message}`, status);
    }
  }
}

/** An AnchorStore whose container client (and its SDK package) is made on first use. */
export function lazyBlobAnchorStore(
  location: string,
  container: () => Promise<ContainerClient>,
): AnchorStore {
  let store: Promise<BlobAnchorStore> | undefined;
  const get = () => {
    store ??= container().then((c) => new BlobAnchorStore(c));
    return store;
  };
  return {
    location,
    put: async (name, body) => (await get()).put(name, body),
    list: async () => (await get()).list(),
    get: async (name) => (await get()).get(name),
  };
}
