/**
 * Cosmos DB client factory and container set-up. Production authenticates with Entra ID
 * (Managed Identity, `credential`); the account key is accepted only for the local stack.
 * See docs/audit.md for the partitioning, indexing and TTL reasoning.
 */
import https from "node:https";
import type { TokenCredential } from "@azure/core-auth";
import { type Container, CosmosClient, type Database, type IndexingPolicy } from "@azure/cosmos";
import type { DriftguardConfig } from "../config.js";
import { ConfigError } from "../errors.js";

export interface CosmosConnection {
  endpoint: string;
  /** Production: Managed Identity (`DefaultAzureCredential` / `ManagedIdentityCredential`). */
  credential?: TokenCredential;
  /** Account key — local stack only. */
  key?: string;
  /** Extra CA (PEM) to trust, for the local stack's self-signed certificate. */
  ca?: string;
  /** Request timeout (ms); default 10 s. */
  requestTimeoutMs?: number;
}

/**
 * The client for the configured account: its key only on the local stack (COSMOS_KEY), else the
 * app's Managed Identity (`credential`).
 */
export function configuredCosmosClient(
  config: Pick<DriftguardConfig, "cosmos">,
  credential: TokenCredential,
  ca?: string,
  requestTimeoutMs?: number,
): CosmosClient {
  return createCosmosClient({
    endpoint: config.cosmos.endpoint,
    ...(config.cosmos.key ? { key: config.cosmos.key } : { credential }),
    ca,
    requestTimeoutMs,
  });
}

export function createCosmosClient(conn: CosmosConnection): CosmosClient {
  let url: URL;
  try {
    url = new URL(conn.endpoint);
  } catch {
    throw new ConfigError("COSMOS_ENDPOINT", "is not a URL");
  }
  if (url.protocol !== "https:") throw new ConfigError("COSMOS_ENDPOINT", "must be an https:// URL");
  if (!conn.credential && !conn.key)
    throw new ConfigError("COSMOS_ENDPOINT", "needs a credential (Managed Identity) or, locally, a key");
  // One keep-alive agent per client; `ca` adds trust in the local CA (TLS verification stays on).
  const agent = new https.Agent({ keepAlive: true, ...(conn.ca ? { ca: conn.ca } : {}) });
  const local = !conn.credential;
  return new CosmosClient({
    endpoint: url.origin,
    ...(conn.credential ? { aadCredentials: conn.credential } : { key: conn.key }),
    agent,
    connectionPolicy: {
      requestTimeout: conn.requestTimeoutMs ?? 10_000,
      // The local server reports only itself; in Azure, discovery follows the account's regions.
      enableEndpointDiscovery: !local,
    },
    userAgentSuffix: "driftguard",
  });
}

export const CONTAINERS = {
  audit: "audit",
  approvals: "approvals",
  counters: "counters",
  sweeps: "sweeps",
} as const;

/** Hourly counters are useless after the hour; keep two days for inspection. */
export const COUNTER_TTL_SECONDS = 2 * 24 * 3600;
/** Decided approvals are kept 90 days (their outcome is in the audit trail for good). */
export const APPROVAL_DECIDED_TTL_SECONDS = 90 * 24 * 3600;

/** Audit: only the fields queries filter or sort on are indexed (writes cost fewer RU). */
export const AUDIT_INDEXING_POLICY: IndexingPolicy = {
  indexingMode: "consistent",
  automatic: true,
  includedPaths: [
    { path: "/docType/?" },
    { path: "/rid/?" },
    { path: "/sub/?" },
    { path: "/kind/?" },
    { path: "/outcome/?" },
    { path: "/policy/?" },
    { path: "/actor/?" },
    { path: "/signal/source/?" },
    { path: "/sk/?" },
    { path: "/seq/?" },
    // The resumeWork timer's query: heads with an intent whose lease expired.
    { path: "/intent/id/?" },
    { path: "/lease/untilMs/?" },
  ],
  excludedPaths: [{ path: "/*" }, { path: '/"_etag"/?' }],
};

