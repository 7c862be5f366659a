import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import type { Gateway, GatewayConfig, Mode } from '../../src/index.ts'
import { checkAndResolve } from '../../src/config/load.ts'
import { AppTable } from '../../src/gateway/app-table.ts'
import { replaceApps } from '../../src/gateway/reload.ts'
import type { GatewayRequest } from '../../src/types.ts'
import { memoryLogger, startGateway, within, type Started } from '../helpers/gateway.ts'
import { eventually } from '../runtime/support.ts'

// gw.reload(): new code and config are picked up, a bad one leaves the old version serving, and requests
// under load do not fail while the runtimes are swapped. Handlers and configs are written to a temp dir.

const DIR = mkdtempSync(join(tmpdir(), 'wg-reload-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))
/** A fresh directory with a handler `app.ts` answering `body`. */
function project (body: string): string {
  const dir = mkdtempSync(join(DIR, 'project-'))
  writeHandler(dir, body)
  return dir
}

function writeHandler (dir: string, body: string, file = 'app.ts'): void {
  writeFileSync(join(dir, file), `export default () => new Response(${JSON.stringify(body)})\n`)
}

function writeConfig (dir: string, text: string): string {
  const file = join(dir, 'gateway.config.mjs')
  writeFileSync(file, text)
  return file
}

async function open (config: GatewayConfig | { configFile: string }, onTestFinished: (fn: () => Promise<void>) => void, options: { baseDir?: string } = {}): Promise<Started & { get: (path: string) => Promise<{ status: number, body: string }> }> {
  const started = await within(15_000, 'starting the gateway', startGateway(config as GatewayConfig, options))
  const agent = new Agent()
  onTestFinished(async () => {
    await within(15_000, 'closing the gateway', started.gateway.close())
    await within(5000, 'closing the undici agent', agent.close())
  })
  const get = (path: string): Promise<{ status: number, body: string }> => within(5000, `GET ${path}`, request(started.url + path, { dispatcher: agent })
    .then(async res => ({ status: res.statusCode, body: await res.body.text() })))
  return { ...started, get }
}

async function reload (gateway: Gateway): Promise<void> {
  await within(20_000, 'reload()', gateway.reload())
}

/** The rejection of `promise` (fails the test if it resolves). */
interface Rejection { message: string, code?: string, cause?: { code?: string } }

async function rejection (promise: Promise<unknown>, label: string): Promise<Rejection> {
  const outcome = await within(20_000, label, promise.then(() => undefined, (error: unknown) => error))
  expect(outcome, `${label} should have rejected`).toBeInstanceOf(Error)
  return outcome as Rejection
}

/** Threads of this process (worker threads are OS threads), from /proc. */
function threads (): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1])
}

