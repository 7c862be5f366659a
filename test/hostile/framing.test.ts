import { randomUUID } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { within } from '../helpers/gateway.ts'
import { headOf, openRaw, type RawConnection, statusOf } from '../http/support.ts'
import { expectInvariants, hits, type HostileGateway, LIMITS, rssMb, startHostileGateway, stopHostileGateway, TOLERANCE } from './support.ts'

// Group 1: a hostile client on raw sockets (node:net) against one real `warmgate start`. Every request
// that must be refused targets `/warm/hit/<id>`, whose handler records each path it runs in the hits file:
// a refused request must never appear there. RFC 9112 is cited per case.

let gw: HostileGateway
beforeAll(async () => { gw = await startHostileGateway() }, 90_000)
afterAll(async () => { await stopHostileGateway(gw) }, 30_000)

type Defer = (fn: () => void) => void

/** Every status line in the raw text, in order (pipelined responses). */
function statuses (text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map(match => Number(match[1]))
}

/**
 * Sends `bytes` on a fresh connection and returns what came back once the server closed its side. A
 * refusal closes at once (operations.md: Limits), so 2 s is ample and shorter than the keep-alive timeout
 * (2 s + 1 s), which would otherwise close a connection the gateway meant to keep.
 */
async function refused (defer: Defer, bytes: string | Buffer, label: string, ms = 2000): Promise<{ text: string, conn: RawConnection }> {
  const conn = await openRaw(gw.url, defer)
  await conn.write(bytes).catch(() => undefined)
  await conn.serverClosed(ms, `the server closing after ${label}`)
  return { text: conn.text(), conn }
}

const id = (name: string): string => `${name}-${randomUUID().slice(0, 8)}`
/** Paths that must not have reached the handler, checked once the group is over. */
const forbidden: string[] = []
function hit (name: string): string {
  const path = `/warm/hit/${id(name)}`
  forbidden.push(path)
  return path
}

