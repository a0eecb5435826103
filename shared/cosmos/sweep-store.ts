/**
 * Sweep store in Cosmos DB (container `sweeps`, partition key `/pk`): the lease document
 * (`pk` = `sweep-lease`, replaced with If-Match so that exactly one holder wins), and the posture
 * documents (`pk` = `posture`): one `posture-run` per run, its non-compliant IDs in `posture-part`
 * documents. Posture documents carry the audit retention as their `ttl` (0 keeps them).
 */
import type { Container, SqlParameter } from "@azure/cosmos";
import {
  assembleRuns,
  type LeaseAttempt,
  normalizePostureQuery,
  type PosturePage,
  type PosturePart,
  type PostureQuery,
  type PostureRun,
  pageToken,
  postureSortKey,
  type SweepCursor,
  SweepLeaseLostError,
  type SweepStore,
} from "../ports/sweep-store.js";
import { isConflict, isNotFound, isPreconditionFailed, stripFields } from "./errors.js";

const LEASE_ID = "sweep-lease";
const POSTURE_PK = "posture";

interface LeaseDoc {
  id: string;
  pk: string;
  holder: string;
  untilMs: number;
  cursor?: SweepCursor;
  _etag?: string;
}

export class CosmosSweepStore implements SweepStore {
  constructor(
    private readonly container: Container,
    private readonly opts: { retentionDays: number } = { retentionDays: 0 },
  ) {}

  private ttl(): { ttl?: number } {
    return this.opts.retentionDays > 0 ? { ttl: this.opts.retentionDays * 24 * 3600 } : {};
  }

  async acquireLease(holder: string, now: Date, leaseMs: number): Promise<LeaseAttempt> {
    const item = this.container.item(LEASE_ID, LEASE_ID);
    const { resource: current } = await item.read<LeaseDoc>().catch((err: unknown) => {
      if (isNotFound(err)) return { resource: undefined };
      throw err;
    });
    if (current && current.untilMs > now.getTime() && current.holder !== holder)
      return { acquired: false, holder: current.holder, untilMs: current.untilMs };
    const doc: LeaseDoc = {
      id: LEASE_ID,
      pk: LEASE_ID,
      holder,
      untilMs: now.getTime() + leaseMs,
      ...(current?.cursor ? { cursor: current.cursor } : {}),
    };
    let etag: string;
    try {
      const res = current
        ? await item.replace(doc, { accessCondition: { type: "IfMatch", condition: current._etag ?? "" } })
        : await this.container.items.create(doc, { disableAutomaticIdGeneration: true });
      etag = res.etag;
    } catch (err) {
      if (isPreconditionFailed(err) || isConflict(err)) {
        const { resource } = await item.read<LeaseDoc>();
        return {
          acquired: false,
          holder: resource?.holder ?? "another instance",
          untilMs: resource?.untilMs ?? 0,
        };
      }
      throw err;
    }
    let state: LeaseDoc = doc;
    // One write at a time per handle (a renewal and a cursor save must not race each other).
    let queue: Promise<unknown> = Promise.resolve();
    const write = (next: LeaseDoc): Promise<void> => {
      const run = queue.then(async () => {
        try {
          const res = await item.replace(next, { accessCondition: { type: "IfMatch", condition: etag } });
          etag = res.etag;
          state = next;
        } catch (err) {
          if (isPreconditionFailed(err) || isNotFound(err)) throw new SweepLeaseLostError(holder);
          throw err;
        }
      });
      queue = run.catch(() => undefined);
      return run;
    };
    const base = () => {
      const { cursor: _c, ...rest } = state;
      return rest;
    };
    return {
      acquired: true,
      lease: {
        holder,
        cursor: current?.cursor,
        renew: (at) => write({ ...state, untilMs: at.getTime() + leaseMs }),
        saveCursor: (cursor, at) =>
          write({ ...base(), untilMs: at.getTime() + leaseMs, ...(cursor ? { cursor } : {}) }),
        release: (keep) => write({ ...base(), untilMs: 0, ...(keep ? { cursor: keep } : {}) }),
      },
    };
  }

  async savePart(part: PosturePart): Promise<void> {
    await this.container.items.upsert({
      ...part,
      id: `${part.runId}.${part.seq}`,
      pk: POSTURE_PK,
      docType: "posture-part",
      ...this.ttl(),
    });
  }

  async saveRun(run: PostureRun): Promise<void> {
    await this.container.items.upsert({
      ...run,
      policies: run.policies.map(({ nonCompliantResourceIds: _, ...p }) => p),
      id: run.runId,
      pk: POSTURE_PK,
      docType: "posture-run",
      sk: postureSortKey(run),
      policyNames: run.policies.map((p) => p.policy),
      ...this.ttl(),
    });
  }

  async queryRuns(q: PostureQuery): Promise<PosturePage> {
    const nq = normalizePostureQuery(q);
    const where = [`c.pk = '${POSTURE_PK}'`, "c.docType = 'posture-run'"];
    const parameters: SqlParameter[] = [{ name: "@top", value: nq.limit + 1 }];
    const add = (clause: string, name: string, value: string) => {
      where.push(clause);
      parameters.push({ name, value });
    };
    if (nq.from !== undefined) add("c.sk >= @from", "@from", nq.from);
    if (nq.to !== undefined) add("c.sk < @to", "@to", nq.to);
    if (nq.after !== undefined) add("c.sk < @after", "@after", nq.after);
    if (nq.policy !== undefined) add("ARRAY_CONTAINS(c.policyNames, @policy)", "@policy", nq.policy);
    const { resources } = await this.container.items
      .query<Record<string, unknown>>(
        { query: `SELECT TOP @top * FROM c WHERE ${where.join(" AND ")} ORDER BY c.sk DESC`, parameters },
        { partitionKey: POSTURE_PK, maxItemCount: nq.limit + 1 },
      )
      .fetchAll();
    const runs = resources
      .slice(0, nq.limit)
      .map((d) => stripFields(d, ["id", "docType", "sk", "policyNames"]) as unknown as PostureRun);
    const parts: PosturePart[] = [];
    if (runs.length > 0) {
      const names = runs.map((_, i) => `@r${i}`);
      const partQuery = {
        query: `SELECT * FROM c WHERE c.pk = '${POSTURE_PK}' AND c.docType = 'posture-part' AND c.runId IN (${names.join(", ")})`,
        parameters: runs.map((r, i) => ({ name: names[i]!, value: r.runId })),
      };
      for await (const page of this.container.items
        .query<Record<string, unknown>>(partQuery, { partitionKey: POSTURE_PK, maxItemCount: 100 })
        .getAsyncIterator()) {
        for (const d of page.resources)
          parts.push(stripFields(d, ["id", "docType"]) as unknown as PosturePart);
      }
    }
    return {
      items: assembleRuns(runs, parts, nq),
      continuationToken: pageToken(runs, resources.length > nq.limit),
    };
  }
}
