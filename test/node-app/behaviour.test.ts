import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { describe, expect, it, type TestContext } from 'vitest'
import type { GatewayConfig, Mode } from '../../src/index.ts'
import { killCli, startCli } from '../helpers/cli.ts'
import { FIXTURES } from '../helpers/gateway.ts'
import { eventually, openGateway, rawGet, type CaseContext, type Harness } from '../runtime/support.ts'

// What a Node-style app does beyond one plain answer: streams both ways, timeouts and client aborts as
// `aborted`/`close` events, errors that escape the framework, in the modes that can show each.
const EXPRESS = `${FIXTURES}node-apps/express.ts`
const config = (timeout = '5s'): GatewayConfig => ({
  server: { bodyLimit: '200mb' },
  apps: { express: { route: '/n', entry: EXPRESS, timeout, workers: { min: 1, max: 1 } } },
})

function context (mode: Mode, t: TestContext): CaseContext {
  return { mode, defer: (fn) => t.onTestFinished(async () => { await fn() }) }
}

let keys = 0
const newKey = (): string => `k${process.pid}-${++keys}`

async function events (h: Harness, key: string): Promise<Record<string, unknown>> {
  return (await h.send(`/n/events/${key}`)).json<Record<string, unknown>>()
}


/** The pattern the fixture's /n/download writes, `size` bytes of it, chunk by chunk. */
function* pattern (size: number): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789')
  for (let sent = 0; sent < size; sent += chunk.byteLength) yield chunk
}

/** The highest RSS seen while `work` runs, sampled every 20 ms, above what it was before. */
async function peakRssGrowth<T> (work: () => Promise<T>): Promise<{ result: T, growthMb: number }> {
  globalThis.gc?.()
  const before = process.memoryUsage.rss()
  let peak = before
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 20)
  try {
    const result = await work()
    peak = Math.max(peak, process.memoryUsage.rss())
    return { result, growthMb: (peak - before) / 1024 / 1024 }
  } finally {
    clearInterval(timer)
  }
}

const MB100 = 100 * 1024 * 1024

async function upload (h: Harness, size: number): Promise<{ status: number, bytes: number, sha256: string, expected: string }> {
  const expected = createHash('sha256')
  const body = Readable.from((function * () { for (const chunk of pattern(size)) { expected.update(chunk); yield chunk } })())
  const res = await request(`${h.url}/n/upload`, { method: 'POST', body, dispatcher: h.agent, headers: { 'content-type': 'application/octet-stream' } })
  const json = await res.body.json() as { bytes: number, sha256: string }
  return { status: res.statusCode, ...json, expected: expected.digest('hex') }
}

async function download (h: Harness, mb: number): Promise<{ status: number, length: unknown, bytes: number, sha256: string }> {
  const res = await request(`${h.url}/n/download?mb=${mb}`, { dispatcher: h.agent })
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of res.body) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).byteLength
  }
  return { status: res.statusCode, length: res.headers['content-length'], bytes, sha256: hash.digest('hex') }
}

// RSS is measured after a 32 MiB transfer the same way: the heaps of both threads have grown to their
// working size by then, so what is left is what the transfer itself holds (measured: 400 MiB through after
// a first 100 MiB grew RSS by 18 MiB, where buffering would hold the whole body on each side).
describe('warm mode: 100 MB each way through an Express app, in bounded memory', () => {
  it('uploads 100 MB streamed into the app, every byte intact, the gateway holding far less than the body', async (t) => {
    const h = await openGateway(context('warm', t), config('60s'))
    expect((await upload(h, 32 * 1024 * 1024)).status).toBe(200)
    const { result, growthMb } = await peakRssGrowth(async () => upload(h, MB100))
    expect(result.status).toBe(200)
    expect(result.bytes).toBe(MB100)
    expect(result.sha256).toBe(result.expected)
    expect(growthMb, 'RSS growth in MiB while 100 MiB went through').toBeLessThan(64)
  }, 60_000)

  it('a slow app holds the upload back: the client gets only a bounded amount ahead of what the app has read', async (t) => {
    const h = await openGateway(context('warm', t), config('60s'))
    const key = newKey()
    let sent = 0
    const body = Readable.from((function * () { for (const chunk of pattern(64 * 1024 * 1024)) { sent += chunk.byteLength; yield chunk } })())
    const pending = request(`${h.url}/n/upload?delay=20&key=${key}`, { method: 'POST', body, dispatcher: h.agent })
    t.onTestFinished(() => { body.destroy() })
    pending.catch(() => {})
    await eventually(5000, 'the app to read', async () => ((await events(h, key)).consumed !== undefined ? true : undefined))
    await sleep(1000)
    const consumed = Number((await events(h, key)).consumed)
    // Without backpressure the whole 64 MiB is sent at once, into the gateway's memory.
    expect(sent - consumed).toBeLessThan(16 * 1024 * 1024)
  }, 30_000)

  it('downloads 100 MB written by the app with res.write(), every byte intact, in bounded memory', async (t) => {
    const h = await openGateway(context('warm', t), config('60s'))
    expect((await download(h, 32)).bytes).toBe(32 * 1024 * 1024)
    const { result, growthMb } = await peakRssGrowth(async () => download(h, 100))
    const expected = createHash('sha256')
    for (const chunk of pattern(MB100)) expected.update(chunk)
    expect(result).toEqual({ status: 200, length: String(MB100), bytes: MB100, sha256: expected.digest('hex') })
    expect(growthMb, 'RSS growth in MiB while 100 MiB went through').toBeLessThan(64)
  }, 60_000)
})

