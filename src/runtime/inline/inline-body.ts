import { Readable } from 'node:stream'
import type { StreamedBody } from '../../handler/response-body.ts'

/** Bytes a streamed request body may hold queued in the handler's `request.body` before the socket is paused. */
const REQUEST_QUEUE_BYTES = 64 * 1024

/**
 * A handler's streamed response body as the node `Readable` the front doors copy out. It reads the
 * handler's next chunk only when the Readable wants more (`_read`), so a slow client holds the handler
 * back instead of the gateway buffering its output. Destroying it (client gone) cancels the handler's
 * stream; `signal` aborting (timeout, client gone) destroys it with the reason.
 */
export function readableFromBody (body: StreamedBody, signal: AbortSignal): Readable {
  let ended = false
  const onAbort = (): void => { readable.destroy(signal.reason as Error) }
  const readable = new Readable({
    read () {
      body.read().then((chunk) => {
        if (chunk === null) ended = true
        readable.push(chunk === null ? null : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      }, (error: unknown) => { readable.destroy(error as Error) })
    },
    destroy (error, callback) {
      signal.removeEventListener('abort', onAbort)
      if (!ended) body.cancel(error ?? signal.reason)
      callback(error)
    },
  })
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  return readable
}

/**
 * A request body arriving on the socket as the handler's `request.body`: bytes are queued up to
 * REQUEST_QUEUE_BYTES, then the socket is paused until the handler reads on. An error of the source
 * (body too large, client gone) errors the handler's stream; the handler cancelling destroys the source.
 */
export function webStreamFromReadable (source: Readable): ReadableStream<Uint8Array> {
  let open = true
  return new ReadableStream<Uint8Array>({
    start (controller) {
      // A source that failed or ended before the handler ran has emitted its last event already.
      if (source.errored !== null) {
        open = false
        return controller.error(source.errored)
      }
      if (source.readableEnded) {
        open = false
        return controller.close()
      }
      source.on('data', (chunk: Buffer) => {
        if (!open) return
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
        if ((controller.desiredSize ?? 0) <= 0) source.pause()
      })
      source.once('end', () => {
        if (open) controller.close()
        open = false
      })
      source.once('error', (error) => {
        if (open) controller.error(error)
        open = false
      })
      source.pause()
    },
    pull () {
      source.resume()
    },
    cancel () {
      open = false
      source.destroy()
    },
  }, { highWaterMark: REQUEST_QUEUE_BYTES, size: chunk => chunk.byteLength })
}
