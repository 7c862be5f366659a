import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { createGateway } from '../../src/index.ts'
import { within } from '../helpers/gateway.ts'
import { rawExchange, rawValues, sendRaw } from '../runtime/support.ts'
import {
  available, CGI_BIN, CGI_BIN_REAL, codesOf, EXAMPLES, legacyApp, marks, openCgi, PASS_ENV, parseEnviron, parseLines, parseRaw,
  SCRATCH, until,
} from './support.ts'

// cgi apps end to end: a real gateway on 127.0.0.1, driven with undici, running the scripts of
// test/fixtures/cgi-bin. Cases ported from Go's net/http/cgi host_test.go (basic GET, PATH_INFO,
// duplicate headers, Proxy header, POST, redirects, no headers / no Content-Type, child killed when the
// client goes away) and lighttpd's tests/mod-cgi.t (nph status codes, header names with digits, CRLF).

const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`

describe('cgi app: request meta-variables (RFC 3875 §4.1)', () => {
  it('runs the script the path names, with the RFC 3875 meta-variables', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/env.sh/extra/path?a=%20b&c')
    expect(res.status).toBe(200)
    const env = parseEnviron(res.body)
    expect(env).toMatchObject({
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_NAME: '127.0.0.1',
      SERVER_PORT: String(h.port),
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'a=%20b&c',
      SCRIPT_NAME: '/cgi-bin/env.sh',
      PATH_INFO: '/extra/path',
      SCRIPT_FILENAME: `${CGI_BIN_REAL}/env.sh`,
      REQUEST_URI: '/cgi-bin/env.sh/extra/path?a=%20b&c',
      REMOTE_ADDR: '127.0.0.1',
      HTTP_HOST: `127.0.0.1:${h.port}`,
    })
    expect(env.SERVER_SOFTWARE).toMatch(/^warmgate\//)
    expect(env.REMOTE_PORT).toMatch(/^[1-9]\d*$/)
    expect(env.PATH_TRANSLATED).toMatch(/\/extra\/path$/)
    expect(env).not.toHaveProperty('CONTENT_LENGTH')
    expect(env).not.toHaveProperty('CONTENT_TYPE')
  })

  it('sets PATH_INFO and QUERY_STRING to empty strings when the URL has neither', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const env = parseEnviron((await h.send('/cgi-bin/env.sh')).body)
    expect(env.PATH_INFO).toBe('')
    expect(env.QUERY_STRING).toBe('')
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/env.sh')
    expect(env.REQUEST_URI).toBe('/cgi-bin/env.sh')
  })

  it('keeps QUERY_STRING and REQUEST_URI verbatim, even for characters a URL parser would re-encode', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    // Sent as is (undici's dispatch does not normalise the path). A dot-file in PATH_INFO, `%2e` in
    // the query or `{}` in the path must not change a byte of what the script is told was asked.
    const cases: Array<[string, string, string]> = [
      ["/cgi-bin/env.sh/x?a='b\"c<d>", "a='b\"c<d>", '/x'],
      ["/cgi-bin/env.sh/.hidden?x='y", "x='y", '/.hidden'],
      ['/cgi-bin/env.sh/{x}?q=%2e./&r=a|b', 'q=%2e./&r=a|b', '/{x}'],
      ["/cgi-bin/env.sh/file%2Etxt?a='b", "a='b", '/file.txt'],
    ]
    const wrong: string[] = []
    for (const [path, query, pathInfo] of cases) {
      const res = await sendRaw(h.agent, h.url, path)
      const env = parseEnviron(res.body)
      const got = { status: res.status, QUERY_STRING: env.QUERY_STRING, REQUEST_URI: env.REQUEST_URI, PATH_INFO: env.PATH_INFO }
      const want = { status: 200, QUERY_STRING: query, REQUEST_URI: path, PATH_INFO: pathInfo }
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${path}: got ${JSON.stringify(got)}`)
    }
    expect(wrong).toEqual([])
  })

  it('reports SERVER_PROTOCOL HTTP/1.0 for an HTTP/1.0 request', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = parseRaw(await rawExchange(h.url, `GET /cgi-bin/env.sh HTTP/1.0\r\nHost: 127.0.0.1:${h.port}\r\n\r\n`))
    expect(res.status).toBe(200)
    expect(parseEnviron(Buffer.from(res.body, 'latin1')).SERVER_PROTOCOL).toBe('HTTP/1.0')
  })

  it('passes request headers as HTTP_* and joins repeats with ", " (Cookie with "; ") (Go TestDupHeaders)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/env.sh', {
      headers: { 'x-foo': ['val1', 'val2'], cookie: ['nom=NOM', 'yum=YUM'], 'xx-yy123': 'foo', 'accept-language': 'de' },
    })
    const env = parseEnviron(res.body)
    expect(env.HTTP_X_FOO).toBe('val1, val2')
    expect(env.HTTP_COOKIE).toBe('nom=NOM; yum=YUM')
    expect(env.HTTP_XX_YY123).toBe('foo') // lighttpd: header names with digits
    expect(env.HTTP_ACCEPT_LANGUAGE).toBe('de')
  })

  it('never sets HTTP_PROXY from a Proxy request header (Go TestDropProxyHeader, httpoxy)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const env = parseEnviron((await h.send('/cgi-bin/env.sh', { headers: { 'x-foo': 'a', proxy: 'http://should_be_stripped:3128' } })).body)
    expect(env.HTTP_X_FOO).toBe('a')
    expect(env).not.toHaveProperty('HTTP_PROXY')
    expect(Object.values(env).join('\n')).not.toContain('should_be_stripped')
  })

  it('drops request headers whose names contain an underscore', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const env = parseEnviron((await h.send('/cgi-bin/env.sh', { headers: { 'x-forwarded-for': 'good', x_forwarded_for: 'evil', x_under: 'evil' } })).body)
    expect(env.HTTP_X_FORWARDED_FOR).toBe('good')
    expect(env).not.toHaveProperty('HTTP_X_UNDER')
    expect(Object.values(env)).not.toContain('evil')
  })

  it('withholds Authorization and Proxy-Authorization unless passAuthorization is true', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, { auth: legacyApp({ route: '/auth', passAuthorization: true }) })
    const headers = { authorization: 'Basic dXNlcjpwYXNz', 'proxy-authorization': 'Basic cHJveHk6cGFzcw==' }
    const hidden = parseEnviron((await h.send('/cgi-bin/env.sh', { headers })).body)
    expect(hidden).not.toHaveProperty('HTTP_AUTHORIZATION')
    expect(hidden).not.toHaveProperty('HTTP_PROXY_AUTHORIZATION')
    expect(Object.values(hidden).join('\n')).not.toMatch(/dXNlcjpwYXNz|cHJveHk6cGFzcw/)
    const passed = parseEnviron((await h.send('/auth/env.sh', { headers })).body)
    expect(passed.SCRIPT_NAME).toBe('/auth/env.sh')
    expect(passed.HTTP_AUTHORIZATION).toBe(headers.authorization)
    expect(passed.HTTP_PROXY_AUTHORIZATION).toBe(headers['proxy-authorization'])
  })

  it('sets CONTENT_LENGTH and CONTENT_TYPE only for a body, and never HTTP_CONTENT_* or HTTP_TRANSFER_ENCODING', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const type = 'application/x-www-form-urlencoded'
    const posted = parseEnviron((await h.send('/cgi-bin/env.sh', { method: 'POST', headers: { 'content-type': type }, body: 'a=1&b=22' })).body)
    expect(posted).toMatchObject({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '8', CONTENT_TYPE: type })
    const chunked = parseEnviron((await h.send('/cgi-bin/env.sh', { method: 'POST', headers: { 'content-type': type }, body: Readable.from([Buffer.from('a=1&'), Buffer.from('b=22')]) })).body)
    expect(chunked).toMatchObject({ CONTENT_LENGTH: '8', CONTENT_TYPE: type })
    const bodyless = parseEnviron((await h.send('/cgi-bin/env.sh', { headers: { 'content-type': type } })).body)
    expect(bodyless).not.toHaveProperty('CONTENT_LENGTH')
    expect(bodyless).not.toHaveProperty('CONTENT_TYPE')
    for (const env of [posted, chunked, bodyless]) {
      for (const name of ['HTTP_CONTENT_LENGTH', 'HTTP_CONTENT_TYPE', 'HTTP_TRANSFER_ENCODING']) expect(env).not.toHaveProperty(name)
    }
  })

  it("passes nothing of the gateway's own environment but PATH and the passEnv names", async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const env = parseEnviron((await h.send('/cgi-bin/env.sh')).body)
    expect(env).not.toHaveProperty('WG_TEST_SECRET')
    expect(Object.values(env)).not.toContain('s3cret')
    expect(env.TZ).toBe('Etc/GMT-3')
    expect(env.PATH).toBe(process.env.PATH)
    const allowed = new Set(['PATH', ...PASS_ENV])
    const leaked = Object.keys(process.env).filter(name => !allowed.has(name) && env[name] !== undefined && env[name] === process.env[name])
    expect(leaked).toEqual([])
  })

  it("runs the script in its own directory, as the leader of its own process group", async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/env.sh')
    expect(res.headers['x-cwd']).toBe(CGI_BIN_REAL)
    expect(res.headers['x-pid']).toMatch(/^\d+$/)
    expect(res.headers['x-pgid']).toBe(res.headers['x-pid'])
    const inner = parseLines((await h.send('/cgi-bin/sub/inner.sh/x/y')).text())
    expect(inner).toEqual({ script_name: '/cgi-bin/sub/inner.sh', path_info: '/x/y', cwd: `${CGI_BIN_REAL}/sub` })
  })

  it('names the real path in SCRIPT_FILENAME for a symlink that stays inside the directory', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const env = parseEnviron((await h.send('/cgi-bin/alias.sh/p')).body)
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/alias.sh')
    expect(env.PATH_INFO).toBe('/p')
    expect(env.SCRIPT_FILENAME).toBe(`${CGI_BIN_REAL}/env.sh`)
  })

  it('hands the body to stdin byte for byte, and de-chunks a chunked body with an exact CONTENT_LENGTH', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const bytes = randomBytes(300_000)
    const sized = await h.send('/cgi-bin/echo.sh', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes })
    expect(sized.headers['x-content-length']).toBe('300000')
    expect(sized.headers['x-content-type']).toBe('application/octet-stream')
    expect(Buffer.compare(sized.body, bytes)).toBe(0)
    const parts = [bytes.subarray(0, 1), bytes.subarray(1, 70_000), bytes.subarray(70_000, 70_001), bytes.subarray(70_001, 123_457)]
    const chunked = await h.send('/cgi-bin/echo.sh', { method: 'POST', body: Readable.from(parts) })
    expect(chunked.headers['x-content-length']).toBe('123457')
    expect(Buffer.compare(chunked.body, bytes.subarray(0, 123_457))).toBe(0)
  })
})

