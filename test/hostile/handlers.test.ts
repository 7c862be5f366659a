import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGateway } from '../../src/index.ts'
import { MAIN, NODE } from '../helpers/cli.ts'
import { memoryLogger, within } from '../helpers/gateway.ts'
import { codesFor, expectInvariants, fetchText, HOSTILE, type HostileGateway, LIMITS, metric, rawToClose, startHostileGateway, stopHostileGateway } from './support.ts'

// Group 3: handler modules that return or do odd things, in warm, inline and cold mode, against one real
// `warmgate start` (test/fixtures/hostile/odd.ts: `/<mode>/<case>`). Inline mode is spared what it
// documents it cannot survive (modes.md: inline): `process.exit()` and a synchronous loop run on the
// gateway's own thread there.

let gw: HostileGateway
beforeAll(async () => { gw = await startHostileGateway() }, 90_000)
afterAll(async () => { await stopHostileGateway(gw) }, 30_000)

const MODES = ['warm', 'inline', 'cold'] as const

async function expectRefused (path: string, status: number, code: string): Promise<void> {
  const reqId = `hostile-${path.replace(/\?.*/, '').replaceAll('/', '-').slice(1)}`
  const res = await fetchText(gw, path, { headers: { 'x-request-id': reqId }, ms: LIMITS.timeoutMs + 8000 })
  expect(res.status, `${path}: ${res.body}`).toBe(status)
  // The generic body only: no message, no stack, nothing the handler produced.
  expect(res.body).toMatch(new RegExp(`^${status} [A-Za-z ]+ \\(request ${reqId}\\)\\n$`))
  expect(await codesFor(gw, reqId), `${path}: logged codes`).toContain(code)
}

describe.each(MODES)('%s handlers returning something that is not a Response', (mode) => {
  for (const what of ['undefined', 'null', 'object', 'string', 'number']) {
    it.concurrent(`answers 500 WG_ERR_HANDLER_RESULT to a handler returning ${what}`, async () => {
      await expectRefused(`/${mode}/${what}`, 500, 'WG_ERR_HANDLER_RESULT')
    })
  }

  it.concurrent('refuses a Response subclass whose headers hold CR LF with 500, and the client never sees an injected header', async () => {
    const { head } = await rawToClose(gw, `GET /${mode}/crlf-header HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-request-id: hostile-crlf-${mode}\r\n\r\n`, 8000)
    expect(head).toMatch(/^HTTP\/1\.1 500 /)
    expect(head.toLowerCase()).not.toContain('x-injected')
    expect(head.toLowerCase()).not.toContain('x-evil')
    expect(await codesFor(gw, `hostile-crlf-${mode}`)).toContain('WG_ERR_HANDLER_RESULT')
  })

  it.concurrent('answers 504 WG_ERR_TIMEOUT to a thenable that never resolves', async () => {
    await expectRefused(`/${mode}/thenable`, 504, 'WG_ERR_TIMEOUT')
  })
})

describe.each(MODES)('%s handlers throwing something that is not an Error', (mode) => {
  for (const what of ['throw-string', 'throw-null', 'throw-getter']) {
    it.concurrent(`answers 500 WG_ERR_HANDLER_THREW to a handler that does ${what}`, async () => {
      await expectRefused(`/${mode}/${what}`, 500, 'WG_ERR_HANDLER_THREW')
    })
  }
})

describe.each(MODES)('%s handlers with broken or endless bodies', (mode) => {
  it.concurrent('closes the connection without a last chunk when the body stream errors midway', async () => {
    // A keep-alive request: the gateway must close it, since the body cannot be completed.
    const { head, tail, ms } = await rawToClose(gw, `GET /${mode}/stream-error HTTP/1.1\r\nHost: x\r\n\r\n`, 8000)
    expect(head).toMatch(/^HTTP\/1\.1 200 /)
    expect(head).toContain('first chunk')
    expect(tail.endsWith('0\r\n\r\n'), `the body ends ${JSON.stringify(tail.slice(-16))}`).toBe(false)
    // Closed when the stream broke, not at the keep-alive timeout.
    expect(ms).toBeLessThan(2000)
  })

  it.concurrent('cuts a body that never ends off at the timeout, without a last chunk', async () => {
    const { head, tail, ms } = await rawToClose(gw, `GET /${mode}/stream-forever HTTP/1.1\r\nHost: x\r\n\r\n`, LIMITS.timeoutMs + 8000)
    expect(head).toMatch(/^HTTP\/1\.1 200 /)
    expect(tail.endsWith('0\r\n\r\n'), `the body ends ${JSON.stringify(tail.slice(-16))}`).toBe(false)
    expect(ms).toBeGreaterThanOrEqual(LIMITS.timeoutMs - 100)
  })

  // Not concurrent: cold mode's timeout covers the body (cgi.md), and 8 MiB through a fresh process
  // beside a dozen other requests on two cores can take longer than the 1.5 s timeout.
  it('delivers a body that is an 8 MiB Blob byte for byte', async () => {
    const res = await within(15_000, `GET /${mode}/blob`, request(`${gw.url}/${mode}/blob?mb=8`, { reset: true }))
    expect(res.statusCode).toBe(200)
    let bytes = 0
    let other = 0
    for await (const chunk of res.body) {
      bytes += (chunk as Buffer).length
      for (const byte of chunk as Buffer) if (byte !== 0x61) other++
    }
    expect([bytes, other]).toEqual([8 * 1024 * 1024, 0])
  })

  it.concurrent('keeps serving after an exception and a rejection thrown from a timer after the response', async () => {
    expect((await fetchText(gw, `/${mode}/late-throw`)).status).toBe(200)
    expect((await fetchText(gw, `/${mode}/late-reject`)).status).toBe(200)
    expect((await fetchText(gw, `/${mode}/ok`)).status).toBe(200)
  })
})

