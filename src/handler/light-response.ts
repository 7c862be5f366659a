// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.
import { realResponse } from './native-fetch.ts'

/**
 * Why a Response of our own (README "Fetch classes"): Node's `Response` is undici's, and the common case
 * a handler returns, a string or bytes with a few headers, pays for a ReadableStream, a Headers object
 * and a stream read before the gateway has the bytes (~10 µs a request on hello world). Worse for cold
 * mode: the first use of Node's `Response` loads undici (~22 ms, as long as Node's own start here).
 *
 * A `LightResponse` built from such data keeps it as data ("the fast form"), validated as undici would
 * at construction, and the gateway reads it as data. Anything else it is asked for (its `headers`, `body`,
 * `text()`, `clone()`, …) makes the real Response from the same data at that moment and answers from
 * it, so a handler sees exactly undici's behaviour. Any input the fast form does not cover (a stream, a
 * Blob, a Headers object, a status undici would refuse) builds the real Response at once, so that
 * errors are thrown where undici throws them. The approach is @hono/node-server's.
 */
export interface FastResponse {
  status: number
  statusText: string
  /** Lower-case names, sorted and combined as iterating a Headers gives them (fetch "sort and combine"). */
  headers: string[]
  body: string | Uint8Array | null
}

const FAST = Symbol('warmgate.fastResponse')
const REAL = Symbol('warmgate.realResponse')
const USED = Symbol('warmgate.used')

// RFC 9110 §5.1 token; §5.5 field values: no NUL, CR or LF (undici also refuses leading/trailing whitespace after trimming).
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const BAD_VALUE_RE = /[\0\r\n]|[^\0-\xff]/
const EDGE_WHITESPACE_RE = /^[\t\n\r ]+|[\t\n\r ]+$/g
// RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text )
const REASON_RE = /^[\t\x20-\x7e\x80-\xff]*$/
const TEXT_PLAIN = 'text/plain;charset=UTF-8'

type Init = ResponseInit | undefined | null

export class LightResponse {
  [FAST]: FastResponse | undefined;
  [REAL]: Response | undefined;
  [USED] = false

  constructor (body?: ConstructorParameters<typeof Response>[0], init?: ResponseInit) {
    const fast = fastResponse(body, init, TEXT_PLAIN)
    if (fast === undefined) this[REAL] = new (realResponse())(body, init)
    else this[FAST] = fast
  }

  static error (): Response { return realResponse().error() }

  static redirect (url: string | URL, status?: number): Response { return realResponse().redirect(url, status as 301) }

  /** Fetch `Response.json`: the body is JSON.stringify's, Content-Type application/json unless init says one. */
  static json (data: unknown, init?: ResponseInit): Response {
    const head = fastHead(init)
    if (head === undefined) return realResponse().json(data, init)
    const text = JSON.stringify(data)
    if (text === undefined) return realResponse().json(data, init) // throws undici's TypeError
    const response = Object.create(LightResponse.prototype) as LightResponse
    response[USED] = false
    response[FAST] = withBody(head, text, 'application/json')
    return response as unknown as Response
  }

  static [Symbol.hasInstance] (this: unknown, value: unknown): boolean {
    // A subclass of ours (`class Mine extends Response`) inherits this: for it, the ordinary rule.
    if (this !== LightResponse) return Function.prototype[Symbol.hasInstance].call(this, value)
    if (typeof value !== 'object' || value === null) return false
    if (Object.prototype.isPrototypeOf.call(LightResponse.prototype, value)) return true
    // A real Response (from fetch(), Response.json with unusual init): undici must be loaded already.
    return Function.prototype[Symbol.hasInstance].call(realResponse(), value)
  }
}

/** The real Response behind `response`, made now if need be. */
export function materialize (response: LightResponse): Response {
  let real = response[REAL]
  if (real === undefined) {
    const fast = response[FAST] as FastResponse
    const pairs: [string, string][] = []
    for (let i = 0; i < fast.headers.length; i += 2) pairs.push([fast.headers[i], fast.headers[i + 1]])
    // The gateway already sent a used body (and may have transferred its bytes): the real one gets an
    // empty body, read at once, so that it reads as used, as undici's own would.
    const used = response[USED]
    const body = used && fast.body !== null ? new Uint8Array(0) : fast.body
    real = new (realResponse())(body, { status: fast.status, statusText: fast.statusText, headers: pairs })
    if (used) void real.arrayBuffer().catch(() => {})
    response[REAL] = real
    response[FAST] = undefined
  }
  return real
}