describe('cgi app: responses (RFC 3875 §6)', () => {
  it('takes the status and reason from a Status header', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/respond.sh?created')
    expect([res.status, res.statusText, res.text()]).toEqual([201, 'Created', 'made it\n'])
    expect((await h.send('/cgi-bin/respond.sh?no-content')).status).toBe(204)
  })

  it('answers 502 for a Status outside 100–599 or not a number, without the script output', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    for (const which of ['status-600', 'status-99', 'status-abc', 'status-2']) {
      const res = await h.send(`/cgi-bin/respond.sh?${which}`)
      expect(res.status, which).toBe(502)
      expect(res.requestId, which).not.toBe('undefined')
      expect(res.text(), which).not.toContain('LEAKED')
      expect(codesOf(h.lines, res.requestId), which).toContain('WG_ERR_CGI_BAD_STATUS')
    }
  })

  it('turns a Location with an absolute URL and no Status into a 302 (Go TestRedirect)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/respond.sh?redirect-abs')
    expect([res.status, res.headers.location]).toEqual([302, 'http://x/y'])
    // lighttpd crlfcrash: a header line in CRLF, the blank line in LF
    const mixed = await h.send('/cgi-bin/respond.sh?mixed')
    expect([mixed.status, mixed.headers.location]).toEqual([302, 'http://www.example.org/'])
  })

  it('serves a local-path Location itself, as a GET without the body (Go TestInternalRedirect)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/respond.sh?redirect-local', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'posted' })
    expect(res.status).toBe(200)
    expect(res.headers.location).toBeUndefined()
    expect(parseLines(res.text())).toEqual({ script: '/cgi-bin/other.sh', method: 'GET', query: 'q=1', content_length: 'unset' })
  })

  it('answers 502 after 10 hops of a local-redirect loop', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const before = marks().length
    const res = await h.send('/cgi-bin/respond.sh?loop')
    expect(res.status).toBe(502)
    expect(codesOf(h.lines, res.requestId)).toContain('WG_ERR_REDIRECT_LOOP')
    const runs = marks().slice(before).filter(line => line.startsWith('respond.sh')).length
    expect(runs).toBeGreaterThanOrEqual(10)
    expect(runs).toBeLessThanOrEqual(11)
  })

  it('answers 502 for a body without Content-Type, output without a header block, and no output at all (Go Test500With*)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const cases: Array<[string, string]> = [
      ['no-ct', 'WG_ERR_CGI_NO_CONTENT_TYPE'],
      ['no-headers', 'WG_ERR_CGI_NO_HEADERS'],
      ['empty-block', 'WG_ERR_CGI_NO_HEADERS'],
      ['crash', 'WG_ERR_CGI_NO_HEADERS'],
      ['empty', 'WG_ERR_CGI_EMPTY_OUTPUT'],
    ]
    for (const [which, code] of cases) {
      const res = await h.send(`/cgi-bin/respond.sh?${which}`)
      expect(res.status, which).toBe(502)
      expect(res.headers['x-request-id'], which).toBeDefined()
      expect(res.text(), which).not.toContain('LEAKED')
      expect(codesOf(h.lines, res.requestId), which).toContain(code)
    }
  })

  it('answers 502 when the script cannot be started (its interpreter does not exist)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/no-interpreter.sh')
    expect(res.status).toBe(502)
    expect(res.text()).not.toContain('wg-interpreter')
    expect(codesOf(h.lines, res.requestId)).toContain('WG_ERR_SPAWN')
    expect((await h.send('/cgi-bin/respond.sh?created')).status).toBe(201)
  })

  it('reads LF and CRLF header blocks, and headers written in many small writes', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const lf = await h.send('/cgi-bin/respond.sh?lf')
    expect([lf.status, lf.headers['x-ending'], lf.headers['content-type'], lf.text()]).toEqual([200, 'lf', 'text/plain', 'lf body\n'])
    const crlf = await h.send('/cgi-bin/respond.sh?crlf')
    expect([crlf.status, crlf.headers['x-ending'], crlf.text()]).toEqual([200, 'crlf', 'crlf body\r\n'])
    const slow = await h.send('/cgi-bin/respond.sh?slow-headers')
    expect([slow.status, slow.headers['content-type'], slow.headers['x-slow'], slow.text()]).toEqual([200, 'text/plain', 'yes', 'slow body\n'])
  })

  it('drops header lines with bad names or values instead of passing (or splitting) them', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const wire = await rawExchange(h.url, GET('/cgi-bin/respond.sh?bad-headers'))
    const res = parseRaw(wire)
    expect(res.status).toBe(200)
    expect(res.body).toBe('body\n')
    const head = wire.slice(0, wire.indexOf('\r\n\r\n'))
    expect(res.headers).toContainEqual(['x-good', 'ok'])
    expect(head).not.toMatch(/injected/i)
    expect(head).not.toContain('X Bad Name')
    expect(head).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\xe9]/)
    expect(res.headers.map(([name]) => name)).not.toContain('x-ctl')
  })

  it('does not pass on hop-by-hop headers from the script', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/respond.sh?hop-by-hop')
    expect([res.status, res.headers['x-kept'], res.text()]).toEqual([200, 'yes', 'plain body\n'])
    expect(res.headers.upgrade).toBeUndefined()
    expect(res.headers.te).toBeUndefined()
    expect(res.headers.connection).not.toBe('close')
    expect(String(res.headers['keep-alive'])).not.toContain('timeout=99')
    expect([undefined, 'chunked']).toContain(res.headers['transfer-encoding'])
    const head = (await rawExchange(h.url, GET('/cgi-bin/respond.sh?hop-by-hop'))).split('\r\n\r\n')[0]
    expect(head).not.toMatch(/websocket|timeout=99|gzip|^TE:/im)
  })

  it('answers 502 for a header block over 64 KiB, and passes one just under it', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/respond.sh?big-header')
    expect(res.status).toBe(502)
    expect(res.headers['x-pad-0']).toBeUndefined()
    expect(res.text()).not.toContain('body after')
    expect(codesOf(h.lines, res.requestId)).toContain('WG_ERR_CGI_HEADER_TOO_LARGE')
    // undici refuses heads over 16 KiB, so this one is read off a raw socket.
    const under = parseRaw(await rawExchange(h.url, GET('/cgi-bin/respond.sh?large-header')))
    expect([under.status, under.headers.find(([name]) => name === 'x-pad-54')?.[1].length, under.body]).toEqual([200, 1000, 'body after 55 header lines\n'])
  })

  it('streams a large body through intact', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/big.sh?5000000', { ms: 10_000 })
    expect(res.status).toBe(200)
    expect(res.body.length).toBe(5_000_000)
    expect(res.body.every(byte => byte === 0)).toBe(true)
  })

  it('closes the connection when the body falls short of the Content-Length, and serves the next connection', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const { url, port } = h
    // A raw socket shows both halves: at most the 10 bytes, then the server closes.
    const socket = connect(port, '127.0.0.1')
    onTestFinished(() => { socket.destroy() })
    const chunks: Buffer[] = []
    socket.on('data', chunk => chunks.push(chunk))
    socket.write('GET /cgi-bin/respond.sh?short-body HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await within(5000, 'the gateway to close the connection after a short body', new Promise(resolve => socket.once('close', resolve)))
    const wire = Buffer.concat(chunks).toString('latin1')
    expect(wire).toMatch(/^HTTP\/1\.1 200 /)
    expect(wire).toMatch(/\r\ncontent-length: 100\r\n/i)
    expect(wire.slice(wire.indexOf('\r\n\r\n') + 4)).toBe('0123456789')
    const next = parseRaw(await rawExchange(url, GET('/cgi-bin/respond.sh?created')))
    expect(next.status).toBe(201)
  })

  it('answers once a Content-Length body is whole, and sends a body without one before the script ends', async ({ onTestFinished }) => {
    // Both scripts then sleep 3 s. Neither the spawn helper (which holds a script's first output a moment
    // for its end) nor the gateway (which does the same to send a Content-Length) may wait for that.
    const h = await openCgi(onTestFinished)
    let started = performance.now()
    const whole = await h.send('/cgi-bin/respond.sh?linger-length', { ms: 10_000 })
    expect([whole.status, whole.body.toString()]).toEqual([200, 'whole\n'])
    expect(performance.now() - started).toBeLessThan(2000)
    started = performance.now()
    const res = await within(10_000, 'the head of respond.sh?linger', request(`${h.url}/cgi-bin/respond.sh?linger`, { dispatcher: h.agent }))
    const iterator = res.body[Symbol.asyncIterator]()
    const first = await within(10_000, 'the first line', iterator.next())
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe('first\n')
    expect(performance.now() - started).toBeLessThan(2000)
    expect(res.headers['content-length']).toBeUndefined()
    let rest = ''
    for (let next = await within(10_000, 'the rest', iterator.next()); next.done !== true; next = await within(10_000, 'the rest', iterator.next())) rest += Buffer.from(next.value as Uint8Array).toString()
    expect(rest).toBe('last\n')
  })

  it('keeps repeated Set-Cookie headers from the script apart', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await sendRaw(h.agent, h.url, '/cgi-bin/respond.sh?cookies')
    expect(res.status).toBe(200)
    expect(rawValues(res.rawHeaders, 'set-cookie')).toEqual(['a=1', 'b=2'])
  })

  it('passes an nph- script through after checking its status line', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/nph-hello.sh')
    expect([res.status, res.statusText, res.headers['x-nph'], res.text()]).toEqual([202, 'Accepted Here', 'yes', 'nph body\n'])
    // lighttpd mod-cgi.t: NPH + invalid status code (#14), setting the status code (#1125)
    const bad = await h.send('/cgi-bin/nph-status.sh?30')
    expect(bad.status).toBe(502)
    expect(codesOf(h.lines, bad.requestId)).toContain('WG_ERR_CGI_BAD_STATUS')
    expect((await h.send('/cgi-bin/nph-status.sh?abc')).status).toBe(502)
    expect((await h.send('/cgi-bin/nph-status.sh?304')).status).toBe(304)
    expect((await h.send('/cgi-bin/nph-status.sh?201')).status).toBe(201)
  })

  it('logs stderr with the request id and never puts it in the body (Go TestHandlerStderr)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const token = `tok${Date.now()}`
    const res = await h.send(`/cgi-bin/stderr.sh?${token}`)
    expect([res.status, res.text()]).toEqual([200, 'fine\n'])
    await until(3000, 'the stderr line in the log', () => h.lines.some(line => line.reqId === res.requestId && JSON.stringify(line).includes(`stderr-says ${token}`)), () => h.lines.filter(line => line.reqId === res.requestId))
  })
})

