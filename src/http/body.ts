import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { GatewayError } from '../errors.ts'

export type BodyResult = Uint8Array | null | 'too-large' | 'aborted'

/**
 * Reads a request body into one Uint8Array that owns its whole ArrayBuffer, so warm mode can transfer
 * it to a worker without a second copy. A declared Content-Length above the limit is refused before
 * anything is read; a chunked body is cut off as soon as it passes the limit.
 */
export function readBody (req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = req.headers['content-length']
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(null)
  const expected = declared === undefined ? -1 : Number(declared)
  if (expected > limit) return Promise.resolve('too-large')
  if (expected === 0) return Promise.resolve(null)
  return new Promise<BodyResult>((resolve) => {
    // Known length: one buffer, filled in place. Chunked: collect, then copy once at the end.
    const whole = expected > 0 ? new Uint8Array(expected) : undefined
    const chunks: Buffer[] = []
    let received = 0
    let settled = false
    const settle = (result: BodyResult): void => {
      if (settled) return
      settled = true
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      req.off('error', onClose)
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      if (received + chunk.byteLength > limit || (whole !== undefined && received + chunk.byteLength > whole.byteLength)) {
        req.pause()
        return settle('too-large')
      }
      if (whole !== undefined) whole.set(chunk, received)
      else chunks.push(chunk)
      received += chunk.byteLength
    }
    const onEnd = (): void => {
      if (whole !== undefined) return settle(received === whole.byteLength ? whole : 'aborted')
      const body = new Uint8Array(received)
      let offset = 0
      for (const chunk of chunks) {
        body.set(chunk, offset)
        offset += chunk.byteLength
      }
      settle(received === 0 ? null : body)
    }
    const onClose = (): void => settle('aborted')
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('close', onClose)
    req.on('error', onClose)
  })
}

/** A body declared larger than this, or chunked, is streamed into runtimes that take a stream (README "Streaming"). */
export const STREAM_BODY_ABOVE = 64 * 1024

/** Whether a request's body should be streamed rather than read whole before dispatch. */
export function isLargeOrChunked (req: IncomingMessage): boolean {
  const declared = req.headers['content-length']
  if (declared === undefined) return req.headers['transfer-encoding'] !== undefined
  return Number(declared) > STREAM_BODY_ABOVE
}

/**
 * A request body as it arrives, read from the socket only as fast as it is consumed. Past `limit` it
 * errors with `WG_ERR_BODY_TOO_LARGE` (and `tooLarge` is set) and leaves the rest unread: the front door
 * answers 413 and closes the connection. A client that goes away mid-body errors it with
 * `WG_ERR_CLIENT_ABORTED`. Destroyed before its end (the exchange is over), it discards the rest.
 */
export class StreamedRequestBody extends Readable {
  tooLarge = false
  readonly #req: IncomingMessage
  readonly #limit: number
  #received = 0
  #ended = false

  constructor (req: IncomingMessage, limit: number) {
    super({ highWaterMark: 64 * 1024 })
    this.#req = req
    this.#limit = limit
    req.on('data', this.#onData)
    req.once('end', this.#onEnd)
    req.once('close', this.#onClose)
    req.pause()
    // Its consumer (a runtime) listens for errors once it runs; until then, and after, one must not crash us.
    this.on('error', noop)
  }

  override _read (): void {
    this.#req.resume()
  }

  #onData = (chunk: Buffer): void => {
    this.#received += chunk.byteLength
    if (this.#received > this.#limit) {
      this.tooLarge = true
      this.#req.pause()
      this.destroy(new GatewayError('WG_ERR_BODY_TOO_LARGE', `request body exceeds the body limit of ${this.#limit} bytes`))
      return
    }
    if (!this.push(chunk)) this.#req.pause()
  }

  #onEnd = (): void => {
    this.#ended = true
    this.#detach()
    this.push(null)
  }

  #onClose = (): void => {
    if (!this.#ended) this.destroy(new GatewayError('WG_ERR_CLIENT_ABORTED', 'client closed the connection during the request body'))
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    this.#detach()
    // Read and dropped, as Node does with a body nobody read, so that a kept-alive connection goes on.
    if (!this.#ended && !this.tooLarge) this.#req.resume()
    callback(error)
  }

  #detach (): void {
    this.#req.off('data', this.#onData)
    this.#req.off('end', this.#onEnd)
    this.#req.off('close', this.#onClose)
  }
}

function noop (): void {}
