import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bench, type BenchProgress, type ModeResult } from '../../src/index.ts'
import { checkOptions } from '../../src/bench/select.ts'
import { FIXTURES, within } from '../helpers/gateway.ts'
import { childrenOf } from './support.ts'

// Real runs: gateways in child processes, wrk (or the Node generator) in another, /proc for CPU and RSS.
// Kept short (1 s measured + 1 s warm-up a run, few connections) so the file stays well under a minute.
const CONFIG = join(FIXTURES, 'bench', 'gateway.config.ts')
/** echo (its bench key: PUT /echo/config?from=config with a body) and hono (404 at its route). */
const REQUEST_CONFIG = join(FIXTURES, 'bench', 'request.config.ts')
const SHORT = { durationMs: 1000, rounds: 1, connections: 4 }

/** What this process started and did not reap: a bench must leave nothing behind. */
const ourChildren = (): string[] => childrenOf(process.pid).map(p => p.cmdline).filter(cmd => !cmd.includes('vitest'))

function expectSpread (s: { median: number, min: number, max: number }): void {
  expect(Number.isFinite(s.median)).toBe(true)
  expect(s.min).toBeLessThanOrEqual(s.median)
  expect(s.max).toBeGreaterThanOrEqual(s.median)
}

function expectMeasured (m: ModeResult): void {
  expectSpread(m.requestsPerSecond)
  expect(m.requestsPerSecond.median).toBeGreaterThan(0)
  for (const p of [m.latencyMs.p50, m.latencyMs.p90, m.latencyMs.p99, m.latencyMs.max]) expectSpread(p)
  expect(m.latencyMs.p50.median).toBeLessThanOrEqual(m.latencyMs.p99.median)
  expect(m.errors).toEqual({ non2xx: 0, timeouts: 0, resets: 0, other: 0 })
  expect(m.peakRssMb.median).toBeGreaterThan(10)
  expect(m.cpuMsPerRequest.median).toBeGreaterThan(0)
  expect(m.firstRequestMs.median).toBeGreaterThan(0)
  expect(m.otherCores?.median).toBeGreaterThanOrEqual(0)
}

