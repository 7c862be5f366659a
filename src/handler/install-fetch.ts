// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.
import { linkHeaders } from './light-headers.ts'
import { linkRequest, realRequestOf } from './light-request.ts'
import { LightResponse, linkResponse } from './light-response.ts'
import { captureNative, nativeLoaded, onNativeLoaded, realHeaders, realRequest, realResponse } from './native-fetch.ts'

let installed = false

/** Whether this thread's globals are the light fetch classes (handlers then get light Requests). */
export function lightFetchInstalled (): boolean {
  return installed
}

/**
 * Puts the light classes in place of this thread's globals (README "Fetch classes"): `Response` becomes
 * LightResponse; `Request` a subclass of Node's that accepts a light Request as its input; `fetch` a
 * wrapper that does the same. Loads undici only where native-fetch.ts must (not in the cold runner).
 * `WARMGATE_LIGHT_FETCH=0` keeps Node's own classes (every handler then pays for them, as before).
 * Idempotent; returns whether they are in place.
 */
export function installLightFetch (): boolean {
  if (installed) return true
  if (process.env.WARMGATE_LIGHT_FETCH === '0') return false
  installed = true
  captureNative()
  setGlobal('Response', LightResponse)
  defineLazyGlobal('Request', lazyRequest)
  // `Headers` stays Node's class, reached through native-fetch.ts: Node's own lazy global would load undici
  // behind its back (the cold runner), and a light request's headers would then fail `instanceof Headers`.
  defineLazyGlobal('Headers', realHeaders)
  const nativeFetch = globalThis.fetch
  setGlobal('fetch', function fetch (input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return nativeFetch(realRequestOf(input) as string | URL | Request, init)
  })
  if (nativeLoaded()) link()
  else onNativeLoaded(link)
  return true
}

/** Light instances pass `instanceof` of Node's classes too, once those exist. */
function link (): void {
  linkResponse(realResponse())
  linkRequest()
  linkHeaders(realHeaders())
}

function setGlobal (name: string, value: unknown): void {
  // Deleted first: redefining one of Node's lazy globals in place would load what it stands for.
  delete (globalThis as Record<string, unknown>)[name]
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false })
}

/**
 * A global made on first read, then kept as a plain value. Anyone can still assign it, as with Node's
 * own lazy globals.
 */
function defineLazyGlobal (name: string, make: () => unknown): void {
  delete (globalThis as Record<string, unknown>)[name]
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get () {
      const value = make()
      setGlobal(name, value)
      return value
    },
    set (value: unknown) { setGlobal(name, value) },
  })
}

/** `Request` is made on first use only (it extends Node's, which loads undici): a handler that never names it costs nothing. */
function lazyRequest (): unknown {
  const Native = realRequest()
  const Request = class Request extends Native {
    constructor (input: string | URL | Request, init?: RequestInit) {
      super(realRequestOf(input) as string | URL | Request, init)
    }

    // Every Request is one of ours: Node's, a handler's light one, one made here.
    static [Symbol.hasInstance] (this: unknown, value: unknown): boolean {
      return Function.prototype[Symbol.hasInstance].call(this === Request ? Native : this, value)
    }
  }
  return Request
}
