/**
 * Azure control-plane simulator: one HTTPS origin for ARM (+ API Management, + the `/_sim` admin API)
 * and one HTTPS origin per Key Vault. The real `@azure/arm-*` and `@azure/keyvault-secrets` clients run
 * against it unchanged. See README.md next to this file.
 */
import { appendFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { withFullApimScope } from "./apim.js";
import { ArmHandler } from "./arm.js";
import { ArmEventSource } from "./arm-events.js";
import {
  type ArmResource,
  armError,
  type Fault,
  FaultTable,
  faultBody,
  isPlainObject,
  type LoggedRequest,
  type Origin,
  type ParsedRequest,
  parseJsonBody,
  parseUrl,
  RequestLog,
  readBody,
  redactBody,
  redactHeaders,
  sendJson,
  sleep,
} from "./common.js";
import type { EventForwarderOptions } from "./events.js";
import { PermissionTable, permissionSetSchema } from "./permissions.js";
import { GRAPH_PATH, ResourceGraphHandler } from "./resource-graph.js";
import type { Seed, SeedSecret } from "./seed.js";
import { SeedError, validateSeed } from "./seed.js";
import { lower, nameOfId, ResourceStore, typeOfId } from "./store.js";
import { type SecretState, VaultState } from "./vault.js";

export type { ArmResource, Fault, LoggedRequest } from "./common.js";
export type { Seed, SeedSecret } from "./seed.js";
export { loadSeedFile, SeedError, validateSeed } from "./seed.js";
export type { SecretState } from "./vault.js";

export interface SimulatorOptions {
  /** 0 = any free port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  tls: { cert: string; key: string };
  seed?: Seed;
  /** vault name → port (default: a free port each) */
  vaultPorts?: Record<string, number>;
  /** "async" (default): writes that are LROs in ARM answer with Azure-AsyncOperation; "sync": 200 at once */
  lro?: "sync" | "async";
  /**
   * Also append every logged request, once answered, as one JSON line to this file (default: the
   * AZURE_SIM_RECORD_FILE environment variable). It outlives `clearRequests()` and the simulator, so a
   * whole test run's requests can be read afterwards (test/infra-role.test.ts).
   */
  recordFile?: string;
  /** Send the events Azure would for each successful write to this local Event Grid (dev/event-grid/). */
  events?: EventForwarderOptions;
}

export interface AzureSimulator {
  /** https://127.0.0.1:PORT — ARM + API Management */
  url: string;
  /** vault name → https://127.0.0.1:PORT (one origin per vault) */
  vaults: Record<string, string>;
  addFault(f: Fault): string;
  clearFaults(): void;
  requests(filter?: { method?: string; pathIncludes?: string; origin?: string }): LoggedRequest[];
  clearRequests(): void;
  /** writes only: PUT/PATCH/POST/DELETE that reached a handler (not faulted, not 401 challenges) */
  writes(filter?: { pathIncludes?: string }): LoggedRequest[];
  /** case-insensitive ID */
  getResource(id: string): ArmResource | undefined;
  /** seed/overwrite directly (tests simulate "a person changed it") */
  putResource(r: ArmResource): void;
  /** remove a resource and everything under it (tests simulate "a person deleted it"); false if absent */
  deleteResource(id: string): boolean;
  getSecret(vault: string, name: string, version?: string): SecretState | undefined;
  listSecretVersions(vault: string, name: string): SecretState[];
  getStorageKeys(accountId: string): { keyName: string; value: string }[];
  close(): Promise<void>;
}

export const faultSchema = z.object({
  method: z.string().optional(),
  path: z.string().min(1),
  status: z.number().int().min(0).max(599),
  retryAfter: z.number().min(0).optional(),
  delayMs: z.number().min(0).optional(),
  count: z.number().int().min(-1).optional(),
  skip: z.number().int().min(0).optional(),
  body: z.unknown().optional(),
  origin: z.string().optional(),
});

const VAULT_CHALLENGE =
  'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"';

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function vaultNameFromResource(r: ArmResource): string | undefined {
  return lower(typeOfId(r.id)) === "microsoft.keyvault/vaults" ? nameOfId(r.id) : undefined;
}

export async function startAzureSimulator(opts: SimulatorOptions): Promise<AzureSimulator> {
  const host = opts.host ?? "127.0.0.1";
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const seed = opts.seed ? validateSeed(opts.seed) : {};
  const store = new ResourceStore();
  const log = new RequestLog();
  const faults = new FaultTable();
  const recordFile = opts.recordFile ?? process.env.AZURE_SIM_RECORD_FILE;
  let armUrl = "";
  const permissions = new PermissionTable();
  const events = opts.events ? new ArmEventSource(opts.events, store) : undefined;
  const arm = new ArmHandler(store, {
    baseUrl: () => armUrl,
    lro: opts.lro ?? "async",
    permissions,
    onOperationSucceeded: (id) => events?.operationSucceeded(id),
  });
  const graph = new ResourceGraphHandler(store);

  // A resource seeded twice would silently keep the last copy: refuse it, naming the ID.
  const seededIds = new Set<string>();
  for (const r of seed.resources ?? []) {
    if (seededIds.has(lower(r.id))) throw new Error(`seed: resource ${r.id} is listed twice`);
    seededIds.add(lower(r.id));
    store.put(withFullApimScope(structuredClone(r)));
  }
  for (const [id, keys] of Object.entries(seed.storageKeys ?? {})) {
    const now = new Date().toISOString();
    arm.keys.set(
      lower(id),
      keys.map((k) => ({ ...k, creationTime: now })),
    );
  }

  // Vaults: from seeded secrets and Microsoft.KeyVault/vaults resources (canonical spelling kept).
  const vaults = new Map<string, VaultState>();
  const addVault = (name: string) => {
    if (!vaults.has(lower(name))) vaults.set(lower(name), new VaultState(name));
  };
  for (const r of seed.resources ?? []) {
    const v = vaultNameFromResource(r);
    if (v) addVault(v);
  }
  for (const s of seed.secrets ?? []) addVault(s.vault);
  for (const name of Object.keys(opts.vaultPorts ?? {})) addVault(name);

  const servers: Server[] = [];

  async function handle(origin: Origin, req: IncomingMessage, res: ServerResponse) {
    const { path, rawPath, query } = parseUrl(req);
    const method = (req.method ?? "GET").toUpperCase();
    if (origin === "arm" && lower(path).startsWith("/_sim/")) return admin(method, path, query, req, res);

    const raw = await readBody(req);
    let body: unknown;
    let bodyOk = true;
    try {
      body = parseJsonBody(raw);
    } catch {
      bodyOk = false;
    }
    const entry = log.add({
      origin,
      method,
      path,
      query,
      apiVersion: query["api-version"],
      headers: redactHeaders(req.headers),
      body: bodyOk ? redactBody(body) : "<non-JSON body>",
    });
    res.on("finish", () => {
      entry.status = res.statusCode;
    });
    // "close" fires for aborted responses too: a request the client gave up on was still attempted.
    if (recordFile) res.on("close", () => appendFileSync(recordFile, `${JSON.stringify(entry)}\n`));

    const auth = req.headers.authorization;
    if (!auth || !/^Bearer\s+\S+/i.test(auth)) {
      if (origin === "arm") {
        return sendJson(
          res,
          401,
          armError("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
          {
            "www-authenticate":
              'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
          },
        );
      }
      return sendJson(
        res,
        401,
        armError("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."),
        {
          "www-authenticate": VAULT_CHALLENGE,
        },
      );
    }

    const fault = faults.take(origin, method, path);
    if (fault) {
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.status !== 0) {
        entry.faulted = true;
        if (res.destroyed) return;
        const fb = fault.body ?? faultBody(fault.status);
        if (isPlainObject(fb) && (fb.status === "Failed" || fb.status === "Canceled")) {
          arm.failOperation(path, fb.status);
        }
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
        return sendJson(res, fault.status, fb, headers);
      }
      if (res.destroyed) return;
    }

    if (!query["api-version"]) {
      return sendJson(
        res,
        400,
        armError(
          "MissingApiVersionParameter",
          "The api-version query parameter (?api-version=) is required for all requests.",
        ),
      );
    }
    if (!bodyOk) {
      return sendJson(
        res,
        400,
        armError(
          "InvalidRequestContent",
          "The request content was invalid and could not be deserialized as JSON.",
        ),
      );
    }
    entry.handled = true;
    const pr: ParsedRequest = { method, path, rawPath, query, rawBody: raw };
    if (origin === "arm" && lower(path.replace(/\/+$/, "")) === GRAPH_PATH)
      return graph.handle(req, method, body, res);
    if (origin === "arm") {
      events?.watch(req, res, pr);
      return arm.handle(req, pr, body, res);
    }
    const vault = vaults.get(lower(origin.slice("vault:".length)));
    if (!vault) return sendJson(res, 404, armError("NotFound", "Unknown vault."));
    return vault.handle(pr, body, res);
  }

  async function admin(
    method: string,
    path: string,
    query: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
  ) {
    const route = lower(path.replace(/\/+$/, ""));
    if (route === "/_sim/health" && method === "GET") {
      return sendJson(res, 200, { status: "ok", url: armUrl, vaults: sim.vaults });
    }
    if (route === "/_sim/requests" && method === "GET") {
      return sendJson(
        res,
        200,
        log.list({ method: query.method, pathIncludes: query.pathIncludes, origin: query.origin }),
      );
    }
    if (route === "/_sim/requests" && method === "DELETE") {
      log.clear();
      return sendJson(res, 204);
    }
    if (route === "/_sim/writes" && method === "GET") {
      return sendJson(res, 200, log.writes({ pathIncludes: query.pathIncludes }));
    }
    if (route === "/_sim/resources" && method === "GET") {
      const found = query.id ? store.get(query.id) : undefined;
      return found
        ? sendJson(res, 200, found)
        : sendJson(res, 404, {
            error: { code: "NotFound", message: "no resource with that id", path: "id" },
          });
    }
    if (route === "/_sim/resources" && method === "PUT") {
      let resource: ArmResource;
      try {
        const parsed = validateSeed({ resources: [parseJsonBody(await readBody(req))] }, "resource");
        resource = parsed.resources![0]!;
      } catch (err) {
        const path = err instanceof SeedError ? err.path.replace(/^resources\[0\]\.?/, "") : "";
        return sendJson(res, 400, {
          error: { code: "InvalidResource", message: (err as Error).message, path },
        });
      }
      sim.putResource(resource);
      return sendJson(res, 200, store.get(resource.id));
    }
    if (route === "/_sim/secret-versions" && method === "GET") {
      // Secret values never leave the simulator through the admin API.
      const versions = vaults.get(lower(query.vault ?? ""))?.versions(query.name ?? "") ?? [];
      return sendJson(
        res,
        200,
        versions.map(({ value: _value, ...rest }) => rest),
      );
    }
    if (route === "/_sim/permissions" && method === "GET") return sendJson(res, 200, permissions.list());
    if (route === "/_sim/permissions" && (method === "PUT" || method === "DELETE")) {
      if (method === "DELETE") {
        permissions.set([]);
        return sendJson(res, 204);
      }
      const parsed = z.array(permissionSetSchema).safeParse(parseJsonBody(await readBody(req)));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return sendJson(res, 400, {
          error: {
            code: "InvalidPermissions",
            message: issue?.message ?? "invalid",
            path: issue?.path.join(".") ?? "",
          },
        });
      }
      permissions.set(parsed.data);
      return sendJson(res, 200, permissions.list());
    }
    if (route === "/_sim/faults" && method === "GET") return sendJson(res, 200, faults.list());
    if (route === "/_sim/faults" && method === "DELETE") {
      faults.clear();
      return sendJson(res, 204);
    }
    if (route === "/_sim/faults" && method === "POST") {
      let parsed: unknown;
      try {
        parsed = parseJsonBody(await readBody(req));
      } catch {
        return sendJson(res, 400, { error: { code: "InvalidJson", message: "body is not JSON", path: "" } });
      }
      const r = faultSchema.safeParse(parsed);
      if (!r.success) {
        const i = r.error.issues[0];
        return sendJson(res, 400, {
          error: {
            code: "InvalidFault",
            message: i?.message ?? "invalid fault",
            path: (i?.path ?? []).join("."),
          },
        });
      }
      return sendJson(res, 201, { id: faults.add(r.data as Fault) });
    }
    return sendJson(res, 404, armError("NotFound", `No admin route ${method} ${path}.`));
  }

  function serve(origin: Origin): Server {
    const server = createServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => {
      handle(origin, req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          sendJson(res, 500, armError("InternalServerError", `Simulator error: ${(err as Error).message}`));
        }
      });
    });
    servers.push(server);
    return server;
  }

  const sim: AzureSimulator = {
    url: "",
    vaults: {},
    addFault: (f) => faults.add(f),
    clearFaults: () => faults.clear(),
    requests: (filter) => log.list(filter),
    clearRequests: () => log.clear(),
    writes: (filter) => log.writes(filter),
    getResource: (id) => store.get(id),
    putResource: (r) => {
      store.put(
        withFullApimScope(
          structuredClone({ ...r, type: r.type || typeOfId(r.id), name: r.name || nameOfId(r.id) }),
        ),
      );
    },
    deleteResource: (id) => store.delete(id),
    getSecret: (vault, name, version) => {
      const s = vaults.get(lower(vault))?.get(name, version);
      return s ? structuredClone(s) : undefined;
    },
    listSecretVersions: (vault, name) => structuredClone(vaults.get(lower(vault))?.versions(name) ?? []),
    getStorageKeys: (accountId) => {
      const keys = arm.keys.get(lower(accountId));
      return keys ? keys.map((k) => ({ keyName: k.keyName, value: k.value })) : [];
    },
    close: async () => {
      arm.close();
      events?.close();
      await Promise.all(servers.map(closeServer));
    },
  };

  try {
    const armPort = await listen(serve("arm"), opts.port ?? 0, host);
    armUrl = `https://${urlHost}:${armPort}`;
    sim.url = armUrl;
    for (const v of vaults.values()) {
      const port = Object.entries(opts.vaultPorts ?? {}).find(([n]) => lower(n) === lower(v.name))?.[1] ?? 0;
      const p = await listen(serve(`vault:${v.name}`), port, host);
      v.url = `https://${urlHost}:${p}`;
      sim.vaults[v.name] = v.url;
    }
  } catch (err) {
    await sim.close();
    throw err;
  }

  // Seed secrets (IDs need the vault URL) and point vault resources without a vaultUri at their origin.
  for (const s of seed.secrets ?? []) seedSecret(vaults.get(lower(s.vault))!, s);
  // Secrets written through the data plane from now on raise Key Vault events (seeding does not).
  if (events) for (const v of vaults.values()) v.onSecretWritten = (s) => events.secretWritten(s);
  for (const r of seed.resources ?? []) {
    const v = vaultNameFromResource(r);
    if (!v) continue;
    const current = store.get(r.id);
    if (current && !(current.properties as Record<string, unknown> | undefined)?.vaultUri) {
      const { etag: _e, ...rest } = current;
      store.put({ ...rest, properties: { ...(rest.properties ?? {}), vaultUri: `${sim.vaults[v]}/` } });
    }
  }
  return sim;
}

/** A seeded version existed before the simulator started: unless the seed says when it was created,
 *  it is dated 30 days back (a rotation policy's minimum age then does not hold it back). */
const SEEDED_VERSION_AGE_MS = 30 * 24 * 3600_000;

function seedSecret(vault: VaultState, s: SeedSecret): void {
  vault.setSecret(s.name, {
    value: s.value,
    tags: s.tags,
    contentType: s.contentType,
    exp: s.expiresOn ? Math.floor(Date.parse(s.expiresOn) / 1000) : undefined,
    created: Math.floor((s.createdOn ? Date.parse(s.createdOn) : Date.now() - SEEDED_VERSION_AGE_MS) / 1000),
  });
}
