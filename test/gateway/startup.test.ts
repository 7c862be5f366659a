import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { encodeParams } from '../../src/fastcgi/params.ts'
import { encodeBeginRequest, encodeRecord, RecordType, Role } from '../../src/fastcgi/records.ts'
import { createGateway, type Gateway, type GatewayConfig, type GatewayOptions } from '../../src/index.ts'
import { MAIN, NODE } from '../helpers/cli.ts'
import { codesOf, FIXTURES, memoryLogger, within } from '../helpers/gateway.ts'
import { cgiParams, FcgiPeer } from '../front/support.ts'
import { freePort } from '../front/web-servers.ts'

// The port opens before the pools are prewarmed (`warmgate start`, createGateway's `listen`). A request
// that arrives then waits for its app, up to server.startupTimeout, instead of a 503; health answers at
// once and readiness stays 503 until every pool is ready. slow-start.ts takes 0.7 s to import.

const SLOW = `${FIXTURES}handlers/slow-start.ts`
const ECHO = `${FIXTURES}handlers/echo-hash.ts`
const agent = new Agent()
afterAll(async () => { await within(5000, 'closing the undici agent', agent.close()) })

interface Early { creating: Promise<Gateway>, url: string, port: number, lines: Array<Record<string, unknown>> }

/** createGateway with `listen`, not awaited: the port answers while the apps start. Closed when the test ends. */
async function startEarly (config: GatewayConfig, defer: (fn: () => Promise<void>) => void, options: GatewayOptions = {}): Promise<Early> {
  const port = await freePort()
  const { logger, lines } = memoryLogger()
  const creating = createGateway(config, { logger, listen: { port, host: '127.0.0.1' }, ...options })
  creating.catch(() => {})
  defer(async () => { await within(15_000, 'closing the gateway', creating.then(async gw => gw.close(), () => {})) })
  const url = `http://127.0.0.1:${port}`
  // Bounded: the port opens within a few ms of createGateway's call.
  for (let i = 0; i < 250; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) break
    await sleep(20)
  }
  return { creating, url, port, lines }
}

async function get (url: string, init: { method?: string, body?: string, headers?: Record<string, string> } = {}): Promise<{ status: number, body: string, headers: Record<string, string | string[] | undefined> }> {
  const res = await within(20_000, `${init.method ?? 'GET'} ${url}`, request(url, { ...init, dispatcher: agent }))
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}

