/**
 * The events Azure sends for what the simulator serves (dev/event-grid/): every successful ARM write,
 * delete or action becomes `Microsoft.Resources.Resource{Write,Delete,Action}Success` in the Event
 * Grid schema, with `data.authorization`, `data.claims` (the caller's token claims: its `oid` when
 * the bearer token is a JWT — unsigned locally — else a fixed "local user"), `data.httpRequest` and
 * the rest as ARM fills them; a secret version written to a simulated vault becomes
 * `Microsoft.KeyVault.SecretNewVersionCreated` (and `SecretNearExpiry` / `SecretExpired` when its
 * expiry is within 30 days / past). Events leave in order through one queue to the local Event
 * Grid's system topics; a failure to hand one over is logged, never fails the ARM call.
 */
import https from "node:https";
import type {
  EventGridEvent,
  KeyVaultSecretNewVersionCreatedEventData,
  ResourceActionSuccessEventData,
  ResourceDeleteSuccessEventData,
  ResourceWriteSuccessEventData,
} from "@azure/eventgrid";
import { readTokenClaims } from "../../shared/azure/local-credential.js";
import { parseArmPath, typeOfId } from "./store.js";

/** The tenant the simulated subscriptions belong to. */
const TENANT_ID = "00000000-0000-0000-0000-000000000000";

/** Whoever calls without a JWT (e.g. `curl -H "authorization: Bearer x"`): a person, with the
 *  personal claims Azure puts in events (name, UPN, IP address) — driftguard must never keep them. */
export const LOCAL_USER = {
  objectId: "5c1e2f3a-4b5c-4d6e-8f70-0000000001c0",
  name: "Local User",
  upn: "local.user@contoso.example",
  ipaddr: "192.0.2.10",
} as const;

const OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const TID_CLAIM = "http://schemas.microsoft.com/identity/claims/tenantid";

export interface Caller {
  objectId: string;
  claims: Record<string, string>;
  principalType: "User" | "ServicePrincipal";
}

/** Who made an ARM call, from its `Authorization` header, as ARM puts it in the event's claims. */
export function callerOf(authorization: string | undefined): Caller {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  const claims = token ? readTokenClaims(token) : undefined;
  const oid = typeof claims?.oid === "string" ? claims.oid : undefined;
  if (claims && oid) {
    const out: Record<string, string> = {};
    for (const k of ["aud", "iss", "iat", "nbf", "exp", "appid", "idtyp", "ver", "name", "upn", "ipaddr"])
      if (claims[k] !== undefined) out[k] = String(claims[k]);
    out[OID_CLAIM] = oid;
    out[TID_CLAIM] = String(claims.tid ?? TENANT_ID);
    return { objectId: oid, claims: out, principalType: claims.upn ? "User" : "ServicePrincipal" };
  }
  const now = Math.floor(Date.now() / 1000);
  return {
    objectId: LOCAL_USER.objectId,
    principalType: "User",
    claims: {
      aud: "https://management.core.windows.net/",
      iss: `https://sts.windows.net/${TENANT_ID}/`,
      iat: String(now),
      nbf: String(now),
      exp: String(now + 3600),
      name: LOCAL_USER.name,
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": LOCAL_USER.upn,
      ipaddr: LOCAL_USER.ipaddr,
      [OID_CLAIM]: LOCAL_USER.objectId,
      [TID_CLAIM]: TENANT_ID,
    },
  };
}

export type ArmOperation = "write" | "delete" | "action";

type ArmEventData =
  | ResourceWriteSuccessEventData
  | ResourceDeleteSuccessEventData
  | ResourceActionSuccessEventData;

const EVENT_TYPES: Record<ArmOperation, string> = {
  write: "Microsoft.Resources.ResourceWriteSuccess",
  delete: "Microsoft.Resources.ResourceDeleteSuccess",
  action: "Microsoft.Resources.ResourceActionSuccess",
};

