// Main side of one WebSocket: the `ws` socket (the protocol, RFC 6455, is ws's: frames, fragments,
// masking, ping/pong, the closing handshake), flow control both ways, and the app it belongs to.
import type { WebSocket } from 'ws'
import type { Logger } from '../log/logger.ts'
import type { GatewayMetrics } from '../ops/metrics.ts'

/**
 * Bytes queued to a client that is not reading (ws's `bufferedAmount`) past which the gateway gives up on
 * it: close 1008 (policy violation), then the socket is cut if the close cannot be sent either.
 */
export const OUTBOUND_LIMIT = 8 * 1024 * 1024
/**
 * Bytes of client messages handed to the app and not yet handled (its `message` hook has not returned or
 * settled): past this the gateway stops reading the client's socket (TCP then holds the client back), and
 * reads again below half of it.
 */
export const INBOUND_WINDOW = 1024 * 1024
/** The same in messages: a flood of tiny messages costs per message (each is an object queued for the app), not per byte. */
export const INBOUND_MESSAGES = 1024
/** How long a close handshake may take before the socket is cut (ws's own default is 30 s). */
const CLOSE_GRACE_MS = 5000

/** What a runtime gives a connection: where the client's messages and the connection's end go. */
export interface SocketSink {
  message (data: string | Uint8Array): void
  closed (code: number, reason: string): void
}

/** The app a connection belongs to, as the connection needs it. */
export interface SocketOwner {
  readonly name: string
  readonly log: Logger
  readonly metrics: GatewayMetrics | undefined
}

let connections = 0

export class WebSocketConnection {
  readonly id = ++connections
  readonly reqId: string
  readonly url: string
  readonly headers: string[]
  readonly remoteAddress: string
  #sink: SocketSink | undefined
  /** Client messages that arrived before a runtime took the connection (a warm thread still starting). */
  #early: Array<string | Uint8Array> | undefined = []
  /** A pong since the last ping (keep-alive, upgrade.ts). */
  alive = true
  readonly #ws: WebSocket
  readonly #owner: SocketOwner
  #unacked = 0
  #unackedMessages = 0
  #paused = false
  #ended = false
  #closing: NodeJS.Timeout | undefined
  readonly #onEnd: (conn: WebSocketConnection) => void

  constructor (ws: WebSocket, reqId: string, url: string, headers: string[], remoteAddress: string, owner: SocketOwner, onEnd: (conn: WebSocketConnection) => void) {
    this.#ws = ws
    this.reqId = reqId
    this.url = url
    this.headers = headers
    this.remoteAddress = remoteAddress
    this.#owner = owner
    this.#onEnd = onEnd
    owner.metrics?.websocketOpen(owner.name, 1)
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#owner.metrics?.websocketMessage(this.#owner.name, 'in')
      this.#unacked += data.byteLength
      this.#unackedMessages++
      if (!this.#paused && (this.#unacked > INBOUND_WINDOW || this.#unackedMessages > INBOUND_MESSAGES)) {
        this.#paused = true
        ws.pause()
      }
      // A copy that owns its buffer: a warm worker gets it transferred.
      const message = isBinary ? new Uint8Array(data) : data.toString('utf8')
      if (this.#early !== undefined) this.#early.push(message)
      else this.#sink?.message(message)
    })
    ws.on('pong', () => { this.alive = true })
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes the connection itself after this (1002 protocol error, 1009 too big, a reset socket).
      this.#owner.log.info({ reqId: this.reqId, err: { message: error.message, code: error.code } }, 'websocket connection error')
    })
    ws.once('close', (code: number, reason: Buffer) => {
      this.#ended = true
      clearTimeout(this.#closing)
      this.#owner.metrics?.websocketOpen(this.#owner.name, -1)
      this.#early = undefined
      this.#sink?.closed(code, reason.toString('utf8'))
      this.#onEnd(this)
    })
  }

  /**
   * Where the client's messages and the connection's end go from now on (a runtime's attachWebSocket);
   * what arrived before is delivered first, in order. `undefined` detaches (the runtime is gone).
   */
  set sink (sink: SocketSink | undefined) {
    this.#sink = sink
    const early = this.#early
    this.#early = undefined
    if (sink !== undefined && early !== undefined) for (const message of early) sink.message(message)
  }

  get ended (): boolean {
    return this.#ended
  }

  /** A message from the app. A client that lets OUTBOUND_LIMIT pile up is closed with 1008. */
  send (data: string | Uint8Array): void {
    if (this.#ended || this.#closing !== undefined) return
    const ws = this.#ws
    if (ws.bufferedAmount > OUTBOUND_LIMIT) {
      this.#owner.log.warn({ reqId: this.reqId, buffered: ws.bufferedAmount }, `websocket client reads too slowly: more than ${OUTBOUND_LIMIT} bytes queued for it; closing with 1008`)
      return this.close(1008, 'client too slow')
    }
    this.#owner.metrics?.websocketMessage(this.#owner.name, 'out')
    ws.send(data, { binary: typeof data !== 'string' })
  }

  /** The app handled one message of `bytes`: read the client again once below half of both windows. */
  ack (bytes: number): void {
    this.#unacked -= bytes
    this.#unackedMessages--
    if (this.#paused && this.#unacked <= INBOUND_WINDOW / 2 && this.#unackedMessages <= INBOUND_MESSAGES / 2) {
      this.#paused = false
      this.#ws.resume()
    }
  }

  /** Starts the closing handshake (the app's, or the gateway's: 1001, 1011, 1012); cuts the socket if it does not finish. */
  close (code: number, reason: string): void {
    if (this.#ended || this.#closing !== undefined) return
    this.#closing = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS)
    this.#closing.unref()
    // A paused socket would never read the client's Close frame.
    if (this.#paused) this.#ws.resume()
    this.#ws.close(code, reason)
  }

  /** A line about this connection in its app's log (a hook that failed, in inline mode). */
  logError (message: string, fields: Record<string, unknown>): void {
    this.#owner.log.error({ reqId: this.reqId, ...fields }, message)
  }

  /** Keep-alive: a connection that did not answer the last ping is cut; else pinged again. */
  ping (): void {
    if (this.#ended) return
    if (!this.alive) {
      this.#owner.log.info({ reqId: this.reqId }, 'websocket client did not answer a ping; closing')
      this.#ws.terminate()
      return
    }
    this.alive = false
    this.#ws.ping()
  }
}
