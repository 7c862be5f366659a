import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { describe, expect, it, type TestContext } from 'vitest'
import type { GatewayConfig, Mode } from '../../src/index.ts'
import { generated } from '../fixtures/handlers/generate.ts'
import type { StreamReport } from '../fixtures/handlers/stream.ts'
import { within } from '../helpers/gateway.ts'
import { type CaseContext, eventually, handler, openGateway, rawGet, type Harness } from './support.ts'

// A handler's ReadableStream body streams to the client as it is produced (README "Streaming"), in
// both modes that run fetch handlers in this process: across the thread boundary (warm) and inline.

const CONFIG: GatewayConfig = {
  apps: {
    stream: { route: '/stream', entry: handler('stream.ts'), workers: { min: 1, max: 1 }, timeout: '10s' },
    generate: { route: '/generate', entry: handler('generate.ts'), workers: { min: 1, max: 1 }, timeout: '10s' },
  },
}

const MODES = ['warm', 'inline'] as const satisfies readonly Mode[]
let keys = 0
const newKey = (): string => `k${process.pid}-${++keys}-${Date.now()}`

function context (mode: Mode, { onTestFinished }: TestContext): CaseContext {
  return { mode, defer: (fn) => onTestFinished(async () => { await fn() }) }
}

async function report (h: Harness, key: string): Promise<StreamReport> {
  return (await h.send(`/stream/report?key=${key}`)).json<StreamReport>()
}