describe.each(['warm', 'inline'] as const)('%s mode: backpressure and client aborts reach the app as on a socket', (mode) => {
  it('res.write() returns false while the client reads nothing: the app produces only a bounded amount ahead', async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config('30s'))
    const key = newKey()
    const socket = await rawGet(ctx, h.url, `/n/download?mb=64&key=${key}`)
    socket.pause()
    await eventually(5000, 'the download to start', async () => ((await events(h, key)).produced !== undefined ? true : undefined))
    await sleep(1000)
    const held = Number((await events(h, key)).produced)
    await sleep(500)
    expect(Number((await events(h, key)).produced)).toBe(held)
    expect(held).toBeLessThan(8 * 1024 * 1024)
    let received = 0
    socket.on('data', (chunk: Buffer) => { received += chunk.byteLength })
    socket.resume()
    await eventually(20_000, 'all 64 MiB to arrive', async () => ((await events(h, key)).done === true && received > 64 * 1024 * 1024 ? true : undefined))
  }, 40_000)

  it("a client that goes away mid-request: the app sees req 'aborted' and 'close'", async (t) => {
    const ctx = context(mode, t)
    const h = await openGateway(ctx, config('30s'))
    const key = newKey()
    const socket = await rawGet(ctx, h.url, `/n/hang?key=${key}`)
    await eventually(5000, 'the app to start', async () => ((await events(h, key)).started === true ? true : undefined))
    socket.destroy()
    await eventually(5000, 'the app to see the client go', async () => {
      const e = await events(h, key)
      return e.aborted === true && e.reqClose === true && e.resClose === true ? e : undefined
    })
  })
})

describe.each(['warm', 'inline', 'cold'] as const)('%s mode: streaming responses and chunked requests', (mode) => {
  it('sends Server-Sent Events as the app writes them: the head and first event long before the last', async (t) => {
    const h = await openGateway(context(mode, t), config('10s'))
    const started = performance.now()
    const res = await request(`${h.url}/n/sse`, { dispatcher: h.agent })
    expect(res.headers['content-type']).toBe('text/event-stream')
    const events: Array<{ text: string, ms: number }> = []
    for await (const chunk of res.body) events.push({ text: String(chunk), ms: performance.now() - started })
    expect(events.map(e => e.text).join('')).toBe('data: event 0\n\ndata: event 1\n\ndata: event 2\n\n')
    // The first event is out ~600 ms before the response ends (two 300 ms gaps follow it).
    expect(events[events.length - 1].ms - events[0].ms).toBeGreaterThan(400)
  }, 20_000)

  it('streams a chunked upload as chunked (warm, inline), or hands it over whole with a Content-Length (cold, which takes bodies whole)', async (t) => {
    const h = await openGateway(context(mode, t), config('10s'))
    const body = Readable.from([Buffer.from('hello '), Buffer.from('chunked world')])
    const res = await request(`${h.url}/n/seen-headers`, { method: 'POST', body, dispatcher: h.agent })
    const seen = mode === 'cold' ? { contentLength: '19', transferEncoding: null } : { contentLength: null, transferEncoding: 'chunked' }
    expect(await res.body.json()).toEqual({ ...seen, bytes: 19 })
  }, 20_000)
})

describe('inline mode (warmgate start): errors that escape the framework', () => {
  it('a throw from a timer and a forgotten rejection each answer 500 with the request id; the gateway keeps serving', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-node-inline-'))
    t.onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'gateway.config.ts'), `export default { apps: { express: { route: '/n', entry: ${JSON.stringify(EXPRESS)}, mode: 'inline', timeout: '10s' } } }\n`)
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
    const cli = await startCli(['--port', '0', '--host', '127.0.0.1'], dir)
    t.onTestFinished(() => killCli(cli))
    for (const path of ['/n/timer-throw', '/n/forgotten']) {
      const res = await request(cli.url + path)
      const text = await res.body.text()
      expect(res.statusCode, path).toBe(500)
      expect(text).toContain(String(res.headers['x-request-id']))
    }
    const res = await request(cli.url + '/n/hello')
    expect(await res.body.text()).toBe('hello from express')
    expect(cli.child.exitCode).toBe(null)
  }, 40_000)
})
