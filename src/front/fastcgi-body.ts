import { Readable } from 'node:stream'
import { GatewayError } from '../errors.ts'

/**
 * A request body as its STDIN records arrive, for runtimes that take a stream (README "Streaming"). The
 * connection pushes each record's content; when the runtime reads slower than the web server sends,
 * `pause` stops reading the socket and `resume` starts it again (one request per connection, so nothing
 * else waits behind it). Past `limit` it errors with `WG_ERR_BODY_TOO_LARGE` and sets `tooLarge`.
 */
export class StdinBody extends Readable {
  tooLarge = false
  readonly #limit: number
  readonly #pause: () => void
  readonly #resume: () => void
  #received = 0

  constructor (limit: number, pause: () => void, resume: () => void) {
    super({ highWaterMark: 64 * 1024 })
    this.#limit = limit
    this.#pause = pause
    this.#resume = resume
    // Its consumer (a runtime) listens for errors once it runs; until then, and after, one must not crash us.
    this.on('error', noop)
  }

  /** One STDIN record's content; returns false once the body is over its limit (the caller answers 413). */
  add (chunk: Uint8Array): boolean {
    // Counted even once destroyed: `received` is what the web server sent, which the exchange holds to
    // CONTENT_LENGTH, not what the runtime read. A handler that stops reading (breaks out of
    // `for await (… of request.body)`, cancels it) destroys this stream while STDIN still arrives;
    // uncounted, that STDIN ended "short of CONTENT_LENGTH" and a well-behaved connection was closed as
    // malformed before the handler could answer (nginx: 502).
    this.#received += chunk.byteLength
    if (this.destroyed) return !this.tooLarge
    if (this.#received > this.#limit) {
      this.tooLarge = true
      this.destroy(new GatewayError('WG_ERR_BODY_TOO_LARGE', `request body exceeds the body limit of ${this.#limit} bytes`))
      return false
    }
    if (!this.push(chunk)) this.#pause()
    return true
  }

  get received (): number {
    return this.#received
  }

  finish (): void {
    if (!this.destroyed) this.push(null)
  }

  override _read (): void {
    this.#resume()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    // The rest of the body is read and dropped by the connection, as it is not paused any more.
    this.#resume()
    callback(error)
  }
}

/** A request body collected whole (small bodies, or runtimes that take bytes), up to a limit. */
export class BufferedBody {
  readonly #limit: number
  readonly #chunks: Uint8Array[] = []
  #received = 0

  constructor (limit: number) {
    this.#limit = limit
  }

  /** Returns false once the body is over its limit. */
  add (chunk: Uint8Array): boolean {
    this.#received += chunk.byteLength
    if (this.#received > this.#limit) return false
    this.#chunks.push(chunk)
    return true
  }

  get received (): number {
    return this.#received
  }

  /** One Uint8Array that owns its whole ArrayBuffer (warm mode transfers it to a worker without a copy), or null. */
  bytes (): Uint8Array | null {
    if (this.#received === 0) return null
    const body = new Uint8Array(this.#received)
    let offset = 0
    for (const chunk of this.#chunks) {
      body.set(chunk, offset)
      offset += chunk.byteLength
    }
    return body
  }
}

/** Rejected errors on this stream are the runtime's to report; until a runtime listens, swallow them. */
function noop (): void {}
