import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { describe, expect, it } from 'vitest'
import type { AppConfig, GatewayConfig, Mode, ServerConfig } from '../../src/index.ts'
import { startGateway, within, type Started } from '../helpers/gateway.ts'
import { accessLines, handler } from '../runtime/support.ts'
import { headOf, openRaw, ranPaths, statusOf } from './support.ts'

// The front door's limits, driven over raw sockets: what reaches a handler (the counter fixture records
// every path it ran) and what the client sees on the wire (status, Connection: close, the server's FIN).

type Defer = (fn: () => Promise<void> | void) => void

function counterApp (route: string, extra: Partial<AppConfig> = {}): AppConfig {
  return { route, entry: handler('counter.ts'), workers: { min: 1, max: 1 }, ...extra }
}

interface Harness extends Started {
  agent: Agent
  /** Paths the counter fixture under `route` ran since the gateway started. */
  ran (route: string): Promise<string[]>
}

async function open (defer: Defer, mode: Mode, server: ServerConfig, apps: Record<string, AppConfig> = { c: counterApp('/c') }): Promise<Harness> {
  const config: GatewayConfig = { server, apps }
  const started = await within(15_000, `starting a ${mode} gateway`, startGateway(config, { mode }))
  defer(() => within(10_000, 'closing the gateway', started.gateway.close()))
  const agent = new Agent()
  defer(() => within(5000, 'closing the undici agent', agent.close()))
  // Inline apps share one module instance per process (and so one record across tests and apps).
  const counted = Object.values(apps).find(app => app.entry === handler('counter.ts'))
  const baseline = counted === undefined ? 0 : (await ranPaths(agent, started.url, counted.route)).length
  const ran = async (route: string): Promise<string[]> => {
    const paths = await ranPaths(agent, started.url, route)
    return paths.slice(mode === 'inline' ? baseline : 0).filter(path => path.startsWith(`${route}/`))
  }
  return { ...started, agent, ran }
}

/** Warn lines of the clientError handler (src/http/client-error.ts). */
function refusals (lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.filter(line => line.level === 40 && typeof line.code === 'string' && line.nodeCode !== undefined)
}

