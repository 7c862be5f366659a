import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, type TestContext } from 'vitest'
import type { GatewayConfig, Mode } from '../../src/index.ts'
import { FIXTURES, within } from '../helpers/gateway.ts'
import { eventually, exampleApp, openGateway, type CaseContext } from '../runtime/support.ts'
import { connectClient, refusedHandshake } from './support.ts'

// WebSockets through a real gateway with a real client (ws), in the modes that hold connections.
const ECHO = `${FIXTURES}websocket/echo.ts`
const config = (extra: Partial<GatewayConfig['apps'][string]> = {}): GatewayConfig => ({
  apps: {
    echo: { route: '/ws', entry: ECHO, bodyLimit: '1mb', workers: { min: 1, max: 1 }, ...extra },
    hello: { route: '/hello', entry: exampleApp('hello.ts') },
  },
})

function context (mode: Mode, t: TestContext): CaseContext {
  return { mode, defer: (fn) => t.onTestFinished(async () => { await fn() }) }
}

const wsUrl = (url: string, path: string): string => url.replace(/^http/, 'ws') + path

describe.each(['warm', 'inline'] as const)('%s mode: WebSockets', (mode) => {
  it('round-trips text and binary, empty ones, fragmented ones and multi-byte text split across frames, in order', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws/greet'))
    expect(await c.text()).toMatch(/^hello [0-9a-f-]{36}$/)
    c.ws.send('plain text ✓')
    c.ws.send(Buffer.from([0, 1, 2, 255]))
    c.ws.send('')
    c.ws.send(Buffer.alloc(0))
    // One message in three frames (RFC 6455 §5.4), a 4-byte character cut between the first two.
    const emoji = Buffer.from('ab😀cd')
    c.ws.send(emoji.subarray(0, 4), { fin: false, binary: false })
    c.ws.send(emoji.subarray(4, 7), { fin: false, binary: false })
    c.ws.send(emoji.subarray(7), { fin: true, binary: false })
    for (let i = 0; i < 200; i++) c.ws.send(`n${i}`)
    const a = await c.next()
    expect([a.data.toString(), a.binary]).toEqual(['plain text ✓', false])
    const b = await c.next()
    expect([[...b.data], b.binary]).toEqual([[0, 1, 2, 255], true])
    const empty = await c.next()
    expect([empty.data.byteLength, empty.binary]).toEqual([0, false])
    const emptyBinary = await c.next()
    expect([emptyBinary.data.byteLength, emptyBinary.binary]).toEqual([0, true])
    expect(await c.text()).toBe('ab😀cd')
    for (let i = 0; i < 200; i++) expect(await c.text()).toBe(`n${i}`)
  })

  it('takes a message of exactly the app\'s bodyLimit and closes with 1009 past it', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    c.ws.send(Buffer.alloc(1024 * 1024, 7))
    expect((await c.next()).data.byteLength).toBe(1024 * 1024)
    c.ws.send(Buffer.alloc(1024 * 1024 + 1, 7))
    expect((await within(5000, 'the close', c.closed)).code).toBe(1009)
  })

  it('refuses invalid UTF-8 in a text message with 1007 (ws), and the app sees the close', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    c.ws.send(Buffer.from([0x61, 0xff, 0x62]), { binary: false })
    expect((await within(5000, 'the close', c.closed)).code).toBe(1007)
  })

  it('answers pings with pongs, and round-trips close codes and reasons both ways', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    c.ws.ping(Buffer.from('are you there'))
    const [pong] = await within(5000, 'the pong', once(c.ws, 'pong')) as [Buffer]
    expect(pong.toString()).toBe('are you there')
    c.ws.send('close-me')
    expect(await within(5000, 'the app closing', c.closed)).toEqual({ code: 4001, reason: 'asked to' })
    const d = await connectClient(ctx, wsUrl(h.url, '/ws'))
    d.ws.close(4321, 'client says bye')
    await within(5000, 'the closing handshake', d.closed)
    const e = await connectClient(ctx, wsUrl(h.url, '/ws'))
    const stats = await eventually(5000, 'the close hook to run', async () => {
      e.ws.send('stats')
      const seen = JSON.parse(await e.text()) as { seen: string[] }
      return seen.seen.includes('close 4321 client says bye') ? seen : undefined
    })
    expect(stats.seen).toContain('close 4001 asked to')
  })

  it('closes with 1011 when a hook throws, and logs it with the connection\'s request id', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    c.ws.send('throw')
    expect(await within(5000, 'the close', c.closed)).toEqual({ code: 1011, reason: 'the app failed' })
    await eventually(5000, 'the log line', () => h.lines.some(line => typeof line.msg === 'string' && line.msg.includes('the websocket message hook threw') && typeof line.reqId === 'string') ? true : undefined)
  })

  it('closes a client that reads nothing with 1008 once too much is queued for it, instead of buffering without bound', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket
    socket.pause()
    // 1,000 × 64 KiB = 62.5 MiB, far past the 8 MiB the gateway queues for one client.
    c.ws.send('flood 1000')
    await eventually(10_000, 'the gateway to give up on the client', () => h.lines.some(line => typeof line.msg === 'string' && line.msg.includes('reads too slowly')) ? true : undefined)
    socket.resume()
    expect((await within(10_000, 'the close', c.closed)).code).toBe(1008)
  })

  it('stops reading a client whose app is behind: the client cannot push more than a bounded amount', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    // 64 messages of 512 KiB, each taking the app 200 ms: 32 MiB the gateway must not take in at once.
    const big = 'slow' + 'x'.repeat(512 * 1024 - 4)
    for (let i = 0; i < 64; i++) c.ws.send(big)
    await sleep(1500)
    // What left the client is what the gateway read plus what the kernel buffers hold: far below 32 MiB.
    expect(64 * big.length - c.ws.bufferedAmount).toBeLessThan(12 * 1024 * 1024)
    expect(await c.text(5000)).toBe(`slept ${big.length}`)
  }, 20_000)

  it('keeps a connection open past the server\'s request, headers and keep-alive timeouts (they are HTTP\'s, not a WebSocket\'s)', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, { ...config(), server: { requestTimeout: '1s', headersTimeout: '1s', keepAliveTimeout: '500ms' } })
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    await sleep(2200)
    c.ws.send('still here')
    expect(await c.text()).toBe('still here')
  })

  it('closes every connection with 1001 when the gateway shuts down', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const clients = await Promise.all([1, 2, 3].map(async () => connectClient(ctx, wsUrl(h.url, '/ws'))))
    await within(10_000, 'the gateway closing', h.gateway.close())
    for (const c of clients) expect((await within(5000, 'the close', c.closed)).code).toBe(1001)
  })

  it('closes with 1012 on a reload, and a reconnecting client reaches the new version', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    c.ws.send('one')
    expect(await c.text()).toBe('one')
    await within(15_000, 'the reload', h.gateway.reload())
    expect((await within(5000, 'the close', c.closed)).code).toBe(1012)
    const again = await connectClient(ctx, wsUrl(h.url, '/ws'))
    again.ws.send('stats')
    // A new version: a module loaded afresh, which has seen only this connection open.
    expect(JSON.parse(await again.text()).seen).toEqual(['open /ws'])
  })

  it('counts open connections and messages each way in the metrics', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    for (let i = 0; i < 3; i++) c.ws.send(`m${i}`)
    for (let i = 0; i < 3; i++) await c.text()
    const metrics = (await h.send('/__warmgate/metrics')).text()
    expect(metrics).toMatch(/warmgate_websockets_open\{app="echo"\} 1/)
    expect(metrics).toMatch(/warmgate_websocket_messages_total\{app="echo",direction="in"\} 3/)
    expect(metrics).toMatch(/warmgate_websocket_messages_total\{app="echo",direction="out"\} 3/)
    c.ws.close()
    await c.closed
    await eventually(5000, 'the gauge to fall', async () => /warmgate_websockets_open\{app="echo"\} 0/.test((await h.send('/__warmgate/metrics')).text()) ? true : undefined)
  })

  it('serves an upgrade to an app without websocket hooks as the plain request it is, and 404s an unrouted one', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config())
    const plain = await refusedHandshake(wsUrl(h.url, '/hello'))
    expect(plain.status).toBe(200)
    expect((await refusedHandshake(wsUrl(h.url, '/nowhere'))).status).toBe(404)
  })
})

