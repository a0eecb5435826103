/**
 * Key Vault data plane (secrets) for one simulated vault. Each vault has its own HTTPS origin because
 * the SDK parses secret IDs as `https://host/secrets/{name}/{version}`.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { armError, isPlainObject, type ParsedRequest, sendJson } from "./common.js";

export interface SecretState {
  vault: string;
  name: string;
  version: string;
  /** `https://127.0.0.1:PORT/secrets/{name}/{version}` */
  id: string;
  value: string;
  tags: Record<string, string>;
  contentType?: string;
  attributes: {
    enabled: boolean;
    /** epoch seconds */
    created: number;
    updated: number;
    exp?: number;
    nbf?: number;
    recoveryLevel: string;
    recoverableDays: number;
  };
}

interface DeletedSecret {
  latest: SecretState;
  versions: SecretState[];
  deletedDate: number;
  scheduledPurgeDate: number;
}

const nowSec = () => Math.floor(Date.now() / 1000);

export class VaultState {
  url = "";
  /** lower-case name → versions, oldest first */
  private readonly secrets = new Map<string, SecretState[]>();
  private readonly deleted = new Map<string, DeletedSecret>();

  /** A secret version was written through the data plane (the simulator turns it into events). */
  onSecretWritten?: (s: SecretState) => void;

  constructor(readonly name: string) {}

  setSecret(
    name: string,
    input: {
      value: string;
      tags?: Record<string, string>;
      contentType?: string;
      exp?: number;
      nbf?: number;
      enabled?: boolean;
      /** Creation time (epoch seconds) of a version that pre-dates the simulator (seeding). */
      created?: number;
    },
  ): SecretState {
    const key = name.toLowerCase();
    const versions = this.secrets.get(key) ?? [];
    const displayName = versions[0]?.name ?? name;
    const version = randomBytes(16).toString("hex");
    const t = nowSec();
    const state: SecretState = {
      vault: this.name,
      name: displayName,
      version,
      id: `${this.url}/secrets/${displayName}/${version}`,
      value: input.value,
      tags: { ...(input.tags ?? {}) },
      contentType: input.contentType,
      attributes: {
        enabled: input.enabled ?? true,
        created: input.created ?? t,
        updated: input.created ?? t,
        exp: input.exp,
        nbf: input.nbf,
        recoveryLevel: "Recoverable+Purgeable",
        recoverableDays: 90,
      },
    };
    versions.push(state);
    this.secrets.set(key, versions);
    this.deleted.delete(key);
    return state;
  }

  get(name: string, version?: string): SecretState | undefined {
    const versions = this.secrets.get(name.toLowerCase());
    if (!versions?.length) return undefined;
    if (!version) return versions.at(-1);
    return versions.find((v) => v.version === version.toLowerCase());
  }

  versions(name: string): SecretState[] {
    return this.secrets.get(name.toLowerCase()) ?? [];
  }

  names(): SecretState[] {
    return [...this.secrets.values()].map((v) => v.at(-1)!).filter(Boolean);
  }

  /** Handles one authenticated request with a valid api-version. */
  handle(req: ParsedRequest, body: unknown, res: ServerResponse) {
    const segs = req.path.split("/").filter(Boolean);
    const m = req.method;
    const [root, name, third] = segs;
    const trailingSlash = req.path.endsWith("/");
    if (root?.toLowerCase() === "secrets") {
      if (segs.length === 1 && m === "GET") return this.listSecrets(res);
      if (!name) return notFoundRoute(res);
      if (segs.length === 2 && m === "PUT") return this.put(name, body, res);
      if (segs.length === 2 && m === "DELETE") return this.remove(name, res);
      if (segs.length === 2 && (m === "GET" || m === "PATCH")) {
        // `/secrets/{name}` and `/secrets/{name}/` both mean "latest"
        return m === "GET" ? this.getBundle(name, undefined, res) : this.patch(name, undefined, body, res);
      }
      if (segs.length === 3 && third?.toLowerCase() === "versions" && m === "GET" && !trailingSlash) {
        return this.listVersions(name, res);
      }
      if (segs.length === 3 && m === "GET") return this.getBundle(name, third, res);
      if (segs.length === 3 && m === "PATCH") return this.patch(name, third, body, res);
    }
    if (root?.toLowerCase() === "deletedsecrets" && name && segs.length === 2) {
      if (m === "GET") return this.getDeleted(name, res);
      if (m === "DELETE") return this.purge(name, res);
    }
    if (root?.toLowerCase() === "deletedsecrets" && name && segs.length === 3 && m === "POST") {
      if (third?.toLowerCase() === "recover") return this.recover(name, res);
    }
    return notFoundRoute(res);
  }

  private bundle(s: SecretState, withValue: boolean): Record<string, unknown> {
    const attributes: Record<string, unknown> = {
      enabled: s.attributes.enabled,
      created: s.attributes.created,
      updated: s.attributes.updated,
      recoveryLevel: s.attributes.recoveryLevel,
      recoverableDays: s.attributes.recoverableDays,
    };
    if (s.attributes.exp !== undefined) attributes.exp = s.attributes.exp;
    if (s.attributes.nbf !== undefined) attributes.nbf = s.attributes.nbf;
    const out: Record<string, unknown> = { id: `${this.url}/secrets/${s.name}/${s.version}`, attributes };
    if (withValue) out.value = s.value;
    if (Object.keys(s.tags).length) out.tags = s.tags;
    if (s.contentType !== undefined) out.contentType = s.contentType;
    return out;
  }

