import type { Mode } from './config/define.ts'

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
  readonly body: Uint8Array | null
}

export interface GatewayResponse {
  status: number
  /** Reason phrase; empty when the handler set none. */
  statusText: string
  /** Flat `[name, value, …]`; each `Set-Cookie` is its own pair. */
  headers: string[]
  body: Uint8Array | null
}

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
