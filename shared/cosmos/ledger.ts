/**
 * Dedupe ledger in Cosmos DB (container `ledger`, one document per cause, `id` = `pk` = SHA-256 of
 * the dedupe key). Leases are decided by comparing `leaseUntil` with the caller's clock — never by
 * TTL (the local server never expires anything; in Azure TTL only cleans up after the dedupe window).
 */
import { randomUUID } from "node:crypto";
import type { Container } from "@azure/cosmos";
import { sha256Hex } from "../audit/chain.js";
import { validateLedgerKey } from "../audit/memory-store.js";
import { InputError } from "../errors.js";
import type { Claim, SignalLedger } from "../ports.js";
import { LEDGER_TTL_SECONDS } from "./client.js";
import { backoff, ContentionError, isConflict, isNotFound, isPreconditionFailed } from "./errors.js";

interface LeaseDoc {
  id: string;
  pk: string;
  state: "processing" | "done";
  leaseUntil: string;
  token: string;
  updatedAt: string;
  ttl: number;
  _etag?: string;
}

export class CosmosSignalLedger implements SignalLedger {
  constructor(
    private readonly container: Container,
    private readonly opts: { ttlSeconds?: number } = {},
  ) {}

  private docId(key: string): string {
    return sha256Hex(key);
  }

  async claim(key: string, opts: { leaseMs: number; now: Date }): Promise<Claim> {
    validateLedgerKey(key);
    if (typeof opts.leaseMs !== "number" || !Number.isFinite(opts.leaseMs) || opts.leaseMs <= 0) {
      throw new InputError("InvalidLease", "leaseMs must be a positive number", "leaseMs");
    }
    const id = this.docId(key);
    const fresh = (): LeaseDoc => ({
      id,
      pk: id,
      state: "processing",
      leaseUntil: new Date(opts.now.getTime() + opts.leaseMs).toISOString(),
      token: randomUUID(),
      updatedAt: opts.now.toISOString(),
      ttl: this.opts.ttlSeconds ?? LEDGER_TTL_SECONDS,
    });
    for (let attempt = 0; attempt < 10; attempt++) {
      const doc = fresh();
      try {
        await this.container.items.create(doc, { disableAutomaticIdGeneration: true });
        return { status: "claimed", token: doc.token };
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      const current = await this.read(id);
      if (!current) continue; // released in between: try to create again
      if (current.state === "done") return { status: "done" };
      if (Date.parse(current.leaseUntil) > opts.now.getTime())
        return { status: "busy", leaseUntil: current.leaseUntil };
      // Expired lease: take it over, unless someone else does first.
      try {
        await this.container
          .item(id, id)
          .replace(doc, { accessCondition: { type: "IfMatch", condition: current._etag ?? "" } });
        return { status: "claimed", token: doc.token };
      } catch (err) {
        if (isNotFound(err)) continue;
        if (!isPreconditionFailed(err)) throw err;
        const winner = await this.read(id);
        if (!winner) continue;
        if (winner.state === "done") return { status: "done" };
        return { status: "busy", leaseUntil: winner.leaseUntil };
      }
    }
    throw new ContentionError("ledger claim kept racing with releases; retry later");
  }

  async complete(key: string, token: string): Promise<void> {
    const id = this.docId(key);
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.read(id);
      // Only the lease holder completes; a lost lease (expired, re-claimed) is left to its new holder.
      if (current?.state !== "processing" || current.token !== token) return;
      const done: LeaseDoc = {
        ...stripDoc(current),
        state: "done",
        updatedAt: new Date().toISOString(),
        ttl: this.opts.ttlSeconds ?? LEDGER_TTL_SECONDS,
      };
      try {
        await this.container
          .item(id, id)
          .replace(done, { accessCondition: { type: "IfMatch", condition: current._etag ?? "" } });
        return;
      } catch (err) {
        if (!isPreconditionFailed(err) && !isNotFound(err)) throw err;
        await backoff(attempt);
      }
    }
    throw new ContentionError("ledger complete kept racing; retry later");
  }

  async release(key: string, token: string): Promise<void> {
    const id = this.docId(key);
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.read(id);
      if (current?.state !== "processing" || current.token !== token) return;
      try {
        await this.container
          .item(id, id)
          .delete({ accessCondition: { type: "IfMatch", condition: current._etag ?? "" } });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isPreconditionFailed(err)) throw err;
        await backoff(attempt);
      }
    }
    throw new ContentionError("ledger release kept racing; retry later");
  }

  private async read(id: string): Promise<LeaseDoc | undefined> {
    const { resource } = await this.container.item(id, id).read<LeaseDoc>();
    return resource ?? undefined;
  }
}

function stripDoc(doc: LeaseDoc): LeaseDoc {
  const { id, pk, state, leaseUntil, token, updatedAt, ttl } = doc;
  return { id, pk, state, leaseUntil, token, updatedAt, ttl };
}
