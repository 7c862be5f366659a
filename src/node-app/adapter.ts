// Runs a Node-style app (a `(req, res)` listener: Express, Koa, Fastify, a node:http Server) as a fetch
// handler, so that it goes through the same pipeline in every mode (warm worker, inline, cold runner).
// The request and response objects are light-my-request's (Fastify's inject): Node's own ServerResponse
// with a socket that goes nowhere, and an IncomingMessage-like Readable; docs/node-apps.md says what
// differs from a real socket.
import { AsyncLocalStorage } from 'node:async_hooks'
import { Readable } from 'node:stream'
import inject from 'light-my-request'
// @ts-expect-error: light-my-request's classes have no types of their own; used for their methods only.
import LightRequest from 'light-my-request/lib/request.js'
// @ts-expect-error: as above.
import LightResponse from 'light-my-request/lib/response.js'
import { GatewayError } from '../errors.ts'
import { callOf } from '../handler/invoke.ts'
import { PlainResponse } from '../handler/plain-response.ts'
import type { FetchHandler, HandlerContext } from '../types.ts'
import type { NodeListener } from './detect.ts'

type InjectRequest = Readable & {
  url: string
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
  aborted: boolean
  complete?: boolean
  socket: Record<string, unknown>
  httpVersion: string
  httpVersionMajor: number
  httpVersionMinor: number
}
type InjectResponse = {
  statusCode: number
  statusMessage: string
  writableEnded: boolean
  destroyed: boolean
  getHeaders (): Record<string, number | string | string[] | undefined>
  destroy (error?: Error): void
  once (event: string, listener: (...args: unknown[]) => void): unknown
}
interface Injected { raw: { res: InjectResponse }, stream (): Readable }

/** What the stray-error listeners find for the request whose code threw (AsyncLocalStorage). */
interface Call { fail (error: unknown): void, readonly requestId: string }

const calls = new AsyncLocalStorage<Call>()

/**
 * Wraps a listener. Per request: the gateway's request becomes light-my-request's `req` (headers and raw
 * headers exactly as they arrived, the body streamed in), the listener runs inside an AsyncLocalStorage
 * context (so that a throw from its timers or a rejection it forgot fails this request, not the thread),
 * and the response's head resolves the Response while its body streams on with backpressure.
 */
export function createNodeHandler (listener: NodeListener, server: object | undefined): FetchHandler {
  installStrayErrorListeners()
  // light-my-request calls the listener with `this` = the server, as node:http does.
  const options = { server: server ?? {}, validate: false, payloadAsStream: true }
  return (request, _env, ctx) => new Promise<Response>((resolve, reject) => {
    const call = callOf(ctx)
    const pairs = call?.headers ?? [...request.headers].flat()
    const source = call === undefined ? request.body : call.body
    const body = source === null ? null : source instanceof Uint8Array ? bufferOf(source) : Readable.fromWeb(source as import('node:stream/web').ReadableStream<Uint8Array>)
    const url = new URL(request.url)
    const headers = headerObject(pairs, body)
    let req: InjectRequest | undefined
    let res: InjectResponse | undefined
    let settled = false
    const state: Call = {
      requestId: ctx.requestId,
      fail (error) {
        const failure = new GatewayError('WG_ERR_HANDLER_THREW', `the app threw outside a request handler's own error handling: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
        if (!settled) {
          settled = true
          reject(failure)
        }
        // After the head, the body is cut: the front door closes the connection and logs it.
        res?.destroy(failure)
      },
    }
    const dispatch = function (this: unknown, incoming: InjectRequest, outgoing: InjectResponse): void {
      req = incoming
      res = outgoing
      keepOwnMethods(incoming, outgoing)
      prepareRequest(incoming, pairs, headers, call?.connection, body === null ? 0 : body instanceof Uint8Array ? body.byteLength : -1)
      outgoing.once('close', () => {
        if (!settled) {
          settled = true
          reject(new GatewayError('WG_ERR_HANDLER_RESULT', 'the app destroyed the response before sending its head'))
        }
      })
      listener.call(this, incoming, outgoing)
    }
    onAbort(ctx, () => {
      if (req !== undefined) abortRequest(req)
      res?.destroy()
    })
    const injectOptions = { ...options, method: request.method, url: url.pathname + url.search, headers, payload: body ?? undefined, remoteAddress: call?.connection?.remoteAddress }
    try {
      calls.run(state, () => {
        inject(dispatch as never, injectOptions as never, (error: Error | null | undefined, injected: unknown) => {
          if (settled) return
          settled = true
          if (error != null) {
            reject(new GatewayError('WG_ERR_HANDLER_THREW', `the app's response failed: ${error.message}`, { cause: error }))
            return
          }
          try {
            resolve(responseOf(injected as Injected, request.method, ctx.mode === 'inline'))
          } catch (cause) {
            reject(cause)
          }
        })
      })
    } catch (cause) {
      settled = true
      reject(cause)
    }
  })
}

