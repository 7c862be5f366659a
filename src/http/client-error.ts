import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { ERROR_CODES, type ErrorCode } from '../errors.ts'
import type { Logger } from '../log/logger.ts'

/** How long a rejected connection is read from after the answer before it is destroyed (see `answerAndClose`). */
const LINGER_MS = 2000

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
      if (error.code === 'HPE_INVALID_EOF_STATE') socket.destroy()
      return
    }
    const code = codeFor(error.code)
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
    const where = { nodeCode: error.code, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, detail: error.message }
    if (code === undefined || !socket.writable || inFlight?.headersSent === true) {
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
    lingeringClose(socket, answer)
  }
}

/**
 * RFC 9112 §9.6: closing at once while the client is still sending makes the kernel reset the connection,
 * which can erase the answer before the client reads it. So: send the answer and a FIN, keep reading for a
 * bounded time (the parser stays in its error state, so what arrives is dropped, never run), then destroy.
 */
function lingeringClose (socket: Socket, answer: Buffer): void {
  socket.end(answer)
  const timer = setTimeout(() => socket.destroy(), LINGER_MS)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}
