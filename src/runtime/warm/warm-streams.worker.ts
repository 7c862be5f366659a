// Worker side of warm mode's streamed bodies. Imports only protocol/, handler/ and errors.ts.
import { GatewayError, reviveError, serializeError, type SerializedError } from '../../errors.ts'
import type { StreamedBody } from '../../handler/response-body.ts'
import {
  REQUEST_CREDIT, RESPONSE_CHUNK, RESPONSE_END, RESPONSE_HEAD, STREAM_WINDOW,
  type FromWorker, type Outbox,
} from '../../protocol/messages.ts'

interface Sending {
  credit: number
  /** Wakes the pump waiting for credit (or for an abort). */
  wake: (() => void) | undefined
}

interface Receiving {
  stream: ReadableStream<Uint8Array>
  controller: ReadableStreamDefaultController<Uint8Array>
  /** Bytes enqueued so far, and bytes granted back to the main side (the first window is implicit). */
  enqueued: number
  granted: number
}

/**
 * The streamed bodies of one worker, keyed by request seq: request bodies arriving in chunks (fed into
 * the handler's `request.body`) and response bodies sent in chunks. Both ways follow one rule: at most
 * STREAM_WINDOW bytes in flight; the receiver grants more as its consumer drains them.
 */
export class WorkerStreams {
  readonly #outbox: Outbox<FromWorker>
  readonly #sending = new Map<number, Sending>()
  readonly #receiving = new Map<number, Receiving>()
  /**
   * Request bodies opened but not yet handed to their handler. Kept apart from #receiving: a body
   * whose last chunk and end arrive in the same batch as its REQUEST is complete (and out of
   * #receiving) before the request runs, and must still reach the handler whole.
   */
  readonly #unclaimed = new Map<number, ReadableStream<Uint8Array>>()

  constructor (outbox: Outbox<FromWorker>) {
    this.#outbox = outbox
  }

  /**
   * Opens the handler's `request.body` for a streamed request as its REQUEST message arrives (its chunks
   * may come in the same batch, before the request runs): fed by `onRequestChunk`, ended by `onRequestEnd`.
   */
  openRequestBody (seq: number): void {
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => { controller = c },
      // Called once the handler has read everything queued (highWaterMark 0): the window is free again.
      pull: () => { this.#grant(seq) },
      cancel: () => { this.#receiving.delete(seq) },
    }, { highWaterMark: 0, size: chunk => chunk.byteLength })
    this.#receiving.set(seq, { stream, controller, enqueued: 0, granted: STREAM_WINDOW })
    this.#unclaimed.set(seq, stream)
  }

  /** The stream `openRequestBody` made, for the handler's Request, whatever has arrived on it meanwhile. */
  requestBody (seq: number): ReadableStream<Uint8Array> {
    const stream = this.#unclaimed.get(seq)
    if (stream === undefined) throw new GatewayError('WG_ERR_PROTOCOL', `no request body was opened for request ${seq}`)
    this.#unclaimed.delete(seq)
    return stream
  }

  onRequestChunk (seq: number, bytes: Uint8Array): void {
    const receiving = this.#receiving.get(seq)
    if (receiving === undefined) return // cancelled by the handler, or the request is over
    receiving.enqueued += bytes.byteLength
    receiving.controller.enqueue(bytes)
  }

  onRequestEnd (seq: number, error: SerializedError | null): void {
    const receiving = this.#receiving.get(seq)
    if (receiving === undefined) return
    this.#receiving.delete(seq)
    if (error === null) receiving.controller.close()
    else receiving.controller.error(reviveError(error, 'WG_ERR_CLIENT_ABORTED'))
  }

  #grant (seq: number): void {
    const receiving = this.#receiving.get(seq)
    if (receiving === undefined) return
    const queued = -(receiving.controller.desiredSize ?? 0)
    const more = receiving.enqueued - queued + STREAM_WINDOW - receiving.granted
    if (more <= 0) return
    receiving.granted += more
    this.#outbox.push([REQUEST_CREDIT, seq, more])
  }

  /**
   * Sends a streamed response: its head now, then chunks read from the handler's stream only while
   * the main side has granted credit. Resolves when the body has ended, failed, or was aborted
   * (`signal`: the client went away or the timeout passed; the handler's stream is cancelled).
   */
  async sendResponse (seq: number, head: { status: number, statusText: string, headers: string[] }, body: StreamedBody, signal: AbortSignal): Promise<void> {
    const outbox = this.#outbox
    outbox.push([RESPONSE_HEAD, seq, head.status, head.statusText, head.headers])
    const sending: Sending = { credit: STREAM_WINDOW, wake: undefined }
    this.#sending.set(seq, sending)
    const onAbort = (): void => {
      body.cancel(signal.reason)
      sending.wake?.()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      while (!signal.aborted) {
        if (sending.credit <= 0) {
          await new Promise<void>((resolve) => { sending.wake = resolve })
          sending.wake = undefined
          continue
        }
        const chunk = await body.read()
        if (signal.aborted) break
        if (chunk === null) {
          outbox.push([RESPONSE_END, seq, null])
          break
        }
        // Always a copy, then transferred: transferring the handler's own chunk would detach it, and a
        // handler that enqueues a module-level constant would then fail on its second request in warm mode
        // only. A copy costs ~0.1 ms per MiB, small next to the hop (bench:stream).
        const owned = new Uint8Array(chunk)
        sending.credit -= owned.byteLength
        outbox.push([RESPONSE_CHUNK, seq, owned], owned)
      }
    } catch (error) {
      // The main side closes the client's connection and logs this with the request id.
      if (!signal.aborted) outbox.push([RESPONSE_END, seq, serializeError(error)])
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.#sending.delete(seq)
    }
  }

  onResponseCredit (seq: number, bytes: number): void {
    const sending = this.#sending.get(seq)
    if (sending === undefined) return
    sending.credit += bytes
    sending.wake?.()
  }

  /** The request is over (answered, failed or aborted): a request body still arriving is dropped. */
  finish (seq: number, reason?: unknown): void {
    this.#unclaimed.delete(seq)
    const receiving = this.#receiving.get(seq)
    if (receiving === undefined) return
    this.#receiving.delete(seq)
    if (reason !== undefined) {
      receiving.controller.error(reason instanceof Error ? reason : new GatewayError('WG_ERR_CLIENT_ABORTED', String(reason)))
    }
  }
}
