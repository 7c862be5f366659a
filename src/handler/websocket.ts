// Shared by the main thread (inline mode) and warm workers: imports nothing from either side.
// The app's side of a WebSocket: the hooks a handler module exports beside `fetch`, the `peer` each hook
// gets, and the sessions that drive them from the gateway's messages (docs/websockets.md).
import { GatewayError } from '../errors.ts'
import { WS_ACK, WS_CLOSE, WS_SEND, type WsAckMessage, type WsCloseMessage, type WsSendMessage } from '../protocol/messages.ts'

/** One connection, as the app's hooks see it (crossws's `peer`). */
export interface WebSocketPeer {
  /** The upgrade request's id (also its `x-request-id`): the connection's log lines carry it. */
  readonly id: string
  /** The upgrade request: its URL and headers. */
  readonly request: { readonly url: string, readonly headers: Headers }
  /** The client's address; undefined when unknown. */
  readonly remoteAddress: string | undefined
  /** Yours: state kept for this connection's life. */
  readonly context: Record<string, unknown>
  /** Sends a message: a string as a text frame, bytes as a binary one. After close(), does nothing. */
  send (data: string | ArrayBuffer | ArrayBufferView): void
  /** Closes the connection (RFC 6455 §7.4: 1000, or 3000-4999 for the app's own codes). */
  close (code?: number, reason?: string): void
}

/**
 * What a handler module exports beside `fetch` to accept WebSockets, as crossws (and Bun's `websocket`
 * option) name them. Every hook is optional; a module with this object accepts upgrades on its route.
 * @example
 * export default {
 *   fetch: () => new Response('use a WebSocket'),
 *   websocket: { message (peer, message) { peer.send(message) } },
 * }
 */
export interface WebSocketHooks {
  open? (peer: WebSocketPeer): unknown
  /** A whole message (fragments joined): a string for a text message, a Uint8Array for a binary one. */
  message? (peer: WebSocketPeer, message: string | Uint8Array): unknown
  close? (peer: WebSocketPeer, details: { code: number, reason: string }): unknown
  error? (peer: WebSocketPeer, error: unknown): unknown
}

/** Where loadHandler hangs a module's hooks on the fetch function it returns. */
export const WEBSOCKET_HOOKS = Symbol('warmgate.websocket')

export function hooksOf (handler: unknown): WebSocketHooks | undefined {
  return (handler as { [WEBSOCKET_HOOKS]?: WebSocketHooks } | undefined)?.[WEBSOCKET_HOOKS]
}

/**
 * Where loadHandler hangs a Node-style app's own upgrade handling (an exported node:http Server, or
 * Fastify's, with 'upgrade' listeners: `new WebSocketServer({ server })`, socket.io): it takes the real
 * request, socket and head, so it can run only where the socket is, on the main thread (inline mode).
 */
export const NODE_UPGRADE = Symbol('warmgate.nodeUpgrade')

export type NodeUpgrade = (req: unknown, socket: unknown, head: unknown) => void

/** The app's own upgrade handler, when its server has 'upgrade' listeners now. */
export function nodeUpgradeOf (handler: unknown): NodeUpgrade | undefined {
  const server = (handler as { [NODE_UPGRADE]?: { listenerCount (event: string): number, emit (event: string, ...args: unknown[]): boolean } } | undefined)?.[NODE_UPGRADE]
  if (server === undefined || server.listenerCount('upgrade') === 0) return undefined
  return (req, socket, head) => { server.emit('upgrade', req, socket, head) }
}

const HOOK_NAMES = ['open', 'message', 'close', 'error'] as const

/** The module's `websocket` export checked once, at load: a typo fails start-up, not the first connection. */
export function checkHooks (value: unknown, entry: string): WebSocketHooks | undefined {
  if (value === undefined) return undefined
  const invalid = (what: string): GatewayError => new GatewayError('WG_ERR_HANDLER_INVALID', `handler module ${entry}: the default export's websocket ${what}`)
  if (typeof value !== 'object' || value === null) throw invalid('must be an object of hooks { open, message, close, error }')
  const hooks = value as Record<string, unknown>
  for (const name of Object.keys(hooks)) {
    if (!(HOOK_NAMES as readonly string[]).includes(name)) throw invalid(`has an unknown hook "${name}" (expected ${HOOK_NAMES.join(', ')})`)
    if (typeof hooks[name] !== 'function') throw invalid(`hook "${name}" must be a function`)
  }
  return hooks as WebSocketHooks
}

export type SessionMessage = WsSendMessage | WsCloseMessage | WsAckMessage
/** Where a hook's failure is logged: the connection it happened on, the line, and its fields (the request id). */
type LogSink = (conn: number, message: string, fields: Record<string, unknown>) => void

