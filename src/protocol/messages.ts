/**
 * The main ⇄ worker wire protocol of warm mode. Pure data, no I/O.
 *
 * Messages travel in batches (one `postMessage` carries every message queued in one event-loop turn):
 * the per-message cost of a MessagePort hop is what makes a worker slower than inline, so the shapes are
 * flat arrays with a numeric tag rather than objects with string keys. Errors cross as plain
 * `{ code, message, stack }` because structured clone drops an Error's `code` and class.
 */
import type { MessagePort } from 'node:worker_threads'
import type { SerializedError } from '../errors.ts'
import type { HandlerOptions } from '../handler/options.ts'

/** Bumped on any change to the shapes below; the worker states it in its `READY` message. */
export const PROTOCOL_VERSION = 5

/**
 * Flow control of a streamed body, either way: the sender may have this many bytes in flight (sent but
 * not yet granted back) before it waits; the receiver grants bytes back as its consumer drains them.
 */
export const STREAM_WINDOW = 256 * 1024

// main → worker
export const REQUEST = 1
export const ABORT = 2
export const STOP = 3
export const REQUEST_CHUNK = 4
export const REQUEST_END = 5
export const RESPONSE_CREDIT = 6
export const WS_OPEN = 7
export const WS_MESSAGE = 8
export const WS_CLOSED = 9
// worker → main
export const RESPONSE = 11
export const FAILURE = 12
export const READY = 13
export const LOAD_FAILED = 14
export const LOG = 15
export const RESPONSE_HEAD = 16
export const RESPONSE_CHUNK = 17
export const RESPONSE_END = 18
export const REQUEST_CREDIT = 19
export const RETIRE = 20
export const STOPPED = 21
export const WS_SEND = 22
export const WS_CLOSE = 23
export const WS_ACK = 24

/**
 * `[REQUEST, seq, id, method, url, headers, body, remoteAddress]` — seq is the runtime's own key, id the
 * public request id, remoteAddress the client's ('' without a socket: gateway.fetch).
 * A body of `true` is streamed: `REQUEST_CHUNK`s follow, then one `REQUEST_END`. Then, when there is a
 * socket: the client's port, its HTTP version and whether the connection is TLS (a Node-style app's `req`).
 */
export type RequestMessage = [typeof REQUEST, number, string, string, string, string[], Uint8Array | null | true, string, number?, string?, boolean?]
/** Cancels a request; for a streamed response, also the client going away mid-body. */
export type AbortMessage = [typeof ABORT, number]
export type StopMessage = [typeof STOP]
/** `[REQUEST_CHUNK, seq, bytes]`: part of a streamed request body (transferred). */
export type RequestChunkMessage = [typeof REQUEST_CHUNK, number, Uint8Array]
/** `[REQUEST_END, seq, error]`: the streamed request body ended, or failed (too large, client gone). */
export type RequestEndMessage = [typeof REQUEST_END, number, SerializedError | null]
/** `[RESPONSE_CREDIT, seq, bytes]`: the worker may send that many more bytes of the response body. */
export type ResponseCreditMessage = [typeof RESPONSE_CREDIT, number, number]
/**
 * WebSockets (docs/websockets.md): a connection upgraded on the main thread, pinned to one worker for its
 * life. `[WS_OPEN, conn, requestId, url, headers, remoteAddress]`: the handshake is done; call `open`.
 */
export type WsOpenMessage = [typeof WS_OPEN, number, string, string, string[], string]
/** `[WS_MESSAGE, conn, data]`: a whole message from the client, text as a string, binary as bytes (transferred). */
export type WsMessageMessage = [typeof WS_MESSAGE, number, string | Uint8Array]
/** `[WS_CLOSED, conn, code, reason]`: the connection is over (the client closed it, or the gateway did): call `close`. */
export type WsClosedMessage = [typeof WS_CLOSED, number, number, string]
export type ToWorker = RequestMessage | AbortMessage | StopMessage | RequestChunkMessage | RequestEndMessage | ResponseCreditMessage
  | WsOpenMessage | WsMessageMessage | WsClosedMessage

/** `[RESPONSE, seq, status, statusText, headers, body]`: a whole response (the fast path). */
export type ResponseMessage = [typeof RESPONSE, number, number, string, string[], Uint8Array | null]
/** `[RESPONSE_HEAD, seq, status, statusText, headers]`: a streamed response starts; chunks follow. */
export type ResponseHeadMessage = [typeof RESPONSE_HEAD, number, number, string, string[]]
/** `[RESPONSE_CHUNK, seq, bytes]` (transferred). */
export type ResponseChunkMessage = [typeof RESPONSE_CHUNK, number, Uint8Array]
/** `[RESPONSE_END, seq, error]`: the body ended, or the handler's stream failed mid-way. */
export type ResponseEndMessage = [typeof RESPONSE_END, number, SerializedError | null]
/** `[REQUEST_CREDIT, seq, bytes]`: the main side may send that many more bytes of the request body. */
export type RequestCreditMessage = [typeof REQUEST_CREDIT, number, number]
export type FailureMessage = [typeof FAILURE, number, SerializedError]
/**
 * `[READY, protocolVersion, threadId, websocket]`: the handler is loaded; threadId lets the main side wait
 * for the thread's end; websocket: 1 the module has `websocket` hooks, 2 it is a Node-style app whose
 * server has 'upgrade' listeners of its own (which need the socket: inline mode only), else 0.
 */