describe('raw-socket framing: malformed requests are refused at the door, closed, and never run', () => {
  const cases: Array<[string, (path: string) => string, number]> = [
    // RFC 9112 §6.1: both framings is smuggling; reject, then close.
    ['Content-Length with Transfer-Encoding', p => `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    // RFC 9112 §6.3 (5): differing Content-Lengths are unrecoverable.
    ['two different Content-Lengths', p => `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, 400],
    // RFC 9112 §5.2: obs-fold in a request must be rejected (or replaced by SP; Node's strict parser rejects).
    ['an obs-fold header continuation', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n`, 400],
    // RFC 9112 §2.2: a bare LF as a line terminator may be refused; warmgate's strict parser refuses it.
    ['bare LF line endings', p => `GET ${p} HTTP/1.1\nHost: x\n\n`, 400],
    // RFC 9110 §5.5: NUL in a field value must be rejected.
    ['a NUL byte in a header value', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n`, 400],
    ['a header block over maxHeaderSize', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(12 * 1024)}\r\n\r\n`, 431],
    ['a request line over maxHeaderSize', p => `GET ${p}?${'q'.repeat(12 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    // RFC 9112 §3.2: a 1.1 request without Host, or with more than one, gets 400.
    ['an HTTP/1.1 request without Host', p => `GET ${p} HTTP/1.1\r\nX-A: b\r\n\r\n`, 400],
    ['two Host headers', p => `GET ${p} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`, 400],
    // RFC 9112 §2.3 / Appendix C.1: HTTP/0.9 (a request line with no version) is not served.
    ['an HTTP/0.9 request line without a version', p => `GET ${p}\r\n\r\n`, 400],
    ['a request line with garbage for a version', p => `GET ${p} HTTP/9.Z\r\nHost: x\r\n\r\n`, 400],
    ['a method with a space in the target', p => `GET ${p} x HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
  ]
  for (const [name, build, status] of cases) {
    it.concurrent(`answers ${status} to ${name}, closes, and runs nothing`, async ({ onTestFinished }) => {
      const { text } = await refused(onTestFinished, build(hit(name.replaceAll(' ', '-'))), name)
      expect(statuses(text), `responses to ${name}: ${JSON.stringify(text.slice(0, 300))}`).toEqual([status])
      expect(headOf(text)).toContain('connection: close')
    })
  }

  const chunked: Array<[string, string]> = [
    ['a chunk size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size with a sign', '+5\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size overflowing 64 bits', 'fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
    ['a chunk extension with a control byte', '5;ext\x01=1\r\nhello\r\n0\r\n\r\n'],
    ['chunk data longer than its size', '2\r\nhello\r\n0\r\n\r\n'],
  ]
  for (const [name, body] of chunked) {
    // The head is valid, so the request may be routed before its body fails: the handler's own answer must
    // never be what the client gets.
    it.concurrent(`answers 400 to a chunked body with ${name}, and closes`, async ({ onTestFinished }) => {
      const path = `/warm/hit/${id(name.replaceAll(' ', '-'))}`
      const { text } = await refused(onTestFinished, `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`, name)
      expect(statuses(text), `responses to ${name}: ${JSON.stringify(text.slice(0, 300))}`).toEqual([400])
    })
  }

  it.concurrent('routes an absolute-form target by its path, taking the authority from the target (RFC 9112 §3.2.2)', async ({ onTestFinished }) => {
    const path = `/warm/hit/${id('absolute-form')}`
    const conn = await openRaw(gw.url, onTestFinished)
    await conn.write(`GET http://elsewhere.example${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    await conn.serverClosed(5000, 'the absolute-form answer')
    expect(statusOf(conn.text())).toBe(200)
    expect(conn.text()).toContain(`"path":"${path}"`)
  })

  it.concurrent('answers a good request, then 400 to a malformed one pipelined in the same write, and closes (RFC 9112 §9.3.2)', async ({ onTestFinished }) => {
    const good = `/warm/hit/${id('pipelined-good')}`
    const bad = hit('pipelined-bad')
    const { text } = await refused(onTestFinished, `GET ${good} HTTP/1.1\r\nHost: x\r\n\r\nGET ${bad} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`, 'a pipelined malformed request')
    expect(statuses(text), JSON.stringify(text.slice(0, 600))).toEqual([200, 400])
    expect(text).toContain(`"path":"${good}"`)
  })

  it.concurrent('answers 413 to Expect: 100-continue with a Content-Length over the body limit, without 100 Continue (RFC 9110 §10.1.1)', async ({ onTestFinished }) => {
    const conn = await openRaw(gw.url, onTestFinished)
    await conn.write(`POST ${hit('expect-continue')} HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMITS.bodyLimit * 4}\r\nExpect: 100-continue\r\n\r\n`)
    const text = await conn.waitFor(/HTTP\/1\.1 (?!100)\d{3}[\s\S]*\r\n\r\n/, 5000, 'the final answer to an over-limit 100-continue request')
    expect(statuses(text), JSON.stringify(text.slice(0, 300))).toEqual([413])
    expect(text).not.toMatch(/100 Continue/i)
  })

  it.concurrent('lets a client that declares a body over the limit and keeps writing read its 413, without a reset, 10 times out of 10', async ({ onTestFinished }) => {
    const outcomes = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const socket = connect({ port: Number(new URL(gw.url).port), host: '127.0.0.1' })
      onTestFinished(() => { socket.destroy() })
      let text = ''
      let error = ''
      socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1') })
      socket.on('error', (err: NodeJS.ErrnoException) => { error ||= err.code ?? err.message })
      const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
      await within(5000, 'connecting', new Promise(resolve => socket.once('connect', resolve)))
      const size = 2 * 1024 * 1024
      socket.write(`POST ${hit(`keeps-writing-${i}`)} HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`)
      // Keeps writing 16 KiB at a time (bounded: at most the declared size) until the answer or the close.
      const chunk = Buffer.alloc(16 * 1024, 0x78)
      for (let sent = 0; sent < size && text === '' && error === '' && !socket.destroyed; sent += chunk.length) {
        if (!socket.write(chunk)) await Promise.race([new Promise(resolve => socket.once('drain', resolve)), closed, new Promise(resolve => setTimeout(resolve, 100))])
      }
      await within(8000, `client ${i} seeing the connection end`, closed)
      return { status: statusOf(text), error }
    }))
    expect(outcomes).toEqual(Array.from({ length: 10 }, () => ({ status: 413, error: '' })))
  })
})

