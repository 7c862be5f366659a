import type { IncomingMessage, ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Readable } from 'node:stream'
import { errorResponse } from '../gateway/error-response.ts'
import { clientAborted, type MountedApp } from '../gateway/mounted-app.ts'
import { answerOperator, isOperatorPath, recordAnswer, refusal, routeTo, waitForStart } from '../gateway/pipeline.ts'
import { LazyAbortController } from '../gateway/lazy-abort.ts'
import { respondRouted } from '../gateway/respond.ts'
import type { Router } from '../gateway/router.ts'
import type { StartingTable } from '../gateway/app-table.ts'
import { logAccess, type Logger } from '../log/logger.ts'
import type { AdminSource } from '../ops/admin.ts'
import type { ConnectionInfo, GatewayRequest, GatewayResponse } from '../types.ts'
import { isLargeOrChunked, readBody, StreamedRequestBody } from './body.ts'
import { isLingering, lingerInsteadOfDestroy } from './linger.ts'
import { pickRequestId, requestTarget } from './target.ts'

export interface ListenerContext {
  /** Read once per request: a reload swaps the router, and close() sets `closing`. */
  table: StartingTable
  /**
   * The operator endpoints under `server.adminPrefix`: answered here when `serve` is true, else (they
   * have an address of their own, `server.admin`) 404 here. Never routed to an app either way.
   */
  admin?: { source: AdminSource, serve: boolean }
  /** The admin listener: answers only the admin endpoints, 404 for every other path. */
  adminOnly?: boolean
  log: Logger
  /** Host used when a request has no Host header (HTTP/1.0). */
  fallbackHost: () => string
}

/**
 * Requests whose client waits for `100 Continue` before it sends the body (the server's `checkContinue`
 * event, see `continueWhenRouted`): the 100 goes out only once the request is routed and its body
 * will be read, so a request refused before that (404, 413 for its declared length, 503) never invites the
 * client to send a body that would be dropped (RFC 9110 §10.1.1).
 */
const awaitingContinue = new WeakSet<IncomingMessage>()

/**
 * The server's `checkContinue` listener: instead of Node's default (100 at once, for every request), the
 * request is handled like any other and `route` sends the 100 when it starts reading the body.
 * @example
 * server.on('checkContinue', continueWhenRouted(listener))
 */
export function continueWhenRouted (listener: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return function onCheckContinue (req, res) {
    awaitingContinue.add(req)
    listener(req, res)
  }
}

/**
 * The only code that touches Node's `IncomingMessage`/`ServerResponse`: turns the wire into a
 * `GatewayRequest`, hands it to the app, writes the `GatewayResponse` back, and logs one access line.
 */
export function createRequestListener (context: ListenerContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { table, log } = context
  return function onRequest (req, res) {
    // Read from a connection that is being closed (see linger.ts): not run, not answered.
    if (isLingering(req.socket)) return void req.resume()
    const started = performance.now()
    const id = pickRequestId(req.headers['x-request-id'])
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true
    const target = requestTarget(req.url ?? '/', req.headers.host, context.fallbackHost(), secure)
    let app: MountedApp | undefined
    let operator = false
    // The access line's path: the routed one, or the raw target when none could be made.
    const asked = { id, method: req.method as string, path: target?.pathname ?? req.url ?? '', started }
    const finish = (response: GatewayResponse): void => {
      writeHttpResponse(req, res, id, response, table.closing)
      recordAnswer(context, asked, app, response.status, operator)
    }
    const malformed = target === undefined ? 'the Host header and the request target do not form a URL' : malformedReason(req)
    if (target === undefined || malformed !== undefined) {
      log.warn({ reqId: id, code: 'WG_ERR_BAD_REQUEST', remoteAddress: req.socket.remoteAddress }, `request refused: ${malformed ?? ''}`)
      const refused = errorResponse('WG_ERR_BAD_REQUEST', id)
      // Like every refusal at the door (operations.md "Limits"): a client that sends this is broken or probing.
      refused.headers.push('connection', 'close')
      return finish(refused)
    }
    if (context.adminOnly === true || isOperatorPath(context, target.pathname)) {
      // A probe every few seconds is not traffic: it stays out of warmgate_requests_total.
      operator = true
      req.resume()
      if (!isOperatorPath(context, target.pathname)) return finish(errorResponse('WG_ERR_NOT_FOUND', id))
      void answerOperator(context, asked, target.pathname).then(finish)
      return
    }
    if (table.starting === true) {
      // Listening before the pools are prewarmed (createGateway's `listen`): the request waits for them,
      // up to server.startupTimeout. Its body stays unread meanwhile (the socket's own backpressure).
      void waitForStart(context, asked).then((refused) => {
        if (res.destroyed) {
          // The client gave up waiting: nothing to route, nothing to answer.
          logAccess(log, id, req.method, target.pathname, 499, started, 'info')
          return
        }
        if (refused !== undefined) {
          req.resume()
          return finish(refused)
        }
        routeAndAnswer()
      })
      return
    }
    routeAndAnswer()

    function routeAndAnswer (): void {
      // One router for the whole request, local redirects included, even if a reload swaps it meanwhile.
      const routed = routeTo(context, (target as RequestTarget).pathname)
      if (routed === undefined) return finish(refusal(context, 'WG_ERR_NOT_FOUND', id))
      // Set before the answer, which may be written synchronously: its access line names the app.
      app = routed.app
      answer(req, res, context, id, target as RequestTarget, secure, routed.app, routed.router, finish)
    }
  }
}

