/**
 * In-memory implementations of the audit store and the ports (action budget, approvals; the gate is in shared/fakes/).
 * Used by unit tests and the test harness; they follow exactly the semantics of the Cosmos DB
 * adapters in `shared/cosmos/` (same query order and paging, same lease and expiry rules — all
 * based on comparing timestamps, never on TTL).
 */

import {
  type ChainHead,
  checkChainHead,
  computeRecordHash,
  GENESIS_HASH,
  recordId,
  resourceKey,
  verifyChain,
} from "../audit/chain.js";
import { encodeContinuation, matchesQuery, normalizeQuery, sortKey } from "../audit/paging.js";
import { sanitizeRecordInput } from "../audit/record.js";
import type {
  AuditPage,
  AuditQuery,
  AuditRecord,
  AuditRecordInput,
  AuditStore,
  ChainBreak,
  VerifyReport,
} from "../audit/types.js";
import { validateRecordInput } from "../audit/validate.js";
import { InputError } from "../errors.js";
import type {
  ActionBudget,
  Approval,
  ApprovalRefusal,
  ApprovalState,
  ApprovalStore,
  ApprovedRun,
} from "../ports/approval-store.js";

/** Serialises async work per key (one chain = one key). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.tails.set(key, settled);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    }
  }
}

interface Entry {
  record: AuditRecord;
  key: string;
}

export class InMemoryAuditStore implements AuditStore {
  private readonly chains = new Map<string, AuditRecord[]>();
  /** Chain heads, kept apart from the records like the Cosmos store's head documents: a witness of
   *  each chain's end, so that a deleted tail is detected. */
  private readonly heads = new Map<string, ChainHead>();
  /** Newest first by sort key. */
  private readonly sorted: Entry[] = [];
  private readonly mutex = new KeyedMutex();

  async append(input: AuditRecordInput): Promise<AuditRecord> {
    validateRecordInput(input);
    const clean = sanitizeRecordInput(structuredClone(input));
    const chainKey = resourceKey(clean.resourceId);
    return this.mutex.run(chainKey, async () => {
      const chain = this.chains.get(chainKey) ?? [];
      const head = this.heads.get(chainKey);
      const seq = (head?.seq ?? 0) + 1;
      const base = {
        ...clean,
        id: recordId(clean.resourceId, seq),
        seq,
        prevHash: head?.hash ?? GENESIS_HASH,
      };
      const record: AuditRecord = { ...base, hash: computeRecordHash(base) };
      const stored = structuredClone(record);
      chain.push(stored);
      this.chains.set(chainKey, chain);
      this.heads.set(chainKey, {
        resourceId: stored.resourceId,
        seq,
        hash: stored.hash,
        recordId: stored.id,
      });
      const key = sortKey(stored);
      // Binary insertion keeps `sorted` newest first.
      let lo = 0;
      let hi = this.sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.sorted[mid]!.key > key) lo = mid + 1;
        else hi = mid;
      }
      this.sorted.splice(lo, 0, { record: stored, key });
      return structuredClone(record);
    });
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    const nq = normalizeQuery(q);
    const items: AuditRecord[] = [];
    let lastKey: string | undefined;
    let more = false;
    for (const e of this.sorted) {
      if (!matchesQuery(e.record, e.key, nq)) continue;
      if (items.length === nq.limit) {
        more = true;
        break;
      }
      items.push(structuredClone(e.record));
      lastKey = e.key;
    }
    return { items, continuationToken: more && lastKey ? encodeContinuation(lastKey) : null };
  }

  async verify(opts: { resourceId?: string } = {}): Promise<VerifyReport> {
    const keys = opts.resourceId
      ? [resourceKey(opts.resourceId)]
      : [...new Set([...this.chains.keys(), ...this.heads.keys()])];
    const breaks: ChainBreak[] = [];
    let chains = 0;
    let records = 0;
    for (const k of keys) {
      const chain = this.chains.get(k) ?? [];
      if (chain.length > 0) chains++;
      records += chain.length;
      const sorted = [...chain].sort((a, b) => a.seq - b.seq);
      const br = verifyChain(sorted) ?? checkChainHead(sorted, this.heads.get(k));
      if (br) breaks.push(br);
    }
    breaks.sort((a, b) =>
      a.resourceId.toLowerCase() < b.resourceId.toLowerCase()
        ? -1
        : a.resourceId.toLowerCase() > b.resourceId.toLowerCase()
          ? 1
          : 0,
    );
    return { chains, records, breaks };
  }

  /** The stored records of one resource's chain, by reference — for tests that tamper with storage
   *  behind the store's back (the equivalent of editing a Cosmos document directly). */
  unsafeStoredChain(resourceId: string): AuditRecord[] {
    return this.chains.get(resourceKey(resourceId)) ?? [];
  }

  /** Deletes one stored record behind the store's back (tests: the equivalent of deleting a Cosmos document). */
  unsafeRemove(resourceId: string, seq: number): boolean {
    const chain = this.chains.get(resourceKey(resourceId)) ?? [];
    const i = chain.findIndex((r) => r.seq === seq);
    if (i < 0) return false;
    const [removed] = chain.splice(i, 1);
    const j = this.sorted.findIndex((e) => e.record === removed);
    if (j >= 0) this.sorted.splice(j, 1);
    return true;
  }
}

/* ------------------------------------------------------------------------------------------ */

/** A cause key (dedupe key + resource) as the gates accept it. */
export function validateCauseKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > 2048) {
    throw new InputError(
      "InvalidDedupeKey",
      "dedupe key must be a non-empty string of at most 2048 characters",
      "dedupeKey",
    );
  }
}

export function validateLease(leaseMs: unknown): void {
  if (typeof leaseMs !== "number" || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new InputError("InvalidLease", "leaseMs must be a positive number", "leaseMs");
  }
}

