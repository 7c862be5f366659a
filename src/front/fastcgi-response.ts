import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { encodeEndRequest, HEADER_LENGTH, ProtocolStatus, RecordType, writeHeader } from '../fastcgi/records.ts'
import type { GatewayResponse } from '../types.ts'

/** Content bytes per STDOUT record: 65535 (§3.3) rounded down to a multiple of 8, so no padding is needed. */
const RECORD_CONTENT = 0xfff8
const ZEROS = Buffer.alloc(8)

/** Headers the gateway sets itself from the body it holds: one framing, ours (as in http/listener.ts). */
const FRAMING = new Set(['content-length', 'transfer-encoding'])
// CGI response header fields that would make the web server act on them rather than pass them on (RFC 3875 §6.3).
const SERVER_ONLY = new Set(['status', 'connection'])

/** What a response's head says, and what its body must be held to. */
interface Head {
  text: string
  /** Whether body bytes follow the head (not for HEAD, 204, 304, 1xx). */
  withBody: boolean
  /** The handler's own Content-Length for a streamed body: a promise the body is held to. */
  declared: number | undefined
}

/**
 * The CGI response head (RFC 3875 §6.2, §6.3.3): `Status: 200 OK`, the response's headers, our
 * `X-Request-Id`, and Content-Length where the gateway knows it; the web server makes the HTTP framing.
 */
export function cgiHead (response: GatewayResponse, requestId: string, method: string): Head {
  const { status, body } = response
  const reason = response.statusText !== '' ? response.statusText : (STATUS_CODES[status] ?? '')
  let text = `Status: ${status} ${reason}\r\n`
  const raw = response.headers
  let handlerLength: string | undefined
  let hasRequestId = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    if (FRAMING.has(name)) {
      if (name === 'content-length') handlerLength = raw[i + 1]
      continue
    }
    if (SERVER_ONLY.has(name.toLowerCase())) continue
    if (name === 'x-request-id') hasRequestId = true
    text += `${name}: ${raw[i + 1]}\r\n`
  }
  if (!hasRequestId) text += `x-request-id: ${requestId}\r\n`
  // RFC 9110 §8.6: no Content-Length in 1xx/204; 304 carries no body. HEAD: the length GET would have.
  const bodyless = status === 204 || status === 304 || (status >= 100 && status < 200)
  let declared: number | undefined
  if (!bodyless) {
    if (body instanceof Uint8Array) text += `content-length: ${body.byteLength}\r\n`
    else if (body !== null) {
      if (handlerLength !== undefined) {
        text += `content-length: ${handlerLength}\r\n`
        declared = Number(handlerLength)
      }
    } else if (method === 'HEAD' && handlerLength !== undefined) text += `content-length: ${handlerLength}\r\n`
    else text += 'content-length: 0\r\n'
  }
  return { text: `${text}\r\n`, withBody: !bodyless && method !== 'HEAD' && body !== null, declared }
}

/** `data` as STDOUT records: header, content (not copied), padding where the length is not a multiple of 8. */
function stdoutRecords (requestId: number, data: Uint8Array, out: Uint8Array[]): void {
  for (let offset = 0; offset < data.byteLength; offset += RECORD_CONTENT) {
    const content = data.subarray(offset, offset + RECORD_CONTENT)
    const padding = (8 - (content.byteLength % 8)) % 8
    const header = new Uint8Array(HEADER_LENGTH)
    writeHeader(header, RecordType.STDOUT, requestId, content.byteLength, padding)
    out.push(header, content)
    if (padding > 0) out.push(ZEROS.subarray(0, padding))
  }
}

/** §5.3: the end of the STDOUT stream (an empty record), then END_REQUEST with appStatus and protocolStatus. */
export function endRecords (requestId: number, appStatus = 0, protocolStatus: number = ProtocolStatus.REQUEST_COMPLETE): Uint8Array {
  const end = new Uint8Array(HEADER_LENGTH * 2 + 8)
  writeHeader(end, RecordType.STDOUT, requestId, 0, 0)
  end.set(encodeEndRequest(requestId, appStatus, protocolStatus), HEADER_LENGTH)
  return end
}

export interface ResponseWriting {
  /** Stops a streamed body now (ABORT_REQUEST, the gateway closing the connection); `done` is not called. */
  stop (): void
}

