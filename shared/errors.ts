/**
 * Typed errors. Each carries enough to answer the caller and to write an audit record. Pure like
 * the rest of the core: no Azure SDK import (the SDK's RestError is recognised by its shape).
 */

/** Bad input from a caller: answered with 400 `{"error":{"code","message","path"}}`. */
export class InputError extends Error {
  override readonly name = "InputError";
  constructor(
    readonly code: string,
    message: string,
    /** Dotted/indexed path of the offending field, e.g. `[0].data.resourceUri` or `limit`. */
    readonly path: string,
    readonly status: 400 | 413 | 415 = 400,
  ) {
    super(message);
  }
  toBody(): { error: { code: string; message: string; path: string } } {
    return { error: { code: this.code, message: this.message, path: this.path } };
  }
}

/** Invalid setting at start-up: fail fast naming the setting. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly setting: string,
    readonly reason: string,
  ) {
    super(`${setting}: ${reason}`);
  }
}

/** Steps of a remediation run, named in `error.step` of a failed record. */
export type Step = "read" | "plan" | "apply" | "verify" | "regenerate" | "write-secret";

/** A remediation step failed. `retryable` tells the trigger whether redelivery could succeed. */
export class RemediationError extends Error {
  override readonly name = "RemediationError";
  readonly step: Step;
  readonly resourceId: string;
  readonly retryable: boolean;
  readonly statusCode?: number;
  constructor(
    readonly code: string,
    message: string,
    opts: { step: Step; resourceId: string; retryable?: boolean; statusCode?: number; cause?: unknown },
  ) {
    super(message, { cause: opts.cause });
    this.step = opts.step;
    this.resourceId = opts.resourceId;
    this.retryable = opts.retryable ?? false;
    this.statusCode = opts.statusCode;
  }
}

/** What an HTTP status means for one call, e.g. 404 on a GET → `SecretNotFound`. */
export interface StatusMeaning {
  code: string;
  /** Replaces the SDK's message. */
  message?: string;
  retryable?: boolean;
}

export interface ErrorContext {
  step: Step;
  resourceId: string;
  /** What was being done, put before the message (`writing a new version of app-secret: …`). */
  doing?: string;
  /** Overrides whether a redelivery could succeed (default: from the HTTP status). */
  retryable?: boolean;
  /** Meanings of particular HTTP statuses for this call; they win over the defaults (412 below). */
  statuses?: Readonly<Record<number, StatusMeaning>>;
  /**
   * The call's request may hold secret values (a Key Vault PUT body): the SDK error is not kept as
   * `cause`, and these values are cut out of the message.
   */
  secrets?: readonly (string | undefined)[];
}

/**
 * `412 Precondition Failed` means the resource changed since it was read (If-Match): a redelivery
 * re-reads and re-plans, so it is always worth retrying.
 */
const DEFAULT_STATUSES: Readonly<Record<number, StatusMeaning>> = {
  412: {
    code: "PreconditionFailed",
    message: "the resource changed since it was read (If-Match failed)",
    retryable: true,
  },
};

/**
 * The one path from an unknown failure (SDK RestError, a long-running operation that failed,
 * network error, …) of a step to a RemediationError naming the step and the resource. A
 * RemediationError passes through unchanged. 408/429/5xx and failures without an HTTP status are
 * retryable; other 4xx are not.
 */
export function asRemediationError(err: unknown, ctx: ErrorContext): RemediationError {
  if (err instanceof RemediationError) return err;
  const status = isRestError(err) ? err.statusCode : undefined;
  const meaning = status !== undefined ? (ctx.statuses?.[status] ?? DEFAULT_STATUSES[status]) : undefined;
  const lro = status === undefined ? lroFailure(err) : undefined;
  const own = (err as { code?: unknown; message?: unknown } | null | undefined) ?? undefined;
  const code =
    meaning?.code ??
    lro ??
    (typeof own?.code === "string" && own.code ? own.code : status ? `Http${status}` : "Unexpected");
  const text = meaning?.message ?? (typeof own?.message === "string" ? own.message : String(err));
  const retryable =
    meaning?.retryable ??
    ctx.retryable ??
    (status === undefined || status === 408 || status === 429 || status >= 500);
  const message = redactSecretValue(
    `${ctx.doing ? `${ctx.doing}: ` : ""}${scrubMessage(text)}`,
    ...(ctx.secrets ?? []),
  );
  return new RemediationError(code, message, {
    step: ctx.step,
    resourceId: ctx.resourceId,
    retryable,
    statusCode: status,
    ...(ctx.secrets ? {} : { cause: err }),
  });
}

/** Runs `fn` as a step; any failure becomes a RemediationError (see `asRemediationError`). */
export async function withStep<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asRemediationError(err, ctx);
  }
}

/**
 * An Azure SDK `RestError` (from any copy of core-rest-pipeline), recognised as the SDK itself does
 * (`isRestError`: an error named `RestError`), so this module needs no SDK import.
 */
function isRestError(err: unknown): err is Error & { statusCode?: number } {
  return (
    typeof err === "object" &&
    err !== null &&
    (err as { name?: unknown }).name === "RestError" &&
    typeof (err as { message?: unknown }).message === "string"
  );
}

/** The HTTP status of an SDK failure (RestError), if it is one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof RemediationError) return err.statusCode;
  return isRestError(err) ? err.statusCode : undefined;
}

/**
 * A long-running operation that ended `Failed`/`Canceled` surfaces from core-lro as a plain Error
 * without an HTTP status ("The long-running operation has failed. <code>. <message>" /
 * "Operation was canceled"). It gets its own code; a redelivery re-reads and may retry.
 */
function lroFailure(err: unknown): "OperationFailed" | "OperationCanceled" | undefined {
  if (!(err instanceof Error)) return undefined;
  if (/^The long-running operation has failed/i.test(err.message)) return "OperationFailed";
  if (/^Operation was canceled/i.test(err.message)) return "OperationCanceled";
  return undefined;
}

/** Keeps SDK error messages to their first line and short: no request bodies (which may hold secret values). */
function scrubMessage(message: string): string {
  const firstLine = message.split("\n")[0] ?? message;
  return firstLine.length > 500 ? `${firstLine.slice(0, 500)}…` : firstLine;
}

/** Replaces every occurrence of each secret (4 characters or more) in `text` with `<redacted>`. */
export function redactSecretValue(text: string, ...secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join("<redacted>");
  }
  return out;
}