type RequestTarget = NonNullable<ReturnType<typeof requestTarget>>

/**
 * Answers a request routed (and entered) to `mounted`: the body read whole or streamed, dispatch, local
 * redirects, the body limit. A request without a body whose handler answers synchronously is written
 * before this returns.
 */
function answer (
  req: IncomingMessage, res: ServerResponse, context: ListenerContext, id: string, target: RequestTarget,
  secure: boolean, mounted: MountedApp, router: Router<MountedApp>, finish: (response: GatewayResponse) => void,
): void {
  const abort = new LazyAbortController()
  const limit = mounted.config.bodyLimit
  if (!hasBody(req)) {
    const answered = respondRouted(mounted, new WireRequest(id, target.url, req, null, secure), router, abort)
    if (!(answered instanceof Promise) && (answered.body === null || answered.body instanceof Uint8Array)) {
      // The fast path: a synchronous handler's whole answer, written in the turn the request was parsed
      // in. The app's part is over with it; a 'close' listener is needed only if the handler made the signal.
      try {
        finish(answered)
      } catch (error) {
        failed(error, res, mounted, id, finish)
      }
      mounted.leave()
      if (abort.made) res.once('close', () => { if (!res.writableFinished) abort.abort(clientAborted()) })
      return
    }
    watchClose(res, abort, mounted)
    Promise.resolve(answered).then(finish).catch((error: unknown) => failed(error, res, mounted, id, finish))
    return
  }
  watchClose(res, abort, mounted)
  // The body will be read now (a declared length over the limit is refused in readBody, unread).
  if (awaitingContinue.has(req) && !(Number(req.headers['content-length']) > limit)) {
    awaitingContinue.delete(req)
    res.writeContinue()
  }
  const tooLarge = (response?: GatewayResponse): void => {
    if (response !== undefined && response.body !== null && !(response.body instanceof Uint8Array)) response.body.destroy()
    // A streamed body that crossed the limit was logged when it did (below); one refused whole is logged here.
    const refused = response === undefined ? refusal(context, 'WG_ERR_BODY_TOO_LARGE', id, mounted, { remoteAddress: req.socket.remoteAddress }) : errorResponse('WG_ERR_BODY_TOO_LARGE', id)
    refused.headers.push('connection', 'close') // the rest of the body is not read: the connection cannot be reused
    finish(refused)
  }
  if (mounted.runtime.streamsRequestBody && isLargeOrChunked(req) && !(Number(req.headers['content-length']) > limit)) {
    const body = new StreamedRequestBody(req, limit)
    body.once('error', (error) => {
      if (!body.tooLarge) return
      mounted.log.warn({ reqId: id, code: 'WG_ERR_BODY_TOO_LARGE' }, `request refused: ${error.message}`)
      // A response already on its way cannot become a 413: the connection closes under it.
      if (res.headersSent) res.destroy()
    })
    // The exchange is over: what the handler did not read is dropped.
    res.once('finish', () => body.destroy())
    Promise.resolve(respondRouted(mounted, new WireRequest(id, target.url, req, body, secure), router, abort))
      .then(response => body.tooLarge ? tooLarge(response) : finish(response))
      .catch((error: unknown) => failed(error, res, mounted, id, finish))
    return
  }
  readBody(req, limit).then((body) => {
    if (body === 'too-large') return tooLarge()
    if (body === 'aborted') return
    return Promise.resolve(respondRouted(mounted, new WireRequest(id, target.url, req, body, secure), router, abort)).then(finish)
  }).catch((error: unknown) => failed(error, res, mounted, id, finish))
}