async function get (h: Harness, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number, text: string }> {
  return within(5000, `${body === undefined ? 'GET' : 'POST'} ${path}`, (async () => {
    const res = await request(`${h.url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers, body, dispatcher: h.agent })
    return { status: res.statusCode, text: await res.body.text() }
  })())
}

describe.each(['inline', 'warm'] as const)('%s app: body limit', (mode) => {
  it('answers 413 to a declared Content-Length above bodyLimit, closes, and never runs the handler', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode, { bodyLimit: '1kb' })
    const conn = await openRaw(h.url, onTestFinished)
    // Only the head: the gateway must answer without waiting for a body it will not take.
    await conn.write('POST /c/declared HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\nx-request-id: limits-declared\r\n\r\n')
    const text = await conn.waitFor(/\r\n\r\n[\s\S]*\n/, 3000, '413 for a declared length')
    expect(statusOf(text)).toBe(413)
    expect(headOf(text)).toContain('connection: close')
    await conn.serverClosed(3000, 'server closing after the 413')
    expect(accessLines(h.lines, 'limits-declared').map(line => line.status)).toEqual([413])
    expect(await h.ran('/c')).toEqual([])
  })

  it('answers 413 so that a client pushing a large body all at once still reads it', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode, { bodyLimit: '1kb' })
    const conn = await openRaw(h.url, onTestFinished)
    const size = 4 * 1024 * 1024
    // Not awaited: the server closes long before 4 MiB could be written, and the write fails (EPIPE).
    conn.write(`POST /c/pushed HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`).catch(() => undefined)
    conn.write(Buffer.alloc(size, 0x78)).catch(() => undefined)
    const text = await conn.waitFor(/\r\n\r\n[\s\S]*\n/, 5000, '413 while the client is still pushing')
    expect(statusOf(text)).toBe(413)
    await conn.serverClosed(5000, 'server closing after the 413')
    expect(await h.ran('/c')).toEqual([])
  })

  it("takes an app's own bodyLimit over the server's, smaller or larger", async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode, { bodyLimit: '1kb' }, {
      c: counterApp('/c'),
      small: counterApp('/small', { bodyLimit: '64b' }),
      big: counterApp('/big', { bodyLimit: '4kb' }),
    })
    expect((await get(h, '/small/a', {}, 'x'.repeat(100))).status).toBe(413)
    expect(await get(h, '/c/a', {}, 'x'.repeat(100))).toMatchObject({ status: 200, text: JSON.stringify({ path: '/c/a', bytes: 100 }) })
    expect((await get(h, '/c/b', {}, 'x'.repeat(2048))).status).toBe(413)
    expect(await get(h, '/big/b', {}, 'x'.repeat(2048))).toMatchObject({ status: 200, text: JSON.stringify({ path: '/big/b', bytes: 2048 }) })
    expect(await h.ran('/small')).toEqual([])
    expect(await h.ran('/c')).toEqual(['/c/a'])
    expect(await h.ran('/big')).toEqual(['/big/b'])
  })

  it('cuts a chunked body off with 413 once it crosses the limit, before the client sent the rest', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode, { bodyLimit: '1kb' })
    const conn = await openRaw(h.url, onTestFinished)
    const chunk = `258\r\n${'y'.repeat(600)}\r\n` // 0x258 = 600 bytes
    await conn.write(`POST /c/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nx-request-id: limits-chunked\r\n\r\n${chunk}${chunk}`)
    // 1200 bytes sent of a body that never ends: the answer must come now, not after the rest.
    const text = await conn.waitFor(/\r\n\r\n[\s\S]*\n/, 3000, '413 after 1200 chunked bytes')
    expect(statusOf(text)).toBe(413)
    expect(headOf(text)).toContain('connection: close')
    await conn.serverClosed(3000, 'server closing after the chunked 413')
    expect(accessLines(h.lines, 'limits-chunked').map(line => line.status)).toEqual([413])
    // A chunked body streams into the handler (README: Streaming), so the handler started; its read of the
    // body failed when the limit was crossed, and the client got the 413, not the handler's answer.
    expect(await h.ran('/c')).toEqual(['/c/chunked'])
  })
})

describe.each(['inline', 'warm'] as const)('%s app: request smuggling', (mode) => {
  // RFC 9112 §6.1: a request with both is an attack or a broken proxy; a server may reject it, and must
  // close the connection after answering. The parser sees a second request inside the "body".
  const smuggled = 'GET /c/smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
  const body = `0\r\n\r\n${smuggled}`
  it.for([
    ['Content-Length before Transfer-Encoding', `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked`],
    ['Transfer-Encoding before Content-Length', `Transfer-Encoding: chunked\r\nContent-Length: ${body.length}`],
    ['Content-Length with an obfuscated Transfer-Encoding', `Content-Length: ${body.length}\r\nTransfer-Encoding: xchunked`],
  ])('answers 400 to %s, closes, and runs neither request', async ([, framing], { onTestFinished }) => {
    const h = await open(onTestFinished, mode, {})
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write(`POST /c/front HTTP/1.1\r\nHost: x\r\n${framing}\r\n\r\n${body}`)
    const text = await conn.waitFor(/\r\n\r\n[\s\S]*\n/, 3000, '400 for conflicting framing')
    expect(statusOf(text)).toBe(400)
    expect(headOf(text)).toContain('connection: close')
    await conn.serverClosed(3000, 'server closing after the 400')
    // A client that goes on sending after the answer (its socket is half-open) is not served either.
    await conn.write('GET /c/after HTTP/1.1\r\nHost: x\r\n\r\n').catch(() => undefined)
    await sleep(200)
    expect(text.match(/HTTP\/1\.1 /g), 'exactly one response on the connection').toHaveLength(1)
    expect(statusOf(conn.text())).toBe(400)
    expect(conn.text()).toBe(text)
    expect(await h.ran('/c')).toEqual([])
    const refused = refusals(h.lines)
    expect(refused.map(line => line.code)).toEqual(['WG_ERR_BAD_REQUEST'])
    expect(refused[0].nodeCode).toMatch(/^HPE_/)
    expect(refused[0].remoteAddress).toBe('127.0.0.1')
  })
})

describe('front door: headers and slow clients', () => {
  it('answers 431 to a header block over maxHeaderSize and closes; a block under it is served', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, 'inline', { maxHeaderSize: '2kb' })
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write(`GET /c/huge HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(4000)}\r\n\r\n`)
    const text = await conn.waitFor(/\r\n\r\n[\s\S]*\n/, 3000, '431 for a 4 KB header block')
    expect(statusOf(text)).toBe(431)
    expect(headOf(text)).toContain('connection: close')
    await conn.serverClosed(3000, 'server closing after the 431')
    expect(refusals(h.lines)).toMatchObject([{ code: 'WG_ERR_HEADERS_TOO_LARGE', nodeCode: 'HPE_HEADER_OVERFLOW' }])
    expect((await get(h, '/c/fits', { 'x-pad': 'p'.repeat(1000) })).status).toBe(200)
    expect(await h.ran('/c')).toEqual(['/c/fits'])
  })

  it('cuts off a client dripping its headers (slowloris) at headersTimeout while serving others', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, 'inline', { headersTimeout: '500ms', requestTimeout: '10s' })
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('GET /c/slow HTTP/1.1\r\nHost: x\r\nX-Drip: ')
    const dripping = (async () => {
      let sent = 0
      while (!conn.isServerClosed() && sent < 40) {
        await conn.write('a').catch(() => undefined)
        sent++
        await sleep(150)
      }
      return sent
    })()
    // Meanwhile another connection is served at normal speed.
    const served: number[] = []
    while (!conn.isServerClosed() && served.length < 40) {
      served.push((await get(h, `/c/other-${served.length}`)).status)
      await sleep(50)
    }
    const closedAfter = await conn.serverClosed(5000, 'the dripping client to be cut off')
    const sent = await within(2000, 'the drip loop to stop', dripping)
    // Finishing the header block now must not get the request run on the refused connection.
    await conn.write('\r\n\r\n').catch(() => undefined)
    await sleep(100)
    expect(closedAfter).toBeGreaterThan(400)
    expect(closedAfter, 'cut off within headersTimeout plus the check interval and slack').toBeLessThan(2000)
    expect(sent).toBeLessThan(15)
    expect(statusOf(conn.text())).toBe(408)
    expect(headOf(conn.text())).toContain('connection: close')
    expect(served.length).toBeGreaterThanOrEqual(3)
    expect(served.every(status => status === 200)).toBe(true)
    expect(refusals(h.lines)).toMatchObject([{ code: 'WG_ERR_REQUEST_TIMEOUT', nodeCode: 'ERR_HTTP_REQUEST_TIMEOUT' }])
    expect(await h.ran('/c')).not.toContain('/c/slow')
  })

  it('cuts off a body that arrives slower than requestTimeout allows, and never runs the handler', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, 'inline', { headersTimeout: '500ms', requestTimeout: '1s' })
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('POST /c/slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n')
    let sent = 0
    // 30 bytes at 100 ms each would take 3 s; the request as a whole gets 1 s.
    while (!conn.isServerClosed() && sent < 30) {
      await conn.write('b').catch(() => undefined)
      sent++
      await sleep(100)
    }
    const closedAfter = await conn.serverClosed(3000, 'the slow body to be cut off')
    expect(sent).toBeLessThan(30)
    expect(closedAfter).toBeGreaterThan(900)
    expect(closedAfter).toBeLessThan(2500)
    expect(statusOf(conn.text())).toBe(408)
    expect(refusals(h.lines).map(line => line.code)).toEqual(['WG_ERR_REQUEST_TIMEOUT'])
    expect(await h.ran('/c')).toEqual([])
  })

  it('gives requestTimeout only to receiving the request: a handler slower than it still answers', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, 'inline', { headersTimeout: '300ms', requestTimeout: '300ms' }, {
      slow: { route: '/slow', entry: handler('slow.ts'), timeout: '5s' },
    })
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('POST /slow/wait?key=limits&ms=900 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok')
    const text = await conn.waitFor(/slept/, 3000, 'the slow handler to answer')
    expect(statusOf(text)).toBe(200)
    expect(refusals(h.lines)).toEqual([])
  })

  it('keeps a connection for the next request, then closes it once idle for keepAliveTimeout', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, 'inline', { keepAliveTimeout: '300ms' })
    const conn = await openRaw(h.url, onTestFinished)
    const complete = (n: number): RegExp => new RegExp(`(?:"bytes":0\\}[\\s\\S]*){${n}}`)
    await conn.write('GET /c/first HTTP/1.1\r\nHost: x\r\n\r\n')
    await conn.waitFor(complete(1), 3000, 'first response')
    await sleep(100)
    await conn.write('GET /c/second HTTP/1.1\r\nHost: x\r\n\r\n')
    await conn.waitFor(complete(2), 3000, 'second response on the same connection')
    const idleFrom = performance.now()
    await conn.serverClosed(4000, 'the idle keep-alive connection to be closed')
    const idle = performance.now() - idleFrom
    expect(conn.text().match(/HTTP\/1\.1 200/g)).toHaveLength(2)
    expect(idle).toBeGreaterThan(250)
    // Node keeps the socket keepAliveTimeoutBuffer (1 s) past the advertised timeout, against races with clients.
    expect(idle).toBeLessThan(2500)
    expect(await h.ran('/c')).toEqual(['/c/first', '/c/second'])
  })
})
