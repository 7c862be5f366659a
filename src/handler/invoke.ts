// Shared by the main thread (inline mode) and warm workers: imports nothing from either side.
import type { Mode } from '../config/define.ts'
import { GatewayError, isGatewayError } from '../errors.ts'
import type { FetchHandler, HandlerContext, HandlerEnv, MaybePromise, SignalSource } from '../types.ts'
import { lightFetchInstalled } from './install-fetch.ts'
import { lightRequest, type RequestParts } from './light-request.ts'
import { validHeaderPairs } from './light-response.ts'
import { realRequest } from './native-fetch.ts'
import { readWebResponse, type HandlerResponse } from './response-body.ts'

/** The request fields a handler call needs; a `GatewayRequest` is one, and so is a decoded wire message. */
export interface HandlerCall {
  id: string
  method: string
  url: string
  headers: string[]
  /** Bytes, nothing, or a body still arriving (a large or chunked upload, README "Streaming"). */
  body: Uint8Array | null | ReadableStream<Uint8Array>
  /** The client's address, and where known its port, HTTP version and TLS (a Node-style app's `req`); absent for `gateway.fetch`. */
  connection?: { readonly remoteAddress: string, readonly remotePort?: number, readonly httpVersion?: string, readonly secure?: boolean }
}

/**
 * Where the call a context was made for hangs on it, for adapters that need more than the web Request
 * shows: the raw header pairs (repeats kept apart) and the client's address (a Lambda event's `sourceIp`).
 * A symbol, so that it is no part of the handler contract; the call is already allocated, so it costs nothing.
 */
export const HANDLER_CALL = Symbol('warmgate.handlerCall')

/** The call a context belongs to, when the runtime set one. */
export function callOf (ctx: HandlerContext): HandlerCall | undefined {
  return (ctx as { [HANDLER_CALL]?: HandlerCall })[HANDLER_CALL]
}

/** Codes the Lambda adapter throws for the request, kept as they are (a Lambda failure is a 502). */
const ADAPTER_CODES: ReadonlySet<string> = new Set(['WG_ERR_LAMBDA_THREW', 'WG_ERR_LAMBDA_RESULT'])

/** Tracks `ctx.waitUntil` promises so that a runtime can wait for them before it stops. */
export type WaitUntilSink = (promise: Promise<unknown>) => void

/**
 * Builds the web `Request`, calls the handler and reads its `Response` into plain data: the body whole
 * when it is already complete, else a `StreamedBody` to read on. A synchronous handler whose Response is
 * already whole is answered synchronously: no promise, no microtask turn. Never throws; fails with a
 * `GatewayError` (400 bad request, 500 handler threw or returned no Response) as a rejected promise.
 */