// One at a time: a warm thread runs several requests at once, so a request sharing a thread with a
// handler spinning in a synchronous loop would wait for it; that is the design (modes.md: warm), not
// what these tests are about.
describe('handlers that take their thread or process down', () => {
  it('answers 502 WG_ERR_WORKER_DIED to a warm handler calling process.exit(), and the pool serves on', async () => {
    await expectRefused('/warm/exit', 502, 'WG_ERR_WORKER_DIED')
    expect((await fetchText(gw, '/warm/ok')).status).toBe(200)
  })

  it('answers 502 to a cold handler calling process.exit() before answering', async () => {
    const res = await fetchText(gw, '/cold/exit')
    expect(res.status).toBe(502)
    expect((await fetchText(gw, '/cold/ok')).status).toBe(200)
  })

  it('answers 504 to a warm handler blocking its thread past the timeout, and replaces that thread', async () => {
    const replaced = await metric(gw, 'warmgate_workers_replaced_total', 'app="warm",reason="timeout"')
    await expectRefused('/warm/block?ms=8000', 504, 'WG_ERR_TIMEOUT')
    // modes.md: still running 1 s after the timeout, the thread is terminated and replaced.
    let now = replaced
    const deadline = performance.now() + 5000
    while ((now = await metric(gw, 'warmgate_workers_replaced_total', 'app="warm",reason="timeout"')) === replaced && performance.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(now).toBe(replaced + 1)
    expect((await fetchText(gw, '/warm/ok')).status).toBe(200)
  })

  it('answers 504 to a cold handler blocking its process past the timeout (the process is killed)', async () => {
    await expectRefused('/cold/block?ms=8000', 504, 'WG_ERR_TIMEOUT')
  })
})

describe('lambda handlers returning garbage or throwing', () => {
  it.concurrent('answers 502 WG_ERR_LAMBDA_RESULT to a result API Gateway would reject', async () => {
    await expectRefused('/lambda/bad', 502, 'WG_ERR_LAMBDA_RESULT')
  })
  it.concurrent('answers 502 WG_ERR_LAMBDA_THREW to a handler that throws', async () => {
    await expectRefused('/lambda/throw', 502, 'WG_ERR_LAMBDA_THREW')
  })
})

describe('a handler module whose default export is a class', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wg-hostile-class-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const entry = join(HOSTILE, 'class-default.ts')

  it('is refused at start-up: `warmgate start` exits 1 without listening', async () => {
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n')
    writeFileSync(join(dir, 'gateway.config.js'), `export default { apps: { c: { route: '/c', entry: ${JSON.stringify(entry)}, mode: 'inline' } } }\n`)
    const child = spawn(NODE, [MAIN, 'start', '--port', '0', '--log-level', 'warn'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stderr.resume()
    // Ends at the exit, or at once if it starts listening (then the class was taken for a handler).
    const outcome = await within(20_000, 'warmgate start exiting on a class default export', new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        if (stdout.includes('listening on')) resolve('listening')
      })
      child.once('error', reject)
      child.once('close', code => resolve(`exit ${code}`))
    })).finally(() => child.kill('SIGKILL'))
    expect(outcome).toBe('exit 1')
  })

  it.for(MODES)('is refused by createGateway with WG_ERR_HANDLER_INVALID in %s mode', async (mode) => {
    const { logger } = memoryLogger()
    const started = createGateway({ apps: { c: { route: '/c', entry, mode, workers: { min: 1, max: 1 } } } }, { logger })
    // Closed if it wrongly starts, so that a failure leaves no threads or processes behind.
    started.then(async gateway => gateway.close(), () => undefined).catch(() => undefined)
    await expect(within(20_000, `createGateway refusing a class in ${mode} mode`, started)).rejects.toMatchObject({ code: 'WG_ERR_HANDLER_INVALID' })
  })
})

describe('odd handlers: afterwards', () => {
  it('leaves the gateway whole (same pid, health, no process left, fds, RSS)', async () => {
    await expectInvariants(gw, 'after the odd handlers')
  })
})
