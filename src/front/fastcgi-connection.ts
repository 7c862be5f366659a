import type { AdminSource } from '../ops/admin.ts'
import type { Socket } from 'node:net'
import {
  decodeBeginRequest, encodeEndRequest, encodeUnknownType, FastCgiProtocolError, ProtocolStatus, RecordParser,
  RecordType, Role, type FastCgiRecord,
} from '../fastcgi/records.ts'
import type { Logger } from '../log/logger.ts'
import type { StartingTable } from '../gateway/app-table.ts'
import { answerGetValues } from './fastcgi-values.ts'
import { FastCgiExchange } from './fastcgi-exchange.ts'

/** How long a connection we ended may take to close its side before it is destroyed. */
const LINGER_MS = 2000
const MAX_REFUSED = 64
/** Answers to management records (and refusals) a peer may leave unread in our send buffer before it is cut off. */
const MAX_UNREAD_ANSWERS = 256 * 1024

export interface ResponderContext {
  /** Read once per request: a reload swaps the router, and close() sets `closing`. */
  readonly table: StartingTable
  readonly log: Logger
  /** Host used when PARAMS name none (no HTTP_HOST, no SERVER_NAME). */
  readonly fallbackHost: () => string
  /** Largest PARAMS stream accepted; a larger one closes the connection. */
  readonly maxParamsSize: number
  /** From BEGIN_REQUEST to the end of STDIN (server.requestTimeout). */
  readonly requestTimeoutMs: number
  /** For a new connection to send its first record (server.headersTimeout). */
  readonly firstRecordTimeoutMs: number
  /** Answered in GET_VALUES_RESULT (FCGI_MAX_CONNS, FCGI_MAX_REQS). */
  readonly maxConnections: number
  /** The operator endpoints, answered here as on the HTTP port (`serve` false: `server.admin` has them, 404 here). */
  readonly admin?: { readonly source: AdminSource, readonly serve: boolean }
}

/**
 * One FastCGI connection from a web server (FastCGI Specification 1.0): parses its records, runs at most
 * one request at a time (FCGI_MPXS_CONNS is 0: nginx and lighttpd never multiplex), answers management
 * records itself, and closes after END_REQUEST unless BEGIN_REQUEST asked for FCGI_KEEP_CONN (§5.1).
 * Malformed input closes this connection only, with one warn line naming the peer.
 */
export class FastCgiConnection {
  readonly socket: Socket
  readonly #context: ResponderContext
  readonly #parser = new RecordParser()
  /** Over server.fastcgi.maxConnections: every BEGIN_REQUEST is answered OVERLOADED (§5.5), then it closes. */
  readonly #overloaded: boolean
  #exchange: FastCgiExchange | undefined
  #closeWhenIdle = false
  #gone = false
  #timer: NodeJS.Timeout | undefined
  #awaitingFirstRecord = true
  /**
   * Request ids refused at BEGIN_REQUEST (CANT_MPX_CONN, UNKNOWN_ROLE with KEEP_CONN): the web server may
   * have sent their PARAMS and STDIN before reading the refusal, so those are dropped until STDIN ends.
   */
  readonly #refused = new Set<number>()
  /** Ending: what still arrives is dropped unread. */
  #ending = false
  /** Called once per request that ends (answered, refused or aborted): the server counts them. */
  onRequestDone: () => void = noop

