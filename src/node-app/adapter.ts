// Runs a Node-style app (a `(req, res)` listener: Express, Koa, Fastify, a node:http Server) as a fetch
// handler, so that it goes through the same pipeline in every mode (warm worker, inline, cold runner).
// `req` and `res` are Node's own classes on a socket that is only an address (messages.ts);
// docs/node-apps.md says what differs from a real socket.
import { AsyncLocalStorage } from 'node:async_hooks'
import { GatewayError } from '../errors.ts'
import { callOf } from '../handler/invoke.ts'
import { PlainResponse } from '../handler/plain-response.ts'
import type { FetchHandler, HandlerContext } from '../types.ts'
import type { NodeListener } from './detect.ts'
import { createRequest, endRequest, RequestSocket, ResponseCapture, streamRequest } from './messages.ts'

/** What the stray-error listeners find for the request whose code threw (AsyncLocalStorage). */
interface Call { fail (error: unknown): void }

const calls = new AsyncLocalStorage<Call>()


/**
 * Wraps a listener. Per request: the gateway's request becomes an IncomingMessage (raw headers exactly as
 * they arrived, the body pushed or streamed in), the listener runs inside an AsyncLocalStorage context (so
 * that a throw from its timers or a rejection it forgot fails this request, not the thread), and the
 * response is answered as soon as it is known: at once when the app ended it synchronously (the usual
 * `res.end(…)`: no promise at all), else when its first bytes come, streaming the rest with backpressure.
 */
export function createNodeHandler (listener: NodeListener, server: object | undefined): FetchHandler {
  installStrayErrorListeners()
  return (request, _env, ctx) => {
    const call = callOf(ctx)
    const pairs = call?.headers ?? [...request.headers].flat()
    const source = call === undefined ? request.body : call.body
    const whole = source === null || source instanceof Uint8Array
    const connection = call?.connection
    const req = createRequest({
      method: request.method,
      url: pathOf(request.url),
      rawHeaders: whole ? wholeBodyPairs(pairs, source === null ? 0 : source.byteLength) : pairs.slice(),
      httpVersion: connection?.httpVersion ?? '1.1',
      socket: new RequestSocket(connection?.remoteAddress ?? '127.0.0.1', connection?.remotePort, connection?.secure === true),
    })
    const capture = new ResponseCapture(req)
    const res = capture.res
    const inline = ctx.mode === 'inline'
    let settle: ((response: Response) => void) | undefined
    let fail: ((error: unknown) => void) | undefined
    const state: Call = {
      fail (error) {
        const failure = new GatewayError('WG_ERR_HANDLER_THREW', `the app threw outside a request handler's own error handling: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
        if (fail !== undefined) fail(failure)
        else pendingFailure ??= failure
        // After the head, the body is cut: the front door closes the connection and logs it.
        res.destroy(failure)
      },
    }
    let pendingFailure: GatewayError | undefined
    calls.run(state, () => {
      // this: the server, as node:http calls its listener.
      listener.call(server, req, res)
      if (whole) endRequest(req, source)
      else streamRequest(req, source as ReadableStream<Uint8Array>)
    })
    if (pendingFailure !== undefined) return Promise.reject(pendingFailure)
    // Ended in the listener's own turn: the whole answer, now (no promise, and no abort signal is made).
    if (capture.ended) return answer(capture, request.method, inline, true)
    // Still running: a client that goes away, or the app's timeout, aborts it as a closed socket would.
    return new Promise<Response>((resolve, reject) => {
      settle = resolve
      fail = (error) => {
        fail = undefined
        reject(error)
      }
      capture.onProgress = () => {
        // One microtask later: an app that writes and then ends in the same turn is still answered whole.
        queueMicrotask(() => {
          const rejectWith = fail
          if (rejectWith === undefined || settle === undefined) return
          const failed = capture.failed
          if (failed !== undefined && !capture.started) return rejectWith(failed instanceof GatewayError ? failed : new GatewayError('WG_ERR_HANDLER_RESULT', `the app destroyed the response before sending its head: ${failed.message}`, { cause: failed }))
          try {
            const response = answer(capture, request.method, inline, capture.ended)
            fail = undefined
            settle(response)
          } catch (error) {
            rejectWith(error)
          }
        })
      }
      if (capture.started || capture.failed !== undefined) capture.onProgress?.()
      onAbort(ctx, () => {
        req.destroy()
        res.destroy()
      })
    })
  }
}

/** `http://host/path?q` → `/path?q`: the request target as req.url has it (the gateway's URL is absolute). */
function pathOf (url: string): string {
  const slash = url.indexOf('/', url.indexOf('//') + 2)
  return slash === -1 ? '/' : url.slice(slash)
}

/**
 * A body the gateway holds whole (it read a chunked upload to its end) is handed over with its length,
 * as a buffering proxy (nginx) forwards it: its framing was the client's hop, not the app's.
 */
function wholeBodyPairs (pairs: string[], length: number): string[] {
  let chunked = false
  let sized = false
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') chunked = true
    else if (name.length === 14 && name.toLowerCase() === 'content-length') sized = true
  }
  // As received, unless chunked, or a body came without a length (gateway.fetch: a web Request has none).
  if (!chunked && (sized || length === 0)) return pairs.slice()
  const raw: string[] = []
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i].toLowerCase()
    if (name !== 'transfer-encoding' && name !== 'content-length') raw.push(pairs[i], pairs[i + 1])
  }
  raw.push('content-length', String(length))
  return raw
}

/** Statuses whose response has no body (RFC 9110 §6.4.1); HEAD's neither. */
function bodyless (status: number, method: string): boolean {
  return method === 'HEAD' || status === 204 || status === 205 || status === 304
}

/** The app's answer as the gateway's own shape (plain-response.ts: repeated header lines kept apart). */
function answer (capture: ResponseCapture, method: string, inline: boolean, ended: boolean): Response {
  const res = capture.res
  const status = res.statusCode
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new GatewayError('WG_ERR_HANDLER_RESULT', `the app sent status ${String(status)}; the gateway forwards final statuses 200-599`)
  }
  const headers = headerPairs(res.getHeaders())
  let body: Uint8Array | null | ReadableStream<Uint8Array>
  if (bodyless(status, method)) body = null
  // An ended response with no bytes is an empty body (Content-Length: 0, as node:http sends), not none.
  else if (ended) body = capture.whole(!inline)
  else body = capture.stream()
  return new PlainResponse(status, res.statusMessage, headers, body) as unknown as Response
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