describe('warm mode: a connection\'s worker goes away', () => {
  it('a worker that dies of an uncaught exception closes its connections with 1011; new ones reach its successor', async (t) => {
    const ctx = context('warm', t)
    const h = await openGateway(ctx, config())
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    const other = await connectClient(ctx, wsUrl(h.url, '/ws'))
    c.ws.send('crash')
    expect((await within(5000, 'the close', c.closed)).code).toBe(1011)
    expect((await within(5000, 'the other close', other.closed)).code).toBe(1011)
    const again = await eventually(10_000, 'a new connection', async () => connectClient(ctx, wsUrl(h.url, '/ws')).catch(() => undefined))
    again.ws.send('back')
    expect(await again.text()).toBe('back')
  })

  it('a worker recycled after workers.maxRequests closes its connections with 1012; the client reconnects to its successor', async (t) => {
    const ctx = context('warm', t)
    const h = await openGateway(ctx, config({ workers: { min: 1, max: 1, maxRequests: 2 } }))
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    c.ws.send('before')
    expect(await c.text()).toBe('before')
    for (let i = 0; i < 2; i++) expect((await h.send('/ws/x')).status).toBe(200)
    expect(await within(5000, 'the close', c.closed)).toEqual({ code: 1012, reason: 'service restart' })
    const again = await eventually(10_000, 'a new connection', async () => connectClient(ctx, wsUrl(h.url, '/ws')).catch(() => undefined))
    again.ws.send('stats')
    expect(JSON.parse(await again.text()).seen).toEqual(['open /ws'])
  })

  it('a worker replaced for a handler that never returns closes its connections with 1011', async (t) => {
    const ctx = context('warm', t)
    const h = await openGateway(ctx, config({ timeout: '300ms' }))
    const c = await connectClient(ctx, wsUrl(h.url, '/ws'))
    expect((await h.send('/ws/spin')).status).toBe(504)
    expect((await within(10_000, 'the close', c.closed))).toEqual({ code: 1011, reason: 'the app stopped answering' })
  })

  it('holds 1,000 concurrent connections to one warm app, each echoing, in bounded memory', async (t) => {
    const ctx = context('warm', t)
    const h = await openGateway(ctx, config({ workers: { min: 2, max: 2 } }))
    globalThis.gc?.()
    const before = process.memoryUsage.rss()
    const clients = []
    for (let i = 0; i < 1000; i += 100) clients.push(...await Promise.all(Array.from({ length: 100 }, async () => connectClient(ctx, wsUrl(h.url, '/ws')))))
    await Promise.all(clients.map(async (c, i) => {
      c.ws.send(`hello ${i}`)
      expect(await c.text(15_000)).toBe(`hello ${i}`)
    }))
    const growthMb = (process.memoryUsage.rss() - before) / 1024 / 1024
    // Both ends of every connection live in this process: ~100 KiB a connection would already be 100 MiB.
    expect(growthMb).toBeLessThan(150)
    const metrics = (await h.send('/__warmgate/metrics')).text()
    expect(metrics).toMatch(/warmgate_websockets_open\{app="echo"\} 1000/)
  }, 60_000)
})

