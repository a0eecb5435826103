/**
 * Spans for the store calls (Cosmos DB has no OpenTelemetry instrumentation of its own): every
 * asynchronous method of a store becomes a span `cosmos.<store>.<method>`; the gate's sessions too,
 * so the record write (`cosmos.gate.commit`) shows in each signal's trace.
 */
import { withSpan } from "./api.js";

const SESSION_RETURNING = new Set(["enter"]);

export function traced<T extends object>(target: T, store: string): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      // Only `async` methods are store calls; plain ones (e.g. a session's cause lookup) pass through.
      if (value.constructor?.name !== "AsyncFunction") return value.bind(obj);
      return (...args: unknown[]) =>
        withSpan(
          `cosmos.${store}.${prop}`,
          { "db.system": "cosmosdb", "driftguard.store": store },
          async () => {
            const out = await value.apply(obj, args);
            if (
              SESSION_RETURNING.has(prop) &&
              out &&
              typeof out === "object" &&
              "session" in out &&
              out.session
            )
              return { ...out, session: traced(out.session as object, `${store}.session`) };
            return out;
          },
        );
    },
  });
}
