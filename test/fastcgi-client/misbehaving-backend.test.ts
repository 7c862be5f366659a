import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecord, ProtocolStatus, RecordType, Role } from '../../src/fastcgi/records.ts'
import { codesOf, type Started, startGateway, within } from '../helpers/gateway.ts'
import { type Behaviour, tinyBackend, type TinyBackend } from './tiny-backend.ts'

// The FastCGI client against a backend written with the codec, which misbehaves on demand: every
// protocol failure becomes a coded 502/503 with a log line, and never a connection put back in the pool.

const OK = 'Content-Type: text/plain\r\n\r\n'

const behaviours: Record<string, Behaviour> = {
  '/t/hello.fcgi': (r) => { r.stdout(`${OK}hello\n`); r.end() },
  '/t/echo.fcgi': (r, req) => {
    r.stdout(`Content-Type: application/json\r\n\r\n${JSON.stringify({ stdin: req.stdin.length, params: Object.fromEntries(req.params) })}`)
    r.end()
  },
  // Head and body byte by byte, one record each, with a STDERR record in the middle and padding.
  '/t/split.fcgi': (r) => {
    for (const byte of Buffer.from(`Status: 202 Accepted\r\n${OK}split body`)) r.stdout(Uint8Array.of(byte))
    r.stderr('a warning\n')
    r.end()
  },
  '/t/close-before.fcgi': (r) => r.close(),
  '/t/close-mid-head.fcgi': (r) => { r.stdout('Content-Type: text/pl'); r.close() },
  '/t/close-before-end.fcgi': (r) => { r.stdout(`${OK}whole body`); r.write(encodeRecord(RecordType.STDOUT, 1)); r.close() },
  '/t/huge-head.fcgi': (r) => {
    const line = `X-Filler: ${'x'.repeat(8000)}\r\n`
    for (let i = 0; i < 10; i++) r.stdout(line)
    r.stdout(OK)
    r.end()
  },
  '/t/garbage.fcgi': (r) => { r.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nnot fastcgi')) },
  '/t/wrong-id.fcgi': (r) => { r.stdout(`${OK}x`, 2); r.end() },
  '/t/unknown-type.fcgi': (r) => { r.write(encodeRecord(RecordType.GET_VALUES_RESULT, 1, new Uint8Array(0))); r.end() },
  '/t/bad-end.fcgi': (r) => { r.stdout(`${OK}x`); r.write(encodeRecord(RecordType.END_REQUEST, 1, new Uint8Array(3))) },
  '/t/overloaded.fcgi': (r) => { r.end(ProtocolStatus.OVERLOADED) },
  '/t/bad-status.fcgi': (r) => { r.stdout(`Status: abc\r\n${OK}`); r.end() },
  '/t/slow.fcgi': async (r) => { await sleep(2000); r.stdout(`${OK}late`); r.end() },
  // Head at once, then the body in pieces over ~60 ms: streamed, not coalesced.
  '/t/stream.fcgi': async (r) => {
    r.stdout(OK)
    for (let i = 0; i < 4; i++) {
      await sleep(15)
      r.stdout(`piece ${i}\n`)
    }
    r.end()
  },
  '/t/mid-body-close.fcgi': async (r) => {
    r.stdout(`${OK}${'y'.repeat(50_000)}`)
    r.stdout('y'.repeat(50_000))
    await sleep(30)
    r.close()
  },
  // RFC 3875 §6.2.2 local redirect: the gateway serves the other path itself.
  '/t/local-redirect.fcgi': (r) => { r.stdout('Location: /t/hello.fcgi?from=redirect\r\n\r\n'); r.end() },
  '/t/wait.fcgi': async (r) => { await sleep(100); r.stdout(`${OK}waited`); r.end() },
  '/t/then-die.fcgi': (r) => { r.stdout(`${OK}bye`); r.end(); r.dieOnNextRequest() },
  // Answers as soon as PARAMS are in, before reading STDIN (a script that ignores its body).
  '/t/early.fcgi': (r) => { r.stdout(`${OK}early`); r.end() },
}

describe('fastcgi app → a misbehaving FastCGI backend', () => {
  let backend: TinyBackend
  let gw: Started

  beforeAll(async () => {
    backend = await tinyBackend(behaviours, { answerBeforeStdin: ['/t/early.fcgi'] })
    gw = await startGateway({ apps: { t: { route: '/t', fastcgi: `unix:${backend.socket}`, root: '/srv/t', index: 'index.fcgi', timeout: '500ms', maxConnections: 4, bodyLimit: '8mb' } } })
  }, 10_000)

  afterAll(async () => {
    await gw?.gateway.close()
    await backend?.close()
  }, 10_000)

  async function get (path: string, id: string, init: { method?: 'POST', body?: string | Buffer } = {}): Promise<{ status: number, text: string, headers: Record<string, unknown>, codes: unknown[] }> {
    const res = await within(5000, path, request(`${gw.url}${path}`, { headers: { 'x-request-id': id }, method: init.method ?? 'GET', body: init.body }))
    const text = await res.body.text()
    return { status: res.statusCode, text, headers: res.headers, codes: codesOf(gw.lines, id) }
  }

  it('sends BEGIN_REQUEST as a Responder with FCGI_KEEP_CONN, request id 1, and reuses the connection', async () => {
    const first = backend.accepted
    expect(await get('/t/hello.fcgi', 'hello-1')).toMatchObject({ status: 200, text: 'hello\n' })
    expect(await get('/t/hello.fcgi', 'hello-2')).toMatchObject({ status: 200, text: 'hello\n' })
    const [a, b] = backend.received.slice(-2)
    expect(a).toMatchObject({ requestId: 1, role: Role.RESPONDER, keepConn: true })
    expect(b.connection).toBe(a.connection)
    expect(backend.accepted - first).toBe(1)
    expect(a.params.get('SCRIPT_FILENAME')).toBe('/srv/t/hello.fcgi')
  })

  it('runs the index of a fastcgi app whose index is not PHP, and splits PATH_INFO at its extension', async () => {
    const res = await get('/t/echo.fcgi/more/path?q=1', 'echo')
    const { params } = JSON.parse(res.text) as { params: Record<string, string> }
    expect(params).toMatchObject({ SCRIPT_NAME: '/t/echo.fcgi', PATH_INFO: '/more/path', QUERY_STRING: 'q=1', SCRIPT_FILENAME: '/srv/t/echo.fcgi' })
  })

  it('streams a 300 KB body as STDIN records, with CONTENT_LENGTH', async () => {
    const body = Buffer.alloc(300_000, 'b')
    const res = await get('/t/echo.fcgi', 'stdin', { method: 'POST', body })
    const echoed = JSON.parse(res.text) as { stdin: number, params: Record<string, string> }
    expect(echoed.stdin).toBe(body.length)
    expect(echoed.params.CONTENT_LENGTH).toBe(String(body.length))
  })

  it('reassembles a head and body split into one-byte records, and logs STDERR with the request id', async () => {
    const res = await get('/t/split.fcgi', 'split')
    expect(res).toMatchObject({ status: 202, text: 'split body' })
    expect(gw.lines.some(line => line.reqId === 'split' && line.stderr === 'a warning')).toBe(true)
  })

  it('streams a body that arrives in pieces and still reuses the connection after END_REQUEST', async () => {
    const before = backend.accepted
    const res = await get('/t/stream.fcgi', 'stream')
    expect(res).toMatchObject({ status: 200, text: 'piece 0\npiece 1\npiece 2\npiece 3\n' })
    expect(res.headers['transfer-encoding']).toBe('chunked')
    expect((await get('/t/hello.fcgi', 'after-stream')).status).toBe(200)
    expect(backend.accepted).toBe(before)
  })

  it.each([
    ['closes before answering', '/t/close-before.fcgi', 502, 'WG_ERR_FASTCGI_CLOSED'],
    ['closes in the middle of the head', '/t/close-mid-head.fcgi', 502, 'WG_ERR_FASTCGI_CLOSED'],
    ['closes after the body but before END_REQUEST', '/t/close-before-end.fcgi', 502, 'WG_ERR_FASTCGI_CLOSED'],
    ['sends a header block over 64 KiB', '/t/huge-head.fcgi', 502, 'WG_ERR_CGI_HEADER_TOO_LARGE'],
    ['sends bytes that are not FastCGI records', '/t/garbage.fcgi', 502, 'WG_ERR_FASTCGI_PROTOCOL'],
    ['answers for another request id', '/t/wrong-id.fcgi', 502, 'WG_ERR_FASTCGI_PROTOCOL'],
    ['sends a record type a Responder never sends', '/t/unknown-type.fcgi', 502, 'WG_ERR_FASTCGI_PROTOCOL'],
    ['sends a malformed END_REQUEST', '/t/bad-end.fcgi', 502, 'WG_ERR_FASTCGI_PROTOCOL'],
    ['ends the request with OVERLOADED', '/t/overloaded.fcgi', 503, 'WG_ERR_FASTCGI_REJECTED'],
    ['sends a bad Status', '/t/bad-status.fcgi', 502, 'WG_ERR_CGI_BAD_STATUS'],
    ['takes longer than the timeout', '/t/slow.fcgi', 504, 'WG_ERR_TIMEOUT'],
  ])('answers a backend that %s (%s) with %i %s and drops the connection', async (_what, path, status, code) => {
    const id = `bad-${path.replace(/\W/g, '-')}`
    const res = await get(path, id)
    expect(res.status).toBe(status)
    expect(res.codes).toContain(code)
    expect(res.text).not.toContain('not fastcgi')
    // The next request needs a fresh connection: the broken one was not put back.
    const before = backend.accepted
    expect((await get('/t/hello.fcgi', `${id}-next`)).status).toBe(200)
    expect(backend.accepted).toBe(before + 1)
    expect(backend.received.at(-1)?.connection).toBe(backend.accepted)
  })

  it('closes the client connection when the backend dies in the middle of a streamed body', async () => {
    const res = await within(5000, 'mid-body-close head', request(`${gw.url}/t/mid-body-close.fcgi`, { headers: { 'x-request-id': 'mid-body' } }))
    expect(res.statusCode).toBe(200)
    await expect(within(5000, 'mid-body-close body', res.body.text())).rejects.toThrow()
    expect(codesOf(gw.lines, 'mid-body')).toContain('WG_ERR_FASTCGI_CLOSED')
  })

  it('does not reuse a connection whose backend answered before reading all of STDIN', async () => {
    const res = await get('/t/early.fcgi', 'early', { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 'e') })
    expect(res).toMatchObject({ status: 200, text: 'early' })
    const before = backend.accepted
    expect((await get('/t/hello.fcgi', 'after-early')).status).toBe(200)
    expect(backend.accepted).toBe(before + 1)
  })

  it('answers 502 WG_ERR_FASTCGI_UNAVAILABLE at once when nothing listens on the socket', async () => {
    const down = await startGateway({ apps: { t: { route: '/t', fastcgi: `unix:${backend.socket}.missing`, root: '/srv/t', index: 'index.fcgi' } } })
    try {
      const started = performance.now()
      const res = await within(5000, 'missing socket', request(`${down.url}/t/hello.fcgi`, { headers: { 'x-request-id': 'missing' } }))
      await res.body.text()
      expect(res.statusCode).toBe(502)
      expect(performance.now() - started).toBeLessThan(500)
      expect(codesOf(down.lines, 'missing')).toContain('WG_ERR_FASTCGI_UNAVAILABLE')
    } finally {
      await down.gateway.close()
    }
  })


  it('sends an idempotent request again on a new connection when the backend had closed the pooled one', async () => {
    expect(await get('/t/then-die.fcgi', 'die-1')).toMatchObject({ status: 200, text: 'bye' })
    const before = backend.accepted
    expect(await get('/t/hello.fcgi', 'after-die')).toMatchObject({ status: 200, text: 'hello\n' })
    expect(backend.accepted).toBe(before + 1)
    expect(gw.lines.some(line => line.reqId === 'after-die' && /sending it again/.test(String(line.msg)))).toBe(true)
  })

  it('does not send a POST twice: a closed pooled connection is a 502 for it', async () => {
    expect(await get('/t/then-die.fcgi', 'die-2', { method: 'POST', body: 'x' })).toMatchObject({ status: 200, text: 'bye' })
    const seen = backend.received.length
    const res = await get('/t/hello.fcgi', 'post-after-die', { method: 'POST', body: 'x' })
    expect(res.status).toBe(502)
    expect(res.codes).toContain('WG_ERR_FASTCGI_CLOSED')
    expect(backend.received.length).toBe(seen)
  })

  it('follows a local redirect (Location: /path without Status) inside the gateway', async () => {
    const res = await get('/t/local-redirect.fcgi', 'local-redirect')
    expect(res).toMatchObject({ status: 200, text: 'hello\n' })
    expect(backend.received.at(-1)?.params.get('QUERY_STRING')).toBe('from=redirect')
  })

  it('answers HEAD with the head only', async () => {
    const res = await within(5000, 'HEAD', request(`${gw.url}/t/hello.fcgi`, { method: 'HEAD' }))
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('')
    expect(backend.received.at(-1)?.params.get('REQUEST_METHOD')).toBe('HEAD')
  })
})