describe('bench()', () => {
  it('measures the shipped hello workload in inline, warm and cold mode and leaves no process behind', async () => {
    const progress: BenchProgress[] = []
    const seenDuringRun = new Set<string>()
    const onProgress = (p: BenchProgress): void => {
      progress.push(p)
      for (const cmd of ourChildren()) seenDuringRun.add(cmd)
    }
    const result = await within(50_000, 'bench() of hello in three modes', bench({ ...SHORT, apps: ['hello'], modes: ['inline', 'warm', 'cold'], cwd: '/', onProgress }))
    // The check below sees the gateways while they run, so an empty list afterwards means they are gone.
    expect([...seenDuringRun].some(cmd => cmd.includes('src/bench/serve.ts'))).toBe(true)
    expect(ourChildren()).toEqual([])

    expect(result.machine.cpus).toBeGreaterThan(0)
    expect(result.machine.node).toBe(process.version)
    expect(['wrk', 'node']).toContain(result.options.loadGenerator)
    expect(result.options).toMatchObject({ rounds: 1, durationMs: 1000, connections: 4 })
    expect(result.options.cold.connections).toBeGreaterThan(0)
    expect(result.tookMs).toBeGreaterThan(3 * 2000)
    expect(result.apps).toHaveLength(1)
    const [app] = result.apps
    expect(app).toMatchObject({ app: 'hello', kind: 'warm', route: '/hello', path: '/hello' })
    expect(app.modes.map(m => m.mode)).toEqual(['inline', 'warm', 'cold'])
    for (const m of app.modes) {
      expectMeasured(m)
      expect(m.vsInline?.requestsPerSecond).toBeGreaterThan(0)
      expect(m.vsInline?.p99).toBeGreaterThan(0)
    }
    const [inline, warm, cold] = app.modes
    expect(inline.vsInline).toEqual({ requestsPerSecond: 1, p99: 1 })
    expect(inline.connections).toBe(4)
    expect(cold.connections).toBe(result.options.cold.connections)
    expect(warm.perWorkerMb?.median).toBeGreaterThanOrEqual(0)
    expect(inline.perWorkerMb).toBeUndefined()
    // A process per request: far slower than the warm pool even on a loaded machine.
    expect(cold.requestsPerSecond.median).toBeLessThan(warm.requestsPerSecond.median)
    expect(JSON.parse(JSON.stringify(result))).toEqual(result)

    expect(progress.length).toBeGreaterThan(3)
    expect(new Set(progress.map(p => p.mode))).toEqual(new Set(['inline', 'warm', 'cold']))
    expect(progress.every(p => p.runs === 3 && p.run >= 1 && p.run <= 3 && p.rounds === 1 && p.durationMs === 2000)).toBe(true)
    expect(progress.some(p => p.currentRps > 0)).toBe(true)
  }, 60_000)

  it("measures every app of a config: handler apps in the chosen modes, cgi apps as 'cgi' at one of their scripts (Node load generator)", async () => {
    const result = await within(40_000, 'bench() of a config', bench({ ...SHORT, config: CONFIG, modes: ['warm'], loadGenerator: 'node' }))
    expect(ourChildren()).toEqual([])
    expect(result.options.loadGenerator).toBe('node')
    expect(result.apps.map(a => [a.app, a.kind, a.path, a.modes.map(m => m.mode)])).toEqual([
      ['greet', 'warm', '/greet', ['warm']],
      ['scripts', 'cgi', '/scripts/hello.sh', ['cgi']],
    ])
    for (const app of result.apps) for (const m of app.modes) expectMeasured(m)
    // No inline run: no ratio to show.
    expect(result.apps[0].modes[0].vsInline).toBeUndefined()
  }, 45_000)

  it.each([
    ['an unknown app', { apps: ['nope'] }],
    ['an unknown mode', { modes: ['hot'] }],
    ['no modes', { modes: [] }],
    ['0 rounds', { rounds: 0 }],
    ['a duration under 1 s', { durationMs: 10 }],
    ['0 connections', { connections: 0 }],
    ['an unknown load generator', { loadGenerator: 'ab' }],
    ['a method that is no token', { method: 'G T' }],
    ['CONNECT', { method: 'CONNECT' }],
    ['a path that does not start with / or ?', { path: 'users' }],
    ['a body that is no string or bytes', { body: 42 }],
    ['headers that are no object', { headers: 'content-type: text/plain' }],
    ['a header name that is no token', { headers: { 'X Y': '1' } }],
    ['a Content-Length header', { headers: { 'Content-Length': '5' } }],
    ['a header value with a line break', { headers: { 'x-a': 'a\r\nb: c' } }],
    ['HEAD with wrk, which cannot measure it', { method: 'HEAD', loadGenerator: 'wrk' }],
  ])('rejects %s with WG_ERR_BENCH_OPTIONS before starting anything', async (_label, options) => {
    await expect(bench({ ...SHORT, cwd: '/', ...options } as never)).rejects.toMatchObject({ code: 'WG_ERR_BENCH_OPTIONS' })
    expect(ourChildren()).toEqual([])
  })

  it('rejects a fastcgi app named in apps with WG_ERR_BENCH_OPTIONS (its backend is not ours to measure)', async () => {
    await expect(bench({ ...SHORT, config: join(FIXTURES, 'bench', 'fastcgi.config.ts'), apps: ['php'] })).rejects.toMatchObject({ code: 'WG_ERR_BENCH_OPTIONS', message: expect.stringMatching(/'php' is a fastcgi app/) })
    expect(ourChildren()).toEqual([])
    const checked = await checkOptions({ config: join(FIXTURES, 'bench', 'fastcgi.config.ts') }, { rounds: 1, durationMs: 1000, connections: 1 })
    expect(checked.targets.map(target => target.name), 'the apps measured by default').toEqual(['greet'])
  })

  it('names the bad request option and what it expected', async () => {
    await expect(bench({ ...SHORT, cwd: '/', method: 'G T' })).rejects.toThrow("bench: method: expected an HTTP method token, got 'G T'")
    await expect(bench({ ...SHORT, cwd: '/', headers: { 'x-a': 'a\nb' } })).rejects.toThrow(/^bench: headers\.x-a: expected a string of visible ASCII/)
  })

  it("requests what an app's bench key says; options override it field by field and header by header; HEAD is measured with the Node generator", async () => {
    const defaults = { rounds: 1, durationMs: 1000, connections: 1 }
    const fromConfig = await checkOptions({ config: REQUEST_CONFIG, loadGenerator: 'wrk' }, defaults)
    expect(fromConfig.targets.map(t => [t.name, t.path, t.request.method, t.request.headers, t.request.body?.toString()])).toEqual([
      ['echo', '/echo/config?from=config', 'PUT', { 'content-type': 'text/plain' }, 'from-config'],
      ['hono', '/hono', 'GET', {}, undefined],
    ])
    const overridden = await checkOptions({ config: REQUEST_CONFIG, apps: ['echo'], path: '?q=1', body: new Uint8Array([0, 255]), headers: { 'X-Extra': 'a', 'CONTENT-TYPE': 'application/octet-stream' } }, defaults)
    expect(overridden.targets[0].path).toBe('/echo?q=1')
    expect(overridden.targets[0].request).toEqual({ method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'x-extra': 'a' }, body: new Uint8Array([0, 255]) })
    // A body without a method anywhere: POST, as curl -d does.
    const shipped = await checkOptions({ cwd: '/', apps: ['hello'], path: '/', body: 'x' }, defaults)
    expect([shipped.targets[0].path, shipped.targets[0].request.method]).toEqual(['/hello/', 'POST'])
    expect((await checkOptions({ cwd: '/', apps: ['hello'], method: 'head' }, defaults)).loadGenerator).toBe('node')
  })

  it("measures an app with the request of its bench key, and reports a run that fails (an app answering 404) without stopping the others (Node load generator)", async () => {
    const progress: BenchProgress[] = []
    const result = await within(30_000, 'bench() of echo and hono', bench({ ...SHORT, config: REQUEST_CONFIG, modes: ['inline'], loadGenerator: 'node', onProgress: p => progress.push(p) }))
    expect(ourChildren()).toEqual([])
    const [echo, hono] = result.apps
    // echo answers 400 to any other method, body or Content-Type: no errors means each request was the PUT asked for.
    expect(echo).toMatchObject({ app: 'echo', path: '/echo/config?from=config', method: 'PUT', headers: { 'content-type': 'text/plain' }, bodyBytes: 11, failures: [] })
    expect(echo.modes.map(m => m.mode)).toEqual(['inline'])
    expectMeasured(echo.modes[0])
    expect(hono).toMatchObject({ app: 'hono', path: '/hono', method: 'GET', headers: {}, modes: [] })
    expect(hono.bodyBytes).toBeUndefined()
    expect(hono.failures).toEqual([{ mode: 'inline', round: 1, stage: 'first-request', reason: 'GET /hono answered 404: 404 Not Found' }])
    expect(result.runs).toEqual({ total: 2, failed: 1 })
    expect(progress.filter(p => p.failed !== undefined)).toMatchObject([{ app: 'hono', mode: 'inline', run: 2, runs: 2, failed: 'GET /hono answered 404: 404 Not Found' }])
    expect(JSON.parse(JSON.stringify(result))).toEqual(result)
  }, 35_000)

  it('rejects an app the config does not have, naming the apps it has', async () => {
    await expect(bench({ ...SHORT, config: CONFIG, apps: ['hello'] })).rejects.toThrow(/'hello'.*greet, scripts/)
  })

  it('stops every child process when its signal is aborted mid-run, and rejects with WG_ERR_BENCH_FAILED', async () => {
    const controller = new AbortController()
    let seen = 0
    const run = bench({ ...SHORT, durationMs: 5000, apps: ['hello'], modes: ['warm'], cwd: '/', signal: controller.signal, onProgress: () => { if (++seen === 2) controller.abort() } })
    await expect(within(20_000, 'an aborted bench() settling', run)).rejects.toMatchObject({ code: 'WG_ERR_BENCH_FAILED' })
    expect(seen).toBeGreaterThanOrEqual(2)
    expect(ourChildren()).toEqual([])
  }, 25_000)
})