/**
 * The request as Node's HTTP parser would have made it: raw headers exactly as received (light-my-request
 * lower-cases and reorders them, and adds a `user-agent`), the client's address, the HTTP version.
 */
function prepareRequest (req: InjectRequest, pairs: string[], headers: Record<string, string | string[] | undefined>, connection: { remoteAddress: string, remotePort?: number, httpVersion?: string, secure?: boolean } | undefined, length: number): void {
  req.headers = headers
  req.rawHeaders = rawPairs(pairs, length)
  const version = connection?.httpVersion ?? '1.1'
  req.httpVersion = version
  req.httpVersionMajor = Number(version[0])
  req.httpVersionMinor = Number(version[2] ?? 0)
  const socket = req.socket
  socket.remotePort = connection?.remotePort
  socket.remoteFamily = connection?.remoteAddress.includes(':') === true ? 'IPv6' : 'IPv4'
  socket.encrypted = connection?.secure === true ? true : undefined
  // light-my-request's `connection` getter prints a deprecation warning (Express 5's req.protocol reads it).
  Object.defineProperty(req, 'connection', { value: socket, configurable: true, writable: true })
}

const REQUEST_METHODS = ['destroy'] as const
const RESPONSE_METHODS = ['setTimeout', 'writeHead', 'write', 'end', 'destroy', 'addTrailers'] as const

/**
 * Express re-parents each request and response onto its own prototypes (which inherit Node's), and those
 * would hide light-my-request's methods (where a write goes, what end does). light-my-request's answer is
 * to re-parent Express's prototypes, shared by every Express app in the process, onto its classes: that
 * would break an embedder's own Express server in the same process (inline mode). Copying its methods
 * onto each request and response instead survives any prototype swap, sub-apps' included.
 */
function keepOwnMethods (req: object, res: object): void {
  const request = (LightRequest as { prototype: Record<string, unknown> }).prototype
  const response = (LightResponse as { prototype: Record<string, unknown> }).prototype
  for (const name of REQUEST_METHODS) (req as Record<string, unknown>)[name] = request[name]
  for (const name of RESPONSE_METHODS) (res as Record<string, unknown>)[name] = response[name]
}

/** `IncomingMessage.headers`: names lower-cased, repeats joined as Node joins them (light-my-request does, from arrays). */
function headerObject (pairs: string[], body: Buffer | Readable | null): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {}
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i].toLowerCase()
    const seen = headers[name]
    if (seen === undefined) headers[name] = pairs[i + 1]
    else headers[name] = Array.isArray(seen) ? [...seen, pairs[i + 1]] : [seen, pairs[i + 1]]
  }
  for (const name in headers) {
    const value = headers[name]
    if (Array.isArray(value)) headers[name] = joinRepeats(name, value)
  }
  // A body the gateway already holds whole (it read a chunked upload to its end) is handed over with
  // its length, as a buffering proxy (nginx) forwards it: its framing was the client's hop, not the app's.
  if (body instanceof Uint8Array) {
    delete headers['transfer-encoding']
    headers['content-length'] = String(body.byteLength)
  }
  // light-my-request adds `user-agent: lightMyRequest` when there is none; an explicit undefined stops it.
  if (!('user-agent' in headers)) headers['user-agent'] = undefined
  return headers
}

/** Node's http docs, `message.headers`: duplicates of these are dropped, `set-cookie` stays a list, `cookie` joins with '; '. */
const SINGLE = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent'])

function joinRepeats (name: string, values: string[]): string | string[] {
  if (name === 'set-cookie') return values
  if (SINGLE.has(name)) return values[0]
  return values.join(name === 'cookie' ? '; ' : ', ')
}

