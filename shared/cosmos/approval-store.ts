/**
 * Approvals in Cosmos DB (container `approvals`, `id` = `pk` = approval ID). A decision is a
 * replace with If-Match from `pending` only; after `expiresAt` a decision turns the approval into
 * `expired` instead (time is compared, TTL is never relied on). The stored signal keeps no raw
 * caller object ID. Queries other than by ID cross partitions; each filters on indexed fields only
 * (see APPROVALS_INDEXING_POLICY).
 */
import type { Container } from "@azure/cosmos";
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
  isApprovalId,
  recordedTransition,
  refusalTransition,
  resourceKindKey,
  runDueAt,
  runTransition,
  storableApproval,
  validateApproval,
} from "../ports/approval-store.js";
import { APPROVAL_DECIDED_TTL_SECONDS } from "./client.js";
import {
  backoff,
  ContentionError,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  stripFields,
} from "./errors.js";

/**
 * `expiresAtMs` and `runDueAtMs` are indexed copies for the timers' queries; `openFor` (resource
 * ID lower-cased `|` kind, only while pending) for the pipeline's "open approval of this resource
 * and kind" — one equality on an indexed path.
 */
type ApprovalDoc = Approval & {
  pk: string;
  expiresAtMs: number;
  runDueAtMs?: number;
  openFor?: string;
  ttl?: number;
  _etag?: string;
};

function toDoc(a: Approval, ttl?: number): ApprovalDoc {
  const doc: ApprovalDoc = { ...storableApproval(a), pk: a.id, expiresAtMs: Date.parse(a.expiresAt) };
  if (a.state === "pending") doc.openFor = resourceKindKey(a.target.resourceId, a.kind);
  const due = runDueAt(a);
  if (due !== undefined) doc.runDueAtMs = Date.parse(due);
  if (ttl !== undefined) doc.ttl = ttl;
  return doc;
}

export class CosmosApprovalStore implements ApprovalStore {
  constructor(private readonly container: Container) {}

  async create(approval: Approval): Promise<Approval> {
    validateApproval(approval);
    const doc = toDoc(approval);
    try {
      const { resource } = await this.container.items.create(doc, { disableAutomaticIdGeneration: true });
      return toApproval(resource as ApprovalDoc);
    } catch (err) {
      if (isConflict(err)) throw new ApprovalExistsError(approval.id);
      throw err;
    }
  }

  async get(id: string): Promise<Approval | undefined> {
    if (!isApprovalId(id)) return undefined;
    const doc = await this.read(id);
    return doc ? toApproval(doc) : undefined;
  }

  async closePending(
    id: string,
    state: Exclude<ApprovalState, "pending">,
    by: string | undefined,
    now: Date,
    via?: Approval["decidedVia"],
    supersededBy?: string,
  ): Promise<Approval | undefined> {
    let granted = false;
    const updated = await this.update(id, (current) => {
      const t = closePendingTransition(current, state, by, now, via, supersededBy);
      granted = !!t?.granted;
      return t?.next;
    });
    return granted ? updated : undefined;
  }

  async updateRun(id: string, run: ApprovedRun): Promise<Approval | undefined> {
    return this.update(id, (current) => runTransition(current, run));
  }

  async addRefusal(id: string, refusal: ApprovalRefusal): Promise<Approval | undefined> {
    return this.update(id, (current) => refusalTransition(current, refusal));
  }

  async annotate(id: string, note: ApprovalNote): Promise<Approval | undefined> {
    return this.update(id, (current) => annotateTransition(current, note));
  }

  async markRecorded(id: string): Promise<Approval | undefined> {
    return this.update(id, recordedTransition);
  }

  async listRecordDue(): Promise<Approval[]> {
    const { resources } = await this.container.items
      .query<ApprovalDoc>({
        query: "SELECT * FROM c WHERE c.recordDue IN (@expired, @rejected)",
        parameters: [
          { name: "@expired", value: "expired" },
          { name: "@rejected", value: "rejected" },
        ],
      })
      .fetchAll();
    return resources.map(toApproval).sort(byDecided);
  }