/**
 * The fast form of a response the handler returned, taken once (a second read of the same Response
 * finds its body used, as undici's would be), or `undefined` when it must be read as a real Response:
 * a subclass (its own getters must run), or one whose headers, body or clone a handler asked for.
 */
export function takeFast (value: unknown): FastResponse | undefined {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== LightResponse.prototype) return undefined
  const response = value as LightResponse
  const fast = response[FAST]
  if (fast === undefined || response[USED]) return undefined
  response[USED] = true
  return fast
}

function fastResponse (body: unknown, init: Init, textType: string): FastResponse | undefined {
  const head = fastHead(init)
  if (head === undefined) return undefined
  if (body === undefined || body === null) return withBody(head, null, undefined)
  if (typeof body === 'string') return withBody(head, body, textType)
  // undici copies a BufferSource at construction; so do we. Other views (DataView, Int16Array) go the real way.
  if (body instanceof Uint8Array) return withBody(head, new Uint8Array(body), undefined)
  if (body instanceof ArrayBuffer) return withBody(head, new Uint8Array(body.slice(0)), undefined)
  return undefined
}

interface Head { status: number, statusText: string, headers: string[] }

/** ResponseInit as undici would take it, or `undefined` for anything it would refuse or convert. */
function fastHead (init: Init): Head | undefined {
  if (init === undefined || init === null) return { status: 200, statusText: '', headers: [] }
  if (typeof init !== 'object') return undefined
  const proto = Object.getPrototypeOf(init)
  if (proto !== Object.prototype && proto !== null) return undefined
  const { status, statusText, headers } = init
  let head: Head = { status: 200, statusText: '', headers: [] }
  if (status !== undefined) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return undefined
    head.status = status
  }
  if (statusText !== undefined) {
    if (typeof statusText !== 'string' || !REASON_RE.test(statusText)) return undefined
    head.statusText = statusText
  }
  if (headers !== undefined) {
    const list = headerList(headers)
    if (list === undefined) return undefined
    head = { ...head, headers: list }
  }
  return head
}

/** Fetch "initialize a response": a body on a null-body status is refused; a body type sets Content-Type if none. */
function withBody (head: Head, body: string | Uint8Array | null, contentType: string | undefined): FastResponse | undefined {
  const { status } = head
  if (body !== null && (status === 204 || status === 205 || status === 304)) return undefined
  let headers = head.headers
  if (contentType !== undefined && !hasName(headers, 'content-type')) headers = sortAndCombine([...headers, 'content-type', contentType])
  return { status, statusText: head.statusText, headers, body }
}

function hasName (list: string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true
  return false
}

/** A record or a sequence of pairs, as undici would take them; `undefined` for a Headers, a Map, or anything it would refuse. */
function headerList (headers: unknown): string[] | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  const flat: string[] = []
  if (Array.isArray(headers)) {
    for (const pair of headers as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2) return undefined
      if (!addHeader(flat, pair[0], pair[1])) return undefined
    }
  } else {
    const proto = Object.getPrototypeOf(headers)
    if (proto !== Object.prototype && proto !== null) return undefined
    for (const name of Object.keys(headers)) {
      if (!addHeader(flat, name, (headers as Record<string, unknown>)[name])) return undefined
    }
  }
  return flat.length <= 2 ? flat : sortAndCombine(flat)
}

/** Whether every `[name, value, …]` pair is one the real Headers would take as it is. */
export function validHeaderPairs (flat: string[]): boolean {
  const scratch: string[] = []
  for (let i = 0; i < flat.length; i += 2) if (!addHeader(scratch, flat[i], flat[i + 1])) return false
  return true
}

function addHeader (flat: string[], name: unknown, value: unknown): boolean {
  if (!isHeaderName(name)) return false
  let text: string
  if (typeof value === 'string') text = value
  else if (typeof value === 'number') text = String(value)
  else return false
  text = trimHeaderValue(text)
  if (BAD_VALUE_RE.test(text)) return false
  flat.push(name.toLowerCase(), text)
  return true
}

