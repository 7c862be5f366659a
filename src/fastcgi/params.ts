/**
 * FastCGI name-value pairs (FastCGI Specification 1.0 §3.4): the body of PARAMS, GET_VALUES and
 * GET_VALUES_RESULT. Each length is one byte when under 128, else four bytes with the top bit set
 * (31-bit length). Names and values are bytes; CGI meta-variables are latin1 text (RFC 3875 §4.1), so
 * they are decoded and encoded as latin1, which maps every byte to one char and back unchanged.
 */
import { FastCgiProtocolError } from './records.ts'

/**
 * Encodes pairs in order, into one buffer: a request's ~30 meta-variables cost one allocation, not three
 * per pair. latin1 is one byte per char, so a string's length is its encoded length. A name or value
 * longer than 2^31 - 1 bytes throws a RangeError.
 */
export function encodeParams (pairs: Iterable<readonly [string, string]>): Uint8Array {
  const list = Array.isArray(pairs) ? pairs as ReadonlyArray<readonly [string, string]> : [...pairs]
  let size = 0
  for (const [name, value] of list) size += lengthSize(name.length) + lengthSize(value.length) + name.length + value.length
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const [name, value] of list) {
    at = writeLength(out, at, name.length)
    at = writeLength(out, at, value.length)
    at += out.write(name, at, 'latin1')
    at += out.write(value, at, 'latin1')
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/**
 * Decodes a complete name-value body (the PARAMS stream's records joined). A length that runs past the end
 * throws `FastCgiProtocolError`. Later duplicates of a name replace earlier ones, as in a CGI environment.
 */
export function decodeParams (body: Uint8Array): Map<string, string> {
  return new Map(decodeParamPairs(body))
}

/**
 * The pairs of a name-value body in order, duplicates kept: nginx before 1.23 sends a header that came
 * twice as two `HTTP_*` pairs of one name, and a responder must not drop the first.
 */
export function decodeParamPairs (body: Uint8Array): Array<[string, string]> {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const pairs: Array<[string, string]> = []
  let offset = 0
  while (offset < buffer.length) {
    const name = readLength(buffer, offset)
    const value = readLength(buffer, name.next)
    const start = value.next
    const end = start + name.length + value.length
    if (end > buffer.length) throw new FastCgiProtocolError(`name-value pair at byte ${offset} needs ${end - buffer.length} more bytes than the body has`)
    pairs.push([buffer.toString('latin1', start, start + name.length), buffer.toString('latin1', start + name.length, end)])
    offset = end
  }
  return pairs
}

function lengthSize (length: number): number {
  if (length > 0x7fffffff) throw new RangeError(`FastCGI name or value of ${length} bytes; at most 2^31 - 1`)
  return length < 0x80 ? 1 : 4
}

function writeLength (out: Buffer, at: number, length: number): number {
  if (length < 0x80) {
    out[at] = length
    return at + 1
  }
  out.writeUInt32BE((length | 0x80000000) >>> 0, at)
  return at + 4
}

function readLength (buffer: Buffer, at: number): { length: number, next: number } {
  if (at >= buffer.length) throw new FastCgiProtocolError(`name-value pair truncated at byte ${at}`)
  const first = buffer[at]
  if ((first & 0x80) === 0) return { length: first, next: at + 1 }
  if (at + 4 > buffer.length) throw new FastCgiProtocolError(`4-byte length truncated at byte ${at}`)
  return { length: buffer.readUInt32BE(at) & 0x7fffffff, next: at + 4 }
}