describe('gw.reload()', () => {
  it.for(['warm', 'inline'] as const)('%s: answers with the rewritten handler once reload() resolves, every time', async (mode: Mode, { onTestFinished }) => {
    const dir = project('v1')
    const config: GatewayConfig = { apps: { app: { route: '/app', entry: './app.ts', mode, workers: { min: 1, max: 2 } } } }
    const { gateway, get } = await open(config, onTestFinished, { baseDir: dir })
    expect(await get('/app')).toEqual({ status: 200, body: 'v1' })
    for (const version of ['v2', 'v3']) {
      writeHandler(dir, version)
      await reload(gateway)
      expect(await get('/app')).toEqual({ status: 200, body: version })
    }
    // The old runtimes are stopped: one pool of `min` workers is left.
    expect(gateway.stats().app).toMatchObject({ inFlight: 0, workers: mode === 'warm' ? 1 : 0 })
  })

  it('re-reads a config file: a new app answers, a removed one is gone', async ({ onTestFinished }) => {
    const dir = project('one')
    writeHandler(dir, 'two', 'two.ts')
    const configFile = writeConfig(dir, "export default { apps: { one: { route: '/one', entry: './app.ts', mode: 'inline' } } }\n")
    const { gateway, get, lines } = await open({ configFile }, onTestFinished)
    expect(await get('/two')).toMatchObject({ status: 404 })
    writeConfig(dir, "export default { server: { port: 1 }, apps: { two: { route: '/two', entry: './two.ts', mode: 'inline' } } }\n")
    await reload(gateway)
    expect(await get('/two')).toEqual({ status: 200, body: 'two' })
    expect(await get('/one')).toMatchObject({ status: 404 })
    expect(gateway.routes().map(route => route.app)).toEqual(['two'])
    // The socket stays where it is, and the config says so; a warning names the change.
    expect(gateway.config.server.port).toBe(8080)
    expect(lines.some(line => line.level === 40 && /server\.host\/port changes need a restart/.test(String(line.msg)))).toBe(true)
  })

  it('starts the spawn helper when a reload adds the first cold app', async ({ onTestFinished }) => {
    const dir = project('inline')
    writeHandler(dir, 'cold', 'cold.ts')
    const configFile = writeConfig(dir, "export default { apps: { app: { route: '/app', entry: './app.ts', mode: 'inline' } } }\n")
    const { gateway, get } = await open({ configFile }, onTestFinished)
    writeConfig(dir, "export default { apps: { app: { route: '/app', entry: './app.ts', mode: 'inline' }, cold: { route: '/cold', entry: './cold.ts', mode: 'cold' } } }\n")
    await reload(gateway)
    expect(await get('/cold')).toEqual({ status: 200, body: 'cold' })
    expect(await get('/app')).toEqual({ status: 200, body: 'inline' })
  })

  it('keeps the old version serving and rejects with WG_ERR_RELOAD_FAILED when the new config is invalid', async ({ onTestFinished }) => {
    const dir = project('old')
    const configFile = writeConfig(dir, "export default { apps: { app: { route: '/app', entry: './app.ts', workers: { min: 1, max: 2 } } } }\n")
    const { gateway, get, lines } = await open({ configFile }, onTestFinished)
    writeHandler(dir, 'new')
    writeConfig(dir, "export default { apps: { app: { route: '/app', entry: './app.ts', workers: { min: 1, max: -1 } } } }\n")
    const error = await rejection(gateway.reload(), 'reload() with an invalid config')
    expect(error.code).toBe('WG_ERR_RELOAD_FAILED')
    expect(error.cause?.code).toBe('WG_ERR_CONFIG_INVALID')
    expect(await get('/app')).toEqual({ status: 200, body: 'old' })
    const logged = lines.find(line => line.level === 50 && /reload failed/.test(String(line.msg)))
    expect(logged?.code).toBe('WG_ERR_CONFIG_INVALID')
    expect(String(logged?.msg)).toMatch(/apps\.app\.workers\.max/)
  })

  it.for(['warm', 'inline'] as const)('%s: keeps the old version serving when the new handler throws at import, and leaks no runtime', async (mode: Mode, { onTestFinished }) => {
    const dir = project('old')
    const config: GatewayConfig = { apps: { app: { route: '/app', entry: './app.ts', mode, workers: { min: 1, max: 2 } } } }
    const { gateway, get, lines } = await open(config, onTestFinished, { baseDir: dir })
    const before = gateway.stats().app
    writeFileSync(join(dir, 'app.ts'), "throw new Error('broken on purpose')\n")
    const error = await rejection(gateway.reload(), 'reload() with a handler that throws at import')
    expect(error.code).toBe('WG_ERR_RELOAD_FAILED')
    expect(error.cause?.code).toBe('WG_ERR_HANDLER_LOAD')
    expect(await get('/app')).toEqual({ status: 200, body: 'old' })
    expect(gateway.stats().app.workers).toBe(before.workers)
    expect(lines.some(line => line.level === 50 && line.code === 'WG_ERR_HANDLER_LOAD' && /broken on purpose/.test(String(line.msg)))).toBe(true)
    // Fixed again, the next reload goes through.
    writeHandler(dir, 'fixed')
    await reload(gateway)
    expect(await get('/app')).toEqual({ status: 200, body: 'fixed' })
  })

  it('serves a request routed before the swap on the old version, even while its body is still arriving', async ({ onTestFinished }) => {
    const dir = project('old')
    const { gateway, url } = await open({ apps: { app: { route: '/app', entry: './app.ts', workers: { min: 1, max: 1 } } } }, onTestFinished, { baseDir: dir })
    const { hostname, port } = new URL(url)
    const socket = connect({ host: hostname, port: Number(port) })
    onTestFinished(() => { socket.destroy() })
    let text = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
    socket.write('POST /app HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf.')
    await sleep(300) // the head has been read and routed; the body waits for the rest
    writeHandler(dir, 'new')
    let reloaded = false
    const reloading = gateway.reload().then(() => { reloaded = true })
    await eventually(10_000, 'the new version to be swapped in', async () => (await (await gateway.fetch(new Request('http://local/app'))).text()) === 'new' ? true : undefined)
    await sleep(100)
    expect(reloaded, 'reload() waits for the old version to drain').toBe(false)
    socket.write('half.')
    await eventually(5000, 'the response', () => /\r\n\r\n.+$/.test(text) ? true : undefined)
    expect(text).toMatch(/^HTTP\/1\.1 200 /)
    expect(text).toMatch(/\r\n\r\nold$/)
    await within(10_000, 'reload() resolving once the old version drained', reloading)
  })

  it('runs calls made during a reload as one more reload after it', async ({ onTestFinished }) => {
    const dir = project('v1')
    const { gateway, get, lines } = await open({ apps: { app: { route: '/app', entry: './app.ts', workers: { min: 1, max: 1 } } } }, onTestFinished, { baseDir: dir })
    const first = gateway.reload()
    writeHandler(dir, 'v2') // written after the first reload started: only a later one can see it
    const second = gateway.reload()
    const third = gateway.reload()
    expect(third).toBe(second)
    await within(20_000, 'the reloads', Promise.all([first, second]))
    expect(lines.filter(line => line.msg === 'reloaded')).toHaveLength(2)
    expect(await get('/app')).toEqual({ status: 200, body: 'v2' })
  })

  it('replaces a warm pool that grew under load by one as large, started before the swap', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(DIR, 'project-'))
    writeFileSync(join(dir, 'app.ts'), 'export default async (request: Request) => {\n' +
      '  await new Promise(resolve => setTimeout(resolve, Number(new URL(request.url).searchParams.get("ms") ?? 0)))\n' +
      '  return new Response("ok")\n}\n')
    const { gateway, get, lines } = await open({ apps: { app: { route: '/app', entry: './app.ts', workers: { min: 1, max: 3 } } } }, onTestFinished, { baseDir: dir })
    expect(gateway.stats().app.workers).toBe(1)
    // Three requests at once, each holding its thread: the pool grows to its max.
    await eventually(10_000, 'the pool to grow to 3 threads', async () => {
      await Promise.all([get('/app?ms=300'), get('/app?ms=300'), get('/app?ms=300')])
      return gateway.stats().app.workers === 3 ? true : undefined
    })
    const startedBefore = lines.filter(line => line.msg === 'reloaded').length
    await reload(gateway)
    expect(lines.filter(line => line.msg === 'reloaded')).toHaveLength(startedBefore + 1)
    // The old pool is stopped once reload() resolves: these are the new pool's threads, all ready.
    expect(gateway.stats().app).toMatchObject({ workers: 3, retiringWorkers: 0 })
    expect(await get('/app')).toEqual({ status: 200, body: 'ok' })
  })

  it('close() during a reload leaves no worker thread behind', async ({ onTestFinished }) => {
    const dir = project('v1')
    const baseline = threads()
    const { gateway } = await open({ apps: { app: { route: '/app', entry: './app.ts', workers: { min: 2, max: 2 } } } }, onTestFinished, { baseDir: dir })
    expect(threads()).toBeGreaterThanOrEqual(baseline + 2)
    const reloading = gateway.reload().then(() => 'reloaded', (error: { code?: string }) => error.code)
    await eventually(5000, 'the new pool to start its threads', () => threads() >= baseline + 3 ? true : undefined)
    await within(15_000, 'close() during the reload', gateway.close())
    // Either it swapped before close (its pool drained by close) or it gave up: never a pool left running.
    expect(['reloaded', 'WG_ERR_RELOAD_FAILED']).toContain(await within(15_000, 'the reload settling', reloading))
    await eventually(5000, `threads back to ${baseline}`, () => threads() <= baseline ? true : undefined)
    await expect(rejection(gateway.reload(), 'reload() after close')).resolves.toMatchObject({ code: 'WG_ERR_RELOAD_FAILED' })
  })
})

