import { Readable } from 'node:stream'
import { createCgiResponseParser, type CgiResponseOutcome } from '../../cgi/response.ts'
import { GatewayError } from '../../errors.ts'
import { decodeEndRequest, encodeBeginRequest, encodeRecord, encodeStream, ProtocolStatus, RecordParser, RecordType, Role, type FastCgiRecord } from '../../fastcgi/records.ts'
import { encodeParams } from '../../fastcgi/params.ts'
import type { Logger } from '../../log/logger.ts'
import type { GatewayResponse } from '../../types.ts'
import { FAILURE_CODES, lowerFraming, StderrLog } from '../cgi/cgi-exchange.ts'
import { markStale, protocolError } from './fastcgi-failure.ts'
import type { ConnectionUser, FastCgiConnection } from './fastcgi-pool.ts'

export interface FastCgiExchangeOptions {
  /** The app's logger; lines add `reqId`. */
  readonly log: Logger
  readonly reqId: string
  /**
   * Called once when the connection's part is over: `reusable` when it may carry another request, else
   * with the failure (before the promise rejects with it).
   */
  readonly done: (reusable: boolean, error?: unknown) => void
}

/** One request per connection at a time, so every request is id 1, as nginx does (§3.3 allows any non-zero id). */
const REQUEST_ID = 1
/** Like cgi-exchange.ts: a small response that ends within this long (or this size) goes out as one write. */
const COALESCE_MS = 5
const COALESCE_BYTES = 64 * 1024

/**
 * Runs one request over a backend connection (FastCGI spec §6.2, Responder): BEGIN_REQUEST with
 * FCGI_KEEP_CONN, PARAMS, the body as STDIN (streamed with backpressure when it is a stream), then
 * reads STDOUT through the CGI response parser the cgi apps use (Status, Location, header checks,
 * the 64 KiB header cap), logs STDERR lines with the request id, and ends at END_REQUEST. The body
 * after the head is streamed on (socket paused while the client is slow). Any failure closes the
 * connection; `signal` (client gone, timeout) does too, since php-fpm's ABORT_REQUEST handling is not
 * worth trusting and nginx never sends it either.
 */
export function runFastCgi (conn: FastCgiConnection, params: Record<string, string>, body: Uint8Array | null | Readable, signal: AbortSignal, options: FastCgiExchangeOptions): Promise<GatewayResponse> {
  return new Promise((resolve, reject) => new Exchange(conn, options, resolve, reject).start(params, body, signal))
}

type State = 'head' | 'collect' | 'stream'

class Exchange implements ConnectionUser {
  readonly #conn: FastCgiConnection
  readonly #options: FastCgiExchangeOptions
  readonly #resolve: (res: GatewayResponse) => void
  readonly #reject: (error: unknown) => void
  readonly #records = new RecordParser()
  readonly #head = createCgiResponseParser()
  /** Made on the first STDERR record: most requests have none, and its end costs a setImmediate. */
  #stderr: StderrLog | undefined
  #state: State = 'head'
  /** Set once the connection's part is over (END_REQUEST, failure or abort). */
  #over = false
  #stdinDone = false
  /** Any record came back. */
  #answered = false
  #res: GatewayResponse | undefined
  #declared: number | null = null
  #chunks: Uint8Array[] = []
  #size = 0
  #timer: NodeJS.Timeout | undefined
  #out: Readable | undefined
  #in: Readable | undefined
  #signal: AbortSignal | undefined

  constructor (conn: FastCgiConnection, options: FastCgiExchangeOptions, resolve: (res: GatewayResponse) => void, reject: (error: unknown) => void) {
    this.#conn = conn
    this.#options = options
    this.#resolve = resolve
    this.#reject = reject
  }

