import { describe, expect, it } from 'vitest'
import { createCgiResponseParser, DEFAULT_MAX_CGI_HEADER_BYTES } from '../../src/cgi/response.ts'

// Cases ported from Go's net/http/cgi tests (TestRedirect, TestInternalRedirect, Test500WithNoHeaders,
// Test500WithEmptyHeaders, Test500WithNoContentType, TestChildContentType), plus every rule of issue 3 §3.

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'))

/** Feeds the chunks as a caller would: stop at the outcome, stream the rest as body, else end(). */
function parse (chunks: Uint8Array[], maxHeaderBytes?: number) {
  const parser = createCgiResponseParser({ maxHeaderBytes })
  let outcome = null
  const rest: Uint8Array[] = []
  for (const chunk of chunks) {
    if (outcome !== null) rest.push(chunk)
    else outcome = parser.push(chunk)
  }
  outcome ??= parser.end()
  if (!outcome.ok) return { ok: false, reason: outcome.reason }
  return { ok: true, head: outcome.head, body: Buffer.concat([outcome.body, ...rest]).toString('latin1') }
}

const parseText = (text: string, maxHeaderBytes?: number) => parse([bytes(text)], maxHeaderBytes)

describe('createCgiResponseParser', () => {
  it('parses a CRLF document response and hands back the body bytes', () => {
    expect(parseText('Content-Type: text/html\r\nX-A: 1\r\n\r\n<p>hi</p>')).toEqual({
      ok: true,
      head: { status: 200, statusText: '', headers: ['Content-Type', 'text/html', 'X-A', '1'], contentLength: null, dropped: [] },
      body: '<p>hi</p>',
    })
  })

  it('accepts LF-only and mixed LF/CRLF line endings', () => {
    const expected = parseText('Content-Type: text/plain\r\nX-A: 1\r\n\r\nbody')
    expect(parseText('Content-Type: text/plain\nX-A: 1\n\nbody')).toEqual(expected)
    expect(parseText('Content-Type: text/plain\r\nX-A: 1\n\r\nbody')).toEqual(expected)
    expect(parseText('Content-Type: text/plain\nX-A: 1\r\n\nbody')).toEqual(expected)
  })

  it('keeps the body byte for byte, CR, LF and all 256 byte values included', () => {
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const outcome = parse([bytes('Content-Type: application/octet-stream\n\n'), body, bytes('\r\n\r\n')])
    expect(outcome.body).toBe(Buffer.concat([body, bytes('\r\n\r\n')]).toString('latin1'))
  })

  it('sets the status and reason phrase from Status', () => {
    expect(parseText('Status: 404 Not Found\nContent-Type: text/plain\n\nnope').head).toMatchObject({ status: 404, statusText: 'Not Found' })
    expect(parseText('Status: 201\nContent-Type: text/plain\n\n').head).toMatchObject({ status: 201, statusText: '' })
    expect(parseText('Status:204 No Content\n\n').head).toMatchObject({ status: 204, statusText: 'No Content' })
    expect(parseText('Status: 599 x\n\n').head).toMatchObject({ status: 599 })
    expect(parseText('Status: 100\n\n').head).toMatchObject({ status: 100 })
  })

  it('does not pass Status on as a header', () => {
    expect(parseText('Status: 200 OK\nContent-Type: text/plain\n\n').head?.headers).toEqual(['Content-Type', 'text/plain'])
  })

  it.each(['abc', '99', '099', '600', '2000', '20', '', '200x', '2OO OK', '200 bad\x01reason'])('fails with bad-status for Status: %j', (value) => {
    expect(parseText(`Status: ${value}\nContent-Type: text/plain\n\nbody`)).toEqual({ ok: false, reason: 'bad-status' })
  })

  it('fails with bad-status when Status appears twice', () => {
    expect(parseText('Status: 200\nStatus: 404\nContent-Type: text/plain\n\n')).toEqual({ ok: false, reason: 'bad-status' })
  })

  it('answers an absolute Location without Status with 302 (client redirect)', () => {
    expect(parseText('Location: http://foo.com/\n\n')).toEqual({
      ok: true,
      head: { status: 302, statusText: '', headers: ['Location', 'http://foo.com/'], contentLength: null, dropped: [] },
      body: '',
    })
  })

  it('keeps the Status of a client redirect that has one', () => {
    const outcome = parseText('Status: 301 Moved Permanently\nLocation: https://foo.com/x\nContent-Type: text/html\n\n<a>moved</a>')
    expect(outcome.head).toMatchObject({ status: 301, statusText: 'Moved Permanently', headers: ['Location', 'https://foo.com/x', 'Content-Type', 'text/html'] })
    expect(outcome.head).not.toHaveProperty('localRedirect')
  })

  it('reports a local Location without Status as a local redirect', () => {
    const outcome = parseText('Location: /foo?FOO=a+b\n\n')
    expect(outcome.ok).toBe(true)
    expect(outcome.head?.localRedirect).toBe('/foo?FOO=a+b')
  })

  it('reports a local redirect even when other fields and a body without Content-Type came along', () => {
    const outcome = parseText('Location: /next\nX-A: 1\n\nignored')
    expect(outcome).toMatchObject({ ok: true, head: { localRedirect: '/next' } })
  })

  it('treats a local Location with Status as a client redirect', () => {
    const outcome = parseText('Status: 303 See Other\nLocation: /next\n\n')
    expect(outcome.head).toMatchObject({ status: 303, headers: ['Location', '/next'] })
    expect(outcome.head).not.toHaveProperty('localRedirect')
  })

  it.each(['//evil.example/x', '/\\evil.example/x'])('never treats %j as a local redirect', (location) => {
    const outcome = parseText(`Location: ${location}\n\n`)
    expect(outcome.head).toMatchObject({ status: 302, headers: ['Location', location] })
    expect(outcome.head).not.toHaveProperty('localRedirect')
  })

  it('fails with empty-output when the script wrote nothing', () => {
    expect(parse([])).toEqual({ ok: false, reason: 'empty-output' })
    expect(parse([new Uint8Array(0)])).toEqual({ ok: false, reason: 'empty-output' })
  })

  it('fails with no-header-block when output ends before the blank line', () => {
    expect(parseText('Hello world')).toEqual({ ok: false, reason: 'no-header-block' })
    expect(parseText('Content-Type: text/plain\n')).toEqual({ ok: false, reason: 'no-header-block' })
    expect(parseText('Content-Type: text/plain\r\n\r')).toEqual({ ok: false, reason: 'no-header-block' })
  })

  it('fails with no-header-block when the header block is empty', () => {
    expect(parseText('\r\n')).toEqual({ ok: false, reason: 'no-header-block' })
    expect(parseText('\n\nbody')).toEqual({ ok: false, reason: 'no-header-block' })
  })

  it('fails with no-content-type when a body arrives without Content-Type', () => {
    expect(parseText('X-Foo: bar\n\nbody')).toEqual({ ok: false, reason: 'no-content-type' })
    expect(parseText('Status: 200 OK\nContent-Type:\n\nbody')).toEqual({ ok: false, reason: 'no-content-type' })
    expect(parse([bytes('X-Foo: bar\n\n'), bytes('b')])).toEqual({ ok: false, reason: 'no-content-type' })
  })

  it('holds a head without Content-Type until a body byte or the end decides', () => {
    const parser = createCgiResponseParser()
    expect(parser.push(bytes('Status: 204 No Content\r\n\r\n'))).toBeNull()
    expect(parser.push(new Uint8Array(0))).toBeNull()
    expect(parser.end()).toMatchObject({ ok: true, head: { status: 204, statusText: 'No Content', headers: [] }, body: new Uint8Array(0) })
  })

  it('settles a head with Content-Type as soon as its blank line arrives', () => {
    const parser = createCgiResponseParser()
    expect(parser.push(bytes('Content-Type: text/plain\n'))).toBeNull()
    expect(parser.push(bytes('\n'))).toMatchObject({ ok: true, body: new Uint8Array(0) })
  })

  it('accepts a header block of exactly 64 KiB and fails one byte more with header-too-large', () => {
    const fill = (size: number) => `X-Big: ${'a'.repeat(size - 'X-Big: \r\nContent-Type: t\r\n\r\n'.length)}\r\nContent-Type: t\r\n\r\n`
    expect(fill(DEFAULT_MAX_CGI_HEADER_BYTES).length).toBe(65536)
    expect(parseText(fill(DEFAULT_MAX_CGI_HEADER_BYTES) + 'body')).toMatchObject({ ok: true, body: 'body' })
    expect(parseText(fill(DEFAULT_MAX_CGI_HEADER_BYTES + 1) + 'body')).toEqual({ ok: false, reason: 'header-too-large' })
  })

  it('fails with header-too-large while headers are still streaming, before the script ends', () => {
    const parser = createCgiResponseParser()
    expect(parser.push(bytes('X-A: ' + 'a'.repeat(DEFAULT_MAX_CGI_HEADER_BYTES - 6)))).toBeNull()
    expect(parser.push(bytes('a'))).toBeNull()
    expect(parser.push(bytes('a'))).toMatchObject({ ok: false, reason: 'header-too-large' })
  })

  it('drops header lines Node would reject and reports each one', () => {
    const outcome = parseText([
      'Content-Type: text/plain', 'Bad Name: x', 'X-Nul: a\0b', 'X-Cr: a\rb', 'X-Ctl: a\x01b', ': novalue',
      'no colon here', 'X-Latin: caf\xe9', 'X-Ok: fine', '', 'body',
    ].join('\n'))
    expect(outcome.head?.headers).toEqual(['Content-Type', 'text/plain', 'X-Latin', 'caf\xe9', 'X-Ok', 'fine'])
    expect(outcome.head?.dropped).toEqual([
      { reason: 'invalid-name', line: 'Bad Name: x' },
      { reason: 'invalid-value', line: 'X-Nul: a\0b' },
      { reason: 'invalid-value', line: 'X-Cr: a\rb' },
      { reason: 'invalid-value', line: 'X-Ctl: a\x01b' },
      { reason: 'malformed-line', line: ': novalue' },
      { reason: 'malformed-line', line: 'no colon here' },
    ])
  })

  // A CGI line ends at LF, so a "bare LF inside a value" is the start of the next line, checked on its own.
  it.each([
    ['a CR inside a value', 'Location: /a\rb'],
    ['a CR LF smuggled into a value by a bare CR', 'X-A: a\rSet-Cookie: pwn=1'],
    ['a NUL inside a value', 'Content-Type: text/\0plain'],
    ['a control byte inside a value', 'Content-Type: text/\x01plain'],
    ['a name with a space', 'Content Type: text/plain'],
    ['a line without a colon', 'Content-Type text/plain'],
    ['an empty name', ': text/plain'],
    ['a fold with no field before it', ' Content-Type: text/plain'],
  ])('fails with no-header-block when the only line is invalid: %s', (_name, line) => {
    for (const ending of ['\n', '\r\n']) {
      const parser = createCgiResponseParser()
      const outcome = parser.push(bytes(`${line}${ending}${ending}`)) ?? parser.end()
      expect(outcome).toMatchObject({ ok: false, reason: 'no-header-block' })
      // The message names the dropped line (the caller logs it); the line itself never becomes a field.
      expect(outcome.ok ? '' : outcome.message).toContain(JSON.stringify(line.slice(0, 100)))
    }
  })

  it('never turns a value with a CR or NUL into a field, nor the text after it into a second field', () => {
    const outcome = parseText('Content-Type: t\nX-A: a\rSet-Cookie: pwn=1\nX-B: b\0Set-Cookie: pwn=2\n\nbody')
    expect(outcome.head?.headers).toEqual(['Content-Type', 't'])
    expect(outcome.head?.dropped.map(d => d.reason)).toEqual(['invalid-value', 'invalid-value'])
  })

  it('keeps a Status-only or hop-by-hop-only block: those lines are well-formed fields', () => {
    expect(parseText('Status: 204\n\n')).toMatchObject({ ok: true, head: { status: 204 } })
    expect(parseText('Connection: close\n\n')).toMatchObject({ ok: true, head: { status: 200, headers: [] } })
  })

  it('unfolds an obs-fold line into the field before it (RFC 9112 §5.2), never passing half a field', () => {
    const outcome = parseText('Content-Type: text/plain\r\nSet-Cookie: a=1;\r\n\t Secure\r\n  ; HttpOnly\r\nX-B: 2\r\n\r\nbody')
    expect(outcome.head?.headers).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1; Secure ; HttpOnly', 'X-B', '2'])
    expect(outcome.head?.dropped).toEqual([])
  })

  it('never passes on hop-by-hop headers or the headers Connection names', () => {
    const outcome = parseText([
      'Content-Type: text/plain', 'Connection: close, X-Secret', 'Keep-Alive: timeout=5', 'Transfer-Encoding: chunked',
      'Upgrade: websocket', 'TE: trailers', 'Proxy-Connection: keep-alive', 'X-Secret: 1', 'X-Public: 2', '', '',
    ].join('\r\n'))
    expect(outcome.head?.headers).toEqual(['Content-Type', 'text/plain', 'X-Public', '2'])
    expect(outcome.head?.dropped.map(d => d.line)).toEqual([
      'Connection: close, X-Secret', 'Keep-Alive: timeout=5', 'Transfer-Encoding: chunked', 'Upgrade: websocket',
      'TE: trailers', 'Proxy-Connection: keep-alive', 'X-Secret: 1',
    ])
    expect(outcome.head?.dropped.every(d => d.reason === 'hop-by-hop')).toBe(true)
  })

  it('keeps Content-Length and exposes it as a number', () => {
    const outcome = parseText('Content-Type: text/plain\nContent-Length: 10\n\nshort')
    expect(outcome.head).toMatchObject({ headers: ['Content-Type', 'text/plain', 'Content-Length', '10'], contentLength: 10 })
    expect(outcome.body).toBe('short')
  })

  it('collapses identical Content-Length repeats and drops invalid or conflicting ones', () => {
    expect(parseText('Content-Type: t\nContent-Length: 3\nContent-Length: 3\n\nabc').head)
      .toMatchObject({ headers: ['Content-Type', 't', 'Content-Length', '3'], contentLength: 3, dropped: [] })
    const conflicting = parseText('Content-Type: t\nContent-Length: 3\nContent-Length: 4\nContent-Length: -1\nContent-Length: 1e3\n\nabc').head
    expect(conflicting).toMatchObject({ headers: ['Content-Type', 't', 'Content-Length', '3'], contentLength: 3 })
    expect(conflicting?.dropped.map(d => d.reason)).toEqual(['invalid-content-length', 'invalid-content-length', 'invalid-content-length'])
    expect(parseText('Content-Type: t\nContent-Length: abc\n\nabc').head).toMatchObject({ headers: ['Content-Type', 't'], contentLength: null })
  })

  it('keeps repeated headers such as Set-Cookie as separate pairs, in order', () => {
    expect(parseText('Set-Cookie: a=1\nContent-Type: t\nSet-Cookie: b=2\n\n').head?.headers)
      .toEqual(['Set-Cookie', 'a=1', 'Content-Type', 't', 'Set-Cookie', 'b=2'])
  })

  it('trims spaces and tabs around values but keeps them inside', () => {
    expect(parseText('Content-Type:text/plain\nX-A: \t a  b \t\n\n').head?.headers).toEqual(['Content-Type', 'text/plain', 'X-A', 'a  b'])
  })

  it('passes a Shellshock-style header value on as plain data', () => {
    expect(parseText('Content-Type: t\nX-Test: () { :; }; echo pwned\n\n').head?.headers).toEqual(['Content-Type', 't', 'X-Test', '() { :; }; echo pwned'])
  })

  it('returns the settled outcome from end() and refuses push() after it', () => {
    const parser = createCgiResponseParser()
    const outcome = parser.push(bytes('Content-Type: t\n\nbody'))
    expect(outcome).toMatchObject({ ok: true })
    expect(parser.end()).toBe(outcome)
    expect(() => parser.push(bytes('more'))).toThrow()
  })
})

