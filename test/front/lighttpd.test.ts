import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Reflection } from '../fixtures/handlers/reflect.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { freePort, LIGHTTPD, startLighttpd, type WebServer } from './web-servers.ts'

// Real lighttpd `mod_fastcgi` → warmgate's FastCGI responder. lighttpd never sets FCGI_KEEP_CONN: one
// FastCGI connection per request, which the responder closes after END_REQUEST.

if (LIGHTTPD === undefined) console.warn('[lighttpd tests] skipped: no lighttpd binary (/usr/sbin/lighttpd); .ci/run installs lighttpd')

describe.skipIf(LIGHTTPD === undefined)('lighttpd mod_fastcgi → warmgate', () => {
  let started: Started
  let lighttpd: WebServer
  let dir: string
  let base: string
  const agent = new Agent({ connections: 4 })

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wg-lighttpd-'))
    started = await startGateway({
      server: { fastcgi: { listen: '127.0.0.1:0' } },
      apps: {
        reflect: { route: '/reflect', entry: `${FIXTURES}handlers/reflect.ts`, workers: { min: 1, max: 1 }, bodyLimit: '16mb' },
        responses: { route: '/responses', entry: `${FIXTURES}handlers/responses.ts`, mode: 'inline' },
        stream: { route: '/stream', entry: `${FIXTURES}handlers/stream.ts`, workers: { min: 1, max: 1 } },
      },
    })
    const address = started.gateway.fastcgiStats()?.address as string
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    lighttpd = await startLighttpd(dir, port, { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) })
  })

  afterAll(async () => {
    await agent.close()
    await lighttpd?.stop()
    await within(15_000, 'gateway close', started.gateway.close())
    rmSync(dir, { recursive: true, force: true })
  })

  async function get (url: string, options: Parameters<typeof request>[1] = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }> {
    const res = await request(url, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000, ...options })
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
  }

  it('serves GET and POST with the URL, headers and body the client sent', async () => {
    const res = await get(`${base}/reflect/a?b=c`, { headers: { 'x-request-id': 'via-lighttpd', 'x-custom': 'yes' } })
    expect(res.status).toBe(200)
    const seen = JSON.parse(res.body.toString()) as Reflection
    expect(seen.url).toBe(`${base}/reflect/a?b=c`)
    expect(seen.requestId).toBe('via-lighttpd')
    expect(seen.headers).toEqual(expect.arrayContaining([['x-custom', 'yes']]))
    const body = Buffer.alloc(3 * 1024 * 1024, 7)
    const echoed = await get(`${base}/reflect/raw?raw`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
    expect(Buffer.compare(echoed.body, body)).toBe(0)
  })

  it('passes statuses, repeated Set-Cookie and HEAD, and a 404 from the router', async () => {
    const cookies = await get(`${base}/responses/cookies`)
    expect(cookies.headers['set-cookie']).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Max-Age=60', 'c=3, with comma; Secure'])
    expect((await get(`${base}/responses/status?code=418`)).status).toBe(418)
    const head = await get(`${base}/responses/text`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect((await get(`${base}/reflect-not/x`)).status).toBe(404)
  })

  it('streams a response as it is produced', async () => {
    const asked = performance.now()
    const res = await request(`${base}/stream/gap`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 })
    let firstAt = 0
    let text = ''
    for await (const chunk of res.body) {
      if (text === '') firstAt = performance.now() - asked
      text += chunk.toString()
    }
    expect(text).toBe('firstsecond')
    expect(firstAt).toBeLessThan(400)
  })

  it('opens one FastCGI connection per request (lighttpd never keeps them), each closed after END_REQUEST', async () => {
    const before = started.gateway.fastcgiStats()!
    for (let i = 0; i < 5; i++) expect((await get(`${base}/reflect/n${i}`)).status).toBe(200)
    const after = started.gateway.fastcgiStats()!
    expect(after.accepted - before.accepted).toBe(5)
    await within(3000, 'no FastCGI connection left open', (async () => { while (started.gateway.fastcgiStats()!.open > 0) await new Promise(resolve => setTimeout(resolve, 20)) })())
    expect(lighttpd.log()).not.toMatch(/fastcgi.*(error|failed)|connection reset/i)
  })
})
