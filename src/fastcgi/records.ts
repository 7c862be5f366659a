/**
 * FastCGI records (FastCGI Specification 1.0, Open Market 1996, §3 and §8). Pure: encoders return bytes,
 * `RecordParser` turns a byte stream in any split into whole records. No I/O, no sockets: the responder
 * (front door) and the client (FastCgiRuntime) both build on this.
 */

/** §8: the only version there is. */
export const FCGI_VERSION_1 = 1
/** §3.3: a record header is 8 bytes. */
export const HEADER_LENGTH = 8
/** §3.3: contentLength is 16 bits. */
export const MAX_CONTENT_LENGTH = 0xffff
/** §3.3: management records (GET_VALUES, UNKNOWN_TYPE) use request id 0. */
export const NULL_REQUEST_ID = 0

const EMPTY = new Uint8Array(0)

/** §8 record types. */
export const RecordType = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const
export type RecordTypeNumber = typeof RecordType[keyof typeof RecordType]

/** §8 roles (FCGI_BeginRequestBody.role). */
export const Role = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const

/** §5.1: FCGI_KEEP_CONN in FCGI_BeginRequestBody.flags: the application must not close the connection. */
export const FCGI_KEEP_CONN = 1

/** §8 protocolStatus values of FCGI_EndRequestBody. */
export const ProtocolStatus = {
  REQUEST_COMPLETE: 0,
  CANT_MPX_CONN: 1,
  OVERLOADED: 2,
  UNKNOWN_ROLE: 3,
} as const

export interface FastCgiRecord {
  type: number
  requestId: number
  /** A view into the parser's input: copy it if it must outlive the next `push`. */
  content: Uint8Array
}

export interface BeginRequestBody {
  role: number
  /** `flags & FCGI_KEEP_CONN` */
  keepConn: boolean
}

export interface EndRequestBody {
  appStatus: number
  protocolStatus: number
}

/** Malformed input: the connection it came on cannot be trusted any further and must be closed. */
export class FastCgiProtocolError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'FastCgiProtocolError'
  }
}

/**
 * One record: header, content, and padding to a multiple of 8 bytes (§3.3 recommends 8-byte alignment;
 * the padding bytes are zero). `content` must be at most 65535 bytes: split larger payloads with
 * `encodeStream`.
 */
export function encodeRecord (type: number, requestId: number, content: Uint8Array = EMPTY): Uint8Array {
  if (content.length > MAX_CONTENT_LENGTH) throw new RangeError(`FastCGI record content is ${content.length} bytes; at most ${MAX_CONTENT_LENGTH}`)
  const padding = (8 - (content.length % 8)) % 8
  const out = new Uint8Array(HEADER_LENGTH + content.length + padding)
  writeHeader(out, type, requestId, content.length, padding)
  out.set(content, HEADER_LENGTH)
  return out
}

/**
 * A stream record type's payload as records of at most `chunkSize` content bytes each. An empty payload
 * gives no records: the end of a stream is `encodeRecord(type, id)` with no content (§3.3), which the
 * caller sends once, when the stream ends.
 */
export function encodeStream (type: number, requestId: number, payload: Uint8Array, chunkSize = 0xfff8): Uint8Array[] {
  const records: Uint8Array[] = []
  for (let offset = 0; offset < payload.length; offset += chunkSize) {
    records.push(encodeRecord(type, requestId, payload.subarray(offset, offset + chunkSize)))
  }
  return records
}

export function encodeBeginRequest (requestId: number, role: number, keepConn: boolean): Uint8Array {
  const body = new Uint8Array(8)
  body[0] = role >> 8
  body[1] = role & 0xff
  body[2] = keepConn ? FCGI_KEEP_CONN : 0
  return encodeRecord(RecordType.BEGIN_REQUEST, requestId, body)
}

export function encodeEndRequest (requestId: number, appStatus: number, protocolStatus: number): Uint8Array {
  const body = new Uint8Array(8)
  new DataView(body.buffer).setUint32(0, appStatus >>> 0)
  body[4] = protocolStatus
  return encodeRecord(RecordType.END_REQUEST, requestId, body)
}

/** §4.2: the answer to a record type the application does not know. */
export function encodeUnknownType (type: number): Uint8Array {
  const body = new Uint8Array(8)
  body[0] = type
  return encodeRecord(RecordType.UNKNOWN_TYPE, NULL_REQUEST_ID, body)
}

export function decodeBeginRequest (content: Uint8Array): BeginRequestBody {
  if (content.length !== 8) throw new FastCgiProtocolError(`BEGIN_REQUEST body is ${content.length} bytes, not 8`)
  return { role: (content[0] << 8) | content[1], keepConn: (content[2] & FCGI_KEEP_CONN) !== 0 }
}

export function decodeEndRequest (content: Uint8Array): EndRequestBody {
  if (content.length !== 8) throw new FastCgiProtocolError(`END_REQUEST body is ${content.length} bytes, not 8`)
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength)
  return { appStatus: view.getUint32(0), protocolStatus: content[4] }
}

/**
 * Turns a byte stream into records. Feed chunks of any size with `push`; it returns the records completed so
 * far (content views stay valid until the next `push`). A bad version throws `FastCgiProtocolError`; the
 * caller closes the connection. Buffers at most one record (≤ 65535 + 255 + 8 bytes), so a peer cannot make
 * it hold more.
 */
export class RecordParser {
  #pending: Uint8Array = EMPTY

  push (chunk: Uint8Array): FastCgiRecord[] {
    let data = chunk
    if (this.#pending.length > 0) {
      data = new Uint8Array(this.#pending.length + chunk.length)
      data.set(this.#pending)
      data.set(chunk, this.#pending.length)
    }
    const records: FastCgiRecord[] = []
    let offset = 0
    while (data.length - offset >= HEADER_LENGTH) {
      if (data[offset] !== FCGI_VERSION_1) throw new FastCgiProtocolError(`record version ${data[offset]}, expected ${FCGI_VERSION_1}`)
      const contentLength = (data[offset + 4] << 8) | data[offset + 5]
      const total = HEADER_LENGTH + contentLength + data[offset + 6]
      if (data.length - offset < total) break
      records.push({
        type: data[offset + 1],
        requestId: (data[offset + 2] << 8) | data[offset + 3],
        content: data.subarray(offset + HEADER_LENGTH, offset + HEADER_LENGTH + contentLength),
      })
      offset += total
    }
    // Keep only the unfinished tail, copied so that the caller's chunk can be reused.
    this.#pending = offset === data.length ? EMPTY : data.slice(offset)
    return records
  }

  /** Bytes of a record that has not fully arrived; non-zero at end of stream means a truncated record. */
  get buffered (): number {
    return this.#pending.length
  }
}

/** Writes a record header (§3.3) at the start of `out`: for senders that write content without copying it into a record. */
export function writeHeader (out: Uint8Array, type: number, requestId: number, contentLength: number, padding: number): void {
  out[0] = FCGI_VERSION_1
  out[1] = type
  out[2] = requestId >> 8
  out[3] = requestId & 0xff
  out[4] = contentLength >> 8
  out[5] = contentLength & 0xff
  out[6] = padding
  out[7] = 0
}