describe('cold mode', () => {
  it('refuses a WebSocket upgrade with 501 and the reason, naming the request id', async (t) => {
    const ctx = context('cold', t)
    const h = await openGateway(ctx, config())
    const refused = await refusedHandshake(wsUrl(h.url, '/ws'))
    expect(refused.status).toBe(501)
    expect(refused.body).toMatch(/501 Not Implemented \(request [0-9a-f-]{36}\)/)
    expect(h.lines.some(line => line.code === 'WG_ERR_WEBSOCKET_UNSUPPORTED' && typeof line.reqId === 'string')).toBe(true)
  })
})

describe("a Node-style app's own upgrade handling (ws attached to its exported server)", () => {
  it('inline: the app\'s own ws server takes the connection and answers, and plain requests still reach it', async (t) => {
    const ctx = context('inline', t)
    const h = await openGateway(ctx, { apps: { app: { route: '/own', entry: `${FIXTURES}node-apps/ws-server.ts` } } })
    const c = await connectClient(ctx, wsUrl(h.url, '/own/chat'))
    expect(await c.text()).toBe('welcome /own/chat')
    c.ws.send('ping me')
    expect(await c.text()).toBe('ping me')
    expect((await h.send('/own/x')).text()).toBe('plain request to a ws app\n')
  })

  it('warm: refused with 501 and the reason (the socket cannot be handed to a worker thread)', async (t) => {
    const ctx = context('warm', t)
    const h = await openGateway(ctx, { apps: { app: { route: '/own', entry: `${FIXTURES}node-apps/ws-server.ts` } } })
    expect((await refusedHandshake(wsUrl(h.url, '/own/chat'))).status).toBe(501)
    expect(h.lines.some(line => line.code === 'WG_ERR_WEBSOCKET_UNSUPPORTED' && String(line.msg).includes('inline mode'))).toBe(true)
    expect((await h.send('/own/x')).text()).toBe('plain request to a ws app\n')
  })
})

describe('upgrade requests the gateway does not upgrade', () => {
  async function rawUpgrade (url: string, path: string, extra = ''): Promise<string> {
    const { hostname, port } = new URL(url)
    const { connect } = await import('node:net')
    const socket = connect(Number(port), hostname)
    await within(5000, 'connecting', once(socket, 'connect'))
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`)
    let text = ''
    socket.setEncoding('latin1').on('data', (chunk: string) => { text += chunk })
    await within(5000, 'the answer and the close', once(socket, 'close'))
    return text
  }

  it('answers a handshake without Sec-WebSocket-Key with 400 (ws), and one with two Host headers with 400 (the gateway)', async (t) => {
    const ctx = context('warm', t)
    const h = await openGateway(ctx, config())
    expect(await rawUpgrade(h.url, '/ws')).toMatch(/^HTTP\/1\.1 400 /)
    expect(await rawUpgrade(h.url, '/ws', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nHost: evil.example\r\n')).toMatch(/^HTTP\/1\.1 400 /)
  })

  it('answers an upgrade to the operator endpoints as the plain request it is, never upgraded', async (t) => {
    const ctx = context('inline', t)
    const h = await openGateway(ctx, config())
    const text = await rawUpgrade(h.url, '/__warmgate/health', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n')
    expect(text).toMatch(/^HTTP\/1\.1 200 /)
    expect(text).not.toMatch(/101 Switching/)
  })
})
