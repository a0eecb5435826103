/**
 * ARM control plane of the simulator: generic resource CRUD with ETags and JSON-merge PATCH,
 * long-running operations (Azure-AsyncOperation / Location polling), list calls, and the POST actions
 * driftguard uses (Storage / Cognitive Services keys).
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { apimPatchNeedsIfMatch, apimRefusesWrite, apimRoute } from "./apim.js";
import {
  type ArmResource,
  armError,
  isPlainObject,
  mergePatch,
  type ParsedRequest,
  sendJson,
} from "./common.js";
import { ExtensionHandler } from "./extensions.js";
import { type PermissionTable, permissionsScope } from "./permissions.js";
import { keepServerOwned, stripReadOnly } from "./server-owned.js";
import { ensureBlobService } from "./storage-services.js";
import { lower, nameOfId, parentIdOf, parseArmPath, type ResourceStore, typeOfId } from "./store.js";

type LroStyle = "aao" | "location";
type WriteMethod = "PUT" | "PATCH" | "DELETE";

/**
 * Which writes are long-running operations, per the pinned SDKs (`begin…` methods):
 * - ML workspaces / online endpoints / computes: beginCreateOrUpdate, beginUpdate, beginDelete
 * - NSG and security rules: beginCreateOrUpdate, beginDelete (NSG updateTags PATCH is synchronous)
 * - AKS managed clusters: createOrUpdate, updateTags, delete; agent pools: createOrUpdate, delete
 * - Key Vault vaults: createOrUpdate only (update PATCH and delete are synchronous)
 * - Storage accounts: create only, Location-polled (update PATCH and delete are synchronous)
 * - Cognitive Services accounts: beginCreate, beginUpdate, beginDelete
 * - Cosmos DB accounts: beginCreateOrUpdate, beginUpdate, beginDelete
 * (App Service sites and their config, blob services and diagnostic settings: synchronous.)
 */
const LRO_TYPES: Record<string, Partial<Record<WriteMethod, LroStyle>>> = {
  "microsoft.machinelearningservices/workspaces": { PUT: "aao", PATCH: "aao", DELETE: "aao" },
  "microsoft.machinelearningservices/workspaces/onlineendpoints": { PUT: "aao", PATCH: "aao", DELETE: "aao" },
  "microsoft.machinelearningservices/workspaces/computes": { PUT: "aao", PATCH: "aao", DELETE: "aao" },
  "microsoft.network/networksecuritygroups": { PUT: "aao", DELETE: "aao" },
  "microsoft.network/networksecuritygroups/securityrules": { PUT: "aao", DELETE: "aao" },
  "microsoft.containerservice/managedclusters": { PUT: "aao", PATCH: "aao", DELETE: "aao" },
  "microsoft.containerservice/managedclusters/agentpools": { PUT: "aao", DELETE: "aao" },
  "microsoft.keyvault/vaults": { PUT: "aao" },
  "microsoft.storage/storageaccounts": { PUT: "location" },
  "microsoft.cognitiveservices/accounts": { PUT: "aao", PATCH: "aao", DELETE: "aao" },
  "microsoft.documentdb/databaseaccounts": { PUT: "aao", PATCH: "aao", DELETE: "aao" },
};

export function lroStyle(type: string, method: string): LroStyle | undefined {
  return LRO_TYPES[lower(type)]?.[method as WriteMethod];
}

interface Operation {
  id: string;
  status: "InProgress" | "Succeeded" | "Failed" | "Canceled";
  polls: number;
  method: WriteMethod;
  resourceId: string;
  apply: () => void;
  applied: boolean;
  startTime: string;
  endTime?: string;
  timer?: NodeJS.Timeout;
}

export interface KeyEntry {
  keyName: string;
  value: string;
  creationTime: string;
}

export interface ArmOptions {
  baseUrl: () => string;
  lro: "sync" | "async";
  /** The caller's effective permissions (`…/providers/Microsoft.Authorization/permissions`). */
  permissions: PermissionTable;
  /** A long-running operation succeeded (its change is applied): the ARM event goes out now. */
  onOperationSucceeded?: (operationId: string) => void;
}

