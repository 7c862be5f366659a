import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Reflection } from '../fixtures/handlers/reflect.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { freePort, NGINX, NGINX_FASTCGI_PARAMS, startNginx, type WebServer } from './web-servers.ts'

// Real nginx `fastcgi_pass` → warmgate's FastCGI responder: one server without keep-alive to us (nginx
// opens a connection per request and expects us to close it), one with `fastcgi_keep_conn on` and an
// upstream keepalive pool (connections reused: counted by the gateway's fastcgiStats()).

if (NGINX === undefined) console.warn('[nginx tests] skipped: no nginx binary (/usr/sbin/nginx); .ci/run installs nginx-light')

describe.skipIf(NGINX === undefined)('nginx fastcgi_pass → warmgate', () => {
  let started: Started
  let nginx: WebServer
  let dir: string
  let plain: string
  let kept: string
  const agent = new Agent({ connections: 4 })

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wg-nginx-'))
    started = await startGateway({
      server: { fastcgi: { listen: '127.0.0.1:0' } },
      apps: {
        reflect: { route: '/reflect', entry: `${FIXTURES}handlers/reflect.ts`, workers: { min: 1, max: 1 }, bodyLimit: '16mb' },
        responses: { route: '/responses', entry: `${FIXTURES}handlers/responses.ts`, mode: 'inline' },
        stream: { route: '/stream', entry: `${FIXTURES}handlers/stream.ts`, workers: { min: 1, max: 1 }, bodyLimit: '16mb' },
        redirect: { route: '/redirect', entry: `${FIXTURES}handlers/redirect.ts`, mode: 'inline' },
        // One slot, no queue: a second request while one runs is refused with OVERLOADED.
        slow: { route: '/slow', entry: `${FIXTURES}handlers/slow.ts`, workers: { min: 1, max: 1 }, concurrency: 1, maxQueue: 0 },
      },
    })
    const fastcgi = started.gateway.fastcgiStats()?.address as string
    const [ready, plainPort, keptPort] = [await freePort(), await freePort(), await freePort()]
    plain = `http://127.0.0.1:${plainPort}`
    kept = `http://127.0.0.1:${keptPort}`
    nginx = await startNginx(join(dir, 'nginx'), ready, [
      '  client_max_body_size 32m;',
      `  upstream warmgate { server ${fastcgi}; keepalive 4; }`,
      `  server { listen 127.0.0.1:${plainPort}; server_name plain.test;`,
      `    location / { ${NGINX_FASTCGI_PARAMS} fastcgi_pass ${fastcgi}; }`,
      // Streamed responses pass through as they come (else nginx collects them in its buffers first).
      `    location /stream/ { ${NGINX_FASTCGI_PARAMS} fastcgi_buffering off; fastcgi_pass ${fastcgi}; }`,
      // Uploads go on as they arrive; a chunked one with no CONTENT_LENGTH.
      `    location = /stream/upload { ${NGINX_FASTCGI_PARAMS} fastcgi_request_buffering off; fastcgi_pass ${fastcgi}; }`,
      '  }',
      `  server { listen 127.0.0.1:${keptPort}; server_name kept.test;`,
      `    location / { ${NGINX_FASTCGI_PARAMS} fastcgi_keep_conn on; fastcgi_pass warmgate; }`,
      '  }',
    ].join('\n'))
  })

  afterAll(async () => {
    await agent.close()
    await nginx?.stop()
    await within(15_000, 'gateway close', started.gateway.close())
    rmSync(dir, { recursive: true, force: true })
  })

  async function get (url: string, options: Parameters<typeof request>[1] = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }> {
    const res = await request(url, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000, ...options })
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
  }

  it('serves GET with the client request as the handler sees it', async () => {
    const res = await get(`${plain}/reflect/hi?x=1`, { headers: { 'x-request-id': 'via-nginx-1', 'accept-language': 'fr' } })
    expect(res.status).toBe(200)
    const seen = JSON.parse(res.body.toString()) as Reflection
    expect(seen.url).toBe(`${plain}/reflect/hi?x=1`)
    expect(seen.method).toBe('GET')
    expect(seen.requestId).toBe('via-nginx-1')
    expect(seen.headers).toEqual(expect.arrayContaining([['accept-language', 'fr']]))
    expect(res.headers['x-request-id']).toBe('via-nginx-1')
  })

  it('serves POST and HEAD', async () => {
    const post = await get(`${plain}/reflect/form`, { method: 'POST', body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    const seen = JSON.parse(post.body.toString()) as Reflection
    expect(seen.method).toBe('POST')
    expect(Buffer.from(seen.bodyBase64, 'base64').toString()).toBe('a=1&b=2')
    expect(seen.headers).toEqual(expect.arrayContaining([['content-type', 'application/x-www-form-urlencoded'], ['content-length', '7']]))
    const head = await get(`${plain}/responses/text`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect(head.headers['content-length']).toBe('21')
  })

  it('takes a large upload (6 MB) and gives a large download (24 MB) whole', async () => {
    const body = Buffer.alloc(6 * 1024 * 1024).map((_, i) => (i * 31) & 0xff)
    const echoed = await get(`${plain}/reflect/raw?raw`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
    expect(echoed.status).toBe(200)
    expect(Buffer.compare(echoed.body, body)).toBe(0)
    const up = await get(`${plain}/stream/upload?key=nginx-up`, { method: 'POST', body })
    expect(JSON.parse(up.body.toString())).toEqual({ seen: body.length, streamed: true })
    const down = await get(`${plain}/stream/flood?key=nginx-down&mb=24`)
    expect(down.status).toBe(200)
    expect(down.body.length).toBe(24 * 1024 * 1024)
  })

  it('streams a chunked upload with fastcgi_request_buffering off (no CONTENT_LENGTH)', async () => {
    const chunk = Buffer.alloc(64 * 1024, 98)
    async function * chunks (): AsyncGenerator<Buffer> {
      for (let i = 0; i < 40; i++) yield chunk
    }
    // A Readable of unknown length: undici sends it chunked.
    const res = await get(`${plain}/stream/upload?key=nginx-chunked`, { method: 'POST', body: Readable.from(chunks()) })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body.toString())).toEqual({ seen: 40 * chunk.length, streamed: true })
  })

  it('passes repeated headers both ways, statuses and a redirect', async () => {
    const cookies = await get(`${plain}/responses/cookies`, { headers: ['x-multi', 'one', 'x-multi', 'two'] })
    expect(cookies.headers['set-cookie']).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Max-Age=60', 'c=3, with comma; Secure'])
    const reflected = await get(`${plain}/reflect/multi`, { headers: ['x-multi', 'one', 'x-multi', 'two'] })
    const seen = JSON.parse(reflected.body.toString()) as Reflection
    expect(seen.headers.find(([name]) => name === 'x-multi')?.[1]).toMatch(/one.*two/)
    const teapot = await get(`${plain}/responses/status?code=418`)
    expect(teapot.status).toBe(418)
    const moved = await get(`${plain}/redirect/go?to=/reflect/landed`)
    expect(moved.status).toBe(302)
    expect(moved.headers.location).toBe(`${plain}/reflect/landed`)
    const missing = await get(`${plain}/nowhere`)
    expect(missing.status).toBe(404)
    expect(missing.body.toString()).toContain('404 Not Found')
  })

  it('streams a response: the first bytes arrive before the handler finishes', async () => {
    const asked = performance.now()
    const res = await request(`${plain}/stream/gap`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 })
    const chunks: string[] = []
    let firstAt = 0
    for await (const chunk of res.body) {
      if (chunks.length === 0) firstAt = performance.now() - asked
      chunks.push(chunk.toString())
    }
    expect(chunks.join('')).toBe('firstsecond')
    expect(firstAt).toBeLessThan(400)
    expect(performance.now() - asked).toBeGreaterThan(450)
  })

  it('without fastcgi_keep_conn: one FastCGI connection per request, each closed by us', async () => {
    const before = started.gateway.fastcgiStats()!
    for (let i = 0; i < 5; i++) expect((await get(`${plain}/reflect/n${i}`)).status).toBe(200)
    const after = started.gateway.fastcgiStats()!
    expect(after.accepted - before.accepted).toBe(5)
    expect(after.requests - before.requests).toBe(5)
    await within(3000, 'no FastCGI connection left open', (async () => { while (started.gateway.fastcgiStats()!.open > 0) await new Promise(resolve => setTimeout(resolve, 20)) })())
  })

  it('with fastcgi_keep_conn on and upstream keepalive: connections are reused', async () => {
    const before = started.gateway.fastcgiStats()!
    for (let i = 0; i < 20; i++) expect((await get(`${kept}/reflect/k${i}`)).status).toBe(200)
    const after = started.gateway.fastcgiStats()!
    expect(after.requests - before.requests).toBe(20)
    expect(after.accepted - before.accepted).toBeLessThanOrEqual(2)
    expect(after.open).toBeGreaterThanOrEqual(1)
    // Errors on a kept connection are ordinary responses; the connection goes on.
    expect((await get(`${kept}/nowhere`)).status).toBe(404)
    expect((await get(`${kept}/reflect/after-404`)).status).toBe(200)
    expect(started.gateway.fastcgiStats()!.accepted - before.accepted).toBeLessThanOrEqual(2)
  })

  // Before the saturation test below, whose refusal nginx logs as an upstream error.
  it('nginx logged no upstream error', () => {
    expect(nginx.log()).not.toMatch(/upstream (prematurely|sent)|\[error\]|\[crit\]/)
  })

  it("answers at once when the app is saturated: END_REQUEST OVERLOADED, which nginx turns into 502", async () => {
    const busy = get(`${plain}/slow/wait?key=nginx-busy&ms=1500`)
    await new Promise(resolve => setTimeout(resolve, 200))
    const asked = performance.now()
    const refused = await get(`${plain}/slow/wait?key=nginx-refused&ms=10`)
    expect(refused.status).toBe(502)
    expect(performance.now() - asked).toBeLessThan(1000)
    expect((await busy).status).toBe(200)
    expect(nginx.log()).toContain('upstream sent unexpected FastCGI record: 3')
  })
})
