/** Shape checks on what the pipeline hands to an AuditStore (programming errors surface as InputError naming the field). */
import { InputError } from "../errors.js";
import { MODES } from "../policy/schema.js";
import { isResourceId } from "../resource-id.js";
import { SIGNAL_SOURCES } from "../signals/types.js";
import { canonicalTime } from "./paging.js";
import { type AuditRecordInput, OUTCOMES } from "./types.js";

export function validateRecordInput(input: AuditRecordInput): void {
  const bad = (path: string, message: string): never => {
    throw new InputError("InvalidAuditRecord", message, path);
  };
  if (!input || typeof input !== "object") bad("record", "audit record must be an object");
  if (!isResourceId(input.resourceId)) bad("resourceId", "resourceId must be an ARM resource ID");
  canonicalTime(input.time, "time");
  if (typeof input.subscriptionId !== "string" || !/^[0-9a-fA-F-]{1,64}$/.test(input.subscriptionId)) {
    bad("subscriptionId", "subscriptionId must be a subscription GUID");
  }
  for (const f of ["resourceType", "policy", "kind", "actor"] as const) {
    if (typeof input[f] !== "string" || input[f].length > 1024)
      bad(f, `${f} must be a string of at most 1024 characters`);
  }
  if (!(MODES as readonly string[]).includes(input.mode))
    bad("mode", `mode must be one of ${MODES.join(", ")}`);
  if (!(OUTCOMES as readonly string[]).includes(input.outcome))
    bad("outcome", `outcome must be one of ${OUTCOMES.join(", ")}`);
  if (!input.signal || typeof input.signal !== "object") bad("signal", "signal must be an object");
  if (!SIGNAL_SOURCES.includes(input.signal.source))
    bad("signal.source", `signal.source must be one of ${SIGNAL_SOURCES.join(", ")}`);
  if (typeof input.signal.type !== "string") bad("signal.type", "signal.type must be a string");
  if (typeof input.signal.id !== "string") bad("signal.id", "signal.id must be a string");
  if (!Array.isArray(input.changes)) bad("changes", "changes must be an array");
  input.changes.forEach((c, i) => {
    if (!c || typeof c !== "object" || typeof c.path !== "string")
      bad(`changes[${i}].path`, "each change needs a string path");
  });
  if (typeof input.durationMs !== "number" || !Number.isFinite(input.durationMs) || input.durationMs < 0) {
    bad("durationMs", "durationMs must be a non-negative number");
  }
  if (input.error) {
    for (const f of ["code", "message", "step"] as const) {
      if (typeof input.error[f] !== "string") bad(`error.${f}`, `error.${f} must be a string`);
    }
  }
}