/** The raw pairs as received, with the same framing change as `headerObject` for a whole body. */
function rawPairs (pairs: string[], length: number): string[] {
  if (length < 0) return pairs.slice()
  const raw: string[] = []
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i].toLowerCase()
    if (name !== 'transfer-encoding' && name !== 'content-length') raw.push(pairs[i], pairs[i + 1])
  }
  if (length > 0 || pairs.some((value, i) => i % 2 === 0 && value.toLowerCase() === 'content-length')) raw.push('content-length', String(length))
  return raw
}

function bufferOf (bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Statuses whose response has no body (RFC 9110 §6.4.1); a web Response refuses one. */
function bodyless (status: number, method: string): boolean {
  return method === 'HEAD' || status === 204 || status === 205 || status === 304
}

/**
 * The app's head as a Response: its body whole when the app has already ended it (the usual `res.end(…)`,
 * no stream turns), else streamed from light-my-request's payload stream, whose `push()` result is what
 * `res.write()` returns: the app's own backpressure.
 */
function responseOf (injected: Injected, method: string, inline: boolean): Response {
  const res = injected.raw.res
  const status = res.statusCode
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new GatewayError('WG_ERR_HANDLER_RESULT', `the app sent status ${String(status)}; the gateway forwards final statuses 200-599`)
  }
  const headers = headerPairs(res.getHeaders())
  const stream = injected.stream()
  let body: Uint8Array | null | ReadableStream<Uint8Array>
  if (bodyless(status, method)) {
    stream.resume()
    body = null
  } else if (res.writableEnded) {
    const bytes = stream.read() as Buffer | null
    stream.resume()
    // An ended response with no bytes is an empty body (Content-Length: 0, as node:http sends), not none.
    body = bytes === null ? new Uint8Array(0) : owned(bytes, inline)
  } else {
    body = Readable.toWeb(stream) as ReadableStream<Uint8Array>
  }
  return new PlainResponse(status, res.statusMessage, headers, body) as unknown as Response
}

/** A warm worker transfers a whole body's ArrayBuffer: a slice of Node's buffer pool must be copied out first. */
function owned (bytes: Buffer, inline: boolean): Uint8Array {
  if (inline || (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)) return bytes
  return new Uint8Array(bytes)
}

/** Hop-by-hop fields are the gateway's to write (RFC 9110 §7.6.1); Node does not put them in getHeaders unless the app set them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'])

function headerPairs (headers: Record<string, number | string | string[] | undefined>): string[] {
  const pairs: string[] = []
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) continue
    const value = headers[name]
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value) pairs.push(name, String(item))
    else pairs.push(name, String(value))
  }
  return pairs
}

/** What a client going away does to a request on a real socket: `aborted` (when unfinished), then `close`, on both. */
function abortRequest (req: InjectRequest): void {
  if (req.destroyed) return
  if (req.readableEnded !== true) {
    req.aborted = true
    req.emit('aborted')
  }
  // light-my-request's destroy() does nothing once its payload was pushed: close it as a socket would.
  req.destroy()
  if (!req.destroyed) {
    ;(req as { destroyed: boolean }).destroyed = true
    process.nextTick(() => req.emit('close'))
  }
}

function onAbort (ctx: HandlerContext, abort: () => void): void {
  const signal = ctx.signal
  if (signal.aborted) queueMicrotask(abort)
  else signal.addEventListener('abort', abort, { once: true })
}

let strayListeners = false

/**
 * An error thrown from an app's timer or a rejection it left unhandled, while a request's context is
 * current, fails that request (500, logged with its id) instead of hanging it until its timeout. The
 * thread's own policy (warm.worker.ts: retire on an uncaught exception; the CLI's listeners on the main
 * thread: log and keep serving) still runs. Where nothing else listens (an embedder's process, inline),
 * the error is thrown again outside the request, so that Node's default (exit) stays the embedder's.
 */
function installStrayErrorListeners (): void {
  if (strayListeners) return
  strayListeners = true
  const listeners = {
    uncaughtException: (error: unknown) => route('uncaughtException', error),
    unhandledRejection: (error: unknown) => route('unhandledRejection', error),
  }
  const route = (event: keyof typeof listeners, error: unknown): void => {
    calls.getStore()?.fail(error)
    if (process.listenerCount(event) > 1) return
    process.off('uncaughtException', listeners.uncaughtException)
    process.off('unhandledRejection', listeners.unhandledRejection)
    calls.exit(() => setImmediate(() => { throw error }))
  }
  process.on('uncaughtException', listeners.uncaughtException)
  process.on('unhandledRejection', listeners.unhandledRejection)
}