/** Headers and precondition helpers */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function stripWeak(e: string): string {
  return e.trim().replace(/^W\//, "");
}

function etagMatches(ifMatch: string, current: string | undefined): boolean {
  if (current === undefined) return false;
  if (ifMatch.trim() === "*") return true;
  return ifMatch.split(",").some((e) => stripWeak(e) === stripWeak(current));
}

function notFound(id: string, res: ServerResponse, parentMissing = false) {
  const p = parseArmPath(id);
  if (p && p.names.length > 1) {
    if (parentMissing) {
      const parent = parentIdOf(id) ?? "";
      return sendJson(
        res,
        404,
        armError(
          "ParentResourceNotFound",
          `Failed to perform requested operation on nested resource. Parent resource '${nameOfId(parent)}' not found.`,
        ),
      );
    }
    return sendJson(res, 404, armError("NotFound", `Resource ${id} not found.`));
  }
  if (p && !p.namespace) {
    return sendJson(
      res,
      404,
      armError("ResourceGroupNotFound", `Resource group '${p.resourceGroup ?? ""}' could not be found.`),
    );
  }
  const top = p ? `${p.namespace}/${p.types[0]}/${p.names[0] ?? ""}` : id;
  sendJson(
    res,
    404,
    armError(
      "ResourceNotFound",
      `The Resource '${top}' under resource group '${p?.resourceGroup ?? ""}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    ),
  );
}

export class ArmHandler {
  private readonly ops = new Map<string, Operation>();
  /** lower-case account ID → keys (Storage: key1/key2 base64; Cognitive Services: Key1/Key2 hex) */
  readonly keys = new Map<string, KeyEntry[]>();
  /** Diagnostic settings under any resource; implicit children (blob services, site config). */
  private readonly extensions: ExtensionHandler;

  constructor(
    private readonly store: ResourceStore,
    private readonly opts: ArmOptions,
  ) {
    this.extensions = new ExtensionHandler(store);
  }

  close() {
    for (const op of this.ops.values()) if (op.timer) clearTimeout(op.timer);
  }

  /** Marks the operation addressed by a status/result path as failed (used by injected faults). */
  failOperation(path: string, status: "Failed" | "Canceled") {
    const m = /\/(?:operationStatuses|operationResults)\/([^/?]+)/i.exec(path);
    const op = m ? this.ops.get(lower(m[1]!)) : undefined;
    if (op && op.status === "InProgress") {
      op.status = status;
      op.endTime = new Date().toISOString();
      if (op.timer) clearTimeout(op.timer);
    }
  }

  getKeys(accountId: string, kind: "storage" | "cognitive"): KeyEntry[] {
    const k = lower(accountId);
    let keys = this.keys.get(k);
    if (!keys) {
      const now = new Date().toISOString();
      keys =
        kind === "storage"
          ? ["key1", "key2"].map((keyName) => ({ keyName, value: newStorageKey(), creationTime: now }))
          : ["Key1", "Key2"].map((keyName) => ({ keyName, value: newCognitiveKey(), creationTime: now }));
      this.keys.set(k, keys);
    }
    return keys;
  }

  handle(req: IncomingMessage, pr: ParsedRequest, body: unknown, res: ServerResponse) {
    const path = pr.path.replace(/\/+$/, "") || "/";
    const segs = path.split("/").filter(Boolean);
    const m = pr.method;

    // LRO status / result endpoints
    const op =
      /^\/subscriptions\/[^/]+\/providers\/[^/]+\/locations\/[^/]+\/(operationStatuses|operationResults)\/([^/]+)$/i.exec(
        path,
      );
    if (op && m === "GET") {
      return lower(op[1]!) === "operationstatuses"
        ? this.operationStatus(op[2]!, res)
        : this.operationResult(op[2]!, res);
    }

    if (segs[0]?.toLowerCase() !== "subscriptions" || segs.length < 2) {
      return sendJson(res, 404, armError("NotFound", `No HTTP resource was found that matches ${pr.path}.`));
    }

    const permissionScope = permissionsScope(path);
    if (permissionScope !== undefined && m === "GET") {
      return sendJson(res, 200, { value: this.opts.permissions.at(permissionScope) });
    }
    if (this.extensions.handle(m, path, body, res)) return;
    if (m !== "PUT") this.extensions.materialise(path);
    if (m === "GET" && segs.length === 2) {
      // A subscription exists here when something is seeded in it.
      return this.resourceGroups(segs[1]!).length > 0
        ? sendJson(res, 200, {
            id: `/subscriptions/${segs[1]}`,
            subscriptionId: segs[1],
            displayName: `simulated ${segs[1]}`,
            state: "Enabled",
          })
        : sendJson(
            res,
            404,
            armError("SubscriptionNotFound", `The subscription '${segs[1]}' could not be found.`),
          );
    }

    // Generic resource listings
    if (m === "GET" && segs.length === 3 && lower(segs[2]!) === "resources") {
      return this.listResources(segs[1]!, undefined, pr.query, res);
    }
    if (
      m === "GET" &&
      segs.length === 5 &&
      lower(segs[2]!) === "resourcegroups" &&
      lower(segs[4]!) === "resources"
    ) {
      return this.listResources(segs[1]!, segs[3]!, pr.query, res);
    }
    if (m === "GET" && segs.length === 3 && lower(segs[2]!) === "resourcegroups") {
      return sendJson(res, 200, { value: this.resourceGroups(segs[1]!) });
    }
    if (segs.length === 4 && lower(segs[2]!) === "resourcegroups") {
      return this.resourceGroup(m, path, segs[1]!, segs[3]!, res);
    }

    const defaults =
      /^(.*\/providers\/Microsoft\.Network\/networkSecurityGroups\/[^/]+)\/defaultSecurityRules(?:\/([^/]+))?$/i.exec(
        path,
      );
    if (defaults) return this.defaultRules(m, defaults[1]!, defaults[2], res);

    const parsed = parseArmPath(path);
    if (!parsed?.namespace) {
      return sendJson(res, 404, armError("NotFound", `No HTTP resource was found that matches ${pr.path}.`));
    }
    // Resources ARM always has (a storage account's blob service) and APIM's own routes.
    ensureBlobService(this.store, path);
    if (apimRoute(this.store, req, path, res)) return;
    const isCollection = parsed.names.length === parsed.types.length - 1;
    if (isCollection) {
      const last = parsed.types.at(-1)!;
      if (m === "GET") return this.listCollection(path, res);
      if (m === "POST" && parsed.names.length > 0) {
        const resourceId = segs.slice(0, -1).join("/");
        return this.action(`/${resourceId}`, last, body, res);
      }
      return sendJson(
        res,
        405,
        armError("MethodNotAllowed", `The requested method ${m} is not allowed on ${pr.path}.`),
      );
    }
    switch (m) {
      case "GET":
        return this.get(path, res);
      case "PUT":
        return this.put(req, path, body, res);
      case "PATCH":
        return this.patch(req, path, body, res);
      case "DELETE":
        return this.delete(req, path, res);
      case "HEAD":
        return this.head(path, res);
      default:
        return sendJson(
          res,
          405,
          armError("MethodNotAllowed", `The requested method ${m} is not allowed on ${pr.path}.`),
        );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // CRUD

  private get(id: string, res: ServerResponse) {
    const r = this.store.get(id);
    if (!r) return notFound(id, res, this.store.resolve(id).kind === "absent" && !this.parentExists(id));
    sendJson(res, 200, r, { etag: this.store.etagOf(id)! });
  }

  private head(id: string, res: ServerResponse) {
    const etag = this.store.etagOf(id);
    if (!etag) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { etag });
    res.end();
  }

  private parentExists(id: string): boolean {
    const parent = parentIdOf(id);
    return parent === undefined || this.store.has(parent);
  }

  /** Returns false (and answers) when If-Match / If-None-Match fail. */
  private preconditions(req: IncomingMessage, id: string, res: ServerResponse): boolean {
    const current = this.store.etagOf(id);
    const ifMatch = header(req, "if-match");
    if (ifMatch !== undefined && !etagMatches(ifMatch, current)) {
      sendJson(
        res,
        412,
        armError(
          "PreconditionFailed",
          `The specified precondition 'If-Match = ${ifMatch}' failed: the resource's current ETag differs.`,
        ),
      );
      return false;
    }
    const ifNoneMatch = header(req, "if-none-match");
    if (ifNoneMatch !== undefined && current !== undefined && etagMatches(ifNoneMatch, current)) {
      sendJson(
        res,
        412,
        armError("PreconditionFailed", `The specified precondition 'If-None-Match = ${ifNoneMatch}' failed.`),
      );
      return false;
    }
    return true;
  }

  private typeFor(id: string): string {
    return this.store.get(id)?.type ?? typeOfId(id);
  }

  private put(req: IncomingMessage, id: string, body: unknown, res: ServerResponse) {
    if (!isPlainObject(body)) {
      return sendJson(
        res,
        400,
        armError("InvalidRequestContent", "The request content was invalid: a JSON object is required."),
      );
    }
    if (!this.parentExists(id)) return notFound(id, res, true);
    if (!this.preconditions(req, id, res)) return;
    if (apimRefusesWrite(this.store, id, body, res)) return;
    const existed = this.store.has(id);
    const type = this.typeFor(id);
    const resource = { ...stripReadOnly(body), id, name: nameOfId(id), type } as ArmResource;
    if (lower(type) === "microsoft.storage/storageaccounts" && !existed) {
      // new accounts get keys at creation
      this.getKeys(id, "storage");
    }
    keepServerOwned(resource, this.store.get(id));
    const apply = () => {
      this.store.put(resource);
    };
    const style = this.opts.lro === "async" ? lroStyle(type, "PUT") : undefined;
    if (!style) {
      apply();
      const out = this.store.get(id)!;
      return sendJson(res, existed ? 200 : 201, out, { etag: this.store.etagOf(id)! });
    }
    const op = this.startOperation("PUT", id, apply);
    if (style === "location") {
      return sendJson(res, 202, undefined, { location: this.opUrl(id, op, "operationResults") });
    }
    const preview = this.store.preview(resource);
    preview.properties = { ...preview.properties, provisioningState: existed ? "Updating" : "Creating" };
    sendJson(res, existed ? 200 : 201, preview, {
      "azure-asyncoperation": this.opUrl(id, op, "operationStatuses"),
    });
  }

  private patch(req: IncomingMessage, id: string, body: unknown, res: ServerResponse) {
    if (!isPlainObject(body)) {
      return sendJson(
        res,
        400,
        armError("InvalidRequestContent", "The request content was invalid: a JSON object is required."),
      );
    }
    const current = this.store.get(id);
    if (!current) return notFound(id, res, !this.parentExists(id));
    const type = current.type;
    if (apimPatchNeedsIfMatch(type) && header(req, "if-match") === undefined) {
      return sendJson(
        res,
        400,
        armError(
          "InvalidRequest",
          "The 'If-Match' header is required for this operation. Use '*' to force the update.",
        ),
      );
    }
    if (!this.preconditions(req, id, res)) return;
    if (apimRefusesWrite(this.store, id, body, res)) return;
    const patchBody = stripReadOnly(body);
    const merged = () => {
      const now = this.store.get(id) ?? current;
      const base = stripReadOnly(now);
      const next = {
        ...(mergePatch(base, patchBody) as Record<string, unknown>),
        id: now.id,
        name: now.name,
        type,
      } as ArmResource;
      keepServerOwned(next, now);
      return next;
    };
    const apply = () => {
      this.store.put(merged());
    };
    const style = this.opts.lro === "async" ? lroStyle(type, "PATCH") : undefined;
    if (!style) {
      apply();
      return sendJson(res, 200, this.store.get(id)!, { etag: this.store.etagOf(id)! });
    }
    const op = this.startOperation("PATCH", id, apply);
    const preview = this.store.preview(merged());
    preview.properties = { ...preview.properties, provisioningState: "Updating" };
    sendJson(res, 200, preview, { "azure-asyncoperation": this.opUrl(id, op, "operationStatuses") });
  }

  private delete(req: IncomingMessage, id: string, res: ServerResponse) {
    if (!this.store.has(id)) {
      // ARM answers 204 for a DELETE of something that is not there.
      return sendJson(res, 204);
    }
    if (!this.preconditions(req, id, res)) return;
    const type = this.typeFor(id);
    const apply = () => {
      this.store.delete(id);
      this.keys.delete(lower(id));
    };
    const style = this.opts.lro === "async" ? lroStyle(type, "DELETE") : undefined;
    if (!style) {
      apply();
      return sendJson(res, 200);
    }
    const op = this.startOperation("DELETE", id, apply);
    sendJson(res, 202, undefined, {
      location: this.opUrl(id, op, "operationResults"),
      "azure-asyncoperation": this.opUrl(id, op, "operationStatuses"),
    });
  }

  /** An NSG's `defaultSecurityRules` are ARM-owned: readable at their own IDs, never writable. */
  private defaultRules(method: string, nsgId: string, name: string | undefined, res: ServerResponse) {
    if (method !== "GET") {
      return sendJson(
        res,
        405,
        armError(
          "MethodNotAllowed",
          "Default security rules are read-only and cannot be changed or deleted.",
        ),
      );
    }
    const nsg = this.store.get(nsgId);
    if (!nsg) return notFound(nsgId, res);
    const rules = (nsg.properties?.defaultSecurityRules ?? []) as ArmResource[];
    if (name === undefined) return sendJson(res, 200, { value: rules });
    const rule = rules.find((r) => lower(String(r.name)) === lower(name));
    if (!rule) return notFound(`${nsgId}/defaultSecurityRules/${name}`, res);
    sendJson(res, 200, rule);
  }

  // ---------------------------------------------------------------------------------------------
  // LRO

  private startOperation(method: WriteMethod, resourceId: string, apply: () => void): Operation {
    const op: Operation = {
      id: randomUUID(),
      status: "InProgress",
      polls: 0,
      method,
      resourceId,
      apply,
      applied: false,
      startTime: new Date().toISOString(),
    };
    // ARM finishes the operation whether or not anyone polls.
    op.timer = setTimeout(() => this.complete(op), 10_000);
    op.timer.unref();
    this.ops.set(op.id, op);
    return op;
  }

  private complete(op: Operation) {
    if (op.status !== "InProgress") return;
    if (op.timer) clearTimeout(op.timer);
    if (!op.applied) {
      op.applied = true;
      op.apply();
    }
    op.status = "Succeeded";
    op.endTime = new Date().toISOString();
    this.opts.onOperationSucceeded?.(op.id);
  }

  private opUrl(resourceId: string, op: Operation, kind: "operationStatuses" | "operationResults"): string {
    const p = parseArmPath(resourceId)!;
    let location = "eastus";
    for (let id: string | undefined = resourceId; id; id = parentIdOf(id)) {
      const loc = this.store.get(id)?.location;
      if (typeof loc === "string" && loc) {
        location = loc.toLowerCase().replace(/\s+/g, "");
        break;
      }
    }
    const apiVersion = "2024-01-01";
    return `${this.opts.baseUrl()}/subscriptions/${p.subscriptionId}/providers/${p.namespace}/locations/${location}/${kind}/${op.id}?api-version=${apiVersion}`;
  }

  /** One poll shows InProgress, the next one completes the operation (applying the change). */
  private advance(op: Operation) {
    if (op.status !== "InProgress") return;
    if (op.polls === 0) op.polls++;
    else this.complete(op);
  }

  private operationStatus(opId: string, res: ServerResponse) {
    const op = this.ops.get(lower(opId));
    if (!op) return sendJson(res, 404, armError("NotFound", `Operation ${opId} not found.`));
    this.advance(op);
    const body: Record<string, unknown> = {
      id: op.id,
      name: op.id,
      status: op.status,
      startTime: op.startTime,
    };
    if (op.endTime) body.endTime = op.endTime;
    if (op.status === "Failed") body.error = { code: "OperationFailed", message: "The operation failed." };
    sendJson(res, 200, body);
  }

  private operationResult(opId: string, res: ServerResponse) {
    const op = this.ops.get(lower(opId));
    if (!op) return sendJson(res, 404, armError("NotFound", `Operation ${opId} not found.`));
    this.advance(op);
    if (op.status === "InProgress") return sendJson(res, 202, undefined, {});
    if (op.status !== "Succeeded") {
      return sendJson(res, 500, armError("OperationFailed", `The operation ${op.status.toLowerCase()}.`));
    }
    if (op.method === "DELETE") return sendJson(res, 204);
    const r = this.store.get(op.resourceId);
    return r ? sendJson(res, 200, r) : sendJson(res, 204);
  }

  // ---------------------------------------------------------------------------------------------
  // Lists

  private listCollection(path: string, res: ServerResponse) {
    const p = parseArmPath(path)!;
    if (p.names.length > 0) {
      const ownerId = path.split("/").slice(0, -1).join("/");
      if (!this.store.has(ownerId)) return notFound(ownerId, res, !this.parentExists(ownerId));
    }
    sendJson(res, 200, { value: this.store.listCollection(path) });
  }

  private summary(r: ArmResource): Record<string, unknown> {
    const out: Record<string, unknown> = { id: r.id, name: r.name, type: r.type };
    for (const k of ["kind", "location", "sku", "identity", "managedBy", "tags", "plan", "zones"]) {
      if (r[k] !== undefined) out[k] = r[k];
    }
    return out;
  }

  private listResources(
    sub: string,
    rg: string | undefined,
    query: Record<string, string>,
    res: ServerResponse,
  ) {
    let predicate: (r: ArmResource) => boolean = () => true;
    const filter = query.$filter;
    if (filter) {
      const parsed = parseFilter(filter);
      if (!parsed) {
        return sendJson(
          res,
          400,
          armError(
            "InvalidFilterInQueryString",
            `Invalid $filter '${filter}' specified in the query string.`,
          ),
        );
      }
      predicate = parsed;
    }
    const expand = (query.$expand ?? "").toLowerCase();
    const value = this.store
      .all()
      .filter((r) => {
        const p = parseArmPath(r.id);
        if (!p?.namespace || p.names.length !== 1) return false;
        if (lower(p.subscriptionId) !== lower(sub)) return false;
        if (rg && lower(p.resourceGroup ?? "") !== lower(rg)) return false;
        return predicate(r);
      })
      .map((r) => {
        const s = this.summary(r);
        if (expand.includes("provisioningstate")) {
          s.provisioningState = (r.properties as Record<string, unknown>)?.provisioningState ?? "Succeeded";
        }
        return s;
      });
    sendJson(res, 200, { value });
  }

  private resourceGroups(sub: string): Record<string, unknown>[] {
    const groups = new Map<string, Record<string, unknown>>();
    for (const r of this.store.all()) {
      const p = parseArmPath(r.id);
      if (!p?.resourceGroup || lower(p.subscriptionId) !== lower(sub)) continue;
      const key = lower(p.resourceGroup);
      if (groups.has(key) && p.namespace) continue;
      groups.set(key, this.rgBody(p.subscriptionId, p.resourceGroup, r));
    }
    return [...groups.values()];
  }

  private rgBody(sub: string, rg: string, from?: ArmResource): Record<string, unknown> {
    const explicit = from && !parseArmPath(from.id)?.namespace ? from : undefined;
    return {
      id: `/subscriptions/${sub}/resourceGroups/${rg}`,
      name: rg,
      type: "Microsoft.Resources/resourceGroups",
      location: explicit?.location ?? from?.location ?? "eastus",
      ...(explicit?.tags ? { tags: explicit.tags } : {}),
      properties: { provisioningState: "Succeeded" },
    };
  }

  private resourceGroup(method: string, path: string, sub: string, rg: string, res: ServerResponse) {
    if (method !== "GET" && method !== "HEAD") {
      return sendJson(
        res,
        405,
        armError("MethodNotAllowed", "Resource groups are read-only in the simulator."),
      );
    }
    const explicit = this.store.get(path);
    const any = this.store.all().find((r) => lower(parseArmPath(r.id)?.resourceGroup ?? "") === lower(rg));
    if (!explicit && !any) return notFound(path, res);
    if (method === "HEAD") {
      res.writeHead(204);
      res.end();
      return;
    }
    sendJson(res, 200, this.rgBody(sub, explicit?.name ?? rg, explicit ?? any));
  }

  // ---------------------------------------------------------------------------------------------
  // POST actions

  private action(resourceId: string, action: string, body: unknown, res: ServerResponse) {
    const r = this.store.get(resourceId);
    if (!r) return notFound(resourceId, res, !this.parentExists(resourceId));
    const type = lower(r.type);
    const act = lower(action);
    if (type === "microsoft.storage/storageaccounts" && (act === "listkeys" || act === "regeneratekey")) {
      const keys = this.getKeys(r.id, "storage");
      if (act === "regeneratekey") {
        const keyName = isPlainObject(body) && typeof body.keyName === "string" ? body.keyName : "";
        const k = keys.find((x) => lower(x.keyName) === lower(keyName));
        if (!k) {
          return sendJson(
            res,
            400,
            armError(
              "InvalidValuesForRequestParameters",
              `Values for request parameters are invalid: keyName '${keyName}'.`,
            ),
          );
        }
        k.value = newStorageKey();
        k.creationTime = new Date().toISOString();
      }
      return sendJson(res, 200, {
        keys: keys.map((k) => ({
          keyName: k.keyName,
          value: k.value,
          permissions: "FULL",
          creationTime: k.creationTime,
        })),
      });
    }
    if (type === "microsoft.cognitiveservices/accounts" && (act === "listkeys" || act === "regeneratekey")) {
      const keys = this.getKeys(r.id, "cognitive");
      if (act === "regeneratekey") {
        const keyName = isPlainObject(body) && typeof body.keyName === "string" ? body.keyName : "";
        const k = keys.find((x) => lower(x.keyName) === lower(keyName));
        if (!k) {
          return sendJson(
            res,
            400,
            armError("InvalidRequestContent", `keyName must be Key1 or Key2, not '${keyName}'.`),
          );
        }
        k.value = newCognitiveKey();
        k.creationTime = new Date().toISOString();
      }
      const find = (n: string) => keys.find((k) => lower(k.keyName) === n)?.value;
      return sendJson(res, 200, { key1: find("key1"), key2: find("key2") });
    }
    sendJson(
      res,
      404,
      armError("NotFound", `The action '${action}' is not supported on '${r.type}' by the simulator.`),
    );
  }
}

