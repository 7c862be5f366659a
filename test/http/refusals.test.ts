import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Agent } from 'undici'
import { describe, expect, it } from 'vitest'
import type { AppConfig, GatewayConfig, Mode, ServerConfig } from '../../src/index.ts'
import { FIXTURES, startGateway, within, type Started } from '../helpers/gateway.ts'
import { accessLines, handler } from '../runtime/support.ts'
import { headOf, openRaw, ranPaths, statusOf } from './support.ts'

// What the front door refuses although Node's parser accepts it, and how a refusal reaches a client that is
// still sending: over raw sockets, with the counter fixture recording every path a handler ran.

const run = promisify(execFile)
const FLOOD = `${FIXTURES}clients/flood-over-limit.mjs`

type Defer = (fn: () => Promise<void> | void) => void

interface Harness extends Started {
  /** Paths the counter app ran since this harness started. */
  ran (): Promise<string[]>
}

async function open (defer: Defer, mode: Mode, server: ServerConfig = {}): Promise<Harness> {
  const apps: Record<string, AppConfig> = { c: { route: '/c', entry: handler('counter.ts'), workers: { min: 1, max: 1 } } }
  const config: GatewayConfig = { server, apps }
  const started = await within(15_000, `starting a ${mode} gateway`, startGateway(config, { mode }))
  defer(() => within(10_000, 'closing the gateway', started.gateway.close()))
  const agent = new Agent()
  defer(() => within(5000, 'closing the undici agent', agent.close()))
  // Inline apps share one module instance per process: count from here.
  const before = (await ranPaths(agent, started.url, '/c')).length
  const ran = async (): Promise<string[]> => (await ranPaths(agent, started.url, '/c')).slice(mode === 'inline' ? before : 0)
  return { ...started, ran }
}

/** The responses in raw text, in order: status and the head of each (bodies are counter JSON or error text). */
function statuses (text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map(match => Number(match[1]))
}

describe.each(['inline', 'warm'] as const)('%s app: requests the parser takes but the gateway refuses', (mode) => {
  it.for([
    ['the same case', 'Host: a.example\r\nHost: b.example'],
    ['different cases', 'Host: a.example\r\nhOST: a.example'],
    ['an empty second one', 'Host: a.example\r\nHost: '],
  ])('answers 400 to two Host headers (%s) and runs nothing (RFC 9112 §3.2)', async ([, hosts], { onTestFinished }) => {
    const h = await open(onTestFinished, mode)
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write(`GET /c/two-hosts HTTP/1.1\r\n${hosts}\r\nx-request-id: two-hosts\r\n\r\n`)
    const text = await conn.waitFor(/\r\n\r\n[\s\S]*\n/, 3000, '400 for two Host headers')
    expect(statusOf(text)).toBe(400)
    expect(headOf(text)).toContain('connection: close')
    await conn.serverClosed(3000, 'server closing after the 400')
    expect(accessLines(h.lines, 'two-hosts').map(line => line.status)).toEqual([400])
    expect(h.lines.find(line => line.reqId === 'two-hosts' && line.code === 'WG_ERR_BAD_REQUEST')?.msg).toMatch(/more than one Host/)
    expect(await h.ran()).toEqual([])
  })

  it('answers an HTTP/0.9 request line (no version) with 400, closes, and runs nothing (RFC 9112 §3)', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode)
    const conn = await openRaw(h.url, onTestFinished)
    // Node's parser takes a line with no version as HTTP/0.9 and ends its (empty) header section at the blank line.
    await conn.write('GET /c/zero-nine\r\n\r\n')
    const text = await conn.waitFor(/\r\n\r\n[\s\S]*\n/, 3000, '400 for HTTP/0.9')
    expect(statusOf(text)).toBe(400)
    expect(headOf(text)).toContain('connection: close')
    await conn.serverClosed(3000, 'server closing after the 400')
    expect(await h.ran()).toEqual([])
  })

  it('never runs a lone HTTP/0.9 request line: it waits for a header section and times out with 408', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode, { headersTimeout: '500ms', requestTimeout: '500ms' })
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('GET /c/zero-nine-alone\r\n')
    await conn.serverClosed(5000, 'server closing after the 408')
    expect(statuses(conn.text())).toEqual([408])
    expect(await h.ran()).toEqual([])
  })

  it('answers requests pipelined before a malformed one, in order, then 400 and close (RFC 9112 §9.3.2)', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode)
    const conn = await openRaw(h.url, onTestFinished)
    // One write: two good requests (the second with a body) and then one the parser rejects.
    await conn.write('GET /c/q1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /c/q2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGARBAGE NOT-HTTP\r\n\r\n')
    await conn.serverClosed(5000, 'server closing after the 400')
    const text = conn.text()
    expect(statuses(text)).toEqual([200, 200, 400])
    expect(text).toContain('{"path":"/c/q1","bytes":0}')
    expect(text).toContain('{"path":"/c/q2","bytes":3}')
    expect(text.indexOf('/c/q1')).toBeLessThan(text.indexOf('/c/q2'))
    expect(text.slice(text.lastIndexOf('HTTP/1.1 ')).toLowerCase()).toContain('connection: close')
    expect(await h.ran()).toEqual(['/c/q1', '/c/q2'])
  })

  it('answers a request whose own body is malformed with 400 only, not its handler', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode)
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('POST /c/bad-chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')
    await conn.serverClosed(5000, 'server closing after the 400')
    expect(statuses(conn.text())).toEqual([400])
  })
})

