import { connect, type Socket } from 'node:net'
import { encodeParams } from '../../src/fastcgi/params.ts'
import {
  decodeEndRequest, encodeBeginRequest, encodeRecord, RecordParser, RecordType, Role, type EndRequestBody, type FastCgiRecord,
} from '../../src/fastcgi/records.ts'
import { within } from '../helpers/gateway.ts'

/**
 * A raw FastCGI web-server side for tests: sends bytes the test builds with the codec, and collects every
 * record the gateway sends back (content copied). Every wait is bounded and labelled.
 */
export class FcgiPeer {
  readonly socket: Socket
  readonly records: FastCgiRecord[] = []
  /** Resolves when the gateway ended or closed the connection. */
  readonly closed: Promise<void>
  readonly #parser = new RecordParser()
  #waiters: Array<() => void> = []

  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      for (const record of this.#parser.push(chunk)) this.records.push({ ...record, content: record.content.slice() })
      this.#wake()
    })
    socket.on('error', () => {})
    this.closed = new Promise(resolve => socket.once('close', () => {
      resolve()
      this.#wake()
    }))
  }

  static async connect (address: string): Promise<FcgiPeer> {
    const socket = address.startsWith('unix:')
      ? connect({ path: address.slice(5) })
      : connect({ host: address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port: Number(address.slice(address.lastIndexOf(':') + 1)) })
    await within(5000, `connect to ${address}`, new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    }))
    return new FcgiPeer(socket)
  }

  send (...chunks: Uint8Array[]): void {
    for (const chunk of chunks) this.socket.write(chunk)
  }

  /** Waits until `predicate` holds over the records received so far (or the connection closed and it still does not). */
  async until (label: string, predicate: (records: FastCgiRecord[]) => boolean, ms = 5000): Promise<FastCgiRecord[]> {
    await within(ms, label, (async () => {
      while (!predicate(this.records)) {
        if (this.socket.destroyed) throw new Error(`${label}: connection closed first; got ${describeRecords(this.records)}`)
        await new Promise<void>(resolve => this.#waiters.push(resolve))
      }
    })())
    return this.records
  }

  /** Collects one request's STDOUT and its END_REQUEST. */
  async response (requestId: number, label: string, ms = 5000): Promise<FcgiResponse> {
    await this.until(`${label}: END_REQUEST for ${requestId}`, records => records.some(r => r.type === RecordType.END_REQUEST && r.requestId === requestId), ms)
    const mine = this.records.filter(r => r.requestId === requestId)
    const end = mine.findIndex(r => r.type === RecordType.END_REQUEST)
    const stdout = Buffer.concat(mine.slice(0, end).filter(r => r.type === RecordType.STDOUT).map(r => r.content))
    // Consumed: a later response on the same connection starts clean.
    const used = new Set(mine.slice(0, end + 1))
    for (let i = this.records.length - 1; i >= 0; i--) if (used.has(this.records[i])) this.records.splice(i, 1)
    return { stdout, end: decodeEndRequest(mine[end].content), records: mine.slice(0, end + 1), ...parseCgi(stdout) }
  }

  close (): void {
    this.socket.destroy()
  }

  #wake (): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

export interface FcgiResponse {
  stdout: Buffer
  end: EndRequestBody
  records: FastCgiRecord[]
  status: number
  /** Lower-case names, in order, repeats kept. */
  headers: Array<[string, string]>
  body: Buffer
}

/** Splits a CGI response (RFC 3875 §6.2) into status, headers and body. */
export function parseCgi (stdout: Buffer): { status: number, headers: Array<[string, string]>, body: Buffer } {
  const split = stdout.indexOf('\r\n\r\n')
  if (split === -1) return { status: 0, headers: [], body: stdout }
  const headers = stdout.subarray(0, split).toString('latin1').split('\r\n').map((line): [string, string] => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
  })
  const status = Number(headers.find(([name]) => name === 'status')?.[1].slice(0, 3) ?? 200)
  return { status, headers, body: stdout.subarray(split + 4) }
}

export function header (res: { headers: Array<[string, string]> }, name: string): string | undefined {
  return res.headers.find(([n]) => n === name)?.[1]
}

/** What nginx's fastcgi_params send for a request, and the test's own additions. */
export function cgiParams (method: string, uri: string, extra: Record<string, string> = {}): Record<string, string> {
  const query = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : ''
  return {
    QUERY_STRING: query,
    REQUEST_METHOD: method,
    CONTENT_TYPE: '',
    CONTENT_LENGTH: '',
    SCRIPT_NAME: uri.split('?')[0],
    REQUEST_URI: uri,
    DOCUMENT_URI: uri.split('?')[0],
    SERVER_PROTOCOL: 'HTTP/1.1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'test',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '50000',
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: '80',
    SERVER_NAME: 'example.test',
    HTTP_HOST: 'example.test',
    ...extra,
  }
}

/** A whole request as records: BEGIN_REQUEST, PARAMS (in records of `paramsChunk` bytes), empty PARAMS, STDIN, empty STDIN. */
export function requestRecords (requestId: number, params: Record<string, string>, options: { body?: Uint8Array, keepConn?: boolean, role?: number, paramsChunk?: number, stdinChunk?: number } = {}): Uint8Array[] {
  const out = [encodeBeginRequest(requestId, options.role ?? Role.RESPONDER, options.keepConn ?? false)]
  const encoded = encodeParams(Object.entries(params))
  const paramsChunk = options.paramsChunk ?? 0xffff
  for (let at = 0; at < encoded.length; at += paramsChunk) out.push(encodeRecord(RecordType.PARAMS, requestId, encoded.subarray(at, at + paramsChunk)))
  out.push(encodeRecord(RecordType.PARAMS, requestId))
  const body = options.body ?? new Uint8Array(0)
  const stdinChunk = options.stdinChunk ?? 0xffff
  for (let at = 0; at < body.length; at += stdinChunk) out.push(encodeRecord(RecordType.STDIN, requestId, body.subarray(at, at + stdinChunk)))
  out.push(encodeRecord(RecordType.STDIN, requestId))
  return out
}

function describeRecords (records: FastCgiRecord[]): string {
  return records.length === 0 ? 'no records' : records.map(r => `type ${r.type} id ${r.requestId} (${r.content.length} B)`).join(', ')
}
