// Shared by the main thread (inline mode), warm workers and the cold runner: imports nothing from either side.
// The `req` and `res` a Node-style app gets: Node's own `http.IncomingMessage` and `http.ServerResponse`,
// not look-alikes, on a socket that is only an address. What a real socket would carry is fed in (the
// request body) and taken out (the response body, `_send`) here. docs/node-apps.md says what differs and
// why light-my-request, which the first version used, is not used any more (it cost 6x the app's own CPU).
import { EventEmitter } from 'node:events'
import { IncomingMessage, ServerResponse } from 'node:http'

/** The client's side of the connection, as `req.socket` reports it: an address, no I/O. */
export class RequestSocket extends EventEmitter {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly encrypted: true | undefined
  // Open as a live connection is: on-finished (Express's body parsers) takes a request whose socket is
  // not readable for one whose body was already read.
  readable = true
  writable = true
  destroyed = false

  constructor (remoteAddress: string | undefined, remotePort: number | undefined, secure: boolean) {
    super()
    this.remoteAddress = remoteAddress
    this.remotePort = remotePort
    this.remoteFamily = remoteAddress === undefined ? undefined : remoteAddress.includes(':') ? 'IPv6' : 'IPv4'
    this.encrypted = secure ? true : undefined
  }

  // What frameworks (and IncomingMessage's own _read) call on a socket they think is real: harmless here.
  resume (): this { return this }
  pause (): this { return this }
  setTimeout (): this { return this }
  setNoDelay (): this { return this }
  setKeepAlive (): this { return this }
  ref (): this { return this }
  unref (): this { return this }
  address (): Record<string, never> { return {} }
  destroy (): this {
    if (!this.destroyed) {
      this.destroyed = true
      this.readable = false
      this.writable = false
      process.nextTick(() => this.emit('close', false))
    }
    return this
  }
}

export interface RequestInit {
  method: string
  /** The path and query, as `req.url` has them. */
  url: string
  /** Raw header pairs, as `req.rawHeaders`: Node builds `req.headers` from them, with its own joining rules. */
  rawHeaders: string[]
  httpVersion: string
  socket: RequestSocket
}

/** What an IncomingMessage does when destroyed, minus the socket: 'aborted' if its body was not all read, then 'close'. */
function destroyRequest (this: IncomingMessage, error: Error | null, callback: (error?: Error | null) => void): void {
  if (!this.readableEnded || !this.complete) {
    this.aborted = true
    this.emit('aborted')
  }
  // Node's own rule (IncomingMessage's onError): an error nobody listens for is not emitted.
  process.nextTick(callback, this.listenerCount('error') > 0 ? error : null)
}

export function createRequest (init: RequestInit): IncomingMessage {
  const req = new IncomingMessage(init.socket as never)
  req.method = init.method
  req.url = init.url
  // As Node's HTTP parser hands them over: `req.headers` is then built from them on first read, by Node's rules.
  ;(req as unknown as { _addHeaderLines: (headers: string[], n: number) => void })._addHeaderLines(init.rawHeaders, init.rawHeaders.length)
  const version = init.httpVersion
  req.httpVersion = version
  req.httpVersionMajor = version.charCodeAt(0) - 48
  req.httpVersionMinor = version.length > 2 ? version.charCodeAt(2) - 48 : 0
  // Own properties, not a subclass: Express re-parents each request onto its own prototype chain.
  ;(req as unknown as { _destroy: typeof destroyRequest })._destroy = destroyRequest
  return req
}

/** The body arrives whole: pushed now, and the request is complete. */
export function endRequest (req: IncomingMessage, body: Uint8Array | null): void {
  if (body !== null && body.byteLength > 0) req.push(Buffer.from(body.buffer, body.byteOffset, body.byteLength))
  req.push(null)
  req.complete = true
}

/** The body still arriving (a web stream): pushed as the app reads, which is what holds the client back. */
export function streamRequest (req: IncomingMessage, body: ReadableStream<Uint8Array>): void {
  const reader = body.getReader()
  let waiting = false
  const pump = (): void => {
    reader.read().then(({ done, value }) => {
      if (req.destroyed) return
      if (done) {
        req.push(null)
        req.complete = true
        return
      }
      if (req.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) pump()
      else waiting = true
    }, (error: unknown) => { req.destroy(error as Error) })
  }
  ;(req as unknown as { _read: () => void })._read = () => {
    if (!waiting) return
    waiting = false
    pump()
  }
  pump()
}

/** Bytes of response body queued and not yet taken by the gateway above which `res.write()` returns false. */
const HIGH_WATER = 64 * 1024

const CAPTURE = Symbol('warmgate.capture')
type Captured = ServerResponse & { [CAPTURE]: ResponseCapture, _headerSent: boolean }