/** The event ARM sends for a successful operation on `resourceId`. */
export function armEvent(op: {
  operation: ArmOperation;
  resourceId: string;
  /** For actions: the action's name (`regenerateKey`). */
  action?: string;
  method: string;
  /** Path and query as called (for `httpRequest.url`). */
  url: string;
  caller: Caller;
  clientRequestId?: string;
  correlationId?: string;
}): EventGridEvent<ArmEventData> {
  const p = parseArmPath(op.resourceId);
  const sub = p?.subscriptionId ?? "";
  const type = typeOfId(op.resourceId);
  const operationName = op.operation === "action" ? `${type}/${op.action}/action` : `${type}/${op.operation}`;
  const data = {
    authorization: {
      scope: op.resourceId,
      action: operationName,
      evidence: {
        role: "Contributor",
        roleAssignmentScope: `/subscriptions/${sub}`,
        roleAssignmentId: "9f0b5a1c2d3e4f5a6b7c8d9e0f1a2b3c",
        roleDefinitionId: "b24988ac618042a0ab8820f7382dd24c",
        principalId: op.caller.objectId.replace(/-/g, ""),
        principalType: op.caller.principalType,
      },
    },
    claims: op.caller.claims,
    correlationId: op.correlationId ?? crypto.randomUUID(),
    httpRequest: {
      clientRequestId: op.clientRequestId ?? crypto.randomUUID(),
      clientIpAddress: op.caller.claims.ipaddr ?? "127.0.0.1",
      method: op.method,
      url: `https://management.azure.com${op.url}`,
    },
    resourceProvider: p?.namespace ?? "",
    resourceUri: op.resourceId,
    operationName,
    status: "Succeeded",
    subscriptionId: sub,
    tenantId: op.caller.claims["http://schemas.microsoft.com/identity/claims/tenantid"] ?? TENANT_ID,
  } as unknown as ArmEventData;
  return {
    id: crypto.randomUUID(),
    topic: `/subscriptions/${sub}`,
    subject: op.resourceId,
    eventType: EVENT_TYPES[op.operation],
    eventTime: new Date(),
    dataVersion: "2",
    metadataVersion: "1",
    data,
  } as EventGridEvent<ArmEventData>;
}

/** Key Vault events for a new secret version (`vaultId`: the vault's resource ID). */
export function secretEvents(
  vaultId: string,
  secret: { vault: string; name: string; version: string; id: string; nbf?: number; exp?: number },
): EventGridEvent<KeyVaultSecretNewVersionCreatedEventData>[] {
  const data = {
    Id: secret.id,
    VaultName: secret.vault,
    ObjectType: "Secret",
    ObjectName: secret.name,
    Version: secret.version,
    NBF: secret.nbf ?? null,
    EXP: secret.exp ?? null,
  } as unknown as KeyVaultSecretNewVersionCreatedEventData;
  const event = (type: string) =>
    ({
      id: crypto.randomUUID(),
      topic: vaultId,
      subject: secret.name,
      eventType: `Microsoft.KeyVault.${type}`,
      eventTime: new Date(),
      dataVersion: "1",
      metadataVersion: "1",
      data,
    }) as EventGridEvent<KeyVaultSecretNewVersionCreatedEventData>;
  const out = [event("SecretNewVersionCreated")];
  const nowS = Date.now() / 1000;
  if (secret.exp !== undefined && secret.exp <= nowS) out.push(event("SecretExpired"));
  else if (secret.exp !== undefined && secret.exp - nowS <= 30 * 86_400) out.push(event("SecretNearExpiry"));
  return out;
}

export interface EventForwarderOptions {
  /** The local Event Grid's origin. */
  url: string;
  /** Its certificate's CA. */
  ca: string;
  topics: { arm: string; keyVault: string };
  onError?: (err: Error) => void;
}

/** Hands events to the local Event Grid's system topics, in order, one request at a time. */
export class EventForwarder {
  private tail: Promise<void> = Promise.resolve();
  private readonly agent: https.Agent;

  constructor(private readonly opts: EventForwarderOptions) {
    this.agent = new https.Agent({ keepAlive: true, ca: opts.ca });
  }

  arm(event: EventGridEvent<unknown>): void {
    this.enqueue(this.opts.topics.arm, [event]);
  }

  keyVault(events: EventGridEvent<unknown>[]): void {
    if (events.length > 0) this.enqueue(this.opts.topics.keyVault, events);
  }

  /** Resolves when every event handed over so far has been sent. */
  flushed(): Promise<void> {
    return this.tail;
  }

  close(): void {
    this.agent.destroy();
  }

  private enqueue(topic: string, events: EventGridEvent<unknown>[]): void {
    const body = JSON.stringify(events);
    this.tail = this.tail.then(() =>
      this.post(`${this.opts.url}/_sim/system-topics/${encodeURIComponent(topic)}/events`, body).catch(
        (err: Error) => this.opts.onError?.(err),
      ),
    );
  }

  private post(url: string, body: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`system topic answered ${res.statusCode}`)),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error("system topic did not answer")));
      req.on("error", reject);
      req.end(body);
    });
  }
}
