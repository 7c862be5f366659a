import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecord, ProtocolStatus, RecordType } from '../../src/fastcgi/records.ts'
import { SECRET } from '../fixtures/handlers/failing.ts'
import type { Reflection } from '../fixtures/handlers/reflect.ts'
import type { SlowReport } from '../fixtures/handlers/slow.ts'
import { codesOf, FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { cgiParams, FcgiPeer, header, requestRecords } from './support.ts'

// One request through the responder: PARAMS → the request a handler sees, STDIN → its body, the response
// as a CGI response in STDOUT records, and what ABORT_REQUEST, a closed socket, limits and timeouts do.

let started: Started
let address: string

beforeAll(async () => {
  started = await startGateway({
    server: { fastcgi: { listen: '127.0.0.1:0' } },
    apps: {
      reflect: { route: '/reflect', entry: `${FIXTURES}handlers/reflect.ts`, workers: { min: 1, max: 1 }, bodyLimit: '8mb' },
      responses: { route: '/responses', entry: `${FIXTURES}handlers/responses.ts`, mode: 'inline' },
      // Inline: its reports live in this thread, where the test reads them (a warm pool may replace a worker
      // whose request was cancelled, and the replacement has no report).
      slow: { route: '/slow', entry: `${FIXTURES}handlers/slow.ts`, mode: 'inline' },
      quick: { route: '/quick', entry: `${FIXTURES}handlers/slow.ts`, mode: 'inline', timeout: '1s' },
      stream: { route: '/stream', entry: `${FIXTURES}handlers/stream.ts`, workers: { min: 1, max: 1 }, bodyLimit: '1mb' },
      scripts: { route: '/cgi-bin', cgi: `${FIXTURES}cgi-bin` },
      failing: { route: '/failing', entry: `${FIXTURES}handlers/failing.ts`, workers: { min: 1, max: 1 } },
    },
  })
  address = started.gateway.fastcgiStats()?.address as string
})

afterAll(async () => {
  await within(15_000, 'gateway close', started.gateway.close())
})

async function exchange (onTestFinished: (fn: () => void) => void, records: Uint8Array[], label: string, ms?: number): ReturnType<FcgiPeer['response']> {
  const p = await FcgiPeer.connect(address)
  onTestFinished(() => p.close())
  p.send(...records)
  return p.response(1, label, ms)
}

async function slowReport (url: string, key: string): Promise<SlowReport> {
  const res = await request(`${url}/slow/report?key=${key}`)
  return await res.body.json() as SlowReport
}

describe('FastCGI responder: requests and responses', () => {
  it('maps PARAMS to the request the HTTP front door would make: URL, host, https, headers, request id', async ({ onTestFinished }) => {
    const res = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/reflect/a%20b?x=1&y=2', {
      HTTPS: 'on',
      HTTP_HOST: 'app.example:8443',
      HTTP_X_FORWARDED_FOR: '10.0.0.1',
      HTTP_ACCEPT_LANGUAGE: 'en',
      HTTP_X_REQUEST_ID: 'from-nginx-42',
    })), 'GET')
    expect(res.status).toBe(200)
    expect(res.end).toEqual({ appStatus: 0, protocolStatus: ProtocolStatus.REQUEST_COMPLETE })
    const seen = JSON.parse(res.body.toString()) as Reflection
    expect(seen.url).toBe('https://app.example:8443/reflect/a%20b?x=1&y=2')
    expect(seen.requestId).toBe('from-nginx-42')
    expect(header(res, 'x-request-id')).toBe('from-nginx-42')
    expect(seen.headers).toEqual(expect.arrayContaining([['x-forwarded-for', '10.0.0.1'], ['accept-language', 'en'], ['host', 'app.example:8443']]))
    expect(header(res, 'content-length')).toBe(String(res.body.length))
    expect(res.headers[0]).toEqual(['status', '200 OK'])
  })

  it('falls back to SCRIPT_NAME + PATH_INFO + QUERY_STRING and SERVER_NAME:SERVER_PORT, and makes a request id', async ({ onTestFinished }) => {
    const params = cgiParams('GET', '/x', { SCRIPT_NAME: '/reflect', PATH_INFO: '/more', QUERY_STRING: 'q=1', SERVER_NAME: 'srv.test', SERVER_PORT: '8081' })
    delete (params as Record<string, string | undefined>).REQUEST_URI
    delete (params as Record<string, string | undefined>).HTTP_HOST
    const res = await exchange(onTestFinished, requestRecords(1, params), 'fallback URL')
    const seen = JSON.parse(res.body.toString()) as Reflection
    expect(seen.url).toBe('http://srv.test:8081/reflect/more?q=1')
    expect(seen.requestId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('runs a cgi app with the client address, path info and query from PARAMS, and never passes HTTP_PROXY', async ({ onTestFinished }) => {
    const res = await exchange(onTestFinished, requestRecords(1, cgiParams('POST', '/cgi-bin/env.sh/extra/path?q=1', {
      REMOTE_ADDR: '10.1.2.3', REMOTE_PORT: '5555', HTTP_PROXY: 'http://evil.test', CONTENT_LENGTH: '5', CONTENT_TYPE: 'text/plain',
    }), { body: Buffer.from('hello') }), 'cgi env.sh', 10_000)
    expect(res.status).toBe(200)
    const env = Object.fromEntries(res.body.toString('latin1').split('\0').filter(Boolean).map(entry => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]))
    expect(env).toMatchObject({
      REMOTE_ADDR: '10.1.2.3', REMOTE_PORT: '5555', QUERY_STRING: 'q=1', PATH_INFO: '/extra/path', SCRIPT_NAME: '/cgi-bin/env.sh',
      REQUEST_METHOD: 'POST', CONTENT_LENGTH: '5', CONTENT_TYPE: 'text/plain', SERVER_NAME: 'example.test',
    })
    expect(env.HTTP_PROXY).toBeUndefined()
  })

  it('reads PARAMS split into 1-byte records, 4-byte name-value lengths, padding, and a body in 65535-byte records', async ({ onTestFinished }) => {
    const long = 'v'.repeat(5000)
    const body = new Uint8Array(3 * 65535 + 17).map((_, i) => (i * 7) & 0xff)
    const res = await exchange(onTestFinished, requestRecords(1, cgiParams('POST', '/reflect/raw?raw', {
      HTTP_X_LONG: long,
      CONTENT_TYPE: 'application/octet-stream',
      CONTENT_LENGTH: String(body.length),
    }), { body, paramsChunk: 1, stdinChunk: 65535 }), 'split PARAMS and full records')
    expect(res.status).toBe(200)
    expect(Buffer.compare(res.body, Buffer.from(body))).toBe(0)
    // Every record we send is padded to 8 bytes: the STDOUT records parsed back, whole.
    expect(res.records.every(r => r.type !== RecordType.STDOUT || r.content.length <= 65535)).toBe(true)
  })

  it('streams a large upload into the handler and a large download out with backpressure', async ({ onTestFinished }) => {
    const body = new Uint8Array(900 * 1024).fill(97)
    const up = await exchange(onTestFinished, requestRecords(1, cgiParams('POST', '/stream/upload?key=fcgi-up', {
      CONTENT_LENGTH: String(body.length),
    }), { body, stdinChunk: 32 * 1024 }), 'streamed upload')
    expect(JSON.parse(up.body.toString())).toEqual({ seen: body.length, streamed: true })

    // A web server that does not read: the handler's stream is pulled only as far as the socket takes it.
    const p = await FcgiPeer.connect(address)
    onTestFinished(() => p.close())
    p.socket.pause()
    p.send(...requestRecords(1, cgiParams('GET', '/stream/flood?key=fcgi-flood&mb=64')))
    await sleep(700)
    const report = await (await request(`${started.url}/stream/report?key=fcgi-flood`)).body.json() as { produced: number, done: boolean }
    expect(report.done).toBe(false)
    expect(report.produced).toBeLessThan(16 * 1024 * 1024)
    p.socket.resume()
    const down = await p.response(1, 'the 64 MB download, read', 20_000)
    expect(down.body.length).toBe(64 * 1024 * 1024)
  })

  it('streams a body sent without CONTENT_LENGTH (fastcgi_request_buffering off), and answers 413 when it passes the limit', async ({ onTestFinished }) => {
    const fits = new Uint8Array(900 * 1024).fill(1)
    const ok = await exchange(onTestFinished, requestRecords(1, cgiParams('POST', '/stream/upload?key=fcgi-nolength'), { body: fits, stdinChunk: 16 * 1024 }), 'body without CONTENT_LENGTH')
    expect(JSON.parse(ok.body.toString())).toEqual({ seen: fits.length, streamed: true })

    const p = await FcgiPeer.connect(address)
    onTestFinished(() => p.close())
    p.send(...requestRecords(1, cgiParams('POST', '/stream/upload?key=fcgi-too-much', { HTTP_X_REQUEST_ID: 'fcgi-413-streamed' }), { body: new Uint8Array(3 * 1024 * 1024), stdinChunk: 32 * 1024 }))
    const refused = await p.response(1, 'a streamed body over the limit')
    expect(refused.status).toBe(413)
    expect(codesOf(started.lines, 'fcgi-413-streamed')).toContain('WG_ERR_BODY_TOO_LARGE')
    await within(3000, 'the connection closes: the rest of the body is not read', p.closed)
  })

  it('sends the first bytes of a streamed response before the handler finishes', async ({ onTestFinished }) => {
    const p = await FcgiPeer.connect(address)
    onTestFinished(() => p.close())
    const asked = performance.now()
    p.send(...requestRecords(1, cgiParams('GET', '/stream/gap')))
    await p.until('the first STDOUT with body bytes', records => Buffer.concat(records.filter(r => r.type === RecordType.STDOUT).map(r => r.content)).includes('first'))
    expect(performance.now() - asked).toBeLessThan(450)
    expect(p.records.some(r => r.type === RecordType.END_REQUEST)).toBe(false)
    const res = await p.response(1, 'the rest of the gap stream')
    expect(res.body.toString()).toBe('firstsecond')
  })

  it('passes repeated response headers, odd statuses and bodyless answers in CGI form', async ({ onTestFinished }) => {
    const cookies = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/responses/cookies')), 'cookies')
    expect(cookies.headers.filter(([name]) => name === 'set-cookie').map(([, value]) => value)).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Max-Age=60', 'c=3, with comma; Secure'])
    const teapot = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/responses/status?code=418&text=Short')), 'status 418')
    expect(header(teapot, 'status')).toBe('418 Short')
    const empty = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/responses/no-content')), '204')
    expect(empty.status).toBe(204)
    expect(header(empty, 'content-length')).toBeUndefined()
    expect(empty.body.length).toBe(0)
    const head = await exchange(onTestFinished, requestRecords(1, cgiParams('HEAD', '/responses/text')), 'HEAD')
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
  })

  it('answers 404, 400 and 413 as CGI responses with END_REQUEST appStatus 0, each logged under its request id', async ({ onTestFinished }) => {
    const missing = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/nowhere', { HTTP_X_REQUEST_ID: 'fcgi-404' })), '404')
    expect(missing.status).toBe(404)
    expect(missing.end).toEqual({ appStatus: 0, protocolStatus: ProtocolStatus.REQUEST_COMPLETE })
    expect(started.lines.some(line => line.reqId === 'fcgi-404' && line.status === 404)).toBe(true)
    const bad = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/reflect', { HTTP_HOST: 'bad/host', HTTP_X_REQUEST_ID: 'fcgi-400' })), '400')
    expect(bad.status).toBe(400)
    expect(codesOf(started.lines, 'fcgi-400')).toContain('WG_ERR_BAD_REQUEST')
    const big = await exchange(onTestFinished, requestRecords(1, cgiParams('POST', '/stream/text', { CONTENT_LENGTH: String(2 * 1024 * 1024), HTTP_X_REQUEST_ID: 'fcgi-413' }), {
      body: new Uint8Array(2 * 1024 * 1024),
    }), '413')
    expect(big.status).toBe(413)
    expect(codesOf(started.lines, 'fcgi-413')).toContain('WG_ERR_BODY_TOO_LARGE')
  })

  it('answers a handler that throws with a 500 CGI response naming the request id, the error only in the log', async ({ onTestFinished }) => {
    const res = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/failing/throw', { HTTP_X_REQUEST_ID: 'fcgi-500' })), '500')
    expect(res.status).toBe(500)
    expect(res.end).toEqual({ appStatus: 0, protocolStatus: ProtocolStatus.REQUEST_COMPLETE })
    expect(res.body.toString()).toContain('fcgi-500')
    expect(res.body.toString()).not.toContain(SECRET)
    expect(codesOf(started.lines, 'fcgi-500')).toContain('WG_ERR_HANDLER_THREW')
  })

  it("answers 504 at the app's timeout, and the handler's ctx.signal aborts", async ({ onTestFinished }) => {
    const res = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/quick/wait?key=fcgi-timeout&ms=5000', { HTTP_X_REQUEST_ID: 'fcgi-504' })), '504', 5000)
    expect(res.status).toBe(504)
    expect(codesOf(started.lines, 'fcgi-504')).toContain('WG_ERR_TIMEOUT')
  })

  it("ABORT_REQUEST aborts the handler's ctx.signal and gets END_REQUEST; the kept connection serves on", async ({ onTestFinished }) => {
    const p = await FcgiPeer.connect(address)
    onTestFinished(() => p.close())
    p.send(...requestRecords(1, cgiParams('GET', '/slow/wait?key=fcgi-abort&ms=20000'), { keepConn: true }))
    await within(3000, 'handler running', (async () => { while ((await slowReport(started.url, 'fcgi-abort')).state !== 'running') await sleep(20) })())
    p.send(encodeRecord(RecordType.ABORT_REQUEST, 1))
    const res = await p.response(1, 'END_REQUEST after ABORT_REQUEST')
    expect(res.end.protocolStatus).toBe(ProtocolStatus.REQUEST_COMPLETE)
    expect(res.status).toBe(0)
    await within(3000, 'handler saw the abort', (async () => { while ((await slowReport(started.url, 'fcgi-abort')).state !== 'done') await sleep(20) })())
    expect(await slowReport(started.url, 'fcgi-abort')).toMatchObject({ ctxSignalAborted: true })
    p.send(...requestRecords(1, cgiParams('GET', '/reflect/after-abort'), { keepConn: true }))
    expect((await p.response(1, 'request after the abort')).status).toBe(200)
  })

  it("a closed socket (nginx's abort) aborts the handler's ctx.signal", async () => {
    const p = await FcgiPeer.connect(address)
    p.send(...requestRecords(1, cgiParams('GET', '/slow/wait?key=fcgi-close&ms=20000', { HTTP_X_REQUEST_ID: 'fcgi-gone' })))
    await within(3000, 'handler running', (async () => { while ((await slowReport(started.url, 'fcgi-close')).state !== 'running') await sleep(20) })())
    p.close()
    await within(3000, 'handler saw the close', (async () => { while ((await slowReport(started.url, 'fcgi-close')).state !== 'done') await sleep(20) })())
    expect(await slowReport(started.url, 'fcgi-close')).toMatchObject({ ctxSignalAborted: true })
    await within(3000, 'the access line says 499', (async () => { while (!started.lines.some(l => l.reqId === 'fcgi-gone' && l.status === 499)) await sleep(20) })())
  })
})

describe('FastCGI responder: operator endpoints', () => {
  it('answers /__warmgate/health, /ready and /metrics itself, as the HTTP port does, and does not count them', async ({ onTestFinished }) => {
    const health = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/__warmgate/health')), 'health')
    expect(health.status).toBe(200)
    expect(health.body.toString()).toBe('{"status":"ok"}')
    const ready = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/__warmgate/ready')), 'ready')
    expect(ready.body.toString()).toBe('{"status":"ready"}')
    const metrics = await exchange(onTestFinished, requestRecords(1, cgiParams('GET', '/__warmgate/metrics')), 'metrics')
    expect(metrics.status).toBe(200)
    expect(header(metrics, 'content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(metrics.body.toString()).toMatch(/^# TYPE warmgate_requests_total counter$/m)
    expect(metrics.body.toString()).not.toMatch(/__warmgate/)
    const post = await exchange(onTestFinished, requestRecords(1, cgiParams('POST', '/__warmgate/ready')), 'POST ready')
    expect(post.status).toBe(405)
  })
})
