// Lambda response streaming: the response stream a streamified handler writes to, turned into a web
// Response whose body streams as it is written. The `awslambda` global is in global.ts.
import { SET_PRELUDE, type HttpPrelude } from './global.ts'

// process.getBuiltinModule, not `import … from 'node:…'`: an ESM import of a builtin builds a facade that
// reads every export (and a bundle would hoist it): cold requests that are not Lambda ones must not pay for it.
const { Writable } = process.getBuiltinModule('node:stream')

type Head = { status: number, headers: Array<[string, string]> }

/**
 * The `responseStream` a streamified handler gets: a Node Writable, as in Lambda. The response head
 * leaves at the first write (or at the end): status and headers from `HttpResponseStream.from`, else
 * 200 with `setContentType`'s type (Lambda's default is application/octet-stream). A write waits while
 * the client is slower than the handler (the body's `pull`), so backpressure reaches `write()`'s return.
 */
export class LambdaResponseStream extends Writable {
  #contentType = 'application/octet-stream'
  #prelude: HttpPrelude | undefined
  #onHead: ((head: Head, body: ReadableStream<Uint8Array>) => void) | undefined
  #controller!: ReadableStreamDefaultController<Uint8Array>
  #waiting: (() => void) | undefined
  readonly #body: ReadableStream<Uint8Array>

  constructor (onHead: (head: Head, body: ReadableStream<Uint8Array>) => void) {
    super()
    this.#onHead = onHead
    this.#body = new ReadableStream<Uint8Array>({
      start: (controller) => { this.#controller = controller },
      pull: () => { this.#release() },
      // The client went away: later writes fail instead of piling up.
      cancel: () => { this.destroy() },
    }, { highWaterMark: 1 })
  }

  /** Lambda's `responseStream.setContentType(type)`: before the first write. */
  setContentType (type: string): void {
    this.#contentType = type
  }

  /** Used by `awslambda.HttpResponseStream.from`: before the first write. */
  [SET_PRELUDE] (prelude: HttpPrelude): void {
    this.#prelude = prelude
  }

  /** Whether the head has been handed over (after that, a failure can only cut the body short). */
  get headSent (): boolean {
    return this.#onHead === undefined
  }

  /**
   * The handler failed after the head left: the body ends in an error (the front door cuts the
   * connection). Not `destroy(error)`: that emits 'error', fatal with no listener.
   */
  failBody (error: unknown): void {
    try { this.#controller.error(error) } catch {}
    this.destroy()
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#sendHead()
    this.#controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    if ((this.#controller.desiredSize ?? 0) > 0) callback()
    else this.#waiting = callback
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#sendHead()
    this.#controller.close()
    callback()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    this.#release()
    if (error !== null) {
      try { this.#controller.error(error) } catch {}
    }
    callback(error)
  }

  #release (): void {
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.()
  }

  #sendHead (): void {
    const onHead = this.#onHead
    if (onHead === undefined) return
    this.#onHead = undefined
    const prelude = this.#prelude ?? {}
    const headers: Array<[string, string]> = Object.entries(prelude.headers ?? {}).map(([name, value]) => [name, String(value)])
    if (!headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['content-type', this.#contentType])
    for (const cookie of prelude.cookies ?? []) headers.push(['set-cookie', cookie])
    onHead({ status: prelude.statusCode ?? 200, headers }, this.#body)
  }
}