export type ReadyMessage = [typeof READY, number, number, 0 | 1 | 2]
export type LoadFailedMessage = [typeof LOAD_FAILED, SerializedError]
/** A log line from a worker, carrying the bindings as data: `[LOG, level, message, fields]`. */
export type LogMessage = [typeof LOG, 'warn' | 'error', string, Record<string, unknown>]
/**
 * The worker asks to be replaced: `'recycle'` (its heap passed `workers.maxHeapMb`: it may keep serving
 * until a replacement is ready) or `'drain'` (an uncaught exception left it in an unknown state: no new
 * requests). `[RETIRE, kind, why]`
 */
export type RetireMessage = [typeof RETIRE, 'recycle' | 'drain', string]
/** After STOP: every request answered and every `ctx.waitUntil` settled; the main side ends the thread. */
export type StoppedMessage = [typeof STOPPED]
/** `[WS_SEND, conn, data]`: the app sends a message (a string: a text frame; bytes: a binary one, transferred). */
export type WsSendMessage = [typeof WS_SEND, number, string | Uint8Array]
/** `[WS_CLOSE, conn, code, reason]`: the app closes the connection. */
export type WsCloseMessage = [typeof WS_CLOSE, number, number, string]
/** `[WS_ACK, conn, bytes]`: the app's `message` hook is done with that many bytes (inbound flow control). */
export type WsAckMessage = [typeof WS_ACK, number, number]
export type FromWorker = ResponseMessage | FailureMessage | ReadyMessage | LoadFailedMessage | LogMessage
  | ResponseHeadMessage | ResponseChunkMessage | ResponseEndMessage | RequestCreditMessage | RetireMessage | StoppedMessage
  | WsSendMessage | WsCloseMessage | WsAckMessage

/** What piscina hands each worker's long-running serve task. */
export interface ServeTask {
  version: number
  port: MessagePort
  entry: string
  env: Readonly<Record<string, string>>
  /** `workers.maxHeapMb`; 0 for none. */
  maxHeapMb: number
  /** What `ctx.mode` says: 'inline' for an inline app that `warmgate dev` runs in a one-thread pool. */
  mode: 'warm' | 'inline'
  /** How the entry is called (fetch or Lambda) and what a Lambda context reports. */
  handler: HandlerOptions
}

/**
 * Collects messages and sends them as one batch at the end of the current event-loop turn.
 * Bodies are transferred, never copied: each must own its whole ArrayBuffer.
 */
export class Outbox<T> {
  #queue: T[] = []
  #transfer: ArrayBuffer[] = []
  #scheduled = false
  readonly #send: (batch: T[], transfer: ArrayBuffer[]) => void
  readonly #unsendable: ((message: T, error: unknown) => T) | undefined

  /**
   * `unsendable` turns a message that postMessage refused (a DataCloneError) into one that can go, so
   * that one bad message never loses the others of its batch or leaves a request unanswered.
   */
  constructor (send: (batch: T[], transfer: ArrayBuffer[]) => void, unsendable?: (message: T, error: unknown) => T) {
    this.#send = send
    this.#unsendable = unsendable
  }

  push (message: T, body?: Uint8Array | null): void {
    this.#queue.push(message)
    if (body != null && body.byteLength > 0) this.#transfer.push(body.buffer as ArrayBuffer)
    if (!this.#scheduled) {
      this.#scheduled = true
      // setImmediate, not queueMicrotask: every socket read of one poll phase lands in the same batch.
      setImmediate(this.#flush)
    }
  }

  /** Sends what is queued now (before a port closes, so nothing queued is lost). */
  flush (): void {
    if (this.#queue.length > 0) this.#flush()
  }

  #flush = (): void => {
    this.#scheduled = false
    if (this.#queue.length === 0) return // flushed early by flush()
    const batch = this.#queue
    const transfer = this.#transfer
    this.#queue = []
    this.#transfer = []
    try {
      this.#send(batch, transfer)
    } catch (error) {
      if (this.#unsendable === undefined) throw error
      // Rare path: send one by one (copying, since which buffer belongs to which message is not kept).
      for (const message of batch) {
        try {
          this.#send([message], [])
        } catch (cloneError) {
          this.#send([this.#unsendable(message, cloneError)], [])
        }
      }
    }
  }
}
