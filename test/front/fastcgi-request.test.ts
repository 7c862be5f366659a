import { describe, expect, it } from 'vitest'
import { fastCgiRequestHead } from '../../src/front/fastcgi-request.ts'

// PARAMS → the request head, without sockets (RFC 3875 §4.1 meta-variables as nginx and lighttpd send them).
const FALLBACK = '127.0.0.1:8080'

describe('fastCgiRequestHead', () => {
  it('keeps a header sent twice as two pairs (nginx < 1.23), and skips hop-by-hop and framing variables', () => {
    const head = fastCgiRequestHead([
      ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/a'], ['HTTP_HOST', 'h.test'], ['HTTP_X_MULTI', 'one'], ['HTTP_X_MULTI', 'two'],
      ['HTTP_CONNECTION', 'keep-alive'], ['HTTP_TRANSFER_ENCODING', 'chunked'], ['CONTENT_TYPE', 'text/plain'], ['CONTENT_LENGTH', '5'],
    ], FALLBACK)
    expect(head.headers).toEqual(['host', 'h.test', 'x-multi', 'one', 'x-multi', 'two', 'content-type', 'text/plain', 'content-length', '5'])
    expect(head.contentLength).toBe(5)
    expect(head.target?.url).toBe('http://h.test/a')
  })

  it('takes the gateway host when PARAMS name none, https from HTTPS=on, and the client from REMOTE_*', () => {
    const head = fastCgiRequestHead([['REQUEST_URI', '/x?y'], ['HTTPS', 'on'], ['REMOTE_ADDR', '::1'], ['REMOTE_PORT', '4242'], ['SERVER_PROTOCOL', 'HTTP/1.0']], FALLBACK)
    expect(head.target).toEqual({ url: `https://${FALLBACK}/x?y`, pathname: '/x' })
    expect(head.method).toBe('GET')
    expect(head.connection).toEqual({ remoteAddress: '::1', remotePort: 4242, httpVersion: '1.0', secure: true })
    expect(head.contentLength).toBeUndefined()
  })

  it('brackets an IPv6 SERVER_NAME, resolves dot segments for routing, and flags a bad CONTENT_LENGTH and host', () => {
    const v6 = fastCgiRequestHead([['SCRIPT_NAME', '/app/../b'], ['SERVER_NAME', '::1'], ['SERVER_PORT', '9000']], FALLBACK)
    expect(v6.target).toEqual({ url: 'http://[::1]:9000/b', pathname: '/b' })
    expect(Number.isNaN(fastCgiRequestHead([['CONTENT_LENGTH', '-1']], FALLBACK).contentLength)).toBe(true)
    expect(fastCgiRequestHead([['REQUEST_URI', '/'], ['HTTP_HOST', 'a/b']], FALLBACK).target).toBeUndefined()
  })

  it('keeps a valid X-Request-Id and replaces an invalid one', () => {
    expect(fastCgiRequestHead([['HTTP_X_REQUEST_ID', 'abc-123']], FALLBACK).id).toBe('abc-123')
    expect(fastCgiRequestHead([['HTTP_X_REQUEST_ID', 'no spaces allowed']], FALLBACK).id).toMatch(/^[0-9a-f-]{36}$/)
  })
})