/** Until the exchange is over: a client that goes away aborts the request, and the app is left at the end. */
function watchClose (res: ServerResponse, abort: LazyAbortController, mounted: MountedApp): void {
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(clientAborted())
    mounted.leave()
  })
}

function failed (error: unknown, res: ServerResponse, mounted: MountedApp, id: string, finish: (response: GatewayResponse) => void): void {
  mounted.log.error({ reqId: id, err: error }, 'writing the response failed')
  if (!res.headersSent) finish(errorResponse('WG_ERR_HANDLER_THREW', id))
  else res.destroy()
}

/**
 * A request as this front door hands it on, its connection read only when asked (CGI's REMOTE_ADDR, a
 * Lambda event's sourceIp). A class, so that `connection` is one getter on the prototype: an object
 * literal with a getter gives V8 a new accessor and closure with every request, and under load its
 * young generation then grew and kept surviving objects; scavenges took ~12 ms instead of ~0.5 ms, which
 * was the p99 of a small handler (measured with `--trace-gc`, hello at 50 connections).
 */
class WireRequest implements GatewayRequest {
  readonly id: string
  readonly method: string
  readonly url: string
  readonly rawTarget: string | undefined
  readonly headers: string[]
  readonly body: Uint8Array | null | Readable
  readonly #req: IncomingMessage
  readonly #secure: boolean

  constructor (id: string, url: string, req: IncomingMessage, body: Uint8Array | null | Readable, secure: boolean) {
    this.id = id
    this.method = req.method as string
    this.url = url
    this.rawTarget = req.url
    this.headers = req.rawHeaders
    this.body = body
    this.#req = req
    this.#secure = secure
  }

  get connection (): ConnectionInfo {
    const req = this.#req
    return { remoteAddress: req.socket.remoteAddress ?? '', remotePort: req.socket.remotePort ?? 0, httpVersion: req.httpVersion, secure: this.#secure }
  }
}

/**
 * Why a request Node's parser accepted is still not one to serve, or `undefined`:
 * - an HTTP/0.9 request line (no version; Node's parser takes it): RFC 9112 §3 requires the version, and
 *   HTTP/0.9 has no headers, so no Host, no framing, nothing to route safely;
 * - more than one `Host` field: RFC 9112 §3.2 says a server MUST answer 400. Node keeps the first in
 *   `req.headers` but the handler gets every raw field, and would see `a.example, b.example`.
 */
/** Why a request that Node's parser took is still refused (400), or undefined. The upgrade listener asks too. */
export function malformedReason (req: IncomingMessage): string | undefined {
  if (req.httpVersionMajor !== 1) return `HTTP/${req.httpVersion} is not served (HTTP/1.0 and HTTP/1.1 are)`
  const raw = req.rawHeaders
  let hosts = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    // Names are compared only when 4 long: the loop costs a length check per field.
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return 'more than one Host header'
  }
  return undefined
}

/** Whether the request announces a body (RFC 9112 §6.1, §6.2). */
function hasBody (req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return length === undefined ? req.headers['transfer-encoding'] !== undefined : length !== '0'
}

/** Headers the gateway sets itself from the body it holds (RFC 9112 §6: one framing, ours). */
const FRAMING = new Set(['content-length', 'transfer-encoding'])

