/**
 * Extension resources of the simulator: Azure Monitor diagnostic settings, which live under any
 * resource at `{resourceId}/providers/Microsoft.Insights/diagnosticSettings[/{name}]`
 * (GET one / list, PUT, DELETE), and the child resources ARM has for every resource of a type
 * whether or not anyone wrote them (a storage account's `blobServices/default`, a site's
 * `config/web`): a GET finds them with ARM's defaults when the seed did not name them.
 *
 * Diagnostic settings are stored in the resource store under their full ID (so seeds,
 * `getResource` and deleting the resource they are on work as for any resource). As in ARM they
 * carry no ETag and no provisioning state, and every write is synchronous.
 */
import type { ServerResponse } from "node:http";
import { type ArmResource, armError, isPlainObject, sendJson } from "./common.js";
import { stripReadOnly } from "./server-owned.js";
import { defaultBlobService } from "./storage-services.js";
import { lower, nameOfId, type ResourceStore } from "./store.js";

export const DIAGNOSTIC_SETTINGS_TYPE = "Microsoft.Insights/diagnosticSettings";

const DIAGNOSTIC_SETTINGS =
  /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/.+?)\/providers\/microsoft\.insights\/diagnosticSettings(?:\/([^/]+))?$/i;

/** Category groups resource logs offer (api-version 2021-05-01-preview and later). */
const CATEGORY_GROUPS = new Set(["audit", "alllogs"]);

/**
 * Child resources ARM always has, as a new resource of that type shows them: a blob service carries
 * its account's `sku` (storage-services.ts), a site's web configuration its site's `kind`.
 */
const IMPLICIT_CHILDREN: { parent: RegExp; create: (parent: ArmResource, id: string) => ArmResource }[] = [
  {
    parent:
      /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+)\/blobServices\/default$/i,
    create: (account) => defaultBlobService(account),
  },
  {
    parent:
      /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Web\/sites\/[^/]+)\/config\/web$/i,
    create: (site, id) => ({
      id,
      name: nameOfId(id),
      type: "Microsoft.Web/sites/config",
      ...(typeof site.kind === "string" ? { kind: site.kind } : {}),
      properties: {
        numberOfWorkers: 1,
        http20Enabled: true,
        minTlsVersion: "1.2",
        scmMinTlsVersion: "1.2",
        ftpsState: "FtpsOnly",
      },
    }),
  },
];

export class ExtensionHandler {
  constructor(private readonly store: ResourceStore) {}

  /**
   * Makes an implicit child (`…/blobServices/default`, `…/config/web`) exist when its parent does,
   * before a request to it (or to an extension on it) is handled.
   */
  materialise(id: string): void {
    for (const child of IMPLICIT_CHILDREN) {
      const m = child.parent.exec(id);
      if (!m || this.store.has(id)) continue;
      const parent = this.store.get(m[1]!);
      if (parent) this.store.put(child.create(parent, id));
    }
  }

  /** Handles the request when `path` addresses a diagnostic setting (or their list); else false. */
  handle(method: string, path: string, body: unknown, res: ServerResponse): boolean {
    const m = DIAGNOSTIC_SETTINGS.exec(path);
    if (!m) return false;
    const scope = m[1]!;
    const name = m[2];
    this.materialise(scope);
    if (!this.store.has(scope)) {
      sendJson(res, 404, armError("ResourceNotFound", `The Resource '${scope}' was not found.`));
      return true;
    }
    if (name === undefined) {
      if (method !== "GET") return methodNotAllowed(method, path, res);
      sendJson(res, 200, { value: this.list(scope) });
      return true;
    }
    const id = `${scope}/providers/microsoft.insights/diagnosticSettings/${name}`;
    switch (method) {
      case "GET": {
        const found = this.store.get(id);
        if (!found) {
          sendJson(res, 404, armError("ResourceNotFound", `The diagnostic setting '${name}' doesn't exist.`));
        } else {
          sendJson(res, 200, render(found));
        }
        return true;
      }
      case "PUT":
        return this.put(scope, id, name, body, res);
      case "DELETE": {
        const existed = this.store.delete(id);
        sendJson(res, existed ? 200 : 204);
        return true;
      }
      default:
        return methodNotAllowed(method, path, res);
    }
  }

  private list(scope: string): ArmResource[] {
    const prefix = `${lower(scope)}/providers/microsoft.insights/diagnosticsettings/`;
    return this.store
      .all()
      .filter((r) => lower(r.id).startsWith(prefix) && !r.id.slice(prefix.length).includes("/"))
      .map(render);
  }

