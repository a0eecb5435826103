/**
 * Approvals in Cosmos DB (container `approvals`, `id` = `pk` = approval ID). A decision is a
 * replace with If-Match from `pending` only; after `expiresAt` a decision turns the approval into
 * `expired` instead (time is compared, TTL is never relied on). The stored signal keeps no raw
 * caller object ID.
 */
import type { Container } from "@azure/cosmos";
import {
  ApprovalExistsError,
  decideTransition,
  storableApproval,
  validateApproval,
} from "../audit/memory-store.js";
import type { Approval, ApprovalState, ApprovalStore } from "../ports.js";
import { APPROVAL_DECIDED_TTL_SECONDS } from "./client.js";
import {
  backoff,
  ContentionError,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  stripFields,
} from "./errors.js";

type ApprovalDoc = Approval & { pk: string; expiresAtMs: number; ttl?: number; _etag?: string };

export class CosmosApprovalStore implements ApprovalStore {
  constructor(private readonly container: Container) {}

  async create(approval: Approval): Promise<Approval> {
    validateApproval(approval);
    const doc: ApprovalDoc = {
      ...storableApproval(approval),
      pk: approval.id,
      expiresAtMs: Date.parse(approval.expiresAt),
    };
    try {
      const { resource } = await this.container.items.create(doc, { disableAutomaticIdGeneration: true });
      return toApproval(resource as ApprovalDoc);
    } catch (err) {
      if (isConflict(err)) throw new ApprovalExistsError(approval.id);
      throw err;
    }
  }

  async get(id: string): Promise<Approval | undefined> {
    if (!validId(id)) return undefined;
    const doc = await this.read(id);
    return doc ? toApproval(doc) : undefined;
  }

  async decide(
    id: string,
    state: Exclude<ApprovalState, "pending">,
    by: string | undefined,
    now: Date,
  ): Promise<Approval | undefined> {
    if (!validId(id)) return undefined;
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.read(id);
      if (!current) return undefined;
      const t = decideTransition(toApproval(current), state, by, now);
      if (!t) return undefined;
      const { etag: _e, ...next } = t.next;
      const doc: ApprovalDoc = {
        ...next,
        pk: id,
        expiresAtMs: current.expiresAtMs,
        ttl: APPROVAL_DECIDED_TTL_SECONDS,
      };
      try {
        const { resource } = await this.container
          .item(id, id)
          .replace(doc, { accessCondition: { type: "IfMatch", condition: current._etag ?? "" } });
        return t.granted ? toApproval(resource as unknown as ApprovalDoc) : undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        if (!isPreconditionFailed(err)) throw err;
        await backoff(attempt); // changed under us: re-read; only a still-pending approval can be decided
      }
    }
    throw new ContentionError(`approval ${id} kept changing; retry later`);
  }

  async listExpired(now: Date): Promise<Approval[]> {
    const { resources } = await this.container.items
      .query<ApprovalDoc>({
        query: "SELECT * FROM c WHERE c.state = @state AND c.expiresAtMs <= @now",
        parameters: [
          { name: "@state", value: "pending" },
          { name: "@now", value: now.getTime() },
        ],
      })
      .fetchAll();
    return resources
      .map(toApproval)
      .sort((a, b) =>
        a.expiresAt < b.expiresAt ? -1 : a.expiresAt > b.expiresAt ? 1 : a.id < b.id ? -1 : 1,
      );
  }

  private async read(id: string): Promise<ApprovalDoc | undefined> {
    const { resource } = await this.container.item(id, id).read<ApprovalDoc>();
    return resource ?? undefined;
  }
}

function validId(id: unknown): id is string {
  return typeof id === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

function toApproval(doc: ApprovalDoc): Approval {
  const etag = doc._etag;
  const out = stripFields(doc as unknown as Record<string, unknown>, ["expiresAtMs"]) as unknown as Approval;
  if (etag) out.etag = etag;
  return out;
}