describe('start-up refuses nothing', () => {
  it('holds requests that arrive while a pool prewarms and answers them once it serves; health is 200 at once, readiness 503 until then', async ({ onTestFinished }) => {
    const early = await startEarly({ apps: { slow: { route: '/slow', entry: SLOW, workers: { min: 1, max: 1 } } } }, onTestFinished)
    const t0 = performance.now()
    const health = await get(`${early.url}/__warmgate/health`)
    expect(health.status).toBe(200)
    expect(await get(`${early.url}/__warmgate/ready`)).toMatchObject({ status: 503, body: '{"status":"starting"}' })
    // Health did not wait for the pool.
    expect(performance.now() - t0).toBeLessThan(1000)
    let created = false
    void early.creating.then(() => { created = true })
    const answers = await Promise.all([get(`${early.url}/slow`), get(`${early.url}/slow/x`), get(`${early.url}/nowhere`)])
    expect(answers.map(a => a.status)).toEqual([200, 200, 404])
    expect(answers[0].body).toBe('loaded')
    expect(created).toBe(true)
    expect((await get(`${early.url}/__warmgate/ready`)).status).toBe(200)
  })

  it.for(['warm', 'inline'] as const)('hands a body sent while the %s app starts to its handler whole', async (mode, { onTestFinished }) => {
    const early = await startEarly({
      apps: {
        slow: { route: '/slow', entry: SLOW, mode, workers: { min: 1, max: 1 } },
        echo: { route: '/echo', entry: ECHO, mode, workers: { min: 1, max: 1 } },
      },
    }, onTestFinished)
    const body = 'x'.repeat(200_000)
    const res = await get(`${early.url}/echo/in`, { method: 'POST', body })
    expect(res.status).toBe(200)
    expect(res.body).toBe(body)
    expect(res.headers['x-received-length']).toBe('200000')
  })

  it('answers 503 WG_ERR_STARTING with Retry-After, logged with the request id, once server.startupTimeout passes', async ({ onTestFinished }) => {
    const early = await startEarly({ server: { startupTimeout: '200ms' }, apps: { slow: { route: '/slow', entry: SLOW, workers: { min: 1, max: 1 } } } }, onTestFinished)
    const t0 = performance.now()
    const res = await get(`${early.url}/slow`, { headers: { 'x-request-id': 'early-bird' } })
    const waited = performance.now() - t0
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBe('1')
    expect(res.body).toContain('request early-bird')
    expect(waited).toBeGreaterThanOrEqual(150)
    expect(codesOf(early.lines, 'early-bird')).toEqual(['WG_ERR_STARTING'])
    await within(15_000, 'createGateway', early.creating)
    expect((await get(`${early.url}/slow`)).status).toBe(200)
  })

  it('refuses at once with server.startupTimeout 0', async ({ onTestFinished }) => {
    const early = await startEarly({ server: { startupTimeout: 0 }, apps: { slow: { route: '/slow', entry: SLOW, workers: { min: 1, max: 1 } } } }, onTestFinished)
    const res = await get(`${early.url}/slow`, { headers: { 'x-request-id': 'no-wait' } })
    expect(res.status).toBe(503)
    expect(codesOf(early.lines, 'no-wait')).toEqual(['WG_ERR_STARTING'])
  })

  it('answers the waiting requests 503 when start-up fails, and leaves nothing listening', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-startup-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const entry = join(dir, 'late-throw.mjs')
    writeFileSync(entry, "await new Promise(resolve => setTimeout(resolve, 800))\nthrow new Error('broken at import')\n")
    const early = await startEarly({ apps: { broken: { route: '/b', entry, workers: { min: 1, max: 1 } } } }, onTestFinished)
    const waiting = get(`${early.url}/b`, { headers: { 'x-request-id': 'doomed' } })
    await expect(early.creating).rejects.toThrow()
    const res = await waiting
    expect(res.status).toBe(503)
    expect(codesOf(early.lines, 'doomed')).toEqual(['WG_ERR_STARTING'])
    await expect(get(`${early.url}/b`)).rejects.toThrow()
  })

  it('forgets a client that gives up while it waits, and drains normally after', async ({ onTestFinished }) => {
    const early = await startEarly({ apps: { slow: { route: '/slow', entry: SLOW, workers: { min: 1, max: 1 } } } }, onTestFinished)
    const gone = new AbortController()
    const abandoned = request(`${early.url}/slow`, { dispatcher: agent, signal: gone.signal })
    abandoned.catch(() => {})
    await sleep(100)
    gone.abort()
    const gateway = await within(15_000, 'createGateway', early.creating)
    expect((await get(`${early.url}/slow`)).status).toBe(200)
    const t0 = performance.now()
    await within(10_000, 'closing the gateway', gateway.close())
    // Nothing was left entered: close() did not wait for server.shutdownTimeout.
    expect(performance.now() - t0).toBeLessThan(5000)
  })

  it('holds a FastCGI request (its STDIN included) while the apps start, then answers it', async ({ onTestFinished }) => {
    const fastcgiPort = await freePort()
    const early = await startEarly({
      server: { fastcgi: { listen: `127.0.0.1:${fastcgiPort}` } },
      apps: {
        slow: { route: '/slow', entry: SLOW, workers: { min: 1, max: 1 } },
        echo: { route: '/echo', entry: ECHO, workers: { min: 1, max: 1 } },
      },
    }, onTestFinished)
    const peer = await FcgiPeer.connect(`127.0.0.1:${fastcgiPort}`)
    onTestFinished(() => peer.close())
    const body = Buffer.alloc(150_000, 7)
    peer.send(
      encodeBeginRequest(1, Role.RESPONDER, false),
      encodeRecord(RecordType.PARAMS, 1, encodeParams(Object.entries(cgiParams('POST', '/echo/x', { CONTENT_LENGTH: String(body.length), CONTENT_TYPE: 'application/octet-stream' })))),
      encodeRecord(RecordType.PARAMS, 1, new Uint8Array(0)),
    )
    for (let at = 0; at < body.length; at += 65_535) peer.send(encodeRecord(RecordType.STDIN, 1, body.subarray(at, at + 65_535)))
    peer.send(encodeRecord(RecordType.STDIN, 1, new Uint8Array(0)))
    const res = await peer.response(1, 'the held FastCGI request', 20_000)
    expect(res.status).toBe(200)
    expect(res.body.equals(body)).toBe(true)
  })

  it('keeps a pool scaled to zero (workers.min 0) from refusing: its first request waits for the import', async ({ onTestFinished }) => {
    const { logger } = memoryLogger()
    const gateway = await createGateway({ apps: { slow: { route: '/slow', entry: SLOW, workers: { min: 0, max: 1 } } } }, { logger })
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    const { url } = await gateway.listen({ port: 0, host: '127.0.0.1' })
    expect(await get(`${url}/slow`)).toMatchObject({ status: 200, body: 'loaded' })
  })

  it('keeps answering 200 through a reload of an app whose import takes 0.7 s', async ({ onTestFinished }) => {
    const { logger } = memoryLogger()
    const gateway = await createGateway({ apps: { slow: { route: '/slow', entry: SLOW, workers: { min: 1, max: 1 } } } }, { logger })
    onTestFinished(() => within(15_000, 'closing the gateway', gateway.close()))
    const { url } = await gateway.listen({ port: 0, host: '127.0.0.1' })
    let reloading = true
    const reload = gateway.reload().finally(() => { reloading = false })
    const statuses: number[] = []
    while (reloading && statuses.length < 500) statuses.push((await get(`${url}/slow`)).status)
    await within(15_000, 'the reload', reload)
    expect(statuses.length).toBeGreaterThan(0)
    expect(new Set(statuses)).toEqual(new Set([200]))
  })

  it('answers 200 to the first request sent as soon as `warmgate start` opens its port', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-startup-cli-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const port = await freePort()
    writeFileSync(join(dir, 'gateway.config.mjs'), `export default { server: { host: '127.0.0.1', port: ${port} }, apps: { slow: { route: '/slow', entry: ${JSON.stringify(SLOW)} } } }\n`)
    const child = spawn(NODE, [MAIN, 'start', '--config', join(dir, 'gateway.config.mjs')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise(resolve => child.once('close', resolve))
    onTestFinished(async () => {
      child.kill('SIGTERM')
      await within(15_000, 'warmgate start to exit', exited)
    })
    let first: { status: number, body: string } | undefined
    for (let i = 0; first === undefined && i < 500; i++) {
      first = await get(`http://127.0.0.1:${port}/slow`).catch(() => undefined)
      if (first === undefined) await sleep(20)
    }
    expect(first).toMatchObject({ status: 200, body: 'loaded' })
  })
})
