// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.
import { LightHeaders } from './light-headers.ts'
import { delegateMembers, linkPrototype } from './light-response.ts'
import { realRequest } from './native-fetch.ts'
import type { SignalSource } from '../types.ts'

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
const HEADERS = Symbol('warmgate.headers')
const USED = Symbol('warmgate.bodyUsed')

// Methods the fetch spec takes as they are (already normalized, not forbidden); any other goes the real way.
const PLAIN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])

/**
 * The handler's Request, made only when the handler uses more of it than `method`, `url` and `signal`
 * (light-response.ts says why; a hello-world handler never reads its request). `make` builds the real
 * one (invoke.ts) from the same parts, once; every other member answers from it.
 */
export class LightRequest {
  declare [PARTS]: RequestParts
  declare [SIGNAL]: SignalSource
  declare [REAL]: Request | undefined
  declare [HREF]: string | undefined
  declare [MAKE]: (parts: RequestParts, abort: SignalSource) => Request
  declare [HEADERS]: LightHeaders | undefined
  /** Its body was read here (the light way): a real Request made afterwards must find it used. */
  declare [USED]: boolean

  get method (): string { return this[PARTS].method }
  get signal (): AbortSignal { return this[SIGNAL].signal }
  /** The URL as the URL parser serializes it (host lower-cased, default port dropped), as Request.url is. */
  get url (): string {
    const real = this[REAL]
    if (real !== undefined) return real.url
    return (this[HREF] ??= new URL(this[PARTS].url).href)
  }

  /** Read from the raw pairs while nothing changes them (light-headers.ts); the same object every time, as undici's. */
  get headers (): Headers {
    let headers = this[HEADERS]
    if (headers === undefined) {
      const real = this[REAL]
      if (real !== undefined) return real.headers
      headers = new LightHeaders(this[PARTS].headers, () => this[REAL]?.headers, () => realRequestOf(this as unknown as Request).headers)
      this[HEADERS] = headers
    }
    return headers as unknown as Headers
  }

  // A body the gateway already holds (bytes, or none) is read here; a stream body, and every body a
  // real Request already has, the real way. Same results as undici's Body mixin (fetch "consume body").
  get bodyUsed (): boolean {
    const real = this[REAL]
    return real !== undefined ? real.bodyUsed : this[USED]
  }

  text (): Promise<string> {
    return consume(this, bytes => UTF8.decode(bytes), real => real.text())
  }

  json (): Promise<unknown> {
    return consume(this, bytes => JSON.parse(UTF8.decode(bytes)) as unknown, real => real.json() as Promise<unknown>)
  }

  arrayBuffer (): Promise<ArrayBuffer> {
    return consume(this, bytes => bytes.slice().buffer, real => real.arrayBuffer())
  }

  bytes (): Promise<Uint8Array<ArrayBuffer>> {
    return consume(this, bytes => bytes.slice(), real => real.bytes() as Promise<Uint8Array<ArrayBuffer>>)
  }
}

// The fetch standard's "UTF-8 decode": a leading BOM is dropped, invalid sequences become U+FFFD.
const UTF8 = new TextDecoder()
const EMPTY = new Uint8Array(0)

/** Not a private method: light requests are made with Object.create, which private members refuse. */
function consume<T> (light: LightRequest, read: (bytes: Uint8Array<ArrayBuffer>) => T, viaReal: (real: Request) => Promise<T>): Promise<T> {
  const body = light[PARTS].body
  if (light[REAL] !== undefined || !(body === null || body instanceof Uint8Array)) return viaReal(realRequestOf(light as unknown as Request) as Request)
  if (light[USED]) return Promise.reject(new TypeError('Body is unusable: Body has already been read'))
  // No body (GET, HEAD, an empty one: invoke.ts gives the real Request none either) reads as empty and stays unused.
  if (body !== null && body.byteLength > 0) light[USED] = true
  try {
    return Promise.resolve(read((body ?? EMPTY) as Uint8Array<ArrayBuffer>))
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * A light Request when the parts are ones the real constructor takes as they are, else the real Request
 * at once, so that what it refuses (a forbidden method, a URL it cannot parse) throws here, as before.
 */
export function lightRequest (parts: RequestParts, abort: SignalSource, make: (parts: RequestParts, abort: SignalSource) => Request, untrusted: boolean): Request {
  // A URL from the gateway's own front door already parses (http/target.ts); one from elsewhere is checked.
  if (!PLAIN_METHODS.has(parts.method) || (untrusted && !URL.canParse(parts.url))) return make(parts, abort)
  const request = Object.create(LightRequest.prototype) as LightRequest
  request[PARTS] = parts
  request[SIGNAL] = abort
  request[REAL] = undefined
  request[HREF] = undefined
  request[MAKE] = make
  request[HEADERS] = undefined
  request[USED] = false
  return request as unknown as Request
}

/** The real Request behind a light one (made now if need be); any other value as it is. */
export function realRequestOf<T> (value: T): T | Request {
  if (!(value instanceof LightRequest)) return value
  const light = value as LightRequest
  let real = light[REAL]
  if (real === undefined) {
    real = light[MAKE](light[PARTS], light[SIGNAL])
    // Read here already: the real one reads as used too (its body read at once), as undici's would.
    if (light[USED]) void real.arrayBuffer().catch(() => {})
    light[REAL] = real
  }
  return real
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
  linkPrototype(LightRequest.prototype, realRequest().prototype, real)
}
