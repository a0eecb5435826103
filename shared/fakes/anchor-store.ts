/** In-memory anchor store for unit tests: write-once names, like the immutable container. */
import { ANCHOR_PREFIX } from "../anchors/anchor.js";
import type { AnchorStore } from "../ports/anchor-store.js";

export class InMemoryAnchorStore implements AnchorStore {
  readonly blobs = new Map<string, string>();
  readonly location = "memory://anchors";

  async put(name: string, body: string): Promise<void> {
    if (this.blobs.has(name)) throw new Error(`anchor ${name} exists already`);
    this.blobs.set(name, body);
  }

  async list(): Promise<string[]> {
    return [...this.blobs.keys()].filter((n) => n.startsWith(ANCHOR_PREFIX)).sort();
  }

  async get(name: string): Promise<string> {
    const body = this.blobs.get(name);
    if (body === undefined) throw new Error(`anchor ${name} does not exist`);
    return body;
  }
}
