/**
 * Hash chain of audit records. Each resource has its own chain: record `seq` n carries the hash of
 * record n-1 in `prevHash` (the first one carries GENESIS_HASH), and its own `hash` is SHA-256 over
 * the canonical JSON of every other field. Changing any stored field (or deleting / reordering a
 * record) breaks the chain at that record.
 */
import { createHash } from "node:crypto";
import type { AuditRecord, AuditRecordInput, ChainBreak, VerifyReport } from "./types.js";

export const GENESIS_HASH = "0".repeat(64);

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units), no whitespace, `undefined` members
 * dropped (as JSON.stringify does), arrays keep their order (`undefined` in arrays → null).
 * Non-finite numbers become null, like JSON.stringify. Dates serialise through toJSON.
 */
export function canonicalJson(value: unknown): string {
  const out = encode(value, 0);
  return out === undefined ? "null" : out;
}

function encode(value: unknown, depth: number): string | undefined {
  if (depth > 64) throw new Error("canonicalJson: value nested too deeply");
  if (value === null) return "null";
  switch (typeof value) {
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new Error("canonicalJson: bigint is not JSON");
    default:
      break;
  }
  const obj = value as { toJSON?: () => unknown };
  if (typeof obj.toJSON === "function") return encode(obj.toJSON(), depth + 1);
  if (Array.isArray(value)) {
    return `[${value.map((v) => encode(v, depth + 1) ?? "null").join(",")}]`;
  }
  const entries = Object.keys(value as object)
    .sort()
    .flatMap((k) => {
      const v = encode((value as Record<string, unknown>)[k], depth + 1);
      return v === undefined ? [] : [`${JSON.stringify(k)}:${v}`];
    });
  return `{${entries.join(",")}}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** SHA-256 hex over the canonical JSON of every record field except `hash` (`prevHash`, `seq`, `id`
 *  included). Storage adapters strip their own metadata before calling this. */
export function computeRecordHash(record: Omit<AuditRecord, "hash"> | AuditRecord): string {
  const { hash: _hash, ...fields } = record as AuditRecord;
  return sha256Hex(canonicalJson(fields));
}

/** The record a store appends at `seq` after `prevHash`: the input with its ID, position and hash. */
export function chainRecord(input: AuditRecordInput, seq: number, prevHash: string): AuditRecord {
  const base = { ...input, id: recordId(input.resourceId, seq), seq, prevHash };
  return { ...base, hash: computeRecordHash(base) };
}

/** Deterministic record ID: one resource + seq always yields the same ID (duplicates collide on create). */
export function recordId(resourceId: string, seq: number): string {
  return `${resourceKey(resourceId)}-${String(seq).padStart(10, "0")}`;
}

/** Stable key of a resource's chain (case-insensitive like ARM IDs). */
export function resourceKey(resourceId: string): string {
  return sha256Hex(resourceId.toLowerCase()).slice(0, 32);
}

/**
 * Verifies one resource's chain, records sorted by `seq` ascending. Returns the first broken
 * record, or undefined when the chain is intact. With `allowExpiredPrefix` (retention by TTL: the
 * oldest records expire first) the chain may start after seq 1; its first record's `prevHash` is
 * then taken as given (it names an expired record) and everything after it is checked.
 */
export function verifyChain(
  records: readonly AuditRecord[],
  opts: { allowExpiredPrefix?: boolean } = {},
): ChainBreak | undefined {
  const first = records[0];
  if (!first) return undefined;
  const startSeq = opts.allowExpiredPrefix && Number.isInteger(first.seq) && first.seq > 1 ? first.seq : 1;
  let prevHash = startSeq === 1 ? GENESIS_HASH : first.prevHash;
  const resourceId = first.resourceId;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const at = (reason: string): ChainBreak => ({
      resourceId: r.resourceId,
      recordId: r.id,
      seq: r.seq,
      reason,
    });
    const expectedSeq = startSeq + i;
    if (r.resourceId.toLowerCase() !== resourceId.toLowerCase()) {
      return at(`record belongs to resource ${r.resourceId}, not to this chain (${resourceId})`);
    }
    if (r.seq !== expectedSeq) {
      return at(
        r.seq > expectedSeq
          ? `seq gap: expected seq ${expectedSeq}, found ${r.seq} (record ${expectedSeq} missing)`
          : `seq ${r.seq} out of order or duplicated (expected ${expectedSeq})`,
      );
    }
    if (r.id !== recordId(r.resourceId, r.seq))
      return at(`id does not match resource and seq (expected ${recordId(r.resourceId, r.seq)})`);
    if (r.prevHash !== prevHash) {
      return at(
        expectedSeq === 1
          ? "prevHash of the first record is not the genesis hash"
          : `prevHash does not match the hash of record ${expectedSeq - 1}`,
      );
    }
    if (r.hash !== computeRecordHash(r))
      return at("hash mismatch: record content was modified after it was written");
    prevHash = r.hash;
  }
  return undefined;
}

/** What a store remembers about the end of a chain, independently of the records (a witness). */
export interface ChainHead {
  resourceId: string;
  seq: number;
  hash: string;
  recordId: string;
}

/**
 * Compares a chain (sorted by seq) with its head. The head may lag behind (a writer crashed between
 * writing the record and the head: tolerated, the next append repairs it) but never lead: a head
 * beyond the last record means the tail was deleted. With `allowExpired`, a head whose records
 * have all gone is accepted (retention).
 */
function checkChainHead(
  records: readonly AuditRecord[],
  head: ChainHead | undefined,
  opts: { allowExpired?: boolean } = {},
): ChainBreak | undefined {
  // seq 0: the resource's control document exists, but no record was written yet.
  if (!head || head.seq === 0) return undefined;
  const last = records[records.length - 1];
  if (!last) {
    if (opts.allowExpired) return undefined;
    return {
      resourceId: head.resourceId,
      recordId: head.recordId,
      seq: head.seq,
      reason: `chain head names seq ${head.seq} but no record of this resource exists`,
    };
  }
  if (head.seq > last.seq) {
    return {
      resourceId: last.resourceId,
      recordId: head.recordId,
      seq: head.seq,
      reason: `chain truncated: the chain head names seq ${head.seq}, but the last record is seq ${last.seq}`,
    };
  }
  const atHead = records.find((r) => r.seq === head.seq);
  if (atHead && atHead.hash !== head.hash) {
    return {
      resourceId: last.resourceId,
      recordId: atHead.id,
      seq: atHead.seq,
      reason: "record hash differs from the hash the chain head recorded",
    };
  }
  return undefined;
}

/**
 * A store's verify report: every chain (its records in any order, keyed by chain) checked on its
 * own and against its head; a head without records (every record deleted, or expired) is checked too. `retention`: records expire
 * oldest first (see `verifyChain`'s `allowExpiredPrefix` and `checkChainHead`'s `allowExpired`).
 * Breaks are ordered by resource ID.
 */
export function verifyChains(
  chains: ReadonlyMap<string, readonly AuditRecord[]>,
  heads: ReadonlyMap<string, ChainHead>,
  opts: { retention?: boolean } = {},
): VerifyReport {
  const breaks: ChainBreak[] = [];
  let chainCount = 0;
  let records = 0;
  for (const key of new Set([...chains.keys(), ...heads.keys()])) {
    const chain = [...(chains.get(key) ?? [])].sort((a, b) => a.seq - b.seq);
    if (chain.length > 0) chainCount++;
    records += chain.length;
    const br =
      verifyChain(chain, { allowExpiredPrefix: opts.retention }) ??
      checkChainHead(chain, heads.get(key), { allowExpired: opts.retention });
    if (br) breaks.push(br);
  }
  breaks.sort((a, b) => {
    const [x, y] = [a.resourceId.toLowerCase(), b.resourceId.toLowerCase()];
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return { chains: chainCount, records, breaks };
}