describe.each(MODES)('%s mode: response streaming', (mode) => {
  it('sends the first bytes before the handler finishes: the first chunk arrives well before the 500 ms gap ends', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const started = performance.now()
    const res = await within(5000, 'GET /stream/gap', request(`${h.url}/stream/gap`, { dispatcher: h.agent }))
    const arrivals: Array<{ at: number, text: string }> = []
    await within(5000, 'reading /stream/gap', (async () => {
      for await (const chunk of res.body) arrivals.push({ at: performance.now() - started, text: (chunk as Buffer).toString() })
    })())
    expect(arrivals.map(a => a.text).join('')).toBe('firstsecond')
    expect(arrivals[0].text).toBe('first')
    expect(arrivals[0].at).toBeLessThan(300)
    expect(arrivals.at(-1)?.at).toBeGreaterThan(450)
  })

  it('streams through gateway.fetch too: the first chunk is readable before the handler finishes', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const started = performance.now()
    const res = await h.fetch('/stream/gap')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const first = await within(5000, 'first chunk via gateway.fetch', reader.read())
    const firstAt = performance.now() - started
    expect(new TextDecoder().decode(first.value)).toBe('first')
    expect(firstAt).toBeLessThan(300)
    let rest = ''
    for (let r = await reader.read(); !r.done; r = await within(5000, 'rest via gateway.fetch', reader.read())) rest += new TextDecoder().decode(r.value)
    expect(rest).toBe('second')
    expect(performance.now() - started).toBeGreaterThan(450)
  })

  it('delivers Server-Sent Events one by one as the handler writes them', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const res = await within(5000, 'GET /stream/sse', request(`${h.url}/stream/sse`, { dispatcher: h.agent }))
    expect(res.headers['content-type']).toBe('text/event-stream')
    const events: Array<{ at: number, data: string }> = []
    let buffered = ''
    await within(5000, 'reading the event stream', (async () => {
      for await (const chunk of res.body) {
        buffered += (chunk as Buffer).toString()
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          events.push({ at: performance.now(), data: /data: (.*)/.exec(buffered.slice(0, end))?.[1] ?? '' })
          buffered = buffered.slice(end + 2)
        }
      }
    })())
    expect(events.map(e => e.data)).toEqual(['event 1', 'event 2', 'event 3'])
    // 150 ms apart at the handler: each arrived on its own, not all at the end.
    expect(events[1].at - events[0].at).toBeGreaterThan(100)
    expect(events[2].at - events[1].at).toBeGreaterThan(100)
  })

  // Regression: a body chunk that used the worker's whole stream window at once (a 256 KiB Blob is one
  // chunk) stalled the response for good in warm mode, both through the socket and through gateway.fetch.
  it('sends Blob bodies of one stream window and more whole, through the socket and gateway.fetch', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    for (const size of [256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 1_000_000]) {
      const expected = generated('blob', size, size)
      const viaSocket = await h.send(`/generate/blob?size=${size}&seed=${size}`)
      expect(viaSocket.body.equals(expected), `${size} bytes through the socket`).toBe(true)
      const viaFetch = await h.fetch(`/generate/blob?size=${size}&seed=${size}`)
      expect(Buffer.from(await viaFetch.arrayBuffer()).equals(expected), `${size} bytes through gateway.fetch`).toBe(true)
    }
  })

  it('keeps the fast path for a complete body (Content-Length) and streams a produced one chunked', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const small = await h.send('/stream/small')
    expect(small.text()).toBe('a small body\n')
    expect(small.headers['content-length']).toBe('13')
    expect(small.headers['transfer-encoding']).toBeUndefined()
    const gap = await h.send('/stream/gap')
    expect(gap.text()).toBe('firstsecond')
    expect(gap.headers['content-length']).toBeUndefined()
    expect(gap.headers['transfer-encoding']).toBe('chunked')
  })

  it('leaves the handler its own chunks: a module-level chunk streamed in every response stays intact', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    for (let i = 0; i < 3; i++) {
      const res = await h.send('/stream/constant')
      expect(res.status).toBe(200)
      expect(res.text()).toBe('the same bytes every time\n'.repeat(2))
    }
  })

  it('holds a fast handler back while the client reads nothing: it produces only a bounded amount ahead', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, CONFIG)
    const key = newKey()
    const socket = await rawGet(ctx, h.url, `/stream/flood?mb=64&key=${key}`)
    socket.pause() // reads nothing: the kernel buffers fill, then the gateway must stop pulling
    await eventually(5000, 'the flood to start', async () => ((await report(h, key)).produced > 0 ? true : undefined))
    await sleep(1000)
    const held = (await report(h, key)).produced
    await sleep(500)
    const later = (await report(h, key)).produced
    // Without backpressure all 64 MB are produced within milliseconds; with it, the handler stalls at
    // the gateway's window plus the socket buffers.
    expect(later).toBe(held)
    expect(held).toBeLessThan(8 * 1024 * 1024)
    // Reading resumes the flow; the whole body arrives.
    let received = 0
    socket.on('data', (chunk: Buffer) => { received += chunk.byteLength })
    socket.resume()
    await eventually(15_000, 'the whole 64 MB to arrive', async () => ((await report(h, key)).done && received > 64 * 1024 * 1024 ? true : undefined))
  })

  it('cancels the handler\'s stream and aborts ctx.signal when the client disconnects mid-stream', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, CONFIG)
    const key = newKey()
    const socket = await rawGet(ctx, h.url, `/stream/flood?mb=1024&key=${key}`)
    await within(5000, 'the first bytes of the flood', once(socket, 'data'))
    socket.destroy()
    const seen = await eventually(5000, 'the handler to see the cancel', async () => {
      const r = await report(h, key)
      return r.cancelled && r.signalAborted ? r : undefined
    })
    expect(seen.done).toBe(false)
  })

  it('closes the connection when the handler\'s stream errors mid-way, logs it with the request id, and keeps serving', async (t) => {
    const h = await openGateway(context(mode, t), CONFIG)
    const id = `fail-${newKey()}`
    const res = await within(5000, 'GET /stream/fail', request(`${h.url}/stream/fail`, { dispatcher: h.agent, headers: { 'x-request-id': id } }))
    expect(res.statusCode).toBe(200)
    let got = ''
    const outcome = await within(5000, 'reading a body that breaks', (async () => {
      try {
        for await (const chunk of res.body) got += (chunk as Buffer).toString()
        return 'ended'
      } catch {
        return 'aborted'
      }
    })())
    expect(outcome).toBe('aborted')
    expect(got).toBe('partial')
    const logged = await eventually(5000, 'the error line', () => h.lines.find(line => line.reqId === id && line.level === 50 && line.msg !== 'request'))
    expect(logged.code).toBe('WG_ERR_HANDLER_THREW')
    expect((await h.send('/stream/small')).text()).toBe('a small body\n')
  })

  it('keeps the app timeout running over a streamed body: past it the connection closes and the handler is cancelled', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, { apps: { stream: { ...CONFIG.apps.stream, timeout: 300 } } })
    const key = newKey()
    const id = `slowpoke-${key}`
    const started = performance.now()
    const res = await within(5000, 'GET a body that outlives the timeout', request(`${h.url}/stream/flood?mb=100000&key=${key}`, { dispatcher: h.agent, headers: { 'x-request-id': id } }))
    const outcome = await within(5000, 'the body to be cut off', (async () => {
      try {
        for await (const _ of res.body) { /* read as fast as it comes */ }
        return 'ended'
      } catch {
        return 'aborted'
      }
    })())
    expect(outcome).toBe('aborted')
    expect(performance.now() - started).toBeGreaterThan(250)
    const seen = await eventually(5000, 'the handler to see the cancel', async () => {
      const r = await report(h, key)
      return r.cancelled && r.signalAborted ? r : undefined
    })
    expect(seen.done).toBe(false)
    expect(h.lines.some(line => line.reqId === id && line.code === 'WG_ERR_TIMEOUT')).toBe(true)
  })
})