describe.skipIf(!available('perl'))('cgi app: Go net/http/cgi host tests against test.pl (perl)', () => {
  it('basic GET: env, params, headers (TestCGIBasicGet)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/test.pl?foo=bar&a=b', { headers: { host: 'example.com:80' } })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/html')
    expect(res.headers['x-test-header']).toBe('X-Test-Value')
    expect(parseLines(res.text())).toMatchObject({
      test: 'Hello CGI',
      'param-a': 'b',
      'param-foo': 'bar',
      'env-GATEWAY_INTERFACE': 'CGI/1.1',
      'env-HTTP_HOST': 'example.com:80',
      'env-PATH_INFO': '',
      'env-QUERY_STRING': 'foo=bar&a=b',
      'env-REMOTE_ADDR': '127.0.0.1',
      'env-REQUEST_METHOD': 'GET',
      'env-REQUEST_URI': '/cgi-bin/test.pl?foo=bar&a=b',
      'env-SCRIPT_FILENAME': `${CGI_BIN_REAL}/test.pl`,
      'env-SCRIPT_NAME': '/cgi-bin/test.pl',
      'env-SERVER_NAME': 'example.com',
      'env-SERVER_PORT': '80',
      cwd: CGI_BIN_REAL,
    })
  })

  it('PATH_INFO after the script name (TestPathInfo)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    expect(parseLines((await h.send('/cgi-bin/test.pl/extrapath?a=b')).text())).toMatchObject({
      'param-a': 'b',
      'env-PATH_INFO': '/extrapath',
      'env-QUERY_STRING': 'a=b',
      'env-REQUEST_URI': '/cgi-bin/test.pl/extrapath?a=b',
      'env-SCRIPT_NAME': '/cgi-bin/test.pl',
    })
  })

  it('POST form, sized and chunked (TestCGIBasicPost, TestCGIPostChunked: here de-chunked, not refused)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const headers = { 'content-type': 'application/x-www-form-urlencoded' }
    const expected = { test: 'Hello CGI', 'param-postfoo': 'postbar', 'env-REQUEST_METHOD': 'POST', 'env-CONTENT_LENGTH': '15', 'env-REQUEST_URI': '/cgi-bin/test.pl?a=b' }
    expect(parseLines((await h.send('/cgi-bin/test.pl?a=b', { method: 'POST', headers, body: 'postfoo=postbar' })).text())).toMatchObject(expected)
    const chunked = Readable.from(['postfoo', '=', 'postbar'].map(part => Buffer.from(part)))
    expect(parseLines((await h.send('/cgi-bin/test.pl?a=b', { method: 'POST', headers, body: chunked })).text())).toMatchObject(expected)
  })

  it('Location redirects, to a client and locally (TestRedirect, TestInternalRedirect)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const away = await h.send('/cgi-bin/test.pl?loc=http://foo.com/')
    expect([away.status, away.headers.location]).toEqual([302, 'http://foo.com/'])
    const local = await h.send(`/cgi-bin/test.pl?loc=${encodeURIComponent('/cgi-bin/other.sh?q=1')}`)
    expect(local.status).toBe(200)
    expect(parseLines(local.text())).toMatchObject({ script: '/cgi-bin/other.sh', method: 'GET', query: 'q=1' })
  })

  it('stderr goes to the log under the request id (TestHandlerStderr)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/test.pl?writestderr=1')
    expect(res.text()).not.toContain('Hello, stderr!')
    await until(3000, 'the stderr line in the log', () => h.lines.some(line => line.reqId === res.requestId && JSON.stringify(line).includes('Hello, stderr!')))
  })
})