describe.each(['inline', 'warm'] as const)('%s app: Expect: 100-continue', (mode) => {
  it('answers 413 without a 100 when the declared length is over the body limit (RFC 9110 §10.1.1)', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode, { bodyLimit: '1kb' })
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('POST /c/expect-big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000000\r\n\r\n')
    await conn.serverClosed(5000, 'server closing after the 413')
    expect(statuses(conn.text())).toEqual([413])
    expect(conn.text()).not.toContain('100 Continue')
    expect(headOf(conn.text())).toContain('connection: close')
    expect(await h.ran()).toEqual([])
  })

  it('sends 100 Continue for a body within the limit, then the answer', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode, { bodyLimit: '1kb' })
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('POST /c/expect-ok HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n')
    // The client sends the body only once it has the 100.
    await conn.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/, 3000, '100 Continue')
    await conn.write('hello')
    const text = await conn.waitFor(/"bytes":5\}/, 3000, 'the answer after the body')
    expect(statuses(text)).toEqual([100, 200])
    expect(await h.ran()).toEqual(['/c/expect-ok'])
  })

  it('answers 404 for an unrouted path without a 100, and closes since the body may or may not follow', async ({ onTestFinished }) => {
    const h = await open(onTestFinished, mode)
    const conn = await openRaw(h.url, onTestFinished)
    await conn.write('POST /nowhere HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n')
    await conn.serverClosed(5000, 'server closing after the 404')
    expect(statuses(conn.text())).toEqual([404])
    expect(headOf(conn.text())).toContain('connection: close')
  })
})

/** The flood client's results, run in a process of its own (see the fixture). */
async function floodOverLimit (url: string, prefix: string, chunked: boolean, tries: number): Promise<Array<{ text: string, error?: string }>> {
  const { stdout } = await within(60_000, `flooding ${prefix}`, run(process.execPath, [FLOOD, url, prefix, chunked ? 'chunked' : 'content-length', String(tries)]))
  return JSON.parse(stdout) as Array<{ text: string, error?: string }>
}

describe.each(['inline', 'warm'] as const)('%s app: a client still sending when refused', (mode) => {
  it.for([['Content-Length', false], ['chunked', true]] as const)('reads the 413 in 10 of 10 tries (%s; RFC 9112 §9.6 lingering close)', async ([, chunked], { onTestFinished }) => {
    const h = await open(onTestFinished, mode, { bodyLimit: '1kb' })
    const results = await floodOverLimit(h.url, '/c/flood', chunked, 10)
    // Whatever the transport error after it (the client's own EPIPE once the gateway is gone), the answer arrived.
    expect(results.map(result => statusOf(result.text))).toEqual(Array(10).fill(413))
    for (const result of results) expect(result.text).toMatch(/413 Payload Too Large \(request [^)]+\)\n$/)
    // A chunked body streams into a warm handler, which may have started; a declared one never runs.
    if (!chunked) expect(await h.ran()).toEqual([])
  })
})