  async listCardPostFailures(limit: number): Promise<Approval[]> {
    const { resources } = await this.container.items
      .query<ApprovalDoc>({
        query:
          "SELECT TOP @top * FROM c WHERE c.state = @state AND IS_DEFINED(c.cardPostFailed) ORDER BY c.createdAt DESC",
        parameters: [
          { name: "@top", value: Math.max(1, Math.min(limit, 100)) },
          { name: "@state", value: "pending" },
        ],
      })
      .fetchAll();
    return resources.map(toApproval);
  }

  /** Read → change → replace with If-Match, again on 412; undefined when `next` declines. */
  private async update(
    id: string,
    next: (current: Approval) => Approval | undefined,
  ): Promise<Approval | undefined> {
    if (!isApprovalId(id)) return undefined;
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.read(id);
      if (!current) return undefined;
      const changed = next(toApproval(current));
      if (!changed) return undefined;
      const doc = toDoc(changed, changed.state === "pending" ? undefined : APPROVAL_DECIDED_TTL_SECONDS);
      try {
        const { resource } = await this.container
          .item(id, id)
          .replace(doc, { accessCondition: { type: "IfMatch", condition: current._etag ?? "" } });
        return toApproval(resource as unknown as ApprovalDoc);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        if (!isPreconditionFailed(err)) throw err;
        await backoff(attempt); // changed under us: re-read and decide again
      }
    }
    throw new ContentionError(`approval ${id} kept changing; retry later`);
  }

  async listDueRuns(now: Date): Promise<Approval[]> {
    return (await this.listByTime("approved", "runDueAtMs", now)).sort(byRunDue);
  }

  async listExpired(now: Date): Promise<Approval[]> {
    return (await this.listByTime("pending", "expiresAtMs", now)).sort(byExpiry);
  }

  async listPendingFor(resourceId: string, kind: string, now: Date): Promise<Approval[]> {
    const { resources } = await this.container.items
      .query<ApprovalDoc>({
        query: "SELECT * FROM c WHERE c.openFor = @key AND c.state = @state AND c.expiresAtMs > @now",
        parameters: [
          { name: "@key", value: resourceKindKey(resourceId, kind) },
          { name: "@state", value: "pending" },
          { name: "@now", value: now.getTime() },
        ],
      })
      .fetchAll();
    // At most a handful: ordered here rather than by an index on `createdAt`.
    return resources.map(toApproval).sort(byNewest);
  }

  async countPending(): Promise<number> {
    const { resources } = await this.container.items
      .query<number>({
        query: "SELECT VALUE COUNT(1) FROM c WHERE c.state = @state",
        parameters: [{ name: "@state", value: "pending" }],
      })
      .fetchAll();
    return resources[0] ?? 0;
  }

  /** Approvals in `state` whose indexed time `field` is at or before `now` (the timers' queries). */
  private async listByTime(
    state: ApprovalState,
    field: "runDueAtMs" | "expiresAtMs",
    now: Date,
  ): Promise<Approval[]> {
    const { resources } = await this.container.items
      .query<ApprovalDoc>({
        query: `SELECT * FROM c WHERE c.state = @state AND c.${field} <= @now`,
        parameters: [
          { name: "@state", value: state },
          { name: "@now", value: now.getTime() },
        ],
      })
      .fetchAll();
    return resources.map(toApproval);
  }

  private async read(id: string): Promise<ApprovalDoc | undefined> {
    const { resource } = await this.container.item(id, id).read<ApprovalDoc>();
    return resource ?? undefined;
  }
}

function toApproval(doc: ApprovalDoc): Approval {
  const etag = doc._etag;
  const out = stripFields(doc as unknown as Record<string, unknown>, [
    "expiresAtMs",
    "runDueAtMs",
    "openFor",
  ]) as unknown as Approval;
  if (etag) out.etag = etag;
  return out;
}