/** RFC 9110 §5.1: a field name is a token (a string undici would take as it is). */
export function isHeaderName (name: unknown): name is string {
  return typeof name === 'string' && TOKEN_RE.test(name)
}

/** undici's headerValueNormalize: leading and trailing HTTP whitespace removed. */
export function trimHeaderValue (text: string): string {
  if (text.length === 0) return text
  const first = text.charCodeAt(0)
  const last = text.charCodeAt(text.length - 1)
  return first <= 32 || last <= 32 ? text.replace(EDGE_WHITESPACE_RE, '') : text
}

/** Fetch "sort and combine": names in order, repeats joined by ", " in the order given, Set-Cookie kept apart. */
function sortAndCombine (flat: string[]): string[] {
  const pairs: [string, string, number][] = []
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1], i])
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[2] - b[2]))
  const out: string[] = []
  for (const [name, value] of pairs) {
    const last = out.length - 2
    if (last >= 0 && out[last] === name && name !== 'set-cookie') out[last + 1] += `, ${value}`
    else out.push(name, value)
  }
  return out
}

// Every member of Response.prototype answers as the real Response would; the ones that are plain values
// of the fast form answer without making it.
const fastValue = <T>(pick: (fast: FastResponse, self: LightResponse) => T) => function (this: LightResponse): T | undefined {
  const fast = this[FAST]
  return fast === undefined ? undefined : pick(fast, this)
}
const direct: Record<string, (this: LightResponse) => unknown> = {
  status: fastValue(fast => fast.status),
  ok: fastValue(fast => fast.status >= 200 && fast.status <= 299),
  statusText: fastValue(fast => fast.statusText),
  type: fastValue(() => 'default'),
  url: fastValue(() => ''),
  redirected: fastValue(() => false),
}
const GETTERS = ['type', 'url', 'redirected', 'status', 'ok', 'statusText', 'headers', 'body', 'bodyUsed']
const METHODS = ['clone', 'arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text']

export function delegateMembers (proto: object, names: { getters: string[], methods: string[] }, real: (self: never) => object): void {
  for (const name of names.getters) {
    if (Object.hasOwn(proto, name)) continue
    const fast = direct[name]
    Object.defineProperty(proto, name, {
      configurable: true,
      enumerable: true,
      get (this: never) {
        const value = fast?.call(this)
        return value !== undefined ? value : (real(this) as Record<string, unknown>)[name]
      },
    })
  }
  for (const name of names.methods) {
    if (Object.hasOwn(proto, name)) continue
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      value: function (this: never, ...args: unknown[]) {
        const target = real(this) as Record<string, (...a: unknown[]) => unknown>
        return target[name](...args)
      },
    })
  }
}

delegateMembers(LightResponse.prototype, { getters: GETTERS, methods: METHODS }, materialize as (self: never) => object)
Object.defineProperty(LightResponse.prototype, Symbol.toStringTag, { value: 'Response', configurable: true })
Object.defineProperty(LightResponse.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value (this: LightResponse, depth: number, options: object) {
    return process.getBuiltinModule('node:util').inspect(materialize(this), options)
  },
})
Object.defineProperty(LightResponse, 'name', { value: 'Response' })

/**
 * Called once undici is loaded: a light Response then also passes `instanceof` of the real class, and
 * anything Response.prototype has that the lists above do not (a newer Node) is delegated too.
 */
export function linkResponse (real: typeof Response): void {
  linkPrototype(LightResponse.prototype, real.prototype, materialize as (self: never) => object)
  Object.setPrototypeOf(LightResponse, real)
}

/**
 * What linking a light class to Node's does (Response, Request, Headers): every getter and method of the
 * real prototype that the light one lacks answers from `real(self)`, and the light prototype inherits
 * from the real one, so `instanceof` holds.
 */
export function linkPrototype (proto: object, realProto: object, real: (self: never) => object): void {
  const members = { getters: [] as string[], methods: [] as string[] }
  for (const name of Object.getOwnPropertyNames(realProto)) {
    if (name === 'constructor') continue
    const descriptor = Object.getOwnPropertyDescriptor(realProto, name) as PropertyDescriptor
    if (descriptor.get !== undefined) members.getters.push(name)
    else if (typeof descriptor.value === 'function') members.methods.push(name)
  }
  delegateMembers(proto, members, real)
  Object.setPrototypeOf(proto, realProto)
}
