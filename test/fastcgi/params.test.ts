import { describe, expect, it } from 'vitest'
import { decodeParamPairs, decodeParams, encodeParams } from '../../src/fastcgi/params.ts'
import { FastCgiProtocolError } from '../../src/fastcgi/records.ts'

describe('FastCGI name-value pairs (§3.4)', () => {
  it('uses 1-byte lengths under 128 and 4-byte lengths with the top bit set from 128', () => {
    expect(Array.from(encodeParams([['AB', 'xyz']]))).toEqual([2, 3, 0x41, 0x42, 0x78, 0x79, 0x7a])
    const long = 'v'.repeat(128)
    const encoded = encodeParams([['N', long]])
    expect(Array.from(encoded.subarray(0, 6))).toEqual([1, 0x80, 0, 0, 128, 0x4e])
    expect(encoded.length).toBe(6 + 128)
    const longName = 'n'.repeat(300)
    expect(Array.from(encodeParams([[longName, '']]).subarray(0, 5))).toEqual([0x80, 0, 1, 0x2c, 0])
  })

  it('round-trips empty values, latin1 bytes and many pairs', () => {
    const pairs: Array<[string, string]> = [['QUERY_STRING', ''], ['PATH_INFO', '/caf\u00e9'], ['HTTP_X', 'a'.repeat(70000)]]
    for (let i = 0; i < 50; i++) pairs.push([`HTTP_H${i}`, String(i)])
    const decoded = decodeParams(encodeParams(pairs))
    expect([...decoded]).toEqual(pairs)
    expect(encodeParams([['PATH_INFO', '/caf\u00e9']]).at(-1)).toBe(0xe9)
  })

  it('decodes a 4-byte length written by another encoder (top bit set, 31-bit value)', () => {
    const body = Uint8Array.from([0x80, 0, 0, 1, 0x80, 0, 0, 2, 0x41, 0x42, 0x43])
    expect([...decodeParams(body)]).toEqual([['A', 'BC']])
  })

  it('rejects lengths that run past the body', () => {
    expect(() => decodeParams(Uint8Array.from([5, 1, 0x41]))).toThrow(FastCgiProtocolError)
    expect(() => decodeParams(Uint8Array.from([0x80, 0, 0]))).toThrow(FastCgiProtocolError)
    expect(() => decodeParams(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0, 0x41]))).toThrow(/more bytes/)
    expect(() => decodeParams(Uint8Array.from([1]))).toThrow(FastCgiProtocolError)
  })

  it('decodeParamPairs keeps pairs in order with duplicate names (nginx < 1.23 sends a repeated header twice)', () => {
    const body = encodeParams([['HTTP_X', 'one'], ['REQUEST_METHOD', 'GET'], ['HTTP_X', 'two']])
    expect(decodeParamPairs(body)).toEqual([['HTTP_X', 'one'], ['REQUEST_METHOD', 'GET'], ['HTTP_X', 'two']])
    expect(decodeParams(body).get('HTTP_X')).toBe('two')
    expect(() => decodeParamPairs(Uint8Array.of(3, 0, 65))).toThrow(FastCgiProtocolError)
  })
})
