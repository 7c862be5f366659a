import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { checkAndResolve } from '../../src/config/load.ts'
import { createGateway } from '../../src/index.ts'
import { freePort } from '../front/web-servers.ts'
import { FIXTURES, memoryLogger, startGateway, within } from '../helpers/gateway.ts'

// The operator endpoints and metrics on a real gateway: probes, readiness transitions, and counts after a
// known sequence of requests (README "Health and metrics").

const FAULTS = `${FIXTURES}handlers/faults.ts`
const agent = new Agent()
afterAll(async () => { await within(5000, 'closing the undici agent', agent.close()) })

async function get (url: string, method: 'GET' | 'HEAD' | 'POST' = 'GET'): Promise<{ status: number, body: string, headers: Record<string, string | string[] | undefined> }> {
  const res = await within(10_000, `${method} ${url}`, request(url, { method, dispatcher: agent }))
  return { status: res.statusCode, body: await within(10_000, `body of ${url}`, res.body.text()), headers: res.headers }
}

/** The value of one sample line of a Prometheus exposition, e.g. `warmgate_requests_total{app="hello",…}`. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const [, rawLabels = '', value] = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line) ?? []
    const have = Object.fromEntries([...rawLabels.matchAll(/(\w+)="([^"]*)"/g)].map(m => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(value)
  }
  return undefined
}

describe('health, readiness and metrics', () => {
  it('answers the probes on the main port, never routes them to an app, and refuses other methods', async ({ onTestFinished }) => {
    // An app at '/' would match every path: the prefix must win.
    const { gateway, url, lines } = await startGateway({ apps: { root: { route: '/', entry: FAULTS, workers: { min: 1, max: 1 } } } })
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    expect(await get(`${url}/__warmgate/health`)).toMatchObject({ status: 200, body: '{"status":"ok"}' })
    // Probes are logged at debug, below the default level: they would drown the access log.
    expect(lines.filter(line => line.path === '/__warmgate/health')).toEqual([])
    expect(await get(`${url}/__warmgate/ready`)).toMatchObject({ status: 200, body: '{"status":"ready"}' })
    expect((await get(`${url}/__warmgate/ready`, 'HEAD')).status).toBe(200)
    const post = await get(`${url}/__warmgate/ready`, 'POST')
    expect(post.status).toBe(405)
    expect(post.headers.allow).toBe('GET, HEAD')
    expect((await get(`${url}/__warmgate/nope`)).status).toBe(404)
    expect(JSON.parse((await get(`${url}/ok`)).body)).toHaveProperty('threadId')
    // Same-looking path outside the prefix goes to the app.
    expect((await get(`${url}/__warmgateway/ok`)).status).toBe(200)
    // gw.fetch answers them too.
    expect((await gateway.fetch(new Request('http://local/__warmgate/health'))).status).toBe(200)
  })

  it('says 503 degraded while a warm pool is below workers.min, and 200 once the replacement has loaded', async ({ onTestFinished }) => {
    const { gateway, url } = await startGateway({ apps: { f: { route: '/f', entry: FAULTS, workers: { min: 1, max: 1 } } } })
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    expect((await get(`${url}/f/exit`)).status).toBe(502)
    const seen: string[] = []
    const deadline = performance.now() + 10_000
    while (performance.now() < deadline) {
      const res = await get(`${url}/__warmgate/ready`)
      seen.push(`${res.status} ${res.body}`)
      if (res.status === 200) break
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    expect(seen[0]).toBe('503 {"status":"degraded","app":"f","workers":0,"min":1}')
    expect(seen.at(-1)).toBe('200 {"status":"ready"}')
  })

  it('answers readiness "starting" while the pools prewarm when createGateway listens early, and holds app requests until they serve', async ({ onTestFinished }) => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const creating = createGateway({ apps: { slow: { route: '/slow', entry: `${FIXTURES}handlers/slow-import.ts`, workers: { min: 1, max: 1 } } } }, { logger: memoryLogger().logger, listen: { port, host: '127.0.0.1' } })
    onTestFinished(async () => { await within(10_000, 'closing the gateway', (await creating).close()) })
    let health = await get(`${url}/__warmgate/health`).catch(() => undefined)
    for (let i = 0; health === undefined && i < 100; i++) {
      await new Promise(resolve => setTimeout(resolve, 20))
      health = await get(`${url}/__warmgate/health`).catch(() => undefined)
    }
    // The handler takes 1.5 s to import: all of this happens before createGateway resolves.
    expect(health?.status).toBe(200)
    expect(await get(`${url}/__warmgate/ready`)).toMatchObject({ status: 503, body: '{"status":"starting"}' })
    // Held until the pool serves (server.startupTimeout), not refused.
    const early = await get(`${url}/slow`)
    expect(early).toMatchObject({ status: 200, body: 'loaded' })
    const gateway = await within(15_000, 'createGateway', creating)
    expect(gateway.listening?.url).toBe(url)
    expect((await get(`${url}/__warmgate/ready`)).status).toBe(200)
    expect(await get(`${url}/slow`)).toMatchObject({ status: 200, body: 'loaded' })
  })

  it('stays ready through a reload: the new pools are prewarmed before the swap, the old ones drain behind it', async ({ onTestFinished }) => {
    const { gateway, url } = await startGateway({ apps: { f: { route: '/f', entry: FAULTS, workers: { min: 2, max: 2 } } } })
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    const statuses = new Set<number>()
    let reloading = true
    const reload = gateway.reload().finally(() => { reloading = false })
    let polls = 0
    while (reloading && polls < 2000) {
      statuses.add((await get(`${url}/__warmgate/ready`)).status)
      polls++
    }
    await within(15_000, 'the reload', reload)
    statuses.add((await get(`${url}/__warmgate/ready`)).status)
    expect(polls).toBeGreaterThan(0)
    expect([...statuses]).toEqual([200])
  })

  it('counts a known sequence of requests exactly, by app, mode, status class, error code and worker event', async ({ onTestFinished }) => {
    const { gateway, url } = await startGateway({
      apps: {
        warm: { route: '/warm', entry: FAULTS, workers: { min: 1, max: 1, maxRequests: 3 } },
        inline: { route: '/inline', entry: FAULTS, mode: 'inline' },
        cold: { route: '/cold', entry: FAULTS, mode: 'cold' },
      },
    })
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    for (let i = 0; i < 3; i++) expect((await get(`${url}/warm/ok`)).status).toBe(200)
    expect((await get(`${url}/warm/throw`)).status).toBe(500)
    expect((await get(`${url}/inline/ok`)).status).toBe(200)
    expect((await get(`${url}/cold/ok`)).status).toBe(200)
    expect((await get(`${url}/cold/ok`)).status).toBe(200)
    expect((await get(`${url}/missing`)).status).toBe(404)
    // Probes are not traffic.
    await get(`${url}/__warmgate/health`)
    await get(`${url}/__warmgate/ready`)
    // Cold processes are counted when they exit, which may come just after their response; the recycled
    // thread's successor when it is ready, which on a loaded machine may come after the next requests.
    let text = ''
    const settled = (): boolean => sample(text, 'warmgate_process_seconds_count', { app: 'cold' }) === 2 &&
      sample(text, 'warmgate_workers_started_total', { app: 'warm' }) === 2 &&
      sample(text, 'warmgate_workers', { app: 'warm', state: 'idle' }) === 1
    const deadline = performance.now() + 10_000
    do {
      const res = await get(`${url}/__warmgate/metrics`)
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
      text = res.body
    } while (!settled() && performance.now() < deadline)

    expect(sample(text, 'warmgate_requests_total', { app: 'warm', mode: 'warm', status: '2xx' })).toBe(3)
    expect(sample(text, 'warmgate_requests_total', { app: 'warm', mode: 'warm', status: '5xx' })).toBe(1)
    expect(sample(text, 'warmgate_requests_total', { app: 'inline', mode: 'inline', status: '2xx' })).toBe(1)
    expect(sample(text, 'warmgate_requests_total', { app: 'cold', mode: 'cold', status: '2xx' })).toBe(2)
    expect(sample(text, 'warmgate_requests_total', { app: '', mode: '', status: '4xx' })).toBe(1)
    expect(sample(text, 'warmgate_errors_total', { app: 'warm', code: 'WG_ERR_HANDLER_THREW' })).toBe(1)
    expect(sample(text, 'warmgate_handler_seconds_count', { app: 'warm', mode: 'warm' })).toBe(4)
    expect(sample(text, 'warmgate_queue_seconds_count', { app: 'cold', mode: 'cold' })).toBe(2)
    // maxRequests 3: the third request retired the first thread, a successor started.
    expect(sample(text, 'warmgate_workers_started_total', { app: 'warm' })).toBe(2)
    expect(sample(text, 'warmgate_workers_replaced_total', { app: 'warm', reason: 'recycle' })).toBe(1)
    expect(sample(text, 'warmgate_process_spawns_total', { app: 'cold', mode: 'cold' })).toBe(2)
    expect(sample(text, 'warmgate_process_seconds_count', { app: 'cold', mode: 'cold' })).toBe(2)
    expect(sample(text, 'warmgate_in_flight', { app: 'warm' })).toBe(0)
    expect(sample(text, 'warmgate_queued', { app: 'warm' })).toBe(0)
    // The successor takes requests; the recycled thread may still be stopping, and is not counted idle.
    expect(sample(text, 'warmgate_workers', { app: 'warm', state: 'idle' })).toBe(1)
    expect(sample(text, 'warmgate_workers', { app: 'warm', state: 'retiring' })).toBeLessThanOrEqual(1)
    // The process's own metrics, event-loop lag among them.
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0)
    expect(text).not.toMatch(/__warmgate/)
  }, 40_000)

  it('counts a recycled thread still finishing its ctx.waitUntil work as retiring, not idle', async ({ onTestFinished }) => {
    const { gateway, url } = await startGateway({ apps: { b: { route: '/b', entry: `${FIXTURES}handlers/background.ts`, timeout: 2000, workers: { min: 1, max: 1, maxRequests: 1 } } } })
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    // The one request recycles its thread, whose background work never ends: it stops only at timeout + grace.
    expect((await get(`${url}/b/hold?key=k`)).status).toBe(200)
    let text = ''
    const deadline = performance.now() + 10_000
    do {
      text = (await get(`${url}/__warmgate/metrics`)).body
    } while (sample(text, 'warmgate_workers', { app: 'b', state: 'idle' }) !== 1 && performance.now() < deadline)
    expect(sample(text, 'warmgate_workers', { app: 'b', state: 'idle' })).toBe(1)
    expect(sample(text, 'warmgate_workers', { app: 'b', state: 'retiring' })).toBe(1)
    expect(sample(text, 'warmgate_workers', { app: 'b', state: 'busy' })).toBe(0)
  })

  it('counts a crashed worker as replaced for "crash"', async ({ onTestFinished }) => {
    const { gateway, url } = await startGateway({ apps: { f: { route: '/f', entry: FAULTS, workers: { min: 1, max: 1 } } } })
    onTestFinished(() => within(10_000, 'closing the gateway', gateway.close()))
    expect((await get(`${url}/f/exit`)).status).toBe(502)
    const text = (await get(`${url}/__warmgate/metrics`)).body
    expect(sample(text, 'warmgate_workers_replaced_total', { app: 'f', reason: 'crash' })).toBe(1)
    expect(sample(text, 'warmgate_errors_total', { app: 'f', code: 'WG_ERR_WORKER_DIED' })).toBe(1)
  })

  it('adds Server-Timing when server.serverTiming is on, and not by default', async ({ onTestFinished }) => {
    const on = await startGateway({ server: { serverTiming: true }, apps: { f: { route: '/f', entry: FAULTS, workers: { min: 1, max: 1 } } } })
    onTestFinished(() => within(10_000, 'closing the gateway', on.gateway.close()))
    const timed = await get(`${on.url}/f/wait?ms=50`)
    const match = /^queue;dur=([\d.]+), handler;dur=([\d.]+), mode;desc=warm$/.exec(String(timed.headers['server-timing']))
    expect(match).not.toBeNull()
    expect(Number(match?.[2])).toBeGreaterThanOrEqual(45)
    expect((await get(`${on.url}/f/throw`)).headers['server-timing']).toMatch(/mode;desc=warm/)

    const off = await startGateway({ apps: { f: { route: '/f', entry: FAULTS, workers: { min: 1, max: 1 } } } })
    onTestFinished(() => within(10_000, 'closing the gateway', off.gateway.close()))
    expect((await get(`${off.url}/f/ok`)).headers['server-timing']).toBeUndefined()
  })

  it('serves the endpoints only on server.admin when it is set, and reports "closing" there during a drain', async ({ onTestFinished }) => {
    const { gateway, url, adminUrl } = await startGateway({
      server: { admin: '127.0.0.1:0', adminPrefix: '/ops' },
      apps: { f: { route: '/', entry: FAULTS, workers: { min: 1, max: 1 } } },
    })
    let closed: Promise<void> | undefined
    onTestFinished(() => within(10_000, 'closing the gateway', closed ?? gateway.close()))
    expect((await get(`${url}/ops/health`)).status).toBe(404)
    expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(await get(`${adminUrl}/ops/health`)).toMatchObject({ status: 200 })
    expect((await get(`${adminUrl}/ok`)).status).toBe(404)
    expect((await get(`${adminUrl}/__warmgate/health`)).status).toBe(404)

    const slow = get(`${url}/wait?ms=1500`)
    await new Promise(resolve => setTimeout(resolve, 200))
    closed = gateway.close()
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(await get(`${adminUrl}/ops/ready`)).toMatchObject({ status: 503, body: '{"status":"closing"}' })
    expect((await get(`${adminUrl}/ops/health`)).status).toBe(200)
    expect((await slow).status).toBe(200)
    await within(10_000, 'the drain', closed)
    await expect(request(`${adminUrl}/ops/health`, { dispatcher: agent })).rejects.toThrow(/ECONNREFUSED/)
  })

  it('rejects bad server.admin, server.adminPrefix and server.serverTiming values naming the key', () => {
    expect(() => checkAndResolve({ server: { admin: 'localhost' }, apps: {} }, { baseDir: '/' })).toThrow(/server\.admin/)
    expect(() => checkAndResolve({ server: { admin: 70000 }, apps: {} }, { baseDir: '/' })).toThrow(/server\.admin/)
    expect(() => checkAndResolve({ server: { adminPrefix: 'ops/' }, apps: {} }, { baseDir: '/' })).toThrow(/server\.adminPrefix/)
    expect(() => checkAndResolve({ server: { serverTiming: 'yes' as unknown as boolean }, apps: {} }, { baseDir: '/' })).toThrow(/server\.serverTiming/)
    const ok = checkAndResolve({ server: { admin: '[::1]:9091' }, apps: { a: { route: '/', entry: FAULTS } } }, { baseDir: '/' })
    expect(ok.server.ops.admin).toEqual({ host: '::1', port: 9091 })
  })
})
