/**
 * What evidence needs from the store beyond the audit port: the chain heads (anchors), whole chains
 * (verification, export), the policy files records name by hash, and the last verification result
 * (the audit viewer shows it). Cosmos DB adapter: shared/cosmos/evidence-store.ts; in memory:
 * shared/fakes/evidence-store.ts.
 */
import type { ChainHead } from "../audit/chain.js";
import type { AuditRecord } from "../audit/types.js";

export interface ChainSnapshot {
  /** Records keyed by chain key (`resourceKey`), in any order. */
  chains: Map<string, AuditRecord[]>;
  /** Chain heads keyed by chain key. */
  heads: Map<string, ChainHead>;
}

/** A policy file as it was loaded, stored once by the SHA-256 (hex) of its bytes. */
export interface StoredPolicyFile {
  sha256: string;
  /** File name it was loaded from (no directory). */
  name: string;
  text: string;
  /** When it was first stored. */
  storedAt: string;
}

/** The outcome of the last `driftguard audit verify`, kept for the audit viewer. */
export interface VerificationSummary {
  time: string;
  ok: boolean;
  chains: number;
  records: number;
  breaks: number;
  anchors: number;
  acceptedByRetention: number;
  newestAnchor: { name: string; time: string } | null;
}

export interface EvidenceStore {
  /** Every chain head (one query over the heads). */
  heads(): Promise<ChainHead[]>;
  /** The `time` of a chain's record at `seq` (a point read); undefined when it does not exist. */
  recordTime(resourceId: string, seq: number): Promise<string | undefined>;
  /** Every chain (or one resource's) with its records and head: a full read. */
  snapshot(opts?: { resourceId?: string }): Promise<ChainSnapshot>;
  /** Stores a policy file unless one with its hash is stored already. */
  putPolicyFile(file: Omit<StoredPolicyFile, "storedAt">, now: Date): Promise<void>;
  getPolicyFile(sha256: string): Promise<StoredPolicyFile | undefined>;
  saveVerification(summary: VerificationSummary): Promise<void>;
  lastVerification(): Promise<VerificationSummary | undefined>;
}
