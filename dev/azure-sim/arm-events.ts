/**
 * Turns what the simulator serves into the events Azure sends (events.ts): watches each ARM write,
 * delete and action until its answer, and emits the event once the change is applied — at once for
 * a synchronous answer, when its operation succeeds for a long-running one (ARM's event follows the
 * operation, and a GET before then still shows the old state). Admin writes (`/_sim/resources`) and
 * seeding raise no event: they stand for changes the tests make behind Azure's back.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ParsedRequest } from "./common.js";
import { armEvent, callerOf, EventForwarder, type EventForwarderOptions, secretEvents } from "./events.js";
import { lower, parseArmPath, type ResourceStore, typeOfId } from "./store.js";
import type { SecretState } from "./vault.js";

const WRITES = new Set(["PUT", "PATCH", "DELETE", "POST"]);

/** What an ARM write addresses: a resource (write/delete) or an action on one (POST …/{action}). */
export function armTarget(
  method: string,
  path: string,
): { operation: "write" | "delete" | "action"; resourceId: string; action?: string } | undefined {
  const clean = path.replace(/\/+$/, "");
  const p = parseArmPath(clean);
  if (!p?.namespace) return undefined;
  if (p.names.length === p.types.length) {
    if (method === "PUT" || method === "PATCH") return { operation: "write", resourceId: clean };
    if (method === "DELETE") return { operation: "delete", resourceId: clean };
    return undefined;
  }
  if (method === "POST" && p.names.length === p.types.length - 1 && p.names.length > 0) {
    const segs = clean.split("/");
    return { operation: "action", resourceId: segs.slice(0, -1).join("/"), action: segs.at(-1)! };
  }
  return undefined;
}

export class ArmEventSource {
  private readonly forwarder: EventForwarder;
  /** Long-running operations whose event waits for their success. */
  private readonly pending = new Map<string, () => void>();

  constructor(
    opts: EventForwarderOptions,
    private readonly store: ResourceStore,
  ) {
    this.forwarder = new EventForwarder(opts);
  }

  watch(req: IncomingMessage, res: ServerResponse, pr: ParsedRequest): void {
    if (!WRITES.has(pr.method)) return;
    const target = armTarget(pr.method, pr.path);
    if (!target) return;
    const caller = callerOf(req.headers.authorization);
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const query = new URLSearchParams(pr.query).toString();
    res.on("finish", () => {
      const status = res.statusCode;
      if (status < 200 || status >= 300 || (target.operation === "delete" && status === 204)) return;
      const emit = () =>
        this.forwarder.arm(
          armEvent({
            ...target,
            resourceId: this.store.get(target.resourceId)?.id ?? target.resourceId,
            method: pr.method,
            url: `${pr.rawPath}${query ? `?${query}` : ""}`,
            caller,
            clientRequestId: header("x-ms-client-request-id"),
            correlationId: header("x-ms-correlation-request-id"),
          }),
        );
      const asyncUrl = res.getHeader("azure-asyncoperation") ?? res.getHeader("location");
      const opId = /\/(?:operationStatuses|operationResults)\/([^/?]+)/i.exec(String(asyncUrl ?? ""))?.[1];
      if (opId) this.pending.set(lower(opId), emit);
      else emit();
    });
  }

  operationSucceeded(operationId: string): void {
    const emit = this.pending.get(lower(operationId));
    this.pending.delete(lower(operationId));
    emit?.();
  }

  secretWritten(s: SecretState): void {
    const vault = this.store
      .all()
      .find((r) => lower(typeOfId(r.id)) === "microsoft.keyvault/vaults" && lower(r.name) === lower(s.vault));
    if (!vault) return; // a vault without a resource has no resource ID to name as the topic
    this.forwarder.keyVault(
      secretEvents(vault.id, {
        vault: s.vault,
        name: s.name,
        version: s.version,
        id: s.id,
        nbf: s.attributes.nbf,
        exp: s.attributes.exp,
      }),
    );
  }

  flushed(): Promise<void> {
    return this.forwarder.flushed();
  }

  close(): void {
    this.forwarder.close();
  }
}