describe('replaceApps (the core that reload and a future per-app reload share)', () => {
  it('rebuilds only the named apps; the others keep their runtime', async ({ onTestFinished }) => {
    const dir = project('a1')
    writeHandler(dir, 'b1', 'b.ts')
    const { logger } = memoryLogger()
    const config = checkAndResolve({ apps: { a: { route: '/a', entry: './app.ts', mode: 'inline' }, b: { route: '/b', entry: './b.ts', mode: 'inline' } } }, { baseDir: dir })
    const table = new AppTable(config, logger)
    table.swap(config, await within(10_000, 'building the first apps', table.build(config.apps)))
    onTestFinished(async () => { await within(10_000, 'closing the table', table.close(performance.now() + 1000)) })
    const [oldA, oldB] = table.apps
    const get = (path: string): GatewayRequest => ({ id: `replace${path.replace('/', '-')}`, method: 'GET', url: `http://local${path}`, headers: [], body: null })
    writeHandler(dir, 'a2')
    writeHandler(dir, 'b2', 'b.ts')
    await within(10_000, 'replacing app a', replaceApps(table, config, new Set(['a'])))
    const [newA, sameB] = table.apps
    expect(newA).not.toBe(oldA)
    expect(sameB).toBe(oldB)
    expect(oldA.runtime.stats()).toMatchObject({ inFlight: 0 })
    const body = async (path: string): Promise<string> => {
      const app = table.router.match(path)
      const res = await within(5000, `GET ${path}`, Promise.resolve((app as NonNullable<typeof app>).respond(get(path), new AbortController())))
      return Buffer.from(res.body as Uint8Array).toString('utf8')
    }
    expect(await body('/a')).toBe('a2')
    expect(await body('/b')).toBe('b1')
    // The replaced runtime is closed: it takes no request any more.
    await expect(oldA.runtime.dispatch(get('/a'), new AbortController())).rejects.toMatchObject({ code: 'WG_ERR_RUNTIME_CLOSED' })
  })
})

