import { describe, expect, it } from 'vitest'
import { responseFromResult } from '../../src/lambda/result.ts'

const codeOf = (fn: () => unknown): unknown => {
  try {
    fn()
  } catch (error) {
    return (error as { code?: unknown }).code
  }
  return 'no error'
}

describe('responseFromResult', () => {
  it('sends statusCode, headers, multiValueHeaders and each cookie as its own Set-Cookie', async () => {
    const res = responseFromResult({
      statusCode: 201,
      headers: { 'x-one': 'a', 'x-num': 5, 'x-both': 'dropped' },
      multiValueHeaders: { 'x-many': ['1', '2'], 'x-both': ['m'] },
      cookies: ['a=1; Path=/', 'b=2'],
      body: 'made',
    }, '2.0')
    expect(res.status).toBe(201)
    expect(res.headers.get('x-one')).toBe('a')
    expect(res.headers.get('x-num')).toBe('5')
    expect(res.headers.get('x-many')).toBe('1, 2')
    expect(res.headers.get('x-both')).toBe('m')
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2'])
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(await res.text()).toBe('made')
  })

  it('decodes a base64 body to bytes', async () => {
    const res = responseFromResult({ statusCode: 200, isBase64Encoded: true, body: Buffer.from([0, 1, 255]).toString('base64') }, '1.0')
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([0, 1, 255]))
  })

  it('2.0 shorthand: a string is the body, a plain object its JSON, both 200 application/json', async () => {
    const string = responseFromResult('hello', '2.0')
    expect([string.status, string.headers.get('content-type'), await string.text()]).toEqual([200, 'application/json', 'hello'])
    const object = responseFromResult({ a: 1 }, '2.0')
    expect([object.status, await object.text()]).toEqual([200, '{"a":1}'])
    expect(await responseFromResult([1, 2], '2.0').text()).toBe('[1,2]')
  })

  it('drops a body on a status that has none (204)', async () => {
    const res = responseFromResult({ statusCode: 204, body: 'ignored' }, '2.0')
    expect(res.status).toBe(204)
    expect(res.body).toBeNull()
  })

  it.each([
    ['1.0 without a statusCode', 'hello', '1.0'],
    ['a statusCode that is not a number', { statusCode: '200' }, '2.0'],
    ['a statusCode out of range', { statusCode: 700 }, '2.0'],
    ['a body that is not a string', { statusCode: 200, body: { a: 1 } }, '2.0'],
    ['headers that are not an object', { statusCode: 200, headers: 'x' }, '2.0'],
    ['a header value that is an object', { statusCode: 200, headers: { a: {} } }, '2.0'],
    ['a header with a CR LF', { statusCode: 200, headers: { a: 'x\r\nb: y' } }, '2.0'],
    ['multiValueHeaders that are not arrays', { statusCode: 200, multiValueHeaders: { a: 'x' } }, '1.0'],
    ['cookies that are not strings', { statusCode: 200, cookies: [1] }, '2.0'],
    ['isBase64Encoded that is not a boolean', { statusCode: 200, isBase64Encoded: 'yes', body: 'x' }, '2.0'],
    ['undefined', undefined, '2.0'],
    ['a value without a JSON form (a function)', () => 1, '2.0'],
    ['a value JSON cannot serialize (a BigInt)', { n: 1n }, '2.0'],
  ] as const)('rejects %s with WG_ERR_LAMBDA_RESULT', (_name, result, payload) => {
    expect(codeOf(() => responseFromResult(result, payload))).toBe('WG_ERR_LAMBDA_RESULT')
  })
})
