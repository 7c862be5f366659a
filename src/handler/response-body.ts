// Shared by the main thread (inline mode) and warm workers: imports nothing from either side.
import { GatewayError } from '../errors.ts'
import { takeFast } from './light-response.ts'
import { PlainResponse } from './plain-response.ts'
import { realResponse } from './native-fetch.ts'
import { assertResponseHead } from './response-head.ts'
import type { MaybePromise } from '../types.ts'

/**
 * Microtask turns a body may take to report its end and still count as complete. A string, bytes or
 * `Response.json()` body reports done 2 turns after its chunk (undici closes it in a queueMicrotask), a
 * stream that enqueues and closes in `start` after 1; anything that waits on I/O or a timer takes a
 * macrotask, so a small margin separates the two without delaying any response by a macrotask.
 */
const COMPLETE_WITHIN_TURNS = 4
/** Chunks that are all there at once are gathered into one buffered body up to this size; past it, streamed. */
const GATHER_AT_MOST = 256 * 1024

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<unknown>['read']>>

/** A handler's response as plain data: its body bytes whole (the fast path), or a body still being produced. */
export interface HandlerResponse {
  status: number
  statusText: string
  headers: string[]
  body: Uint8Array | null | StreamedBody
}

/**
 * The rest of a handler's response body, read chunk by chunk, only as fast as the reader asks: the
 * producer's own backpressure (`pull`, `desiredSize`) is what holds a fast handler back for a slow client.
 */
export class StreamedBody {
  readonly #reader: ReadableStreamDefaultReader<unknown>
  readonly #gathered: Uint8Array[]
  #next: Promise<ReadResult> | undefined

  constructor (reader: ReadableStreamDefaultReader<unknown>, gathered: Uint8Array[], next: Promise<ReadResult>) {
    this.#reader = reader
    this.#gathered = gathered
    this.#next = next
  }