class Peer implements WebSocketPeer {
  readonly id: string
  readonly remoteAddress: string | undefined
  readonly context: Record<string, unknown> = {}
  readonly conn: number
  readonly #url: string
  readonly #pairs: string[]
  readonly #out: (message: SessionMessage, transfer?: Uint8Array) => void
  #headers: Headers | undefined
  closed = false

  constructor (conn: number, id: string, url: string, pairs: string[], remoteAddress: string, out: (message: SessionMessage, transfer?: Uint8Array) => void) {
    this.id = id
    this.remoteAddress = remoteAddress === '' ? undefined : remoteAddress
    this.conn = conn
    this.#url = url
    this.#pairs = pairs
    this.#out = out
  }

  get request (): { url: string, headers: Headers } {
    if (this.#headers === undefined) {
      this.#headers = new Headers()
      for (let i = 0; i < this.#pairs.length; i += 2) this.#headers.append(this.#pairs[i], this.#pairs[i + 1])
    }
    return { url: this.#url, headers: this.#headers }
  }

  send (data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.closed) return
    if (typeof data === 'string') return this.#out([WS_SEND, this.conn, data])
    // Always a copy, then transferred: the app may send the same buffer again.
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data.slice(0)) : new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
    this.#out([WS_SEND, this.conn, bytes], bytes)
  }

  close (code = 1000, reason = ''): void {
    if (this.closed) return
    if (!Number.isInteger(code) || !(code === 1000 || (code >= 3000 && code <= 4999))) {
      throw new RangeError(`peer.close: code must be 1000 or 3000-4999 (RFC 6455 §7.4.2), got ${String(code)}`)
    }
    // RFC 6455 §5.5: a control frame's payload is at most 125 bytes, 2 of them the code.
    if (Buffer.byteLength(reason) > 123) throw new RangeError('peer.close: the reason must be at most 123 bytes of UTF-8')
    this.closed = true
    this.#out([WS_CLOSE, this.conn, code, reason])
  }
}

/**
 * The connections of one thread (a warm worker's, or the main thread's for inline apps), driven by the
 * gateway's events, answering through `out`. Hooks run in the order events arrive; a hook that throws
 * or rejects goes to the `error` hook (if any) and closes its connection with 1011.
 */
export class WebSocketSessions {
  readonly #hooks: WebSocketHooks
  readonly #out: (message: SessionMessage, transfer?: Uint8Array) => void
  readonly #log: LogSink
  readonly #peers = new Map<number, Peer>()

  constructor (hooks: WebSocketHooks, out: (message: SessionMessage, transfer?: Uint8Array) => void, log: LogSink) {
    this.#hooks = hooks
    this.#out = out
    this.#log = log
  }

  get size (): number {
    return this.#peers.size
  }

  open (conn: number, id: string, url: string, headers: string[], remoteAddress: string): void {
    const peer = new Peer(conn, id, url, headers, remoteAddress, this.#out)
    this.#peers.set(conn, peer)
    this.#call(peer, 'open', () => this.#hooks.open?.(peer))
  }

  message (conn: number, data: string | Uint8Array): void {
    const peer = this.#peers.get(conn)
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength
    if (peer === undefined || peer.closed) return this.#out([WS_ACK, conn, bytes])
    this.#call(peer, 'message', () => this.#hooks.message?.(peer, data), () => this.#out([WS_ACK, conn, bytes]))
  }

  closed (conn: number, code: number, reason: string): void {
    const peer = this.#peers.get(conn)
    if (peer === undefined) return
    this.#peers.delete(conn)
    peer.closed = true
    this.#call(peer, 'close', () => this.#hooks.close?.(peer, { code, reason }))
  }

  #call (peer: Peer, hook: string, run: () => unknown, done?: () => void): void {
    let result: unknown
    try {
      result = run()
    } catch (error) {
      done?.()
      return this.#failed(peer, hook, error)
    }
    if (typeof (result as { then?: unknown } | undefined)?.then === 'function') {
      ;(result as Promise<unknown>).then(() => done?.(), (error: unknown) => { done?.(); this.#failed(peer, hook, error) })
    } else done?.()
  }

  #failed (peer: Peer, hook: string, error: unknown): void {
    this.#log(peer.conn, `the websocket ${hook} hook threw: ${error instanceof Error ? error.message : String(error)}`, { reqId: peer.id, err: error })
    if (hook !== 'error' && this.#hooks.error !== undefined) {
      try {
        const result = this.#hooks.error(peer, error)
        if (typeof (result as { then?: unknown } | undefined)?.then === 'function') (result as Promise<unknown>).catch(() => {})
      } catch {}
    }
    if (!peer.closed && hook !== 'close') {
      peer.closed = true
      // RFC 6455 §7.4.1: 1011, the server met a condition that prevented it from fulfilling the request.
      this.#out([WS_CLOSE, peer.conn, 1011, 'the app failed'])
    }
  }
}
