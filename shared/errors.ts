/** Typed errors. Each carries enough to answer the caller and to write an audit record. */

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
export type Step =
  | "claim"
  | "match"
  | "read"
  | "plan"
  | "apply"
  | "verify"
  | "record"
  | "notify"
  | "regenerate"
  | "write-secret"
  | "restore";

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

/** Wraps an unknown failure (SDK RestError, network error, …) of `step` into a RemediationError. */
export function asRemediationError(err: unknown, step: Step, resourceId: string): RemediationError {
  if (err instanceof RemediationError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string } | undefined;
  const status = typeof e?.statusCode === "number" ? e.statusCode : undefined;
  const code = (typeof e?.code === "string" && e.code) || (status ? `Http${status}` : "Unexpected");
  // 408/429/5xx and network failures are worth a redelivery; 4xx are not.
  const retryable = status === undefined || status === 408 || status === 429 || status >= 500;
  return new RemediationError(code, scrubMessage(e?.message ?? String(err)), {
    step,
    resourceId,
    retryable,
    statusCode: status,
    cause: err,
  });
}

/** Keeps SDK error messages short and free of request bodies (which may hold secret values). */
function scrubMessage(message: string): string {
  const firstLine = message.split("\n")[0] ?? message;
  return firstLine.length > 500 ? `${firstLine.slice(0, 500)}…` : firstLine;
}
