// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.

/**
 * Node's own fetch classes (undici's), for the light ones to fall back on. Node defines the globals as
 * lazy data properties: the first read of `globalThis.Response` (even of its descriptor) loads undici,
 * ~22 ms here. Once install-fetch.ts has put the light classes in their place, the globals no longer
 * lead to Node's, so `captureNative()` runs first and keeps a way to them:
 * - in a process started with `--expose-internals` (the cold runner: cold-runtime.ts starts it so) a
 *   loader of the module the globals come from, used only if a handler needs the real classes, so that a
 *   handler that answers text never loads undici;
 * - anywhere else the classes themselves, read now (warm workers and the main thread load them at start
 *   anyway, handler/prime.ts).
 */
type Undici = { Response: typeof Response, Request: typeof Request, Headers: typeof Headers }

let response: typeof Response | undefined
let request: typeof Request | undefined
let headers: typeof Headers | undefined
let loader: (() => Undici) | undefined
const loadListeners: (() => void)[] = []

export function captureNative (): void {
  if (response !== undefined || loader !== undefined) return
  if (process.execArgv.includes('--expose-internals')) {
    try {
      const require = process.getBuiltinModule('node:module').createRequire(process.execPath)
      require.resolve('internal/deps/undici/undici')
      loader = () => require('internal/deps/undici/undici') as Undici
      return
    } catch {}
  }
  response = globalThis.Response
  request = globalThis.Request
  headers = globalThis.Headers
}

/** Whether Node's classes are loaded in this thread (then light instances are linked to them). */
export function nativeLoaded (): boolean {
  return response !== undefined
}

function load (): void {
  if (loader !== undefined) {
    const undici = loader()
    loader = undefined
    response = undici.Response
    request = undici.Request
    headers = undici.Headers
    for (const listener of loadListeners) listener()
  } else {
    // Nothing captured: the globals are still Node's own.
    response = globalThis.Response
    request = globalThis.Request
    headers = globalThis.Headers
  }
}

/** Node's Response class, loading undici on the first call where it is not loaded yet. */
export function realResponse (): typeof Response {
  if (response === undefined) load()
  return response as typeof Response
}

/** Node's Request class, loading undici on the first call where it is not loaded yet. */
export function realRequest (): typeof Request {
  if (request === undefined) load()
  return request as typeof Request
}

/** Node's Headers class, loading undici on the first call where it is not loaded yet. */
export function realHeaders (): typeof Headers {
  if (headers === undefined) load()
  return headers as typeof Headers
}

/** `listener` runs once undici is loaded through the captured loader. */
export function onNativeLoaded (listener: () => void): void {
  loadListeners.push(listener)
}
