/**
 * Building and sanitising audit records. Records must never hold a secret value, key, token or
 * personal claim (name, UPN, IP address) in clear (docs/audit-records.md#what-a-record-never-holds). Redaction works on two levels:
 *
 * - by field name: fields named like secrets (`value`, `key`, `password`, `token`, …) or personal
 *   claims (`upn`, `ipaddr`, `email`, …) are replaced wherever they appear; `name` is kept, because
 *   in `changes` it is a resource / rule name — so whole `claims` objects, raw object IDs (`oid`,
 *   `objectId`) and request envelopes (`httpRequest`, `headers`) are replaced as a whole;
 * - by text pattern, on every string: bearer tokens, JWTs, SAS `sig=`, `code=` keys, connection
 *   string secrets, e-mail addresses and bare IPv4 addresses.
 *
 * Network configuration is not personal data: IP prefixes in CIDR form (`10.0.0.0/8`) always
 * survive the text patterns, and under address fields of rule definitions (`sourceAddressPrefix`,
 * `destinationAddressPrefixes`, `addressPrefix`, …, or a change whose `path` ends in one) bare
 * IPs, CIDRs and service tags (`Internet`, `*`, `VirtualNetwork`) are kept verbatim.
 */
import { pseudonymize, REDACTED, redactDeep, redactText } from "../redact.js";
import type { Signal } from "../signals/types.js";
import type { AuditRecordInput, RecordSignal } from "./types.js";
import { validateRecordInput } from "./validate.js";

/** The record's view of a signal: source, type, ID, correlation ID and a pseudonymous caller. */
export function toRecordSignal(signal: Signal, pseudonymKey: string): RecordSignal {
  const out: RecordSignal = {
    source: signal.source,
    type: signal.type,
    id: signal.id,
    correlationId: signal.correlationId ?? null,
  };
  if (signal.caller && (signal.caller.objectId || signal.caller.appId)) {
    out.caller = {
      id: signal.caller.objectId ? pseudonymize(signal.caller.objectId, pseudonymKey) : null,
      appId: signal.caller.appId ?? null,
    };
  }
  return out;
}

/** Field names holding network address configuration (NSG rules, subnets, firewall rules). */
const ADDRESS_FIELD =
  /^(?:source|destination)?addressprefix(?:es)?$|^(?:ipaddressorrange|iprangeornetwork|startipaddress|endipaddress)$/i;

/** A bare IPv4/IPv6 address, a CIDR prefix, or a service tag / wildcard. */
const NETWORK_VALUE =
  /^(?:\*|[A-Za-z][A-Za-z0-9.]*|(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2})?|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*(?:\/\d{1,3})?)$/;

export function isNetworkConfigValue(field: string, value: string): boolean {
  return ADDRESS_FIELD.test(field) && value.length <= 64 && NETWORK_VALUE.test(value);
}

/** `properties.securityRules[x].sourceAddressPrefix` → `sourceAddressPrefix`. */
function lastPathField(path: string): string {
  const m = /([A-Za-z0-9_]+)(?:\[[^\]]*\])*$/.exec(path);
  return m?.[1] ?? "";
}

const PSEUDONYM = /^p-[0-9a-f]{24}$/;

/** Beyond the shared secret/personal names: whole claim sets and raw object IDs never belong in a
 *  record (`name` is kept for resources, so a claims object must go as a whole). */
const RECORD_REDACT_NAMES = [
  "claims",
  "oid",
  "objectId",
  "http://schemas.microsoft.com/identity/claims/objectidentifier",
  "httpRequest",
  "authorization",
  "headers",
];

/**
 * Returns a copy of the input safe to store: every free-text and structured field that could hold
 * a secret or personal data is redacted. Idempotent. The identifiers a record is queried by (resource
 * IDs, policy, kind) are kept; caller / approver IDs that are not pseudonyms are replaced.
 */
export function sanitizeRecordInput(input: AuditRecordInput): AuditRecordInput {
  const deep = <T>(v: T): T =>
    redactDeep(v, { keepNames: ["name"], keepValue: isNetworkConfigValue, redactNames: RECORD_REDACT_NAMES });
  const out: AuditRecordInput = {
    ...input,
    actor: redactText(input.actor),
    signal: sanitizeSignal(input.signal),
    changes: (input.changes ?? []).map((c) => {
      const field = lastPathField(c.path);
      const value = (v: unknown): unknown =>
        typeof v === "string" && isNetworkConfigValue(field, v)
          ? v
          : Array.isArray(v) && v.every((x) => typeof x === "string" && isNetworkConfigValue(field, x))
            ? [...v]
            : SECRET_PATH.test(field)
              ? v === null || v === undefined
                ? v
                : REDACTED
              : deep(v);
      return { path: redactText(c.path), from: value(c.from), to: value(c.to) };
    }),
  };
  if (input.reason !== undefined) out.reason = redactText(input.reason);
  if (input.followUp !== undefined) out.followUp = deep(input.followUp);
  if (input.error) {
    out.error = {
      code: redactText(input.error.code),
      message: redactText(input.error.message),
      step: input.error.step,
    };
  }
  if (input.approver) {
    out.approver = {
      ...input.approver,
      id: PSEUDONYM.test(input.approver.id) ? input.approver.id : REDACTED,
    };
  }
  return out;
}

/** A change whose path names a secret field (`properties.value`, `keys[0].value`) never shows its values. */
const SECRET_PATH =
  /^(?:value|secret|secretvalue|password|key|key1|key2|primarykey|secondarykey|keys|token|accesstoken|connectionstring|clientsecret)$/i;

function sanitizeSignal(signal: RecordSignal): RecordSignal {
  const out: RecordSignal = {
    source: signal.source,
    type: redactText(signal.type),
    id: redactText(signal.id),
    correlationId:
      signal.correlationId === null || signal.correlationId === undefined
        ? null
        : redactText(signal.correlationId),
  };
  if (signal.caller !== undefined) {
    out.caller =
      signal.caller === null
        ? null
        : {
            id: signal.caller.id !== null && PSEUDONYM.test(signal.caller.id) ? signal.caller.id : null,
            appId: signal.caller.appId ?? null,
          };
  }
  return out;
}

/** What a store keeps of an input: checked (an InputError names the bad field), then sanitised, as a copy. */
export function storableRecordInput(input: AuditRecordInput): AuditRecordInput {
  validateRecordInput(input);
  return sanitizeRecordInput(structuredClone(input));
}