describe('fastcgi app connection pool', () => {
  it('never opens more than maxConnections; the other requests wait in the queue', async () => {
    const backend = await tinyBackend(behaviours)
    const gw = await startGateway({ apps: { t: { route: '/t', fastcgi: `unix:${backend.socket}`, root: '/srv/t', index: 'index.fcgi', maxConnections: 2 } } })
    try {
      const answers = await within(5000, '8 concurrent requests', Promise.all(Array.from({ length: 8 }, async () => {
        const res = await request(`${gw.url}/t/wait.fcgi`)
        return `${res.statusCode} ${await res.body.text()}`
      })))
      expect(answers).toEqual(Array(8).fill('200 waited'))
      expect(backend.maxOpen).toBe(2)
      expect(backend.accepted).toBe(2)
    } finally {
      await gw.gateway.close()
      await backend.close()
    }
  })

  it('closes an idle connection after keepAliveTimeout, and all of them on close()', async () => {
    const backend = await tinyBackend(behaviours)
    const gw = await startGateway({ apps: { t: { route: '/t', fastcgi: `unix:${backend.socket}`, root: '/srv/t', index: 'index.fcgi', keepAliveTimeout: '150ms' } } })
    try {
      expect((await request(`${gw.url}/t/hello.fcgi`)).statusCode).toBe(200)
      expect(backend.open).toBe(1)
      await within(2000, 'the idle connection to be closed', (async () => { while (backend.open > 0) await sleep(10) })())
      await Promise.all([1, 2, 3].map(async () => (await request(`${gw.url}/t/wait.fcgi`)).body.text()))
      expect(backend.open).toBe(3)
      await gw.gateway.close()
      await within(2000, 'close() to close the pooled connections', (async () => { while (backend.open > 0) await sleep(10) })())
    } finally {
      await gw.gateway.close()
      await backend.close()
    }
  })

  it('talks to a backend over TCP on 127.0.0.1, and answers 502 at once when the port refuses', async () => {
    const backend = await tinyBackend(behaviours, { tcp: true })
    const address = backend.address
    const gw = await startGateway({ apps: { t: { route: '/t', fastcgi: address, root: '/srv/t', index: 'index.fcgi' } } })
    try {
      const res = await within(5000, 'over TCP', request(`${gw.url}/t/hello.fcgi`))
      expect(res.statusCode).toBe(200)
      expect(await res.body.text()).toBe('hello\n')
      await backend.close()
      const started = performance.now()
      const refused = await within(5000, 'refused port', request(`${gw.url}/t/hello.fcgi`, { headers: { 'x-request-id': 'tcp-refused' } }))
      await refused.body.text()
      expect(refused.statusCode).toBe(502)
      expect(performance.now() - started).toBeLessThan(500)
      expect(codesOf(gw.lines, 'tcp-refused')).toContain('WG_ERR_FASTCGI_UNAVAILABLE')
    } finally {
      await gw.gateway.close()
      await backend.close().catch(() => {})
    }
  })
})
