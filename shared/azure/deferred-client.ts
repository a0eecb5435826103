/**
 * A typed stand-in for an Azure SDK client whose package is not loaded yet. Remediation kinds ask
 * for clients synchronously (`ctx.clients.storage(sub).storageAccounts.update(…)`); loading an SDK
 * package is asynchronous (`import()`, a separate chunk in the bundle). The stand-in records the
 * property path (`storageAccounts.update`) and, when it is called, loads the package, builds the
 * real client and makes the same call on it:
 * - a call returns a promise-like of the real call's result (`await` works as on the real client);
 * - the same value is also an async iterator, for list operations the SDK returns synchronously
 *   (`for await (const x of client.things.list())`, and `.byPage()`).
 * Once the real client exists, the stand-in forwards everything to it synchronously, so a kind that
 * kept a stand-in behaves exactly as with the real client. Only operation calls are deferred: a plain
 * property of the client (not an operation group or method) must not be read before the first call.
 */

/** Reads `path` on `root`, returning the owner of the last step and its value. */
function walk(root: unknown, path: readonly PropertyKey[]): { owner: unknown; value: unknown } {
  let owner: unknown;
  let value: unknown = root;
  for (const key of path) {
    owner = value;
    value = (owner as Record<PropertyKey, unknown>)[key];
  }
  return { owner, value };
}

function invoke(root: unknown, path: readonly PropertyKey[], args: unknown[]): unknown {
  const { owner, value } = walk(root, path);
  if (typeof value !== "function")
    throw new TypeError(
      `${path.map(String).join(".") || "client"} is not a function of the Azure SDK client`,
    );
  return Reflect.apply(value, owner, args);
}

/** An async iterator over whatever `source` resolves to (an async iterable or iterator). */
function lazyIterator(source: Promise<unknown>): AsyncIterableIterator<unknown> {
  let started: Promise<AsyncIterator<unknown>> | undefined;
  const iterator = () => {
    started ??= source.then((s) => {
      const iterable = s as Partial<AsyncIterable<unknown>> | null;
      if (iterable && typeof iterable[Symbol.asyncIterator] === "function")
        return iterable[Symbol.asyncIterator]!();
      if (s && typeof (s as AsyncIterator<unknown>).next === "function") return s as AsyncIterator<unknown>;
      throw new TypeError("the Azure SDK call did not return an async iterable");
    });
    return started;
  };
  return {
    next: async (...args: [] | [unknown]) => (await iterator()).next(...args),
    return: async (value?: unknown) => {
      const it = await iterator();
      return it.return ? it.return(value) : { done: true, value };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** The result of a deferred call: awaitable like a promise, iterable like a paged list. */
function deferredResult(result: Promise<unknown>): unknown {
  // Whoever awaits or iterates sees a rejection; this only keeps an unused result from being reported.
  result.catch(() => undefined);
  const all = lazyIterator(result);
  return {
    // biome-ignore lint/suspicious/noThenProperty: the deferred call is awaited like the SDK's promise
    then: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
      result.then(onFulfilled, onRejected),
    catch: (onRejected?: (e: unknown) => unknown) => result.catch(onRejected),
    finally: (onFinally?: () => void) => result.finally(onFinally),
    next: all.next,
    return: all.return,
    [Symbol.asyncIterator]: () => all,
    byPage: (settings?: unknown) =>
      lazyIterator(result.then((r) => (r as { byPage(s?: unknown): unknown }).byPage(settings))),
  };
}

/** A stand-in of type `T`: `current()` is the real client once it exists, `load()` makes it. */
export function deferredClient<T extends object>(current: () => T | undefined, load: () => Promise<T>): T {
  const node = (path: readonly PropertyKey[]): unknown =>
    new Proxy(function deferred() {}, {
      get(_target, prop) {
        // Never a thenable (so `await client` is the client) nor an iterable before the call.
        if (prop === "then" || typeof prop === "symbol") return undefined;
        const real = current();
        if (real) {
          const { value } = walk(real, [...path, prop]);
          const owner = walk(real, path).value;
          return typeof value === "function" ? value.bind(owner) : value;
        }
        return node([...path, prop]);
      },
      apply(_target, _this, args: unknown[]) {
        const real = current();
        if (real) return invoke(real, path, args);
        return deferredResult(load().then((loaded) => invoke(loaded, path, args)));
      },
    });
  return node([]) as T;
}
