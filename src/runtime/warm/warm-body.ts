// Main side of warm mode's streamed bodies: what crosses the thread boundary in chunks, with credit.
import { Readable } from 'node:stream'
import { reviveError, serializeError, type SerializedError } from '../../errors.ts'
import {
  ABORT, REQUEST_CHUNK, REQUEST_END, RESPONSE_CREDIT, STREAM_WINDOW,
  type Outbox, type ToWorker,
} from '../../protocol/messages.ts'

/** Credit goes back in steps of at least this much, not per chunk: fewer messages for the same window. */
const GRANT_STEP = 64 * 1024

/**
 * A worker's streamed response body as a node `Readable`. The worker may have STREAM_WINDOW bytes
 * unconsumed here (in flight or buffered); more is granted only as the front door reads, so a slow
 * client holds the handler back instead of this side buffering its output. Destroying it before the end
 * (client gone, HEAD) sends ABORT: the worker cancels the handler's stream and aborts `ctx.signal`.
 */
class WorkerBody extends Readable {
  readonly outbox: Outbox<ToWorker>
  readonly #seq: number
  readonly #signal: AbortSignal
  readonly #onGone: () => void
  #received = 0
  #granted = STREAM_WINDOW
  #ended = false

  constructor (seq: number, outbox: Outbox<ToWorker>, signal: AbortSignal, onGone: () => void) {
    super({ highWaterMark: GRANT_STEP })
    this.#seq = seq
    this.outbox = outbox
    this.#signal = signal
    this.#onGone = onGone
    // The app's timeout (and a client gone before the front door read on) ends the body: the connection closes.
    signal.addEventListener('abort', this.#onAbort, { once: true })
  }

  #onAbort = (): void => { this.destroy(this.#signal.reason as Error) }

  override _read (): void {
    // Readable calls _read again only after a push. While the worker has credit left, its next chunk or
    // its end will push, so a grant too small to be worth a message can wait for that. A worker that has
    // used its credit (a single chunk may overdraw it) pushes nothing more, so it must be given enough to
    // send again now, even though `readableLength` still counts the bytes this very read is taking:
    // without that a 256 KiB Blob body stalled here for good.
    const consumed = this.#received - this.readableLength
    let more = consumed + STREAM_WINDOW - this.#granted
    const credit = this.#granted - this.#received
    if (credit > 0) {
      if (more < GRANT_STEP) return
    } else {
      more = Math.max(more, GRANT_STEP - credit)
    }
    this.#granted += more
    this.outbox.push([RESPONSE_CREDIT, this.#seq, more])
  }

  onChunk (bytes: Uint8Array): void {
    this.#received += bytes.byteLength
    this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }

  onEnd (error: SerializedError | null): void {
    this.#ended = true
    if (error === null) this.push(null)
    else this.destroy(reviveError(error, 'WG_ERR_HANDLER_THREW'))
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    this.#signal.removeEventListener('abort', this.#onAbort)
    if (!this.#ended) this.outbox.push([ABORT, this.#seq])
    this.#ended = true
    this.#onGone()
    callback(error)
  }
}

/**
 * A streamed request body, sent to the worker in chunks (copied: a socket's chunks are views into
 * buffers Node reuses) while the worker's credit lasts; the socket is paused when it runs out.
 */
class RequestSender {
  readonly outbox: Outbox<ToWorker>
  readonly #seq: number
  readonly #body: Readable
  #credit = STREAM_WINDOW

  constructor (seq: number, body: Readable, outbox: Outbox<ToWorker>) {
    this.#seq = seq
    this.#body = body
    this.outbox = outbox
    body.on('data', this.#onData)
    body.once('end', this.#onEnd)
    body.once('error', this.#onError)
  }

  #onData = (chunk: Buffer): void => {
    const owned = new Uint8Array(chunk)
    this.#credit -= owned.byteLength
    this.outbox.push([REQUEST_CHUNK, this.#seq, owned], owned)
    if (this.#credit <= 0) this.#body.pause()
  }

  #onEnd = (): void => {
    this.#detach()
    this.outbox.push([REQUEST_END, this.#seq, null])
  }

  #onError = (error: Error): void => {
    this.#detach()
    this.outbox.push([REQUEST_END, this.#seq, serializeError(error)])
  }

  grant (bytes: number): void {
    this.#credit += bytes
    if (this.#credit > 0 && !this.#body.destroyed) this.#body.resume()
  }

  /** The exchange is over: what the handler did not read is dropped (the front door drains the socket). */
  stop (): void {
    this.#detach()
    if (!this.#body.destroyed) this.#body.destroy()
  }

  #detach (): void {
    this.#body.off('data', this.#onData)
    this.#body.off('end', this.#onEnd)
    this.#body.off('error', this.#onError)
    // A late error of the source (the front door cut it off) must not go unhandled.
    this.#body.on('error', noop)
  }
}

/** Every streamed body of one warm runtime, either way, keyed by request seq. */
export class WarmBodies {
  readonly #responses = new Map<number, WorkerBody>()
  readonly #requests = new Map<number, RequestSender>()

  sendRequest (seq: number, body: Readable, outbox: Outbox<ToWorker>): void {
    this.#requests.set(seq, new RequestSender(seq, body, outbox))
  }

  onRequestCredit (seq: number, bytes: number): void {
    this.#requests.get(seq)?.grant(bytes)
  }

  openResponse (seq: number, outbox: Outbox<ToWorker>, signal: AbortSignal): Readable {
    const body = new WorkerBody(seq, outbox, signal, () => {
      this.#responses.delete(seq)
      this.finish(seq)
    })
    this.#responses.set(seq, body)
    return body
  }

  onResponseChunk (seq: number, bytes: Uint8Array): void {
    this.#responses.get(seq)?.onChunk(bytes)
  }

  onResponseEnd (seq: number, error: SerializedError | null): void {
    this.#responses.get(seq)?.onEnd(error)
  }

  /** The exchange is over (answered whole, failed, aborted, or its streamed body closed). */
  finish (seq: number): void {
    const sender = this.#requests.get(seq)
    if (sender === undefined) return
    this.#requests.delete(seq)
    sender.stop()
  }

  /** A worker ended: bodies streaming from it fail (the client's connection closes), uploads to it stop. */
  failWorker (outbox: Outbox<ToWorker>, error: Error): void {
    for (const body of this.#responses.values()) if (body.outbox === outbox) body.destroy(error)
    for (const [seq, sender] of this.#requests) if (sender.outbox === outbox) this.finish(seq)
  }
}

function noop (): void {}