export function newStorageKey(): string {
  return randomBytes(64).toString("base64");
}

export function newCognitiveKey(): string {
  return randomBytes(16).toString("hex");
}

/**
 * Supports the ARM `$filter` subset used for resource listings: clauses joined by `and`/`or` of
 * `resourceType eq '…'`, `name eq '…'`, `location eq '…'`, `tagName eq '…'`, `tagValue eq '…'`,
 * `substringof('…', name)`.
 */
export function parseFilter(filter: string): ((r: ArmResource) => boolean) | undefined {
  const orParts = filter.split(/\s+or\s+/i);
  const ors: ((r: ArmResource) => boolean)[] = [];
  for (const orPart of orParts) {
    const ands: ((r: ArmResource) => boolean)[] = [];
    let tagName: string | undefined;
    let tagValue: string | undefined;
    for (const clause of orPart.split(/\s+and\s+/i)) {
      const c = clause.trim().replace(/^\(|\)$/g, "");
      const eq = /^(resourceType|name|location|tagName|tagValue)\s+eq\s+'((?:[^']|'')*)'$/i.exec(c);
      const sub = /^substringof\(\s*'((?:[^']|'')*)'\s*,\s*name\s*\)$/i.exec(c);
      if (eq) {
        const field = lower(eq[1]!);
        const value = eq[2]!.replace(/''/g, "'");
        if (field === "resourcetype") ands.push((r) => lower(r.type) === lower(value));
        else if (field === "name") ands.push((r) => lower(r.name) === lower(value));
        else if (field === "location") ands.push((r) => lower(String(r.location ?? "")) === lower(value));
        else if (field === "tagname") tagName = value;
        else tagValue = value;
      } else if (sub) {
        const v = lower(sub[1]!.replace(/''/g, "'"));
        ands.push((r) => lower(r.name).includes(v));
      } else {
        return undefined;
      }
    }
    if (tagName !== undefined) {
      const tn = tagName;
      const tv = tagValue;
      ands.push((r) => {
        const entry = Object.entries(r.tags ?? {}).find(([k]) => lower(k) === lower(tn));
        return entry !== undefined && (tv === undefined || entry[1] === tv);
      });
    } else if (tagValue !== undefined) {
      return undefined;
    }
    ors.push((r) => ands.every((f) => f(r)));
  }
  return (r) => ors.some((f) => f(r));
}
