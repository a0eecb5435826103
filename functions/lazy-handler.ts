/**
 * A function's handler that loads its module on the first invocation. The host registers every
 * function when the app starts; loading a handler's module (and through it the runtime, the stores
 * and the SDKs) waits until that function is first called, so a new instance registers in tens of
 * milliseconds (see docs/performance.md).
 */
// biome-ignore lint/suspicious/noExplicitAny: a handler of any trigger's signature
type Handler = (...args: any[]) => Promise<any>;

export function lazyHandler<M extends Record<K, Handler>, K extends keyof M & string>(
  load: () => Promise<M>,
  name: K,
): M[K] {
  let loaded: Promise<M[K]> | undefined;
  const handler = async (...args: Parameters<M[K]>) => {
    loaded ??= load().then(
      (m) => m[name],
      (err: unknown) => {
        loaded = undefined; // a later invocation tries again
        throw err;
      },
    );
    return (await loaded)(...args);
  };
  return handler as M[K];
}