  constructor (socket: Socket, context: ResponderContext, overloaded: boolean) {
    this.socket = socket
    this.#context = context
    this.#overloaded = overloaded
    socket.setNoDelay(true)
    socket.on('data', this.#onData)
    socket.once('end', this.#onEnd)
    socket.once('close', this.#onClose)
    socket.on('error', this.#onError)
    this.#arm(context.firstRecordTimeoutMs, 'sent no record')
  }

  /** Whether a request is in progress. */
  get busy (): boolean {
    return this.#exchange !== undefined
  }

  /** The gateway is closing: end the connection now if idle, else after the request in progress. */
  closeWhenIdle (): void {
    this.#closeWhenIdle = true
    if (this.#exchange === undefined) this.#end()
  }

  /** Logs malformed input with the peer and closes this connection (and only it). */
  fail (detail: string): void {
    if (this.#gone) return
    this.#context.log.warn({ code: 'WG_ERR_FASTCGI_MALFORMED', ...this.peer(), detail }, 'closed a FastCGI connection that broke the protocol')
    this.#teardown()
    this.socket.destroy()
  }

  peer (): { remoteAddress: string, remotePort: number | undefined } {
    return { remoteAddress: this.socket.remoteAddress ?? 'unix socket', remotePort: this.socket.remotePort }
  }

  #onData = (chunk: Buffer): void => {
    if (this.#awaitingFirstRecord) {
      this.#awaitingFirstRecord = false
      this.#disarm()
    }
    let records: FastCgiRecord[]
    try {
      records = this.#parser.push(chunk)
      for (const record of records) {
        if (this.#gone || this.#ending) return
        this.#record(record)
      }
    } catch (error) {
      if (error instanceof FastCgiProtocolError) return this.fail(error.message)
      throw error
    }
  }

  #record ({ type, requestId, content }: FastCgiRecord): void {
    // §3.3: a request id of 0 is a management record.
    if (requestId === 0) {
      // A peer that asks and never reads would make us buffer answers without end.
      if (this.socket.writableLength > MAX_UNREAD_ANSWERS) throw new FastCgiProtocolError(`more than ${MAX_UNREAD_ANSWERS} bytes of management answers left unread`)
      if (type === RecordType.GET_VALUES) return void this.socket.write(answerGetValues(content, this.#context.maxConnections))
      return void this.socket.write(encodeUnknownType(type))
    }
    if (this.#refused.has(requestId) && type !== RecordType.BEGIN_REQUEST) {
      if (type === RecordType.STDIN && content.byteLength === 0) this.#refused.delete(requestId)
      return
    }
    switch (type) {
      case RecordType.BEGIN_REQUEST:
        if (this.socket.writableLength > MAX_UNREAD_ANSWERS && this.#exchange !== undefined) throw new FastCgiProtocolError(`more than ${MAX_UNREAD_ANSWERS} bytes of refusals left unread`)
        return this.#begin(requestId, content)
      case RecordType.ABORT_REQUEST:
        // It may cross our END_REQUEST on the wire (§5.4): an abort for a finished request is ignored.
        if (this.#exchange?.requestId === requestId) this.#exchange.abortRequest()
        return
      case RecordType.PARAMS: return this.#active(requestId, 'PARAMS').params(content)
      case RecordType.STDIN: return this.#active(requestId, 'STDIN').stdin(content)
      // §6.2: a Responder gets no FCGI_DATA; a Filter's is not ours to read.
      case RecordType.DATA: return void this.#active(requestId, 'DATA')
      case RecordType.END_REQUEST: case RecordType.STDOUT: case RecordType.STDERR:
      case RecordType.GET_VALUES_RESULT: case RecordType.UNKNOWN_TYPE:
        throw new FastCgiProtocolError(`record type ${type} goes from an application to a web server, not to us`)
      default:
        // §4.2: a type this version does not know; the connection goes on (unless its answers pile up unread).
        if (this.socket.writableLength > MAX_UNREAD_ANSWERS) throw new FastCgiProtocolError(`more than ${MAX_UNREAD_ANSWERS} bytes of UNKNOWN_TYPE answers left unread`)
        this.socket.write(encodeUnknownType(type))
    }
  }

  #active (requestId: number, what: string): FastCgiExchange {
    if (this.#exchange?.requestId !== requestId) throw new FastCgiProtocolError(`${what} record for request id ${requestId}, which is not the active request`)
    return this.#exchange
  }

  #begin (requestId: number, content: Uint8Array): void {
    const { role, keepConn } = decodeBeginRequest(content)
    if (this.#exchange !== undefined) {
      if (this.#exchange.requestId === requestId) throw new FastCgiProtocolError(`BEGIN_REQUEST for request id ${requestId}, which is already active`)
      // §5.1 / §8: FCGI_MPXS_CONNS is 0, so a second concurrent request is refused, and the first goes on.
      this.#context.log.warn({ ...this.peer(), requestId }, 'refused a second concurrent FastCGI request on one connection (CANT_MPX_CONN)')
      this.#remember(requestId)
      return void this.socket.write(encodeEndRequest(requestId, 0, ProtocolStatus.CANT_MPX_CONN))
    }
    const refuse = role !== Role.RESPONDER ? ProtocolStatus.UNKNOWN_ROLE : this.#overloaded ? ProtocolStatus.OVERLOADED : undefined
    if (refuse !== undefined) {
      this.#context.log.warn({ ...this.peer(), requestId, role }, refuse === ProtocolStatus.OVERLOADED
        ? `refused a FastCGI request: more than server.fastcgi.maxConnections (${this.#context.maxConnections}) connections (OVERLOADED)`
        : `refused a FastCGI request with role ${role}: only RESPONDER (1) is served (UNKNOWN_ROLE)`)
      this.socket.write(encodeEndRequest(requestId, 0, refuse))
      if (!keepConn || refuse === ProtocolStatus.OVERLOADED) this.#end()
      else this.#remember(requestId)
      return
    }
    this.#refused.delete(requestId)
    this.#arm(this.#context.requestTimeoutMs, 'did not send a whole request (PARAMS and STDIN) within server.requestTimeout')
    this.#exchange = new FastCgiExchange(this, this.#context, requestId, keepConn)
  }

  #remember (requestId: number): void {
    // A peer that opens request after request without finishing them is not a web server we can serve.
    if (this.#refused.size >= MAX_REFUSED) throw new FastCgiProtocolError(`more than ${MAX_REFUSED} refused requests still sending records`)
    this.#refused.add(requestId)
  }

  /** The exchange has received its whole input: the arrival timeout no longer applies. */
  inputComplete (): void {
    this.#disarm()
  }

  /** Called by the exchange once END_REQUEST is written (or the request is given up). */
  exchangeDone (keepConn: boolean): void {
    this.#exchange = undefined
    this.#disarm()
    this.onRequestDone()
    if (this.#gone) return
    if (!keepConn || this.#closeWhenIdle) this.#end()
  }

  /**
   * §5.1 without FCGI_KEEP_CONN: we close after END_REQUEST. What the web server still sends (the rest of a
   * refused body) is dropped; a peer that does not close its side within LINGER_MS is cut off.
   */
  #end (): void {
    if (this.#ending || this.#gone) return
    this.#ending = true
    this.#disarm()
    this.socket.off('data', this.#onData)
    this.socket.resume()
    this.socket.end()
    this.#timer = setTimeout(() => this.socket.destroy(), LINGER_MS)
    this.#timer.unref()
  }

  #arm (ms: number, what: string): void {
    this.#disarm()
    this.#timer = setTimeout(() => this.fail(`${what} (${ms} ms)`), ms)
    this.#timer.unref()
  }

  #disarm (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #onEnd = (): void => {
    if (this.#ending) return
    if (this.#parser.buffered > 0) return this.fail(`connection ended inside a record (${this.#parser.buffered} bytes of it received)`)
    // nginx closes the socket rather than send ABORT_REQUEST (its client went away).
    this.#teardown()
    this.socket.end()
  }

  #onError = (error: NodeJS.ErrnoException): void => {
    this.#context.log.debug({ ...this.peer(), err: error }, 'FastCGI connection error')
  }

  #onClose = (): void => {
    this.#teardown()
    clearTimeout(this.#timer)
  }

  #teardown (): void {
    if (this.#gone) return
    this.#gone = true
    this.#disarm()
    this.socket.off('data', this.#onData)
    this.#exchange?.connectionLost()
  }
}

function noop (): void {}