describe('createCgiResponseParser with split input', () => {
  const samples: Array<[string, string, string, number?]> = [
    ['document', 'Content-Type: text/html\r\nX-A: 1\r\n\r\n<p>hi</p>\r\n', 'ok'],
    ['mixed endings', 'Status: 404 Not Found\nContent-Type: text/plain\r\nX-B: 2\n\r\nnope\n\n', 'ok'],
    ['client redirect', 'Location: http://foo.com/\n\n', 'ok'],
    ['local redirect', 'Location: /foo?FOO=a+b\r\n\r\nignored', 'ok'],
    ['held head', 'Status: 204\r\n\r\n', 'ok'],
    ['no content type', 'X-Foo: bar\n\nbody', 'no-content-type'],
    ['bad status', 'Status: 2000\nContent-Type: t\n\n', 'bad-status'],
    ['unterminated', 'Content-Type: text/plain\r\n\r', 'no-header-block'],
    ['empty block', '\r\n\r\nbody', 'no-header-block'],
    ['only invalid lines', 'Location: /a\rb\r\n X-Fold: 1\r\n\r\n', 'no-header-block'],
    ['dropped and hop-by-hop', 'Content-Type: t\nBad Name: 1\nX-Cr: a\rb\nConnection: X-S\nX-S: 1\nContent-Length: 4\n\nbody', 'ok'],
    ['too large', `X-Big: ${'a'.repeat(40)}\nContent-Type: t\n\nbody`, 'header-too-large', 32],
    ['just fits', 'X-A: 1\r\nContent-Type: t\r\n\r\nbody', 'ok', 27],
  ]

  it.each(samples)('%s: gives the same result byte by byte and in two pieces at every offset', (_name, text, expected, max) => {
    const data = bytes(text)
    const whole = parse([data], max)
    expect(whole.ok ? 'ok' : whole.reason).toBe(expected)
    expect(parse(Array.from(data, byte => Uint8Array.of(byte)), max)).toEqual(whole)
    for (let offset = 0; offset <= data.length; offset++) {
      expect(parse([data.subarray(0, offset), data.subarray(offset)], max), `split at ${offset}`).toEqual(whole)
    }
  })
})
