/** In-memory sweep store for tests (same rules as shared/cosmos/sweep-store.ts). */
import {
  assembleRuns,
  type LeaseAttempt,
  normalizePostureQuery,
  type PosturePage,
  type PosturePart,
  type PostureQuery,
  type PostureRun,
  pageToken,
  postureMatches,
  postureSortKey,
  type SweepCursor,
  SweepLeaseLostError,
  type SweepStore,
} from "../ports/sweep-store.js";

interface LeaseState {
  holder: string;
  untilMs: number;
  cursor?: SweepCursor;
  version: number;
}

export class InMemorySweepStore implements SweepStore {
  private lease: LeaseState | undefined;
  private readonly runs = new Map<string, PostureRun>();
  private readonly parts = new Map<string, PosturePart>();

  async acquireLease(holder: string, now: Date, leaseMs: number): Promise<LeaseAttempt> {
    const current = this.lease;
    if (current && current.untilMs > now.getTime() && current.holder !== holder)
      return { acquired: false, holder: current.holder, untilMs: current.untilMs };
    const state: LeaseState = {
      holder,
      untilMs: now.getTime() + leaseMs,
      ...(current?.cursor ? { cursor: current.cursor } : {}),
      version: (current?.version ?? 0) + 1,
    };
    this.lease = state;
    const mine = () => {
      if (this.lease?.version !== state.version || this.lease.holder !== holder)
        throw new SweepLeaseLostError(holder);
    };
    return {
      acquired: true,
      lease: {
        holder,
        cursor: state.cursor ? structuredClone(state.cursor) : undefined,
        renew: async (at) => {
          mine();
          state.untilMs = at.getTime() + leaseMs;
        },
        saveCursor: async (cursor, at) => {
          mine();
          state.untilMs = at.getTime() + leaseMs;
          if (cursor) state.cursor = structuredClone(cursor);
          else delete state.cursor;
        },
        release: async (keep) => {
          mine();
          state.untilMs = 0;
          if (keep) state.cursor = structuredClone(keep);
          else delete state.cursor;
        },
      },
    };
  }

  async savePart(part: PosturePart): Promise<void> {
    this.parts.set(`${part.runId}.${part.seq}`, structuredClone(part));
  }

  async saveRun(run: PostureRun): Promise<void> {
    const { policies, ...rest } = run;
    this.runs.set(
      run.runId,
      structuredClone({ ...rest, policies: policies.map(({ nonCompliantResourceIds: _, ...p }) => p) }),
    );
  }

  async queryRuns(q: PostureQuery): Promise<PosturePage> {
    const nq = normalizePostureQuery(q);
    const matching = [...this.runs.values()]
      .map((r) => ({ r, key: postureSortKey(r) }))
      .filter(({ r, key }) =>
        postureMatches(
          key,
          r.policies.map((p) => p.policy),
          nq,
        ),
      )
      .sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
    const items = matching.slice(0, nq.limit).map(({ r }) => structuredClone(r));
    const ids = new Set(items.map((r) => r.runId));
    const parts = [...this.parts.values()].filter((p) => ids.has(p.runId));
    return {
      items: assembleRuns(items, parts, nq),
      continuationToken: pageToken(items, matching.length > nq.limit),
    };
  }
}
