/**
 * The one error type of warmgate. Every error a user or operator can see carries a stable `code`
 * from the table below and the HTTP status it maps to (fastify's `lib/errors.js` pattern).
 * Tests assert codes and statuses, never message text.
 */
export const ERROR_CODES = {
  WG_ERR_CONFIG_INVALID: { statusCode: 500, description: 'The configuration failed validation; the message lists every key path.' },
  WG_ERR_CONFIG_NOT_FOUND: { statusCode: 500, description: 'The configuration file does not exist.' },
  WG_ERR_CONFIG_LOAD: { statusCode: 500, description: 'The configuration file threw while being imported, or exports no object.' },
  WG_ERR_ENTRY_NOT_FOUND: { statusCode: 500, description: "An app's entry module does not exist." },
  WG_ERR_HANDLER_LOAD: { statusCode: 500, description: 'A handler module threw while being imported.' },
  WG_ERR_HANDLER_INVALID: { statusCode: 500, description: 'A handler module exports neither a fetch object nor a function.' },
  WG_ERR_HANDLER_THREW: { statusCode: 500, description: 'The handler threw or rejected while answering a request.' },
  WG_ERR_HANDLER_RESULT: { statusCode: 500, description: 'The handler returned something that is not a Response.' },
  WG_ERR_LAMBDA_THREW: { statusCode: 502, description: 'A Lambda handler threw, rejected or passed an error to its callback (API Gateway answers 502 too).' },
  WG_ERR_LAMBDA_RESULT: { statusCode: 502, description: 'A Lambda handler returned a result API Gateway would reject (no valid statusCode, a body that is not a string, bad headers).' },
  WG_ERR_MODE_UNAVAILABLE: { statusCode: 500, description: 'The requested mode is not implemented in this version.' },
  WG_ERR_NOT_FOUND: { statusCode: 404, description: 'No app route matches the request path.' },
  WG_ERR_BAD_REQUEST: { statusCode: 400, description: 'The request could not be turned into a web Request (bad Host or URL), or is not valid HTTP/1.1 (e.g. Content-Length with Transfer-Encoding, two Host fields, an HTTP/0.9 request line).' },
  WG_ERR_BODY_TOO_LARGE: { statusCode: 413, description: 'The request body exceeds the body limit.' },
  WG_ERR_HEADERS_TOO_LARGE: { statusCode: 431, description: 'The request header block exceeds server.maxHeaderSize.' },
  WG_ERR_REQUEST_TIMEOUT: { statusCode: 408, description: 'The request headers or body did not arrive within server.headersTimeout / server.requestTimeout.' },
  WG_ERR_TIMEOUT: { statusCode: 504, description: "The handler did not answer within the app's timeout." },
  WG_ERR_CLIENT_ABORTED: { statusCode: 499, description: 'The client went away before the response was sent.' },
  WG_ERR_WORKER_DIED: { statusCode: 502, description: 'The worker thread running the request exited.' },
  WG_ERR_PROTOCOL: { statusCode: 502, description: 'A worker sent a message that does not follow the wire protocol.' },
  WG_ERR_STARTING: { statusCode: 503, description: 'The gateway listens but its apps did not start within `server.startupTimeout` (createGateway with `listen`, `warmgate start`), or start-up failed; retry after Retry-After seconds.' },
  WG_ERR_RUNTIME_CLOSED: { statusCode: 503, description: 'The runtime is closing or closed and takes no new requests.' },
  WG_ERR_RUNTIME_DESTROYED: { statusCode: 503, description: 'The runtime was destroyed while the request was in flight.' },
  WG_ERR_SCRIPT_NOT_FOUND: { statusCode: 404, description: 'No CGI script matches the request path inside the app directory (no process was spawned).' },
  WG_ERR_SCRIPT_FORBIDDEN: { statusCode: 403, description: 'The CGI script path names a file that is not an executable regular file, or leaves the app directory.' },
  WG_ERR_SPAWN: { statusCode: 502, description: 'The CGI script or cold-mode runner could not be started.' },
  WG_ERR_CGI_EMPTY_OUTPUT: { statusCode: 502, description: 'The CGI process exited without writing a byte to stdout.' },
  WG_ERR_CGI_TRUNCATED: { statusCode: 502, description: 'The CGI process (or a cold-mode handler) was killed or failed before its response body ended: a 502 if the head was not sent yet, else the connection is closed without the body\'s end.' },
  WG_ERR_CGI_NO_HEADERS: { statusCode: 502, description: 'The CGI output has no header block, it never ended with a blank line, or none of its lines is a well-formed field.' },
  WG_ERR_CGI_BAD_STATUS: { statusCode: 502, description: 'The CGI Status header (or nph- status line) is not a 3-digit code from 100 to 599.' },
  WG_ERR_CGI_NO_CONTENT_TYPE: { statusCode: 502, description: 'The CGI response has a body but no Content-Type (RFC 3875 §6.3.1).' },
  WG_ERR_CGI_HEADER_TOO_LARGE: { statusCode: 502, description: 'The CGI header block is larger than 64 KiB.' },
  WG_ERR_FASTCGI_UNAVAILABLE: { statusCode: 502, description: 'The FastCGI backend could not be reached (connection refused, no such socket, or connectTimeout passed).' },
  WG_ERR_FASTCGI_CLOSED: { statusCode: 502, description: 'The FastCGI backend closed the connection (or it failed) before END_REQUEST.' },
  WG_ERR_FASTCGI_PROTOCOL: { statusCode: 502, description: 'The FastCGI backend sent records that break the protocol (bad version, unexpected type or request id, a malformed END_REQUEST).' },
  WG_ERR_FASTCGI_REJECTED: { statusCode: 503, description: 'The FastCGI backend refused the request in END_REQUEST (OVERLOADED, CANT_MPX_CONN or UNKNOWN_ROLE).' },
  WG_ERR_REDIRECT_LOOP: { statusCode: 502, description: 'A CGI local redirect (Location: /path) chain exceeded 10 hops.' },
  WG_ERR_OVERLOADED: { statusCode: 503, description: "The app's concurrency limit and wait queue (maxQueue) are full; retry after Retry-After seconds." },
  WG_ERR_QUEUE_TIMEOUT: { statusCode: 503, description: 'The request waited longer than the app\'s queueTimeout for a free slot; retry after Retry-After seconds.' },
  WG_ERR_FASTCGI_MALFORMED: { statusCode: 400, description: 'A web server sent FastCGI records that break the protocol (bad version, truncated or oversized records, records out of order or for an unknown request id); the responder closed that connection only.' },
  WG_ERR_WEBSOCKET_UNSUPPORTED: { statusCode: 501, description: 'A WebSocket upgrade the mode cannot serve: to a cold-mode app (a process per request cannot hold a connection open), or to a warm Node-style app whose own upgrade listeners need the socket (docs/websockets.md).' },
  WG_ERR_LISTEN: { statusCode: 500, description: 'The server could not listen on the requested address.' },
  WG_ERR_RELOAD_FAILED: { statusCode: 500, description: 'A reload failed (bad config, a handler that does not load, a runtime that does not start, or the gateway closing); the previous version keeps serving.' },
  WG_ERR_BENCH_OPTIONS: { statusCode: 500, description: 'A `warmgate bench` option or `bench()` option is invalid, or names an app the config does not have.' },
  WG_ERR_BENCH_FAILED: { statusCode: 500, description: '`warmgate bench` was interrupted (its signal aborted): every gateway and load process it started is stopped. A single failed run is reported in the result instead.' },
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** Plain-data form of an error, for crossing thread boundaries (structured clone drops `code` and the class). */
export interface SerializedError {
  code?: string
  message: string
  stack?: string
}

export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GatewayError'
    this.code = code
    this.statusCode = ERROR_CODES[code].statusCode
  }
}

export function isGatewayError (value: unknown): value is GatewayError {
  return value instanceof GatewayError
}

export function serializeError (error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    // The cause (a handler's own throw) is what an operator needs to see, so its stack travels too.
    const stack = error.cause instanceof Error ? `${error.stack}\nCaused by: ${error.cause.stack}` : error.stack
    return { code: typeof code === 'string' ? code : undefined, message: error.message, stack }
  }
  return { message: String(error) }
}

/** The inverse of `serializeError`: a `GatewayError` with the sent code, or `fallback` when it has none of ours. */
export function reviveError (data: SerializedError, fallback: ErrorCode): GatewayError {
  const code = (data.code !== undefined && data.code.startsWith('WG_ERR_') ? data.code : fallback) as ErrorCode
  const error = new GatewayError(code, data.message)
  if (data.stack !== undefined) error.stack = data.stack
  return error
}