  private put(name: string, body: unknown, res: ServerResponse) {
    if (!/^[0-9a-zA-Z-]{1,127}$/.test(name)) {
      return sendJson(
        res,
        400,
        armError("BadParameter", `The request URI contains an invalid name: ${name}`),
      );
    }
    if (!isPlainObject(body) || typeof body.value !== "string") {
      return sendJson(res, 400, armError("BadParameter", "Property 'value' is required."));
    }
    if (this.deleted.has(name.toLowerCase())) {
      return sendJson(
        res,
        409,
        armError(
          "Conflict",
          `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
        ),
      );
    }
    const attrs = isPlainObject(body.attributes) ? body.attributes : {};
    const s = this.setSecret(name, {
      value: body.value,
      tags: isPlainObject(body.tags) ? (body.tags as Record<string, string>) : undefined,
      contentType: typeof body.contentType === "string" ? body.contentType : undefined,
      exp: typeof attrs.exp === "number" ? attrs.exp : undefined,
      nbf: typeof attrs.nbf === "number" ? attrs.nbf : undefined,
      enabled: typeof attrs.enabled === "boolean" ? attrs.enabled : undefined,
    });
    sendJson(res, 200, this.bundle(s, true));
    this.onSecretWritten?.(s);
  }

  private getBundle(name: string, version: string | undefined, res: ServerResponse) {
    const s = this.get(name, version || undefined);
    if (!s) return secretNotFound(res, name, version);
    if (!s.attributes.enabled) {
      return sendJson(res, 403, {
        error: {
          code: "Forbidden",
          message: "Operation get is not allowed on a disabled secret.",
          innererror: { code: "SecretDisabled" },
        },
      });
    }
    sendJson(res, 200, this.bundle(s, true));
  }

  private patch(name: string, version: string | undefined, body: unknown, res: ServerResponse) {
    const s = this.get(name, version || undefined);
    if (!s) return secretNotFound(res, name, version);
    if (body !== undefined && !isPlainObject(body)) {
      return sendJson(res, 400, armError("BadParameter", "The request body must be a JSON object."));
    }
    const b = body ?? {};
    if (isPlainObject(b.attributes)) {
      const a = b.attributes;
      if (typeof a.enabled === "boolean") s.attributes.enabled = a.enabled;
      if (typeof a.exp === "number") s.attributes.exp = a.exp;
      else if (a.exp === null) s.attributes.exp = undefined;
      if (typeof a.nbf === "number") s.attributes.nbf = a.nbf;
      else if (a.nbf === null) s.attributes.nbf = undefined;
    }
    if (isPlainObject(b.tags)) s.tags = { ...(b.tags as Record<string, string>) };
    if (typeof b.contentType === "string") s.contentType = b.contentType;
    s.attributes.updated = nowSec();
    sendJson(res, 200, this.bundle(s, false));
  }

  private listSecrets(res: ServerResponse) {
    const value = this.names().map((s) => {
      const b = this.bundle(s, false);
      b.id = `${this.url}/secrets/${s.name}`;
      return b;
    });
    sendJson(res, 200, { value, nextLink: null });
  }

  private listVersions(name: string, res: ServerResponse) {
    const versions = this.versions(name);
    if (!versions.length) return secretNotFound(res, name);
    sendJson(res, 200, { value: versions.map((s) => this.bundle(s, false)), nextLink: null });
  }

  private deletedBundle(d: DeletedSecret): Record<string, unknown> {
    return {
      ...this.bundle(d.latest, false),
      recoveryId: `${this.url}/deletedsecrets/${d.latest.name}`,
      deletedDate: d.deletedDate,
      scheduledPurgeDate: d.scheduledPurgeDate,
    };
  }

  private remove(name: string, res: ServerResponse) {
    const versions = this.versions(name);
    if (!versions.length) return secretNotFound(res, name);
    const t = nowSec();
    const d: DeletedSecret = {
      latest: versions.at(-1)!,
      versions,
      deletedDate: t,
      scheduledPurgeDate: t + 90 * 86400,
    };
    this.secrets.delete(name.toLowerCase());
    this.deleted.set(name.toLowerCase(), d);
    sendJson(res, 200, this.deletedBundle(d));
  }

  private getDeleted(name: string, res: ServerResponse) {
    const d = this.deleted.get(name.toLowerCase());
    if (!d) return deletedNotFound(res, name);
    sendJson(res, 200, this.deletedBundle(d));
  }

  private purge(name: string, res: ServerResponse) {
    if (!this.deleted.delete(name.toLowerCase())) return deletedNotFound(res, name);
    sendJson(res, 204);
  }

  private recover(name: string, res: ServerResponse) {
    const d = this.deleted.get(name.toLowerCase());
    if (!d) return deletedNotFound(res, name);
    this.deleted.delete(name.toLowerCase());
    this.secrets.set(name.toLowerCase(), d.versions);
    sendJson(res, 200, this.bundle(d.latest, false));
  }
}

function secretNotFound(res: ServerResponse, name: string, version?: string) {
  const what = version ? `${name}/${version}` : name;
  sendJson(res, 404, {
    error: {
      code: "SecretNotFound",
      message: `A secret with (name/id) ${what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    },
  });
}

function deletedNotFound(res: ServerResponse, name: string) {
  sendJson(res, 404, { error: { code: "SecretNotFound", message: `Deleted Secret not found: ${name}` } });
}

function notFoundRoute(res: ServerResponse) {
  sendJson(res, 404, armError("NotFound", "The requested resource was not found."));
}