/**
 * Writes a response as STDOUT records, then the end of the stream and END_REQUEST, and calls `done`.
 * A body held in memory goes out in one write. A stream is copied with backpressure: a slow web server
 * pauses the handler's stream, so the gateway holds a chunk or two, never a whole download. A stream
 * that fails, or ends short of its declared Content-Length, destroys the socket instead: a web server
 * that saw END_REQUEST would take the short body for a whole one.
 */
export function writeResponse (socket: Socket, requestId: number, head: Head, body: GatewayResponse['body'], done: () => void): ResponseWriting {
  const headBytes = Buffer.from(head.text, 'latin1')
  if (!head.withBody || body === null || body instanceof Uint8Array) {
    if (body !== null && !(body instanceof Uint8Array)) body.destroy()
    // The whole exchange in one buffer and one write: the hot path for small answers (one syscall, no writev).
    socket.write(wholeResponse(requestId, headBytes, head.withBody ? body as Uint8Array | null : null))
    done()
    return { stop () {} }
  }
  const records: Uint8Array[] = []
  stdoutRecords(requestId, headBytes, records)
  writeAll(socket, records)
  return streamBody(socket, requestId, body, head.declared, done)
}

/** STDOUT records carrying `head` then `body`, the empty STDOUT and END_REQUEST, copied into one buffer. */
function wholeResponse (requestId: number, head: Uint8Array, body: Uint8Array | null): Buffer {
  const length = head.byteLength + (body?.byteLength ?? 0)
  const records = Math.ceil(length / RECORD_CONTENT)
  // Every record but the last is full (a multiple of 8): only the last one is padded.
  const padded = length + ((8 - (length % 8)) % 8)
  const out = Buffer.allocUnsafe(records * HEADER_LENGTH + padded + HEADER_LENGTH * 2 + 8)
  let at = 0
  let from = 0
  const copy = (to: number): void => {
    // Bytes [from, to) of head + body, wherever they lie.
    while (from < to) {
      if (from < head.byteLength) {
        const end = Math.min(to, head.byteLength)
        out.set(head.subarray(from, end), at)
        at += end - from
        from = end
      } else {
        const offset = from - head.byteLength
        const end = to - head.byteLength
        out.set((body as Uint8Array).subarray(offset, end), at)
        at += end - offset
        from = to
      }
    }
  }
  while (from < length) {
    const size = Math.min(RECORD_CONTENT, length - from)
    const padding = (8 - (size % 8)) % 8
    writeHeader(out.subarray(at), RecordType.STDOUT, requestId, size, padding)
    at += HEADER_LENGTH
    copy(from + size)
    out.fill(0, at, at + padding)
    at += padding
  }
  out.set(endRecords(requestId), at)
  return out
}

function writeAll (socket: Socket, records: Uint8Array[]): boolean {
  if (records.length === 1) return socket.write(records[0])
  socket.cork()
  let ok = true
  for (const record of records) ok = socket.write(record)
  socket.uncork()
  return ok
}

function streamBody (socket: Socket, requestId: number, body: Readable, declared: number | undefined, done: () => void): ResponseWriting {
  let sent = 0
  const records: Uint8Array[] = []
  const detach = (): void => {
    body.off('data', onData)
    body.off('end', onEnd)
    body.off('error', onError)
    socket.off('drain', onDrain)
  }
  const finish = (): void => {
    detach()
    socket.write(endRecords(requestId))
    done()
  }
  const onData = (chunk: Buffer): void => {
    let data: Uint8Array = chunk
    const whole = declared !== undefined && sent + chunk.byteLength >= declared
    if (whole) data = chunk.subarray(0, (declared as number) - sent)
    sent += data.byteLength
    records.length = 0
    stdoutRecords(requestId, data, records)
    const ok = writeAll(socket, records)
    if (whole) {
      // The declared length is reached: whatever the stream has left is cut off.
      body.destroy()
      return finish()
    }
    if (!ok) body.pause()
  }
  const onDrain = (): void => { body.resume() }
  const onEnd = (): void => {
    if (declared !== undefined && sent < declared) {
      detach()
      return void socket.destroy()
    }
    finish()
  }
  const onError = (): void => {
    detach()
    socket.destroy()
  }
  body.on('data', onData)
  body.once('end', onEnd)
  body.once('error', onError)
  socket.on('drain', onDrain)
  body.resume()
  return {
    stop () {
      detach()
      if (!body.destroyed) body.destroy()
    },
  }
}