describe('raw-socket framing: clients that stall, vanish or never read', () => {
  it.concurrent('forgets a client that sends half its headers and closes', async ({ onTestFinished }) => {
    const conns = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const conn = await openRaw(gw.url, onTestFinished)
      await conn.write(`GET ${hit(`half-${i}`)} HTTP/1.1\r\nHost: x\r\nX-Half: `)
      return conn
    }))
    for (const conn of conns) conn.socket.destroy()
    // Nothing to answer: the check is the invariants below (no fd kept, nothing ran).
    expect(conns.every(conn => conn.text() === '')).toBe(true)
  })

  it.concurrent('cuts off slowloris clients dripping header bytes at headersTimeout with 408, and never runs them', async ({ onTestFinished }) => {
    const drips = await Promise.all(Array.from({ length: 5 }, async (_, i) => {
      const conn = await openRaw(gw.url, onTestFinished)
      await conn.write(`GET ${hit(`slowloris-${i}`)} HTTP/1.1\r\nHost: x\r\nX-Drip: `)
      const dripping = (async () => {
        // Bounded: at most 40 bytes, one every 150 ms, and only while the server keeps the connection.
        for (let n = 0; n < 40 && !conn.isServerClosed(); n++) {
          await new Promise(resolve => setTimeout(resolve, 150))
          await conn.write('a').catch(() => undefined)
        }
      })()
      const closedAfter = await conn.serverClosed(LIMITS.headersTimeoutMs + 3000, `slowloris client ${i} being cut off`)
      await dripping
      return { status: statusOf(conn.text()), closedAfter }
    }))
    for (const drip of drips) {
      expect(drip.status).toBe(408)
      expect(drip.closedAfter).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 100)
    }
  })

  it.concurrent('keeps memory bounded for clients that ask for endless bodies and never read them, in every mode', async ({ onTestFinished }) => {
    // Endless bodies produced on demand (warm, inline, cold: a pull stream; cgi: a script writing forever):
    // only backpressure from the unread socket back to the producer keeps the gateway's memory flat.
    const conns = await Promise.all(['/warm/endless', '/inline/endless', '/cold/endless', '/cgi/infinite.py'].map(async (path) => {
      const conn = await openRaw(gw.url, onTestFinished)
      conn.socket.pause()
      // Pipelined twice: the second answer waits behind a first that never ends.
      await conn.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(2))
      return conn
    }))
    let peak = 0
    // Bounded sampling while nobody reads: 2 s, every 100 ms.
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, rssMb(gw.pid))
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    for (const conn of conns) conn.socket.destroy()
    expect(peak, `peak RSS (baseline ${gw.baseline.rssMb.toFixed(1)} MiB)`).toBeLessThanOrEqual(gw.baseline.rssMb + TOLERANCE.rssMb)
  })

  it.concurrent('survives 200 connections opened at once and dropped, some mid-request', async ({ onTestFinished }) => {
    const port = Number(new URL(gw.url).port)
    const sockets: Socket[] = []
    onTestFinished(() => { for (const socket of sockets) socket.destroy() })
    await within(10_000, 'opening 200 connections', Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const socket = connect({ port, host: '127.0.0.1' })
      sockets.push(socket)
      socket.on('error', () => undefined)
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', reject)
      })
      if (i % 3 === 1) socket.write('GET /warm/ok HTTP/1.1\r\nHost: x\r\n')
      if (i % 3 === 2) socket.write(`POST /warm/hit/dropped-${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart`)
    })))
    for (const socket of sockets) socket.destroy()
    expect(sockets).toHaveLength(200)
  })
})

describe('raw-socket framing: afterwards', () => {
  it('ran none of the refused requests, and the gateway is whole (same pid, health, processes, fds, RSS)', async () => {
    const ran = new Set(hits(gw).map(line => line.split(' ')[1]))
    expect(forbidden.filter(path => ran.has(path))).toEqual([])
    await expectInvariants(gw, 'after the framing attacks')
  })
})
