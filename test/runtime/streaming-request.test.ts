import { once } from 'node:events'
import { connect } from 'node:net'
import { PassThrough } from 'node:stream'
import { request } from 'undici'
import { describe, expect, it, type TestContext } from 'vitest'
import type { GatewayConfig, Mode } from '../../src/index.ts'
import type { StreamReport } from '../fixtures/handlers/stream.ts'
import { codesOf, within } from '../helpers/gateway.ts'
import { bytesOf, post } from '../fidelity/support.ts'
import { type CaseContext, eventually, handler, openGateway, type Harness } from './support.ts'

// Request bodies above the threshold (or chunked) stream into the handler's `request.body` as they
// arrive, in warm and inline mode (README "Streaming"); the body limit still holds mid-way.

const LIMIT = 8 * 1024 * 1024
const CONFIG: GatewayConfig = {
  apps: {
    stream: { route: '/stream', entry: handler('stream.ts'), workers: { min: 1, max: 1 }, timeout: '10s', bodyLimit: LIMIT },
    echo: { route: '/echo', entry: handler('echo-hash.ts'), workers: { min: 1, max: 1 }, timeout: '10s', bodyLimit: LIMIT },
  },
}

const MODES = ['warm', 'inline'] as const satisfies readonly Mode[]
let keys = 0
const newKey = (): string => `u${process.pid}-${++keys}-${Date.now()}`

function context (mode: Mode, { onTestFinished }: TestContext): CaseContext {
  return { mode, defer: (fn) => onTestFinished(async () => { await fn() }) }
}

async function report (h: Harness, key: string): Promise<StreamReport> {
  return (await h.send(`/stream/report?key=${key}`)).json<StreamReport>()
}

describe.each(MODES)('%s mode: request body streaming', (mode) => {
  it('hands a chunked upload to the handler as it arrives: half of 5 MB is seen before the rest is sent', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const key = newKey()
    const upload = new PassThrough()
    const half = 2.5 * 1024 * 1024
    const answer = within(15_000, 'POST /stream/upload', request(`${h.url}/stream/upload?key=${key}`, { method: 'POST', body: upload, dispatcher: h.agent }))
    answer.catch(() => {}) // awaited below; a failure on the way must not go unhandled meanwhile
    upload.write(Buffer.alloc(half, 97))
    // The client holds the second half back; the handler has already read the first.
    const midway = await eventually(5000, 'the handler to see the first half', async () => {
      const r = await report(h, key)
      return r.seen >= half ? r : undefined
    })
    expect(midway.seen).toBe(half)
    expect(midway.done).toBe(false)
    upload.end(Buffer.alloc(half, 98))
    const res = await answer
    expect(res.statusCode).toBe(200)
    expect(await within(5000, 'the upload answer', res.body.json())).toEqual({ seen: 2 * half, streamed: true })
  })

  // Regression: in warm mode a body whose last chunk and end reached the worker in the same batch as its
  // request (every small chunked body, and bodies just over the streaming threshold) was handed to the
  // handler empty.
  it('hands a small chunked body, written in one piece or in five, to the handler whole', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const body = Buffer.from('hello')
    for (const pieces of [[body], [...body].map(byte => Buffer.from([byte]))]) {
      const res = await post(`${h.url}/echo/x`, body, { framing: 'chunked', pieces })
      expect(res.status).toBe(200)
      expect(res.body.toString()).toBe('hello')
      expect(res.headers['x-received-length']).toBe('5')
    }
  })

  it('hands bodies just over the streaming threshold (65,537, 70,000 and 100,000 bytes) to the handler whole, ten times each', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    for (const size of [65_537, 70_000, 100_000]) {
      for (let i = 0; i < 10; i++) {
        const body = bytesOf(size, size + i)
        const res = await post(`${h.url}/echo/x`, body, { framing: 'length' })
        expect(res.status).toBe(200)
        expect(res.headers['x-received-length']).toBe(String(size))
        expect(res.body.equals(body), `${size} bytes, try ${i}`).toBe(true)
      }
    }
  })

  it('reads a large body whole with await request.text()', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const text = `head-${'x'.repeat(3 * 1024 * 1024)}-tail`
    const res = await h.send('/stream/text', { method: 'POST', body: text, headers: { 'content-type': 'text/plain' }, ms: 15_000 })
    expect(res.status).toBe(200)
    expect(res.json()).toEqual({ length: text.length, head: text.slice(0, 8), tail: text.slice(-8) })
  })

  it('answers 413 and closes the connection when a chunked body crosses bodyLimit mid-way', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, CONFIG)
    const id = `big-${newKey()}`
    const { hostname, port } = new URL(h.url)
    const socket = connect(Number(port), hostname)
    ctx.defer(() => socket.destroy())
    await within(5000, 'connecting', once(socket, 'connect'))
    let received = ''
    socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
    const closed = once(socket, 'close')
    socket.write(`POST /stream/upload HTTP/1.1\r\nHost: local\r\nx-request-id: ${id}\r\nTransfer-Encoding: chunked\r\n\r\n`)
    // 1 MiB chunks up to just past the limit, then nothing more: every byte sent is read by the gateway.
    const chunk = Buffer.alloc(1024 * 1024, 99)
    for (let sent = 0; sent <= LIMIT; sent += chunk.byteLength) {
      socket.write(`${chunk.byteLength.toString(16)}\r\n`)
      socket.write(chunk)
      socket.write('\r\n')
    }
    await within(10_000, 'the gateway to close the connection', closed)
    expect(received).toMatch(/^HTTP\/1\.1 413 /)
    expect(received.toLowerCase()).toContain('connection: close')
    expect(codesOf(h.lines, id)).toContain('WG_ERR_BODY_TOO_LARGE')
    // The app keeps serving.
    expect((await h.send('/stream/small')).status).toBe(200)
  })

  it('still refuses a declared Content-Length above bodyLimit before dispatch', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const key = newKey()
    const res = await h.send(`/stream/upload?key=${key}`, { method: 'POST', body: Buffer.alloc(LIMIT + 1), ms: 15_000 })
    expect(res.status).toBe(413)
    expect((await report(h, key)).seen).toBe(0)
  })
})