describe.skipIf(!available('python3'))('cgi app: python3 scripts', () => {
  it('reads a POSTed urlencoded form from stdin, in its own process group', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const body = 'x=1&y=%20z&y=2&empty='
    const res = await h.send('/cgi-bin/form.py', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    expect(res.status).toBe(200)
    const answer = res.json<{ pid: number, pgid: number } & Record<string, unknown>>()
    expect(answer).toMatchObject({
      method: 'POST',
      contentType: 'application/x-www-form-urlencoded',
      contentLength: String(body.length),
      form: { x: '1', y: [' z', '2'], empty: '' },
      cwd: CGI_BIN_REAL,
    })
    expect(answer.pgid).toBe(answer.pid)
  })
})

describe.skipIf(!available('bash'))('cgi app: bash scripts', () => {
  it('leaves no trace of Shellshock-style header values', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const files = ['ua', 'x', 'cookie', 'referer'].map(name => `${SCRATCH}/shellshock-${name}`)
    const res = await h.send('/cgi-bin/shellshock.bash', {
      headers: {
        'user-agent': `() { :; }; echo vulnerable > ${files[0]}`,
        'x-shell': `() { :; }; /bin/touch ${files[1]}`,
        cookie: `() { :;}; /bin/bash -c "echo vulnerable > ${files[2]}"`,
        referer: `() { _; } >_[$($())] { echo vulnerable > ${files[3]}; }`,
      },
    })
    expect([res.status, res.text()]).toEqual([200, 'shellshock-ok\n'])
    expect(files.filter(file => existsSync(file))).toEqual([])
  })
})