/* ------------------------------------------------------------------------------------------ */

/** `2025-01-31T12` — the clock hour (UTC) a budget counter covers. */
export function hourBucket(now: Date): string {
  return now.toISOString().slice(0, 13);
}

export class InMemoryActionBudget implements ActionBudget {
  private readonly counters = new Map<string, number>();

  async tryConsume(policy: string, max: number, now: Date): Promise<boolean> {
    validateBudgetArgs(policy, max);
    const k = `${policy}|${hourBucket(now)}`;
    const count = this.counters.get(k) ?? 0;
    if (count >= max) return false;
    this.counters.set(k, count + 1);
    return true;
  }
}

export function validateBudgetArgs(policy: unknown, max: unknown): void {
  if (typeof policy !== "string" || policy.length === 0 || policy.length > 256) {
    throw new InputError("InvalidPolicy", "policy name must be a non-empty string", "policy");
  }
  if (typeof max !== "number" || !Number.isInteger(max) || max < 0) {
    throw new InputError("InvalidLimit", "max must be a non-negative integer", "maxActionsPerHour");
  }
}

/* ------------------------------------------------------------------------------------------ */

/** The stored form of an approval's signal: raw caller object IDs are dropped (app IDs are not personal). */
export function storableApproval(a: Approval): Approval {
  const { etag: _etag, ...rest } = a;
  const copy = structuredClone(rest) as Approval;
  if (copy.signal.caller) {
    if (copy.signal.caller.appId) copy.signal.caller = { appId: copy.signal.caller.appId };
    else delete copy.signal.caller;
  }
  return copy;
}

export function validateApproval(a: Approval): void {
  if (!a || typeof a !== "object")
    throw new InputError("InvalidApproval", "approval must be an object", "approval");
  if (typeof a.id !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(a.id)) {
    throw new InputError("InvalidApproval", "approval id must be 1-128 characters of [A-Za-z0-9_-]", "id");
  }
  if (a.state !== "pending")
    throw new InputError("InvalidApproval", "a new approval must be pending", "state");
  for (const f of ["createdAt", "expiresAt"] as const) {
    if (typeof a[f] !== "string" || Number.isNaN(Date.parse(a[f])))
      throw new InputError("InvalidApproval", `${f} must be an ISO 8601 date-time`, f);
  }
}

export class ApprovalExistsError extends Error {
  override readonly name = "ApprovalExistsError";
  constructor(readonly id: string) {
    super(`approval ${id} already exists`);
  }
}

/** Decision rule shared by the stores: only from `pending`, and never after `expiresAt` (then it
 *  expires). An approval starts its run as `due`, so a crash before the run still leaves it to the timer. */
export function decideTransition(
  current: Approval,
  state: Exclude<ApprovalState, "pending">,
  by: string | undefined,
  now: Date,
  via?: Approval["decidedVia"],
): { next: Approval; granted: boolean } | undefined {
  if (current.state !== "pending") return undefined;
  const expired = Date.parse(current.expiresAt) <= now.getTime();
  if (expired && state !== "expired") {
    const next: Approval = { ...current, state: "expired", decidedAt: now.toISOString() };
    delete next.decidedBy;
    return { next, granted: false };
  }
  const next: Approval = { ...current, state, decidedAt: now.toISOString() };
  if (by !== undefined) next.decidedBy = by;
  else delete next.decidedBy;
  if (via !== undefined) next.decidedVia = via;
  if (state === "approved")
    next.run = { state: "due", attempts: 0, nextAttemptAt: now.toISOString(), updatedAt: now.toISOString() };
  return { next, granted: true };
}

/** Run updates apply to approved approvals only. */
export function runTransition(current: Approval, run: ApprovedRun): Approval | undefined {
  if (current.state !== "approved") return undefined;
  return { ...current, run };
}

/** Most recent refusals kept on an approval. */
export const MAX_REFUSALS = 20;

export function refusalTransition(current: Approval, refusal: ApprovalRefusal): Approval | undefined {
  if (current.state !== "pending") return undefined;
  return { ...current, refusals: [...(current.refusals ?? []), refusal].slice(-MAX_REFUSALS) };
}

/** Due runs, oldest due first. */
export function isDueRun(a: Approval, now: Date): boolean {
  return (
    a.state === "approved" &&
    a.run?.state === "due" &&
    Date.parse(a.run.nextAttemptAt ?? a.decidedAt ?? a.createdAt) <= now.getTime()
  );
}

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
    return e ? { ...structuredClone(e.approval), etag: e.etag } : undefined;
  }

  async decide(
    id: string,
    state: Exclude<ApprovalState, "pending">,
    by: string | undefined,
    now: Date,
    via?: Approval["decidedVia"],
  ): Promise<Approval | undefined> {
    const e = this.items.get(id);
    if (!e) return undefined;
    const t = decideTransition(e.approval, state, by, now, via);
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
      .sort((a, b) => (a.approval.run!.nextAttemptAt! < b.approval.run!.nextAttemptAt! ? -1 : 1))
      .map((e) => ({ ...structuredClone(e.approval), etag: e.etag }));
  }

  async listExpired(now: Date): Promise<Approval[]> {
    return [...this.items.values()]
      .filter((e) => e.approval.state === "pending" && Date.parse(e.approval.expiresAt) <= now.getTime())
      .sort((a, b) =>
        a.approval.expiresAt < b.approval.expiresAt
          ? -1
          : a.approval.expiresAt > b.approval.expiresAt
            ? 1
            : a.approval.id < b.approval.id
              ? -1
              : 1,
      )
      .map((e) => ({ ...structuredClone(e.approval), etag: e.etag }));
  }
}