  /** The next chunk (never empty), or null at the end. Rejects with a `GatewayError` when the handler's stream fails. */
  async read (): Promise<Uint8Array | null> {
    if (this.#gathered.length > 0) return this.#gathered.shift() as Uint8Array
    for (;;) {
      const next = this.#next ?? this.#reader.read()
      this.#next = undefined
      let result: ReadResult
      try {
        result = await next
      } catch (cause) {
        throw new GatewayError('WG_ERR_HANDLER_THREW', `the response body stream failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
      }
      if (result.done) return null
      const chunk = toChunk(result.value)
      if (chunk.byteLength > 0) return chunk
    }
  }

  /** Stops the handler's stream (client gone, timeout): its `cancel` callback runs with `reason`. */
  cancel (reason: unknown): void {
    this.#reader.cancel(reason).catch(() => {})
  }
}

/**
 * Reads a handler's `Response` head, and its body whole when the body is already complete (a string,
 * bytes, JSON: today's fast path, one buffer with a Content-Length); otherwise hands back a `StreamedBody`.
 * A light Response of data is read synchronously; anything else through a promise, which rejects with a
 * `GatewayError` (500) when the result is not a Response or its body fails before a first chunk.
 * `pooled`: a string body may be encoded into Node's shared buffer pool (the main thread, which writes
 * it to a socket), not into a buffer of its own (a warm worker, which transfers the buffer whole).
 */
export function readWebResponse (result: unknown, pooled = false): MaybePromise<HandlerResponse> {
  // A light Response of data (light-response.ts): no stream, no Headers object. Answered synchronously.
  const fast = takeFast(result)
  if (fast !== undefined) {
    const body = fast.body
    // Buffer.from takes a small string's bytes from the pool: no backing store of its own to allocate and free.
    return { status: fast.status, statusText: fast.statusText, headers: fast.headers, body: typeof body === 'string' ? (pooled ? Buffer.from(body) : encoder.encode(body)) : body }
  }
  if (result instanceof PlainResponse) return readPlainResponse(result)
  return readOtherResponse(result)
}

/**
 * A Node-style app's answer (plain-response.ts): its header lines kept as the app set them. Not checked
 * again: Node's ServerResponse refused a bad name, value or reason phrase when the app set it
 * (setHeader, writeHead throw ERR_INVALID_HTTP_TOKEN / ERR_INVALID_CHAR), and the adapter checks the status.
 */
function readPlainResponse (result: PlainResponse): MaybePromise<HandlerResponse> {
  const { status, statusText, headers, body } = result
  if (body === null || body instanceof Uint8Array) return { status, statusText, headers, body }
  return readStart(body.getReader()).then(
    (read) => ({ status, statusText, headers, body: read }),
    (cause: unknown) => {
      if (cause instanceof GatewayError) throw cause
      throw new GatewayError('WG_ERR_HANDLER_THREW', `reading the response body failed: ${(cause as Error).message}`, { cause })
    },
  )
}

async function readOtherResponse (result: unknown): Promise<HandlerResponse> {
  if (!isResponse(result)) {
    const found = result === null ? 'null' : typeof result === 'object' ? `an object (${result.constructor?.name ?? 'Object'})` : typeof result
    throw new GatewayError('WG_ERR_HANDLER_RESULT', `handler must return a Response, returned ${found}`)
  }
  const headers: string[] = []
  // Iterating Headers yields each Set-Cookie on its own (fetch spec "sort and combine"); others come joined by ", ".
  for (const [name, value] of result.headers) headers.push(name, value)
  const head = { status: result.status, statusText: result.statusText, headers }
  // A Response subclass can yield anything from `headers`: refused here, with a code, as cold mode's runner does.
  assertResponseHead(head.status, head.statusText, headers)
  if (result.body === null) return { ...head, body: null }
  try {
    return { ...head, body: await readStart(result.body.getReader()) }
  } catch (cause) {
    if (cause instanceof GatewayError) throw cause
    throw new GatewayError('WG_ERR_HANDLER_THREW', `reading the response body failed: ${(cause as Error).message}`, { cause })
  }
}

const encoder = new TextEncoder()

/** A Response of either kind: a light one (its class is the global `Response` where installed), or Node's own. */
export function isResponse (value: unknown): value is Response {
  if (typeof value !== 'object' || value === null) return false
  return value instanceof (globalThis.Response as typeof Response) || value instanceof realResponse()
}

async function readStart (reader: ReadableStreamDefaultReader<unknown>): Promise<Uint8Array | StreamedBody> {
  const gathered: Uint8Array[] = []
  let size = 0
  let next = reader.read()
  for (;;) {
    let result: ReadResult | undefined
    // The first read may wait on the handler as long as it likes: there is nothing to send before it.
    if (gathered.length === 0) result = await next
    else {
      next.then((r) => { result = r }, () => {})
      for (let turn = 0; turn < COMPLETE_WITHIN_TURNS && result === undefined; turn++) await null
      if (result === undefined) return new StreamedBody(reader, gathered, next)
    }
    if (result.done) return concat(gathered, size)
    const chunk = toChunk(result.value)
    gathered.push(chunk)
    size += chunk.byteLength
    if (size > GATHER_AT_MOST && gathered.length > 1) return new StreamedBody(reader, gathered, reader.read())
    next = reader.read()
  }
}

/** One buffer that owns its whole ArrayBuffer (warm mode transfers it), never the handler's own chunk. */
function concat (chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return new Uint8Array(chunks[0])
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

function toChunk (value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    const found = value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'Object') : typeof value
    throw new GatewayError('WG_ERR_HANDLER_RESULT', `a response body chunk must be a Uint8Array, got ${found}`)
  }
  // A chunk handed over once (warm mode transfers chunks that own their buffer) and enqueued again.
  if (value.byteLength === 0 && (value.buffer as { detached?: boolean }).detached === true) {
    throw new GatewayError('WG_ERR_HANDLER_RESULT', 'a response body chunk was enqueued again after it was sent: its buffer was transferred; enqueue a new Uint8Array for each chunk')
  }
  return value
}