describe('cgi app: the example scripts in apps/cgi-bin', () => {
  const examples = { examples: legacyApp({ route: '/examples', cgi: EXAMPLES }) }

  it('hello.sh greets PATH_INFO', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, examples)
    expect((await h.send('/examples/hello.sh')).text()).toBe('Hello, world!\n')
    const you = await h.send('/examples/hello.sh/you')
    expect([you.status, you.headers['content-type'], you.text()]).toEqual([200, 'text/plain; charset=utf-8', 'Hello, you!\n'])
  })

  it.skipIf(!available('perl'))('env.pl prints its whole environment as text/plain', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, examples)
    const res = await h.send('/examples/env.pl/x?y=1')
    expect([res.status, res.headers['content-type']]).toEqual([200, 'text/plain; charset=utf-8'])
    expect(parseLines(res.text())).toMatchObject({ GATEWAY_INTERFACE: 'CGI/1.1', SCRIPT_NAME: '/examples/env.pl', PATH_INFO: '/x', QUERY_STRING: 'y=1', TZ: 'Etc/GMT-3' })
    expect(res.text()).not.toContain('s3cret')
  })

  it.skipIf(!available('python3'))('form.py echoes a POSTed urlencoded form', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, examples)
    const res = await h.send('/examples/form.py', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=J%C3%BCrgen&x=' })
    expect([res.status, res.text()]).toEqual([200, 'name=Jürgen\nx=\n'])
    const form = await h.send('/examples/form.py')
    expect(form.text()).toContain('action="/examples/form.py"')
  })
})

