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

/** Bumped on any change to the shapes below; the worker states it in its `READY` message. */
export const PROTOCOL_VERSION = 2

// main → worker
export const REQUEST = 1
export const ABORT = 2
export const STOP = 3
// worker → main
export const RESPONSE = 11
export const FAILURE = 12
export const READY = 13
export const LOAD_FAILED = 14
export const LOG = 15
export const RETIRE = 16
export const STOPPED = 17

/** `[REQUEST, seq, id, method, url, headers, body]` — seq is the runtime's own key, id the public request id. */
export type RequestMessage = [typeof REQUEST, number, string, string, string, string[], Uint8Array | null]
export type AbortMessage = [typeof ABORT, number]
export type StopMessage = [typeof STOP]
export type ToWorker = RequestMessage | AbortMessage | StopMessage

/** `[RESPONSE, seq, status, statusText, headers, body]` */
export type ResponseMessage = [typeof RESPONSE, number, number, string, string[], Uint8Array | null]
export type FailureMessage = [typeof FAILURE, number, SerializedError]
export type ReadyMessage = [typeof READY, number]
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
export type FromWorker = ResponseMessage | FailureMessage | ReadyMessage | LoadFailedMessage | LogMessage | RetireMessage | StoppedMessage

/** What piscina hands each worker's long-running serve task. */
export interface ServeTask {
  version: number
  port: MessagePort
  entry: string
  env: Readonly<Record<string, string>>
  /** `workers.maxHeapMb`; 0 for none. */
  maxHeapMb: number
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
