import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { ERROR_CODES, type ErrorCode } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { lingeringClose } from './linger.ts'

type ClientErrorCode = 'WG_ERR_BAD_REQUEST' | 'WG_ERR_BODY_TOO_LARGE' | 'WG_ERR_HEADERS_TOO_LARGE' | 'WG_ERR_REQUEST_TIMEOUT'

/** What Node's parser and connection checker report, as one of our codes; `undefined` for socket errors (ECONNRESET …). */
function codeFor (nodeCode: string | undefined): ClientErrorCode | undefined {
  switch (nodeCode) {
    case 'HPE_HEADER_OVERFLOW': return 'WG_ERR_HEADERS_TOO_LARGE'
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return 'WG_ERR_BODY_TOO_LARGE'
    // Node 24 reports both headersTimeout and requestTimeout with this one code.
    case 'ERR_HTTP_REQUEST_TIMEOUT': return 'WG_ERR_REQUEST_TIMEOUT'
    default:
      // Every other llhttp error is a malformed request: Content-Length with Transfer-Encoding
      // (HPE_INVALID_TRANSFER_ENCODING / HPE_INVALID_CONTENT_LENGTH), duplicate lengths, bad tokens …
      return nodeCode?.startsWith('HPE_') === true ? 'WG_ERR_BAD_REQUEST' : undefined
  }
}

/** The raw answer for each code, built once: there is no ServerResponse for a request the parser refused. */
const ANSWERS = new Map<ClientErrorCode, Buffer>(
  (['WG_ERR_BAD_REQUEST', 'WG_ERR_BODY_TOO_LARGE', 'WG_ERR_HEADERS_TOO_LARGE', 'WG_ERR_REQUEST_TIMEOUT'] as const).map((code) => {
    const status = ERROR_CODES[code].statusCode
    const body = `${status} ${STATUS_CODES[status] ?? 'Error'}\n`
    return [code, Buffer.from(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'latin1')]
  }),
)

/** Sockets already answered: llhttp stays in its error state and reports again on every later read or on EOF. */
const answered = new WeakSet<Socket>()
/** Of those, the ones whose refusal waits for the answers to requests pipelined before it. */
const deferred = new WeakSet<Socket>()

/**
 * The server's `clientError` listener: answers what Node's parser or timeouts refused (400, 408, 413, 431,
 * always `Connection: close`) and logs one warn line with the parser code and the peer. Like Node's own
 * handler, it writes nothing when the socket cannot take it or a response to this connection has already
 * started (that would corrupt the stream the client is reading), and the connection never serves again.
 * @example
 * server.on('clientError', createClientErrorHandler(log))
 */
export function createClientErrorHandler (log: Logger): (error: Error & { code?: string }, socket: Socket) => void {
  return function onClientError (error, socket) {
    // Later reports come from data the client sent after the answer (ignored while lingering) or from its EOF.
    if (answered.has(socket)) {
      if (error.code === 'HPE_INVALID_EOF_STATE' && !deferred.has(socket)) socket.destroy()
      return
    }
    const code = codeFor(error.code)
    const inFlight = (socket as { _httpMessage?: InFlight | null })._httpMessage
    const where = { nodeCode: error.code, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, detail: error.message }
    // RFC 9112 §9.3.2: requests pipelined before the malformed one were parsed whole and are being
    // answered; their answers go first, in order, then the refusal.
    const answerFirst = inFlight !== undefined && inFlight !== null && inFlight.req?.complete === true
    if (code === undefined || !socket.writable || (!answerFirst && inFlight?.headersSent === true)) {
      // A peer that reset or half-read the connection: nothing to answer, and nothing an operator must act on.
      log.debug(where, 'client connection error')
      return void socket.destroy()
    }
    log.warn({ code, ...where }, 'refused a request the HTTP parser or its timeouts rejected')
    const answer = ANSWERS.get(code) as Buffer
    if (code === 'WG_ERR_REQUEST_TIMEOUT') {
      // The parser is still in a good state here: bytes read after the answer could complete a request and
      // run it. So, like Node's own handler, no lingering: the answer goes out, the connection goes away.
      socket.write(answer)
      return void socket.destroy()
    }
    answered.add(socket)
    if (answerFirst) {
      deferred.add(socket)
      return afterInFlight(socket, inFlight, () => {
        deferred.delete(socket)
        if (socket.writable) lingeringClose(socket, answer)
        else socket.destroy()
      })
    }
    lingeringClose(socket, answer)
  }
}

interface InFlight { headersSent: boolean, writableFinished: boolean, req?: { complete: boolean }, once: (event: string, listener: () => void) => unknown }

/**
 * Calls `then` once every response queued on this connection has finished (Node's server hands the socket
 * to the next pipelined response in its own finish listener, which runs before this one), or destroys the
 * socket when one of them closes unfinished.
 */
function afterInFlight (socket: Socket, response: InFlight, then: () => void): void {
  let finished = false
  response.once('finish', () => {
    finished = true
    const next = (socket as { _httpMessage?: InFlight | null })._httpMessage
    if (next !== undefined && next !== null && next !== response && !next.writableFinished) afterInFlight(socket, next, then)
    else then()
  })
  response.once('close', () => {
    if (!finished) socket.destroy()
  })
}