  start (params: Record<string, string>, body: Uint8Array | null | Readable, signal: AbortSignal): void {
    const { socket } = this.#conn
    if (signal.aborted) return this.#abort(signal)
    this.#signal = signal
    signal.addEventListener('abort', this.#onAbort, { once: true })
    // The connection's listeners pass its socket's events here until #finish.
    this.#conn.user = this
    // §3.5/§6.2: BEGIN_REQUEST, the PARAMS stream and its empty end record; with a buffered body the
    // whole STDIN stream too, so a small request is a single write.
    const parts = [
      encodeBeginRequest(REQUEST_ID, Role.RESPONDER, true),
      ...encodeStream(RecordType.PARAMS, REQUEST_ID, encodeParams(Object.entries(params))),
      encodeRecord(RecordType.PARAMS, REQUEST_ID),
    ]
    if (!(body instanceof Readable)) {
      if (body !== null) parts.push(...encodeStream(RecordType.STDIN, REQUEST_ID, body))
      parts.push(encodeRecord(RecordType.STDIN, REQUEST_ID))
      this.#stdinDone = true
    }
    socket.write(Buffer.concat(parts))
    if (body instanceof Readable) this.#pump(body)
  }

  /** The request body as STDIN records, as fast as the backend reads them. */
  #pump (body: Readable): void {
    const { socket } = this.#conn
    this.#in = body
    body.on('data', this.#onBodyData)
    body.once('end', () => {
      if (this.#over) return
      socket.write(encodeRecord(RecordType.STDIN, REQUEST_ID))
      this.#stdinDone = true
    })
    body.once('error', (error) => this.#fail(error))
  }

  #onBodyData = (chunk: Buffer): void => {
    if (this.#over) return
    const { socket } = this.#conn
    socket.cork()
    let ok = true
    for (const record of encodeStream(RecordType.STDIN, REQUEST_ID, chunk)) ok = socket.write(record)
    socket.uncork()
    if (!ok) {
      const body = this.#in as Readable
      body.pause()
      socket.once('drain', () => body.resume())
    }
  }

  onData (chunk: Buffer): void {
    this.#answered = true
    let records: FastCgiRecord[]
    try {
      records = this.#records.push(chunk)
    } catch (error) {
      return this.#fail(protocolError(error))
    }
    for (const record of records) {
      if (this.#over) return
      this.#handle(record)
    }
    if (this.#state === 'collect' && this.#timer === undefined && !this.#over) this.#timer = setTimeout(this.#startStream, COALESCE_MS)
  }

  #handle (record: FastCgiRecord): void {
    if (record.requestId !== REQUEST_ID) {
      return this.#fail(new GatewayError('WG_ERR_FASTCGI_PROTOCOL', `the backend sent a type ${record.type} record for request id ${record.requestId}, not ${REQUEST_ID}`))
    }
    switch (record.type) {
      case RecordType.STDOUT:
        // An empty STDOUT record ends the stream (§3.3); END_REQUEST follows and ends the response.
        if (record.content.length > 0) this.#stdout(record.content)
        return
      case RecordType.STDERR:
        this.#stderr ??= new StderrLog(this.#options)
        this.#stderr.push(Buffer.from(record.content.buffer, record.content.byteOffset, record.content.byteLength))
        return
      case RecordType.END_REQUEST:
        return this.#end(record.content)
      default:
        // nginx treats any other type as fatal too: a Responder sends nothing else (§6.2).
        return this.#fail(new GatewayError('WG_ERR_FASTCGI_PROTOCOL', `the backend sent an unexpected record of type ${record.type}`))
    }
  }

  /** A STDOUT payload. Record contents are views of socket chunks, which nobody writes to again. */
  #stdout (content: Uint8Array): void {
    if (this.#state === 'head') {
      const outcome = this.#head.push(content)
      if (outcome !== null) this.#settleHead(outcome)
    } else if (this.#state === 'collect') {
      this.#chunks.push(content)
      this.#size += content.byteLength
      if (this.#size >= COALESCE_BYTES) this.#startStream()
    } else if (!(this.#out as Readable).push(content)) this.#conn.socket.pause()
  }

  #settleHead (outcome: CgiResponseOutcome): void {
    if (!outcome.ok) return this.#fail(new GatewayError(FAILURE_CODES[outcome.reason], `FastCGI backend: ${outcome.message}`))
    const { head } = outcome
    for (const dropped of head.dropped) {
      this.#options.log.warn({ reqId: this.#options.reqId, reason: dropped.reason, line: dropped.line.slice(0, 200) }, 'dropped a header line from the FastCGI backend')
    }
    this.#res = { status: head.status, statusText: head.statusText, headers: lowerFraming(head.headers), body: null }
    if (head.localRedirect !== undefined) this.#res.localRedirect = head.localRedirect
    this.#declared = head.contentLength
    this.#state = 'collect'
    if (outcome.body.byteLength > 0) {
      this.#chunks.push(outcome.body)
      this.#size = outcome.body.byteLength
    }
  }

  #startStream = (): void => {
    clearTimeout(this.#timer)
    if (this.#over || this.#state !== 'collect') return
    this.#state = 'stream'
    const { socket } = this.#conn
    const out = new Readable({
      read: () => { if (!this.#over) socket.resume() },
      destroy: (error, callback) => {
        // The client went away (or the front door stopped reading) before END_REQUEST.
        if (!this.#over) {
          socket.destroy()
          this.#finish(false)
        }
        callback(error)
      },
    })
    this.#out = out
    let ok = true
    for (const chunk of this.#chunks) ok = out.push(chunk)
    this.#chunks = []
    if (!ok) socket.pause()
    const res = this.#res as GatewayResponse
    res.body = out
    this.#resolve(res)
  }

  #end (content: Uint8Array): void {
    let status: number
    try {
      status = decodeEndRequest(content).protocolStatus
    } catch (error) {
      return this.#fail(protocolError(error))
    }
    if (status !== ProtocolStatus.REQUEST_COMPLETE) {
      const names = ['REQUEST_COMPLETE', 'CANT_MPX_CONN', 'OVERLOADED', 'UNKNOWN_ROLE']
      return this.#fail(new GatewayError('WG_ERR_FASTCGI_REJECTED', `the backend ended the request with ${names[status] ?? `protocol status ${status}`}`))
    }
    if (this.#state === 'head') {
      this.#settleHead(this.#head.end())
      if (this.#over) return
    }
    // Reusable only in a clean state: all of STDIN sent, nothing past END_REQUEST (§5.1).
    const reusable = this.#stdinDone && this.#records.buffered === 0
    if (this.#state === 'stream') {
      this.#finish(reusable)
      ;(this.#out as Readable).push(null)
      return
    }
    this.#finish(reusable)
    const res = this.#res as GatewayResponse
    const size = this.#size
    const body = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, size)
    this.#chunks = []
    // A body that breaks the backend's own Content-Length goes out as a stream, so that the front door
    // enforces the promised length (cut, or the connection closed), as for cgi apps.
    if (this.#declared !== null && size !== this.#declared) res.body = Readable.from([body], { objectMode: false })
    else res.body = size === 0 ? null : body
    this.#resolve(res)
  }

  onClosed (error?: Error): void {
    if (this.#over) return
    this.#fail(this.#closed(error === undefined
      ? new GatewayError('WG_ERR_FASTCGI_CLOSED', 'the FastCGI backend closed the connection before END_REQUEST')
      : new GatewayError('WG_ERR_FASTCGI_CLOSED', `the FastCGI connection failed before END_REQUEST: ${error.message}`, { cause: error })))
  }

  #closed (error: GatewayError): GatewayError {
    return !this.#answered && this.#conn.served > 0 ? markStale(error) : error
  }

  #onAbort = (): void => this.#abort(this.#signal as AbortSignal)

  #abort (signal: AbortSignal): void {
    const reason = signal.reason as Error
    if (this.#state === 'stream' && !this.#over) {
      const code = (reason as { code?: string })?.code
      if (code !== 'WG_ERR_CLIENT_ABORTED') this.#options.log.warn({ reqId: this.#options.reqId, code }, 'closed the FastCGI connection in the middle of the response body')
    }
    this.#fail(reason)
  }

  /** Closes the connection; the error becomes the rejection, or the body stream's error after the head. */
  #fail (error: unknown): void {
    if (this.#over) return
    this.#conn.socket.destroy()
    this.#finish(false, error)
    if (this.#state === 'stream') (this.#out as Readable).destroy(error as Error)
    else this.#reject(error)
  }

  #finish (reusable: boolean, error?: unknown): void {
    if (this.#over) return
    this.#over = true
    clearTimeout(this.#timer)
    const { socket } = this.#conn
    if (this.#conn.user === this) this.#conn.user = undefined
    this.#signal?.removeEventListener('abort', this.#onAbort)
    if (this.#in !== undefined) this.#in.off('data', this.#onBodyData)
    // A reused connection must flow again so that the pool sees the backend close it.
    if (reusable) socket.resume()
    this.#stderr?.finish()
    this.#options.done(reusable, error)
  }
}
