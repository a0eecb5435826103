/** Small helpers that map core results and errors to HTTP responses (shared by every HTTP trigger). */
import type { HttpResponseInit } from "@azure/functions";
import { AuthzError } from "../shared/audit/authz.js";
import { InputError } from "../shared/errors.js";
import type { Logger } from "../shared/log.js";
import { redactText } from "../shared/redact.js";

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    jsonBody: body,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  };
}

/** 400/413 for bad input (naming the field), 403 for refused audit readers, 500 otherwise (details only in logs). */
export function errorResponse(err: unknown, log: Logger, what: string): HttpResponseInit {
  if (err instanceof InputError) {
    log.warn({ code: err.code, path: err.path, reason: redactText(err.message) }, `${what}: rejected input`);
    return json(err.status, err.toBody());
  }
  if (err instanceof AuthzError) {
    log.warn({ code: err.code }, `${what}: refused caller`);
    return json(err.status, {
      error: { code: err.code, message: err.message, path: "x-ms-client-principal" },
    });
  }
  // Anything else is ours (a store or SDK failure): its text stays in the (redacted) log.
  const e = err as { message?: string } | undefined;
  log.error({ err: redactText(String(e?.message ?? err)) }, `${what}: failed`);
  return json(500, {
    error: {
      code: "InternalError",
      message: "the request could not be processed; it is safe to retry",
      path: "",
    },
  });
}

/** Reads a request body with a size cap, before parsing. */
export async function readBodyText(
  req: { text(): Promise<string>; headers: { get(name: string): string | null } },
  limit: number,
): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit)
    throw new InputError("PayloadTooLarge", `request body exceeds ${limit} bytes`, "", 413);
  const text = await req.text();
  if (Buffer.byteLength(text) > limit)
    throw new InputError("PayloadTooLarge", `request body exceeds ${limit} bytes`, "", 413);
  return text;
}
