import { describe, expect, it } from 'vitest'
import {
  decodeBeginRequest, decodeEndRequest, encodeBeginRequest, encodeEndRequest, encodeRecord, encodeStream,
  encodeUnknownType, FastCgiProtocolError, RecordParser, RecordType, Role,
} from '../../src/fastcgi/records.ts'

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values)

describe('FastCGI records', () => {
  it('encodes a header, the content and zero padding to a multiple of 8', () => {
    expect(encodeRecord(RecordType.STDOUT, 1, bytes(0x61, 0x62, 0x63))).toEqual(bytes(
      1, 6, 0, 1, 0, 3, 5, 0,
      0x61, 0x62, 0x63, 0, 0, 0, 0, 0,
    ))
    // Content already aligned: no padding; an empty record is the end of a stream (§3.3).
    expect(encodeRecord(RecordType.STDIN, 0x1234, new Uint8Array(8)).subarray(0, 8)).toEqual(bytes(1, 5, 0x12, 0x34, 0, 8, 0, 0))
    expect(encodeRecord(RecordType.PARAMS, 1)).toEqual(bytes(1, 4, 0, 1, 0, 0, 0, 0))
  })

  it('takes records of up to 65535 content bytes and refuses more', () => {
    const max = encodeRecord(RecordType.STDOUT, 1, new Uint8Array(0xffff).fill(7))
    expect(Array.from(max.subarray(0, 8))).toEqual([1, 6, 0, 1, 0xff, 0xff, 1, 0])
    expect(max.length).toBe(8 + 0xffff + 1)
    expect(() => encodeRecord(RecordType.STDOUT, 1, new Uint8Array(0x10000))).toThrow(RangeError)
  })

  it('splits a stream payload into records and sends nothing for an empty one', () => {
    const records = encodeStream(RecordType.STDOUT, 3, new Uint8Array(20).fill(1), 8)
    expect(records.map(record => record[5])).toEqual([8, 8, 4])
    expect(encodeStream(RecordType.STDOUT, 3, new Uint8Array(0))).toEqual([])
  })

  it('encodes and decodes BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE bodies', () => {
    const begin = encodeBeginRequest(1, Role.RESPONDER, true)
    expect(begin).toEqual(bytes(1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0))
    expect(decodeBeginRequest(begin.subarray(8))).toEqual({ role: 1, keepConn: true })
    expect(decodeBeginRequest(bytes(0, 3, 0xfe, 0, 0, 0, 0, 0))).toEqual({ role: 3, keepConn: false })
    const end = encodeEndRequest(1, 0x01020304, 2)
    expect(end).toEqual(bytes(1, 3, 0, 1, 0, 8, 0, 0, 1, 2, 3, 4, 2, 0, 0, 0))
    expect(decodeEndRequest(end.subarray(8))).toEqual({ appStatus: 0x01020304, protocolStatus: 2 })
    expect(encodeUnknownType(42)).toEqual(bytes(1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0))
    expect(() => decodeBeginRequest(bytes(0, 1))).toThrow(FastCgiProtocolError)
    expect(() => decodeEndRequest(new Uint8Array(9))).toThrow(FastCgiProtocolError)
  })
})

describe('RecordParser', () => {
  const stream = (): Uint8Array => {
    const parts = [
      encodeBeginRequest(1, Role.RESPONDER, false),
      encodeRecord(RecordType.PARAMS, 1, bytes(1, 1, 0x41, 0x42)),
      encodeRecord(RecordType.PARAMS, 1),
      encodeRecord(RecordType.STDIN, 1, new Uint8Array(300).fill(9)),
      encodeRecord(RecordType.STDIN, 1),
    ]
    return Uint8Array.from(parts.flatMap(part => Array.from(part)))
  }

  it('yields the same records whatever the split, down to one byte at a time', () => {
    const whole = new RecordParser().push(stream()).map(r => ({ type: r.type, id: r.requestId, content: Array.from(r.content) }))
    expect(whole.map(r => r.type)).toEqual([1, 4, 4, 5, 5])
    expect(whole[1].content).toEqual([1, 1, 0x41, 0x42])
    expect(whole[3].content.length).toBe(300)
    for (const size of [1, 3, 7, 8, 9, 100]) {
      const parser = new RecordParser()
      const data = stream()
      const got: typeof whole = []
      for (let i = 0; i < data.length; i += size) {
        // Copy each piece and then scribble over it: records must not depend on the caller's buffer.
        const piece = data.slice(i, i + size)
        for (const r of parser.push(piece)) got.push({ type: r.type, id: r.requestId, content: Array.from(r.content) })
        piece.fill(0xee)
      }
      expect(got, `split into ${size}-byte pieces`).toEqual(whole)
      expect(parser.buffered).toBe(0)
    }
  })

  it('skips padding, including padding a sender chose beyond 8-byte alignment', () => {
    const record = bytes(1, 6, 0, 1, 0, 2, 10, 0, 0x68, 0x69, ...new Array(10).fill(0xaa))
    const [got] = new RecordParser().push(Uint8Array.from([...record, ...encodeRecord(RecordType.STDOUT, 1)]))
    expect(Array.from(got.content)).toEqual([0x68, 0x69])
  })

  it('reports a truncated record as buffered bytes and a bad version as a protocol error', () => {
    const parser = new RecordParser()
    expect(parser.push(bytes(1, 6, 0, 1, 0, 10, 0, 0, 1, 2))).toEqual([])
    expect(parser.buffered).toBe(10)
    expect(() => new RecordParser().push(bytes(2, 1, 0, 1, 0, 8, 0, 0))).toThrow(FastCgiProtocolError)
    // A bad version after a good record still throws: the connection is closed, not resynchronised.
    expect(() => new RecordParser().push(Uint8Array.from([...encodeRecord(RecordType.STDIN, 1), 0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54]))).toThrow(/version 71/)
  })
})
