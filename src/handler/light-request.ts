// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.
import { delegateMembers } from './light-response.ts'
import { realRequest } from './native-fetch.ts'

/** What a handler's Request is made from (a subset of invoke.ts's HandlerCall, so both can share it). */
export interface RequestParts {
  method: string
  url: string
  headers: string[]
  body: Uint8Array | null | ReadableStream<Uint8Array>
}

const PARTS = Symbol('warmgate.requestParts')
const REAL = Symbol('warmgate.realRequest')
const SIGNAL = Symbol('warmgate.signal')
const HREF = Symbol('warmgate.href')
const MAKE = Symbol('warmgate.makeRequest')

// Methods the fetch spec takes as they are (already normalized, not forbidden); any other goes the real way.
const PLAIN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])

/**
 * The handler's Request, made only when the handler uses more of it than `method`, `url` and `signal`
 * (light-response.ts says why; a hello-world handler never reads its request). `make` builds the real
 * one (invoke.ts) from the same parts, once; every other member answers from it.
 */
export class LightRequest {
  declare [PARTS]: RequestParts
  declare [SIGNAL]: AbortSignal
  declare [REAL]: Request | undefined
  declare [HREF]: string | undefined
  declare [MAKE]: (parts: RequestParts, signal: AbortSignal) => Request

  get method (): string { return this[PARTS].method }
  get signal (): AbortSignal { return this[SIGNAL] }
  /** The URL as the URL parser serializes it (host lower-cased, default port dropped), as Request.url is. */
  get url (): string {
    const real = this[REAL]
    if (real !== undefined) return real.url
    return (this[HREF] ??= new URL(this[PARTS].url).href)
  }
}

/**
 * A light Request when the parts are ones the real constructor takes as they are, else the real Request
 * at once, so that what it refuses (a forbidden method, a URL it cannot parse) throws here, as before.
 */
export function lightRequest (parts: RequestParts, signal: AbortSignal, make: (parts: RequestParts, signal: AbortSignal) => Request, untrusted: boolean): Request {
  // A URL from the gateway's own front door already parses (http/target.ts); one from elsewhere is checked.
  if (!PLAIN_METHODS.has(parts.method) || (untrusted && !URL.canParse(parts.url))) return make(parts, signal)
  const request = Object.create(LightRequest.prototype) as LightRequest
  request[PARTS] = parts
  request[SIGNAL] = signal
  request[REAL] = undefined
  request[HREF] = undefined
  request[MAKE] = make
  return request as unknown as Request
}

/** The real Request behind a light one (made now if need be); any other value as it is. */
export function realRequestOf<T> (value: T): T | Request {
  if (!(value instanceof LightRequest)) return value
  const light = value as LightRequest
  return (light[REAL] ??= light[MAKE](light[PARTS], light[SIGNAL]))
}

const GETTERS = ['cache', 'credentials', 'destination', 'headers', 'integrity', 'mode', 'redirect', 'referrer',
  'referrerPolicy', 'keepalive', 'isReloadNavigation', 'isHistoryNavigation', 'duplex', 'body', 'bodyUsed']
const METHODS = ['clone', 'arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text']
const real = realRequestOf as (self: never) => object

delegateMembers(LightRequest.prototype, { getters: GETTERS, methods: METHODS }, real)
Object.defineProperty(LightRequest.prototype, Symbol.toStringTag, { value: 'Request', configurable: true })
Object.defineProperty(LightRequest.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value (this: LightRequest, depth: number, options: object) {
    return process.getBuiltinModule('node:util').inspect(realRequestOf(this), options)
  },
})

/** Once undici is loaded: `instanceof Request` holds for a light one, and newer members are delegated. */
export function linkRequest (): void {
  const proto = realRequest().prototype
  const members = { getters: [] as string[], methods: [] as string[] }
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue
    const descriptor = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor
    if (descriptor.get !== undefined) members.getters.push(name)
    else if (typeof descriptor.value === 'function') members.methods.push(name)
  }
  delegateMembers(LightRequest.prototype, members, real)
  Object.setPrototypeOf(LightRequest.prototype, proto)
}