/** Counters are only ever point-read by ID: index nothing. */
const POINT_READ_ONLY: IndexingPolicy = {
  indexingMode: "consistent",
  automatic: true,
  includedPaths: [],
  excludedPaths: [{ path: "/*" }],
};

/** Approvals: the timers' fields (`recordDue`: a closing step whose record may be missing), `openFor` (the open approval of a resource and kind), and what
 *  `doctor` filters and orders unposted cards by (Cosmos DB refuses a filter or ORDER BY on a path
 *  excluded from the index). */
export const APPROVALS_INDEXING_POLICY: IndexingPolicy = {
  indexingMode: "consistent",
  automatic: true,
  includedPaths: [
    { path: "/state/?" },
    { path: "/expiresAtMs/?" },
    { path: "/runDueAtMs/?" },
    { path: "/openFor/?" },
    { path: "/createdAt/?" },
    { path: "/cardPostFailed/*" },
    { path: "/recordDue/?" },
  ],
  excludedPaths: [{ path: "/*" }, { path: '/"_etag"/?' }],
};

/** Sweeps: the lease is point-read; posture runs are queried by sort key and policy, parts by run. */
export const SWEEPS_INDEXING_POLICY: IndexingPolicy = {
  indexingMode: "consistent",
  automatic: true,
  includedPaths: [
    { path: "/docType/?" },
    { path: "/sk/?" },
    { path: "/runId/?" },
    { path: "/policyNames/[]/?" },
  ],
  excludedPaths: [{ path: "/*" }, { path: '/"_etag"/?' }],
};

export interface DriftguardContainers {
  database: Database;
  audit: Container;
  approvals: Container;
  counters: Container;
  sweeps: Container;
}

/**
 * Creates the database and containers when missing (createIfNotExists: idempotent; a concurrent
 * creator's 409 is absorbed by the SDK / retried here). Existing containers are left as they are.
 */
export async function ensureContainers(
  client: CosmosClient,
  databaseName: string,
): Promise<DriftguardContainers> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/.test(databaseName))
    throw new ConfigError("COSMOS_DATABASE", "must be 1-255 letters, digits, '-' or '_'");
  const { database } = await retrying(
    () => client.databases.createIfNotExists({ id: databaseName }),
    `database '${databaseName}'`,
  );
  const make = (id: string, defaultTtl: number, indexingPolicy: IndexingPolicy) =>
    retrying(
      () =>
        database.containers.createIfNotExists({
          id,
          partitionKey: { paths: ["/pk"] },
          defaultTtl,
          indexingPolicy,
        }),
      `container '${databaseName}/${id}'`,
    ).then((r) => r.container);
  const [audit, approvals, counters, sweeps] = await Promise.all([
    // defaultTtl -1 = TTL on, but an item expires only when it carries its own `ttl`: audit records
    // carry the retention, chain heads never expire (see CosmosAuditStore).
    make(CONTAINERS.audit, -1, AUDIT_INDEXING_POLICY),
    make(CONTAINERS.approvals, -1, APPROVALS_INDEXING_POLICY),
    make(CONTAINERS.counters, COUNTER_TTL_SECONDS, POINT_READ_ONLY),
    // Posture documents carry the audit retention as their own `ttl`; the lease never expires.
    make(CONTAINERS.sweeps, -1, SWEEPS_INDEXING_POLICY),
  ]);
  return { database, audit, approvals, counters, sweeps };
}

/** createIfNotExists is read-then-create: two processes starting together can race into a 409.
 *  With Entra ID (data-plane RBAC) an identity cannot create databases or containers: a 403 means
 *  they must be provisioned by the infrastructure templates. */
async function retrying<T>(fn: () => Promise<T>, what: string): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 401 || code === 403) {
        throw new ConfigError(
          "COSMOS_DATABASE",
          `${what} is missing or not readable by this identity (HTTP ${code}); with Managed Identity, data-plane RBAC cannot create it: provision it with infra/ and grant the Cosmos DB Built-in Data Contributor role`,
        );
      }
      if (code !== 409 || attempt >= 4) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 50));
    }
  }
}