export function invokeHandler (
  handler: FetchHandler,
  call: HandlerCall,
  env: HandlerEnv,
  mode: Mode,
  abort: SignalSource,
  waitUntil: WaitUntilSink,
): MaybePromise<HandlerResponse> {
  try {
    const request = createWebRequest(call, abort)
    const ctx = new CallContext(call, mode, abort, waitUntil)
    let result: unknown
    try {
      result = handler(request, env, ctx)
    } catch (cause) {
      throw handlerThrew(cause)
    }
    // The main thread writes a body to the socket itself; a worker transfers the body's buffer whole.
    const pooled = mode === 'inline'
    if (isThenable(result)) return Promise.resolve(result).then(value => readWebResponse(value, pooled), (cause: unknown) => { throw handlerThrew(cause) })
    return readWebResponse(result, pooled)
  } catch (error) {
    return Promise.reject(error)
  }
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function handlerThrew (cause: unknown): GatewayError {
  // The Lambda adapter (src/lambda/) throws coded errors of its own: a Lambda error is a 502, not a 500.
  if (isGatewayError(cause) && ADAPTER_CODES.has(cause.code)) return cause
  return new GatewayError('WG_ERR_HANDLER_THREW', `handler threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
}

/**
 * A handler's `ctx`: its `signal` read from the request's controller only when the handler reads it
 * (types.ts, SignalSource). Own enumerable fields otherwise, as the object literal it replaces had.
 */
class CallContext implements HandlerContext {
  readonly requestId: string
  readonly mode: Mode
  readonly waitUntil: WaitUntilSink
  readonly [HANDLER_CALL]: HandlerCall
  readonly #abort: SignalSource

  constructor (call: HandlerCall, mode: Mode, abort: SignalSource, waitUntil: WaitUntilSink) {
    this.requestId = call.id
    this.mode = mode
    this.waitUntil = waitUntil
    this[HANDLER_CALL] = call
    this.#abort = abort
  }

  get signal (): AbortSignal {
    return this.#abort.signal
  }
}

const SIGNAL = Symbol('warmgate.signal')

/**
 * The handler's `Request` when it is made for real: a web Request whose `signal` is the gateway's (`ctx.signal`).
 *
 * Why not `new Request(url, { signal })`: undici then ties the two signals together with a WeakRef and a
 * FinalizationRegistry entry per request, and V8's young-generation GC treats WeakRef targets as live, so
 * every request's objects were promoted to the old generation. Measured on hello world, 8 s of wrk -c50:
 * a warm worker spent 930 ms in GC pauses (max 25.7 ms) against 675 ms (max 5.5 ms) without it, and p99
 * went from 24 ms to 12.5 ms; inline peak RSS went from ~300 MB to 134 MB.
 * Made on first use: extending Node's Request loads undici, which a cold hello world never needs.
 */
type IncomingRequest = Request & { [SIGNAL]: SignalSource }
let IncomingRequestClass: (new (url: string, init: RequestInit) => IncomingRequest) | undefined

function incomingRequestClass (): new (url: string, init: RequestInit) => IncomingRequest {
  if (IncomingRequestClass === undefined) {
    const Incoming = class IncomingRequest extends realRequest() {
      declare [SIGNAL]: SignalSource
    }
    Object.defineProperty(Incoming.prototype, 'signal', {
      get (this: IncomingRequest): AbortSignal { return this[SIGNAL].signal },
      configurable: true,
    })
    IncomingRequestClass = Incoming as unknown as new (url: string, init: RequestInit) => IncomingRequest
  }
  return IncomingRequestClass
}

/**
 * The handler's Request: a light one (light-request.ts) where this thread has the light fetch classes,
 * made for real only if the handler reads more than its method, URL and signal. `untrusted`: the URL and
 * header pairs did not come through the gateway's front door (Node's HTTP parser, http/target.ts) but
 * from a CGI environment, so they are checked here, where the real constructor would have refused them,
 * rather than when the handler first reads them.
 */
export function createWebRequest (call: HandlerCall, abort: SignalSource, untrusted = false): Request {
  let parts: RequestParts = call
  // The fetch spec forbids a body on GET and HEAD; HTTP does not. Such a body is dropped (README: handler contract).
  // `instanceof Uint8Array` first: naming ReadableStream loads Node's web streams, which a cold GET never needs.
  if (call.body !== null && !(call.body instanceof Uint8Array) && (call.method === 'GET' || call.method === 'HEAD')) {
    void (call.body as ReadableStream).cancel().catch(() => {})
    parts = { method: call.method, url: call.url, headers: call.headers, body: null }
  }
  if (lightFetchInstalled() && (!untrusted || validHeaderPairs(call.headers))) return lightRequest(parts, abort, makeRequest, untrusted)
  return makeRequest(parts, abort)
}

function makeRequest (parts: RequestParts, abort: SignalSource): Request {
  const pairs: [string, string][] = []
  const raw = parts.headers
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]])
  const body = parts.body
  const bodyless = parts.method === 'GET' || parts.method === 'HEAD'
  const streamed = body instanceof ReadableStream
  const hasBody = body !== null && !bodyless && (streamed || body.byteLength > 0)
  const init: RequestInit & { duplex?: 'half' } = {
    method: parts.method,
    headers: pairs,
    body: hasBody ? body as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> : undefined,
  }
  // Required by the fetch spec for a stream body: the request is read while it still arrives.
  if (streamed && hasBody) init.duplex = 'half'
  try {
    const request = new (incomingRequestClass())(parts.url, init)
    request[SIGNAL] = abort
    return request
  } catch (cause) {
    throw new GatewayError('WG_ERR_BAD_REQUEST', `cannot build a Request for ${parts.method} ${parts.url}: ${(cause as Error).message}`, { cause })
  }
}