  /**
   * Azure refuses a setting that sends a log category (group) to a workspace another setting on the
   * same resource already sends it to: the message it answers, or undefined.
   */
  private sinkInUse(scope: string, name: string, properties: Record<string, unknown>): string | undefined {
    const workspace = typeof properties.workspaceId === "string" ? lower(properties.workspaceId) : undefined;
    if (!workspace) return undefined;
    const enabled = (p: Record<string, unknown> | undefined) =>
      (Array.isArray(p?.logs) ? (p.logs as Record<string, unknown>[]) : [])
        .filter((l) => l.enabled === true)
        .map((l) => lower(String(l.categoryGroup ?? l.category ?? "")));
    const mine = enabled(properties);
    for (const other of this.list(scope)) {
      if (lower(other.name) === lower(name)) continue;
      const p = other.properties as Record<string, unknown> | undefined;
      if (typeof p?.workspaceId !== "string" || lower(p.workspaceId) !== workspace) continue;
      const shared = enabled(p).find((c) => mine.includes(c));
      if (shared)
        return `Data sink '${String(properties.workspaceId)}' is already used in diagnostic setting '${other.name}' for category '${shared}'. Data sinks can't be reused in different settings on the same category for the same resource.`;
    }
    return undefined;
  }

  private put(scope: string, id: string, name: string, body: unknown, res: ServerResponse): boolean {
    const problem = invalidSetting(body);
    if (problem) {
      sendJson(res, 400, armError("BadRequest", problem));
      return true;
    }
    const { properties } = stripReadOnly(body as Record<string, unknown>);
    const conflict = this.sinkInUse(scope, name, properties as Record<string, unknown>);
    if (conflict) {
      sendJson(res, 409, armError("Conflict", conflict));
      return true;
    }
    const existing = this.store.get(id);
    this.store.put({
      id: existing?.id ?? `${scope}/providers/Microsoft.Insights/diagnosticSettings/${name}`,
      name,
      type: DIAGNOSTIC_SETTINGS_TYPE,
      properties: properties as Record<string, unknown>,
    });
    sendJson(res, 200, render(this.store.get(id)!));
    return true;
  }
}

/** ARM's retention policy of a log or metric entry written without one (retention is retired). */
const NO_RETENTION = { enabled: false, days: 0 };

/**
 * As ARM shows a diagnostic setting: no ETag, no provisioning state; every `logs[]`/`metrics[]`
 * entry with a `retentionPolicy`.
 */
function render(r: ArmResource): ArmResource {
  const { etag: _e, ...rest } = r;
  const { provisioningState: _p, ...properties } = (rest.properties ?? {}) as Record<string, unknown>;
  for (const key of ["logs", "metrics"]) {
    const entries = properties[key];
    if (!Array.isArray(entries)) continue;
    properties[key] = entries.map((e) =>
      isPlainObject(e) && e.retentionPolicy === undefined
        ? { ...e, retentionPolicy: { ...NO_RETENTION } }
        : e,
    );
  }
  return { ...rest, type: DIAGNOSTIC_SETTINGS_TYPE, properties };
}

/** What ARM refuses in a diagnostic setting PUT (the checks driftguard's writes must pass). */
function invalidSetting(body: unknown): string | undefined {
  if (!isPlainObject(body) || !isPlainObject(body.properties))
    return "The request content was invalid: 'properties' is required.";
  const p = body.properties;
  const destinations = [
    "workspaceId",
    "storageAccountId",
    "eventHubAuthorizationRuleId",
    "marketplacePartnerId",
  ];
  if (!destinations.some((d) => typeof p[d] === "string" && p[d] !== ""))
    return "At least one destination (workspaceId, storageAccountId, eventHubAuthorizationRuleId or marketplacePartnerId) is required.";
  // An empty workspaceId is no workspace (ARM's own examples send one beside other destinations).
  if (
    typeof p.workspaceId === "string" &&
    p.workspaceId !== "" &&
    !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.OperationalInsights\/workspaces\/[^/]+$/i.test(
      p.workspaceId,
    )
  )
    return `'${p.workspaceId}' is not a Log Analytics workspace resource ID.`;
  const logs = p.logs ?? [];
  if (!Array.isArray(logs)) return "'logs' must be an array.";
  for (const [i, log] of logs.entries()) {
    if (!isPlainObject(log) || typeof log.enabled !== "boolean") return `logs[${i}].enabled is required.`;
    const hasCategory = typeof log.category === "string" && log.category !== "";
    const hasGroup = typeof log.categoryGroup === "string" && log.categoryGroup !== "";
    if (hasCategory === hasGroup) return `logs[${i}] needs exactly one of 'category' and 'categoryGroup'.`;
    if (hasGroup && !CATEGORY_GROUPS.has(lower(String(log.categoryGroup))))
      return `Category group '${String(log.categoryGroup)}' is not supported.`;
  }
  return undefined;
}

function methodNotAllowed(method: string, path: string, res: ServerResponse): true {
  sendJson(
    res,
    405,
    armError("MethodNotAllowed", `The requested method ${method} is not allowed on ${path}.`),
  );
  return true;
}