describe('cgi app: configuration', () => {
  it('refuses `mode` on a cgi app', async () => {
    const creating = createGateway({ apps: { legacy: { route: '/cgi-bin', cgi: CGI_BIN, mode: 'warm' } } }, { logger: false })
    await expect(within(5000, 'createGateway to refuse the config', creating)).rejects.toMatchObject({ code: 'WG_ERR_CONFIG_INVALID' })
  })
})

describe('cgi app: script lookups are trusted for a second (as lighttpd\'s stat cache)', () => {
  it('finds a script added after a miss at once, and refuses one made non-executable or deleted as a fresh lookup would', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(SCRATCH, 'lookup-'))
    const h = await openCgi(onTestFinished, { fresh: { route: '/fresh', cgi: dir, timeout: '10s' } })
    const script = join(dir, 'new.sh')
    expect((await h.send('/fresh/new.sh')).status).toBe(404)
    writeFileSync(script, '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nnew\\n"\n', { mode: 0o755 })
    // A miss is never kept: the new script runs on the next request.
    const found = await h.send('/fresh/new.sh')
    expect(found.status).toBe(200)
    expect(found.text()).toBe('new\n')
    chmodSync(script, 0o644)
    // Within the second the lookup is trusted, so the spawn is tried and fails (EACCES); that failure
    // makes a fresh lookup, which answers as an uncached one would: 403.
    expect((await h.send('/fresh/new.sh')).status).toBe(403)
    rmSync(script)
    expect((await h.send('/fresh/new.sh')).status).toBe(404)
  })
})