function writeHttpResponse (req: IncomingMessage, res: ServerResponse, id: string, response: GatewayResponse, closing: boolean): void {
  const { status, body } = response
  if (res.destroyed || res.headersSent) {
    if (body !== null && !(body instanceof Uint8Array)) body.destroy()
    return
  }
  const out: string[] = []
  const raw = response.headers
  // RFC 9110 §10.1.1: a final answer to a request whose client still waits for `100 Continue`: the client
  // may or may not send the body now, so the connection cannot carry another request.
  const close = closing || (awaitingContinue.has(req) && hasBody(req))
  let handlerLength: string | undefined
  let hasRequestId = false
  let saysClose = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    // The names compared here are lower-case in every GatewayResponse (types.ts).
    if (FRAMING.has(name)) {
      if (name === 'content-length') handlerLength = raw[i + 1]
      continue
    }
    if (name === 'x-request-id') hasRequestId = true
    else if (name === 'connection') {
      if (close) continue
      saysClose ||= raw[i + 1].toLowerCase() === 'close'
    }
    out.push(name, raw[i + 1])
  }
  if (!hasRequestId) out.push('x-request-id', id)
  // RFC 9112 §9.6: the gateway is shutting down, so this connection takes no further request. Node
  // closes it after this response, but would still say `keep-alive` (Node 24), inviting a client to reuse it.
  if (close) out.push('connection', 'close')
  // Closing with the request's body still arriving (413, a refusal before the body): read and drop it for
  // a while after the answer, or the client may see a reset instead of the answer (RFC 9112 §9.6).
  if ((close || saysClose) && !req.complete) lingerInsteadOfDestroy(req.socket, req)
  // RFC 9110 §8.6: no Content-Length in 1xx/204; 304 carries no body. HEAD: the length GET would have.
  const bodyless = status === 204 || status === 304 || (status >= 100 && status < 200)
  if (!bodyless) {
    if (body instanceof Uint8Array) out.push('content-length', String(body.byteLength))
    else if (body !== null) {
      // Streamed: the script's own length when it gave one, else chunked (HTTP/1.1) or close-delimited.
      if (handlerLength !== undefined) out.push('content-length', handlerLength)
    } else if (req.method === 'HEAD' && handlerLength !== undefined) out.push('content-length', handlerLength)
    else out.push('content-length', '0')
  }
  const reason = response.statusText !== '' ? response.statusText : (STATUS_CODES[status] ?? '')
  res.writeHead(status, reason, out)
  if (body === null || bodyless || req.method === 'HEAD') {
    if (body !== null && !(body instanceof Uint8Array)) body.destroy()
    res.end()
  } else if (body instanceof Uint8Array) res.end(body instanceof Buffer ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength))
  else streamBody(res, body, handlerLength === undefined ? undefined : Number(handlerLength))
}

/** Sends what was written (the client sees a body shorter than its Content-Length), then closes the connection. */
function closeAfterFlush (res: ServerResponse): void {
  const socket = res.socket
  if (socket === null) return void res.destroy()
  socket.end()
  setTimeout(() => socket.destroy(), 1000).unref()
}

/**
 * Copies a process's stdout to the client with backpressure (the script blocks on a full pipe, the
 * gateway holds at most a chunk or two). A declared Content-Length is a promise: more is cut off, less
 * closes the connection, since a short body would desync the next response on a keep-alive connection.
 */
function streamBody (res: ServerResponse, body: Readable, declared: number | undefined): void {
  let sent = 0
  const done = (): void => {
    body.off('data', onData)
    body.off('end', onEnd)
    res.off('drain', onDrain)
  }
  const onData = (chunk: Buffer): void => {
    if (declared !== undefined && sent + chunk.byteLength >= declared) {
      res.end(chunk.subarray(0, declared - sent))
      sent = declared
      done()
      body.destroy()
      return
    }
    sent += chunk.byteLength
    if (!res.write(chunk)) body.pause()
  }
  const onDrain = (): void => { body.resume() }
  const onEnd = (): void => {
    done()
    if (declared !== undefined && sent < declared) closeAfterFlush(res)
    else res.end()
  }
  body.on('data', onData)
  body.once('end', onEnd)
  body.once('error', () => {
    done()
    res.destroy()
  })
  res.on('drain', onDrain)
  res.once('close', () => {
    done()
    if (!body.destroyed) body.destroy()
  })
  body.resume()
}
