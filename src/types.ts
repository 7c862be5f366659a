import type { Readable } from 'node:stream'
import type { Mode } from './config/define.ts'
import type { ErrorCode } from './errors.ts'

/**
 * A request as every runtime sees it: what arrived on the wire, before any web `Request` is built.
 * Front doors (the HTTP listener, `gateway.fetch`) produce it; runtimes consume it.
 */
export interface GatewayRequest {
  /** The request id (from a valid `x-request-id`, or generated). */
  readonly id: string
  readonly method: string
  /** Absolute URL, e.g. `http://127.0.0.1:8080/hello?x=1`. */
  readonly url: string
  /** Headers as received, flat: `[name, value, name, value, …]`; repeated headers stay separate. */
  readonly headers: string[]
  /**
   * Bytes, nothing, or (for runtimes with `streamsRequestBody`, when the body is large or chunked) the
   * body still arriving, as a `Readable` that errors with `WG_ERR_BODY_TOO_LARGE` past the body limit.
   */
  readonly body: Uint8Array | null | Readable
  /**
   * The request-target exactly as on the request line (`url` has dot segments resolved, for routing and
   * for handlers). CGI apps take QUERY_STRING, REQUEST_URI and the script path from it. Absent for
   * `gateway.fetch`, whose Request URL is already parsed.
   */
  readonly rawTarget?: string
  /** The connection it came over; absent for `gateway.fetch` (no socket). CGI's REMOTE_ADDR and friends. */
  readonly connection?: ConnectionInfo
}

export interface ConnectionInfo {
  readonly remoteAddress: string
  readonly remotePort: number
  /** `'1.1'`, `'1.0'`. */
  readonly httpVersion: string
  readonly secure: boolean
}

export interface GatewayResponse {
  status: number
  /** Reason phrase; empty when the handler set none. */
  statusText: string
  /**
   * Flat `[name, value, …]`; each `Set-Cookie` is its own pair. `content-length`, `transfer-encoding` and
   * `x-request-id` are spelled lower-case (web Headers give every name so; cgi-exchange.ts lowers these),
   * so that the front doors find them without lower-casing every name of every response.
   */
  headers: string[]
  /**
   * Bytes, nothing, or a stream read with backpressure: a process's stdout (cold, cgi) or a handler's
   * streamed body (warm, inline; README "Streaming"). A stream
   * that errors, or ends short of a declared `Content-Length`, makes the front door close the connection.
   */
  body: Uint8Array | null | Readable
  /** RFC 3875 §6.2.2: a CGI local redirect the gateway must serve instead (path and query). */
  localRedirect?: string
  /** Set on an answer the gateway made itself for an error (errorResponse): the FastCGI responder maps some to protocol statuses. */
  errorCode?: ErrorCode
}

/** A request whose body is bytes or nothing: what process runtimes (cold, cgi) take. */
/**
 * A value now, or a promise of it later. The hot path returns an answer it already has as it is (a
 * synchronous handler's Response, a refusal) instead of a promise: each promise costs an allocation and
 * a microtask turn per request. Hono's `app.fetch` and @hono/node-server's listener do the same.
 */
export type MaybePromise<T> = T | Promise<T>

/**
 * Where a request's abort signal (client gone, timeout) is read from: an `AbortController`. Read only by
 * what needs it: Node makes a controller's signal on first read, and a signal is an EventTarget (a Map
 * of listeners and more) that a request answered at once never needs: ~100 ns and ~0.4 KB of young
 * garbage a request (measured with a sampling heap profile, inline hello).
 */
export interface SignalSource {
  readonly signal: AbortSignal
}

/** What aborts a request (client gone, timeout): an `AbortController`, or a LazyAbortController. */
export interface Aborter extends SignalSource {
  abort (reason?: unknown): void
}

export type BufferedRequest = GatewayRequest & { readonly body: Uint8Array | null }

/** The third argument of every handler. */
export interface HandlerContext {
  readonly requestId: string
  readonly mode: Mode
  /** Aborts when the client goes away or the app's timeout passes. */
  readonly signal: AbortSignal
  /** Keeps work going after the response is sent; the gateway waits for it before a worker stops. */
  waitUntil (promise: Promise<unknown>): void
}

export type HandlerEnv = Readonly<Record<string, string>>

export type FetchHandler = (request: Request, env: HandlerEnv, ctx: HandlerContext) => Response | Promise<Response>

/** What a handler module default-exports: a fetch function, or an object with `fetch` (a Hono app is one). */
export type HandlerModule = FetchHandler | { fetch: FetchHandler }
