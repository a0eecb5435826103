/**
 * In-memory approval store for unit tests and the harness: the same transitions as the Cosmos DB
 * store (shared/cosmos/approval-store.ts), with an etag per change.
 */
import {
  type Approval,
  ApprovalExistsError,
  type ApprovalNote,
  type ApprovalRefusal,
  type ApprovalState,
  type ApprovalStore,
  type ApprovedRun,
  annotateTransition,
  byDecided,
  byExpiry,
  byNewest,
  byRunDue,
  closePendingTransition,
  isDueRun,
  isExpiredPending,
  isOpenFor,
  isUnposted,
  recordedTransition,
  refusalTransition,
  runTransition,
  storableApproval,
  validateApproval,
} from "../ports/approval-store.js";

export class InMemoryApprovalStore implements ApprovalStore {
  private readonly items = new Map<string, { approval: Approval; etag: string }>();
  private etagCounter = 0;

  private nextEtag(): string {
    this.etagCounter += 1;
    return `"${this.etagCounter.toString(16).padStart(8, "0")}"`;
  }

  async create(approval: Approval): Promise<Approval> {
    validateApproval(approval);
    if (this.items.has(approval.id)) throw new ApprovalExistsError(approval.id);
    const etag = this.nextEtag();
    const stored = storableApproval(approval);
    this.items.set(approval.id, { approval: stored, etag });
    return { ...structuredClone(stored), etag };
  }

  async get(id: string): Promise<Approval | undefined> {
    const e = this.items.get(id);
    return e ? withEtag(e) : undefined;
  }

  async closePending(
    id: string,
    state: Exclude<ApprovalState, "pending">,
    by: string | undefined,
    now: Date,
    via?: Approval["decidedVia"],
    supersededBy?: string,
  ): Promise<Approval | undefined> {
    const e = this.items.get(id);
    if (!e) return undefined;
    const t = closePendingTransition(e.approval, state, by, now, via, supersededBy);
    if (!t) return undefined;
    const etag = this.nextEtag();
    this.items.set(id, { approval: t.next, etag });
    return t.granted ? { ...structuredClone(t.next), etag } : undefined;
  }

  async updateRun(id: string, run: ApprovedRun): Promise<Approval | undefined> {
    return this.update(id, (a) => runTransition(a, run));
  }

  async addRefusal(id: string, refusal: ApprovalRefusal): Promise<Approval | undefined> {
    return this.update(id, (a) => refusalTransition(a, refusal));
  }

  async annotate(id: string, note: ApprovalNote): Promise<Approval | undefined> {
    return this.update(id, (a) => annotateTransition(a, note));
  }

  async markRecorded(id: string): Promise<Approval | undefined> {
    return this.update(id, recordedTransition);
  }

  async listRecordDue(): Promise<Approval[]> {
    return [...this.items.values()]
      .filter((e) => e.approval.recordDue !== undefined)
      .map(withEtag)
      .sort(byDecided);
  }

  async listCardPostFailures(limit: number): Promise<Approval[]> {
    return [...this.items.values()]
      .filter((e) => isUnposted(e.approval))
      .map(withEtag)
      .sort(byNewest)
      .slice(0, limit);
  }

  private update(id: string, next: (a: Approval) => Approval | undefined): Approval | undefined {
    const e = this.items.get(id);
    if (!e) return undefined;
    const updated = next(structuredClone(e.approval));
    if (!updated) return undefined;
    const etag = this.nextEtag();
    this.items.set(id, { approval: storableApproval(updated), etag });
    return { ...structuredClone(updated), etag };
  }

  async listDueRuns(now: Date): Promise<Approval[]> {
    return [...this.items.values()]
      .filter((e) => isDueRun(e.approval, now))
      .map(withEtag)
      .sort(byRunDue);
  }

  async countPending(): Promise<number> {
    return [...this.items.values()].filter((e) => e.approval.state === "pending").length;
  }

  async listPendingFor(resourceId: string, kind: string, now: Date): Promise<Approval[]> {
    return [...this.items.values()]
      .filter((e) => isOpenFor(e.approval, resourceId, kind, now))
      .map(withEtag)
      .sort(byNewest);
  }

  async listExpired(now: Date): Promise<Approval[]> {
    return [...this.items.values()]
      .filter((e) => isExpiredPending(e.approval, now))
      .map(withEtag)
      .sort(byExpiry);
  }
}

function withEtag(e: { approval: Approval; etag: string }): Approval {
  return { ...structuredClone(e.approval), etag: e.etag };
}