describe('gw.reload() under load (soak)', () => {
  it('at least 3000 requests at concurrency 8, going on across 3 reloads: every one 200, no connection error', async ({ onTestFinished }) => {
    const dir = project('v0')
    const config: GatewayConfig = { apps: { app: { route: '/app', entry: './app.ts', mode: 'warm', workers: { min: 1, max: 2 } } } }
    const { gateway, url } = await open(config, onTestFinished, { baseDir: dir })
    const agent = new Agent({ connections: 8 })
    onTestFinished(async () => { await within(5000, 'closing the load agent', agent.close()) })
    const TOTAL = 3000
    const PAYLOAD = Buffer.alloc(256 * 1024, 'x')
    let sent = 0
    let reloaded = false
    const statuses = new Map<number, number>()
    const bodies = new Set<string>()
    const errors: string[] = []
    const loop = async (): Promise<void> => {
      // The load outlasts the reloads, however long they take on a busy machine (the test bounds it).
      while (sent < TOTAL || !reloaded) {
        sent++
        try {
          // Every other request has a body: it is routed before its body is read, so a reload can swap the
          // router while it is read; it must still be served by the app it was routed to.
          const res = sent % 2 === 0
            ? await request(`${url}/app`, { dispatcher: agent })
            : await request(`${url}/app`, { dispatcher: agent, method: 'POST', body: PAYLOAD })
          bodies.add(await res.body.text())
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        } catch (error) {
          errors.push((error as Error).message)
        }
      }
    }
    const load = Promise.all(Array.from({ length: 8 }, loop))
    const reloads = (async () => {
      for (const version of ['v1', 'v2', 'v3']) {
        await eventually(15_000, `${version}: the load to make progress`, () => sent >= Number(version[1]) * 500 ? true : undefined)
        writeHandler(dir, version)
        await reload(gateway)
      }
      reloaded = true
    })()
    await within(20_000, 'the load loop and 3 reloads', Promise.all([load, reloads]))
    expect(errors).toEqual([])
    expect(sent).toBeGreaterThanOrEqual(TOTAL)
    expect(Object.fromEntries(statuses)).toEqual({ 200: sent })
    // The load saw the versions switch, and ended on the last.
    expect([...bodies].sort()).toEqual(['v0', 'v1', 'v2', 'v3'])
    expect(await within(5000, 'a last GET', request(`${url}/app`, { dispatcher: agent }).then(async res => res.body.text()))).toBe('v3')
  })
})
