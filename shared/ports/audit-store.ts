/** The audit store port; the record shapes and the chain and paging rules its stores share are in shared/audit/. */
import type { AuditPage, AuditQuery, AuditRecord, AuditRecordInput, VerifyReport } from "../audit/types.js";

/** Append-only audit trail. */
export interface AuditStore {
  /** Appends one record to its resource's hash chain (linear even under concurrent writers). */
  append(record: AuditRecordInput): Promise<AuditRecord>;
  /** Newest first. */
  query(q: AuditQuery): Promise<AuditPage>;
  /** Recomputes every chain (or one resource's). */
  verify(opts?: { resourceId?: string }): Promise<VerifyReport>;
}
