/**
 * Where anchors are written: a container that nobody — not even driftguard or the account's owner —
 * can change or delete before the retention ends (docs/audit.md#anchors). Adapters: Azure Blob
 * Storage (shared/anchors/blob-store.ts, Azurite locally), in memory for tests (shared/fakes/).
 */
export interface AnchorStore {
  /** Writes a new blob `name`; never overwrites one (an existing name is an error). */
  put(name: string, body: string): Promise<void>;
  /** Names of the stored anchors (`anchors/…`), oldest first. */
  list(): Promise<string[]>;
  /** The blob's text; throws when it does not exist. */
  get(name: string): Promise<string>;
  /** Where they are, for messages (the container URL). */
  readonly location: string;
}