/**
 * Node's own ServerResponse with no socket: its header logic, validation and every helper frameworks build
 * on are Node's; only `_send` (where Node hands head and body to the socket) and `destroy` are replaced,
 * as own properties (Express re-parents each response onto its own prototype chain). The body is queued
 * here and taken by the gateway through `stream()`, whose pull is what makes `res.write()` return true again.
 */
export class ResponseCapture {
  readonly res: ServerResponse
  /** Set by the adapter: called (once per turn at most) when the app sends its first bytes, ends, or fails. */
  onProgress: (() => void) | undefined
  #chunks: Buffer[] = []
  #queued = 0
  #started = false
  #ended = false
  #failed: Error | undefined
  #needDrain = false
  #pull: (() => void) | undefined

  constructor (req: IncomingMessage) {
    const res = new ServerResponse(req) as Captured
    this.res = res
    res[CAPTURE] = this
    // Node frames a body of unknown length as chunked into what it sends: here the gateway frames it.
    res.useChunkedEncodingByDefault = false
    // So that writeHead(status, headers) puts its headers where getHeaders() finds them (Node keeps them
    // apart when nothing was set before).
    res.setHeader('x-warmgate', '')
    res.removeHeader('x-warmgate')
    ;(res as unknown as { _send: typeof send })._send = send
    ;(res as unknown as { destroy: typeof destroyResponse }).destroy = destroyResponse
    res.once('finish', () => {
      this.#ended = true
      this.#wake()
      // As node:http does after a response is finished.
      process.nextTick(() => res.emit('close'))
    })
  }

  get started (): boolean { return this.#started }
  /** `end()` was called: every byte of the body has been handed over (Node's 'finish' follows a tick later). */
  get ended (): boolean { return this.#ended || this.res.writableEnded }
  get failed (): Error | undefined { return this.#failed }

  /** The whole body, once ended: one buffer (or none). `owned`: a buffer of its own, which a warm worker may transfer. */
  whole (owned: boolean): Uint8Array {
    const chunks = this.#chunks
    this.#chunks = []
    this.#queued = 0
    if (chunks.length === 0) return new Uint8Array(0)
    if (chunks.length === 1) return owned ? new Uint8Array(chunks[0]) : chunks[0]
    return Buffer.concat(chunks)
  }

  /** The body as a web stream for the gateway to read with backpressure (a chunked or long-running response). */
  stream (): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: (controller) => new Promise<void>((resolve) => {
        const deliver = (): void => {
          if (this.#chunks.length > 0) {
            const chunk = this.#chunks.shift() as Buffer
            this.#queued -= chunk.byteLength
            // A copy: the app may write the same buffer again (a module-level chunk), and warm transfers it.
            controller.enqueue(new Uint8Array(chunk))
            if (this.#needDrain && this.#queued < HIGH_WATER) {
              this.#needDrain = false
              this.res.emit('drain')
            }
            return resolve()
          }
          if (this.#failed !== undefined) {
            controller.error(this.#failed)
            return resolve()
          }
          if (this.#ended) {
            controller.close()
            return resolve()
          }
          this.#pull = deliver
        }
        deliver()
      }),
      cancel: () => { this.res.destroy() },
    }, { highWaterMark: 0 })
  }

  /** A chunk from `_send`; returns what `res.write()` returns. */
  push (chunk: Buffer | null): boolean {
    if (chunk !== null) {
      this.#chunks.push(chunk)
      this.#queued += chunk.byteLength
    }
    if (!this.#started) {
      this.#started = true
      this.onProgress?.()
    }
    this.#wake()
    if (this.#queued < HIGH_WATER) return true
    this.#needDrain = true
    return false
  }

  fail (error: Error): void {
    if (this.#failed !== undefined || this.#ended) return
    this.#failed = error
    this.onProgress?.()
    this.#wake()
  }

  #wake (): void {
    const pull = this.#pull
    this.#pull = undefined
    pull?.()
  }
}

function send (this: Captured, data: string | Uint8Array, encoding: BufferEncoding | null, callback?: () => void): boolean {
  this._headerSent = true
  let chunk: Buffer | null = null
  if (typeof data === 'string') {
    if (data.length > 0) chunk = Buffer.from(data, encoding ?? 'utf8')
  } else if (data.byteLength > 0) {
    chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  }
  const more = this[CAPTURE].push(chunk)
  if (callback) process.nextTick(callback)
  return more
}

function destroyResponse (this: Captured, error?: Error): Captured {
  if (this.destroyed) return this
  this.destroyed = true
  const capture = this[CAPTURE]
  // After 'finish' the response is whole (and 'close' is on its way): nothing is cut.
  if (capture.ended) return this
  capture.fail(error ?? Object.assign(new Error('the response was destroyed'), { code: 'ERR_STREAM_DESTROYED' }))
  process.nextTick(() => {
    if (error !== undefined && this.listenerCount('error') > 0) this.emit('error', error)
    this.emit('close')
  })
  return this
}
