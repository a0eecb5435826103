/**
 * One redaction module for logs and audit records. Secret values, keys, tokens, SAS signatures
 * and personal claims never leave the process in clear. The logger uses `REDACT_PATHS` (pino
 * redact); records and free text go through `redactDeep` / `redactText`.
 */
import { createHmac } from "node:crypto";

/** Field names whose values are always secret or personal, wherever they appear. */
export const SECRET_FIELD_NAMES = [
  "value",
  "secret",
  "secretValue",
  "password",
  "key",
  "key1",
  "key2",
  "primaryKey",
  "secondaryKey",
  "keys",
  "token",
  "accessToken",
  "access_token",
  "refresh_token",
  "id_token",
  "authorization",
  "Authorization",
  "code",
  "functionKey",
  "x-functions-key",
  "sig",
  "connectionString",
  "clientSecret",
  "client_secret",
  "validationCode",
] as const;

export const PERSONAL_FIELD_NAMES = [
  "name",
  "upn",
  "unique_name",
  "given_name",
  "family_name",
  "email",
  "ipaddr",
  "ipAddress",
  "clientIpAddress",
  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
  "http://schemas.microsoft.com/claims/authnmethodsreferences",
] as const;

/** pino redact paths: by path, so a legitimate `name` (resource name) elsewhere stays readable. */
export const REDACT_PATHS: string[] = [
  "*.value",
  "*.secret",
  "*.password",
  "*.key",
  "*.keys",
  "*.token",
  "*.accessToken",
  "*.authorization",
  "*.headers.authorization",
  '*.headers["x-functions-key"]',
  "*.headers.cookie",
  "*.connectionString",
  "*.clientSecret",
  "*.functionKey",
  "*.claims",
  "*.data.claims",
  "*.httpRequest.clientIpAddress",
  "*.data.httpRequest.clientIpAddress",
  "req.headers.authorization",
  'req.headers["x-functions-key"]',
  "req.query.code",
  "value",
  "secret",
  "password",
  "token",
  "claims",
  "authorization",
  "functionKey",
];

export const REDACTED = "<redacted>";

const SECRET_SET = new Set(SECRET_FIELD_NAMES.map((k) => k.toLowerCase()));
const PERSONAL_SET = new Set(PERSONAL_FIELD_NAMES.map((k) => k.toLowerCase()));

/** SAS signatures, bearer tokens, JWTs, `code=` query keys, IPv4 addresses and e-mail-like UPNs in free text. */
const TEXT_PATTERNS: [RegExp, string][] = [
  [/([?&](?:sig|code|token|access_token|key)=)[^&\s"']+/gi, `$1${REDACTED}`],
  // `name=value` secrets anywhere in free text (error messages echoing a request), not only in query strings.
  [
    /\b((?:sig|signature|token|access_token|refresh_token|client_secret|clientSecret|password|pwd|secret|api[-_]?key|subscription-key)=)[^&\s"',;]+/gi,
    `$1${REDACTED}`,
  ],
  [/\bBearer\s+[A-Za-z0-9\-._~+/]+=*/g, `Bearer ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b(?!\/\d)/g, "<ip>"],
  [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g, "<email>"],
];

/** Redacts secrets and personal data in a free-text string (error messages, reasons). */
export function redactText(text: string): string {
  let out = text;
  for (const [re, replacement] of TEXT_PATTERNS) out = out.replace(re, replacement);
  // Connection-string style secrets keep their key name.
  out = out.replace(/\b(AccountKey|SharedAccessKey|Password|Pwd)=[^;"'\s]+/gi, `$1=${REDACTED}`);
  return out;
}

/**
 * Deep copy with secret and personal fields replaced. `keepNames` lists field names that are safe
 * in this structure even though they are in the personal list (e.g. `name` of a resource).
 */
export function redactDeep<T>(
  input: T,
  opts: {
    keepNames?: string[];
    /** Additive option: string values (or string array items) under field `field` for which this
     *  returns true are kept verbatim instead of going through `redactText` — e.g. IP prefixes in
     *  NSG rule definitions, which are configuration, not personal data. */
    keepValue?: (field: string, value: string) => boolean;
    /** Additive option: further field names whose values are replaced whole (e.g. `claims`). */
    redactNames?: string[];
  } = {},
): T {
  const keep = new Set((opts.keepNames ?? []).map((k) => k.toLowerCase()));
  const extra = new Set((opts.redactNames ?? []).map((k) => k.toLowerCase()));
  const keepValue = opts.keepValue;
  const walk = (v: unknown, depth: number, field: string | undefined): unknown => {
    if (depth > 32) return REDACTED;
    if (typeof v === "string") return field !== undefined && keepValue?.(field, v) ? v : redactText(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1, field));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(v)) {
        const lk = k.toLowerCase();
        if (extra.has(lk) || (!keep.has(lk) && (SECRET_SET.has(lk) || PERSONAL_SET.has(lk))))
          out[k] = REDACTED;
        else out[k] = walk(val, depth + 1, k);
      }
      return out;
    }
    return v;
  };
  return walk(input, 0, undefined) as T;
}

/**
 * Stable pseudonymous ID for a person or principal: keyed HMAC-SHA-256 of the object ID, so the
 * same caller is recognisable across records without being identifiable from the record alone.
 */
export function pseudonymize(objectId: string, key: string): string {
  return `p-${createHmac("sha256", key).update(objectId.toLowerCase()).digest("hex").slice(0, 24)}`;
}
