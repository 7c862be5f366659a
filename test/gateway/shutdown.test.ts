import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import type { GatewayConfig, Mode } from '../../src/index.ts'
import { codesOf, startGateway, within, type Started } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, procStat } from '../helpers/proc.ts'
import { eventually, handler } from '../runtime/support.ts'

// gw.close(): what happens to requests in flight, to new connections, to keep-alive connections, and to
// the workers and processes behind the apps. Real gateways on 127.0.0.1, driven with undici and raw sockets.

const DIR = mkdtempSync(join(tmpdir(), 'wg-shutdown-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))

function slowApp (mode: Mode, shutdownTimeout: string): GatewayConfig {
  return {
    server: { shutdownTimeout },
    apps: { slow: { route: '/slow', entry: handler('slow.ts'), mode, workers: { min: 1, max: 2 } } },
  }
}

/** Opens a gateway that the test itself closes; `afterClose` checks it is closed even when the test failed. */
async function open (config: GatewayConfig, onTestFinished: (fn: () => Promise<void>) => void): Promise<Started & { agent: Agent }> {
  const started = await within(15_000, 'starting the gateway', startGateway(config))
  const agent = new Agent()
  onTestFinished(async () => {
    await within(15_000, 'closing the gateway after the test', started.gateway.close())
    await within(5000, 'closing the undici agent', agent.close())
  })
  return { ...started, agent }
}

/** Resolves with the error code of a TCP connect to `url` (or 'connected', after closing the socket). */
function tryConnect (url: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return within(5000, `connecting to ${url}`, new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) })
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  }))
}

/** Sends raw HTTP/1.1 on `socket` and resolves with everything the server wrote until it closed the socket. */
function readUntilClosed (socket: Socket, label: string): Promise<string> {
  let text = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
  return within(10_000, label, new Promise<string>((resolve, reject) => {
    socket.once('close', () => resolve(text))
    socket.once('error', reject)
  }))
}

describe('gw.close()', () => {
  it.for(['warm', 'inline'] as const)('%s: lets a slow request finish with 200, refuses new connections, resolves, and leaves no worker', async (mode, { onTestFinished }) => {
    const { gateway, url, agent } = await open(slowApp(mode, '10s'), onTestFinished)
    const pending = request(`${url}/slow/wait?key=close-${mode}&ms=800`, { dispatcher: agent })
    const reply = pending.then(async res => ({ status: res.statusCode, connection: res.headers.connection, body: await res.body.text() }))
    // The request is in the handler before close starts.
    await eventually(5000, 'the slow request to be in flight', () => gateway.stats().slow.inFlight === 1 ? true : undefined)
    const started = performance.now()
    const closed = gateway.close()
    expect(await tryConnect(url)).toBe('ECONNREFUSED')
    expect(await within(10_000, 'the in-flight request', reply)).toEqual({ status: 200, connection: 'close', body: 'slept' })
    await within(10_000, 'close() resolving', closed)
    expect(performance.now() - started).toBeLessThan(5000)
    expect(gateway.stats().slow).toMatchObject({ inFlight: 0, workers: 0, completed: 1, failed: 0 })
    expect(gateway.close()).toBe(closed) // idempotent: one shared promise
  })

  it.for(['warm', 'inline'] as const)('%s: at server.shutdownTimeout fails what is left with WG_ERR_RUNTIME_DESTROYED and resolves', async (mode, { onTestFinished }) => {
    const { gateway, url, agent, lines } = await open(slowApp(mode, '300ms'), onTestFinished)
    const reqId = `shutdown-timeout-${mode}`
    const reply = request(`${url}/slow/wait?key=${reqId}&ms=4000`, { dispatcher: agent, headers: { 'x-request-id': reqId } })
      .then(async res => ({ status: res.statusCode, body: await res.body.text() }))
    await eventually(5000, 'the slow request to be in flight', () => gateway.stats().slow.inFlight === 1 ? true : undefined)
    const started = performance.now()
    await within(5000, 'close() resolving after the shutdown timeout', gateway.close())
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(2500)
    expect((await within(5000, 'the request failed by close', reply)).status).toBe(503)
    expect(codesOf(lines, reqId)).toContain('WG_ERR_RUNTIME_DESTROYED')
    expect(lines.some(line => line.level === 40 && /shutdownTimeout passed/.test(String(line.msg)))).toBe(true)
    expect(gateway.stats().slow.workers).toBe(0)
  })

  it('answers a keep-alive client\'s in-flight request with Connection: close, then closes its connection', async ({ onTestFinished }) => {
    const { gateway, url } = await open(slowApp('warm', '10s'), onTestFinished)
    const { hostname, port } = new URL(url)
    const socket = connect({ host: hostname, port: Number(port) })
    onTestFinished(() => { socket.destroy() })
    const everything = readUntilClosed(socket, 'the server closing the keep-alive connection')
    // A first exchange leaves the connection open (keep-alive); the second is in flight during close.
    socket.write('GET /slow/report?key=none HTTP/1.1\r\nHost: x\r\n\r\nGET /slow/wait?key=ka&ms=600 HTTP/1.1\r\nHost: x\r\n\r\n')
    await eventually(5000, 'the second request to be in flight', () => gateway.stats().slow.inFlight === 1 ? true : undefined)
    const closed = gateway.close()
    const text = await everything
    await within(10_000, 'close() resolving', closed)
    const heads = text.split('HTTP/1.1 ').slice(1)
    expect(heads).toHaveLength(2)
    expect(heads[0]).toMatch(/^200 /)
    expect(heads[0]).toMatch(/\r\nconnection: keep-alive\r\n/i)
    expect(heads[1]).toMatch(/^200 /)
    expect(heads[1]).toMatch(/\r\nconnection: close\r\n/i)
    expect(heads[1]).toMatch(/slept$/)
  })

  it('closes idle keep-alive connections at once', async ({ onTestFinished }) => {
    const { gateway, url } = await open(slowApp('inline', '10s'), onTestFinished)
    const { hostname, port } = new URL(url)
    const socket = connect({ host: hostname, port: Number(port) })
    onTestFinished(() => { socket.destroy() })
    const everything = readUntilClosed(socket, 'the server closing the idle connection')
    socket.write('GET /slow/report?key=none HTTP/1.1\r\nHost: x\r\n\r\n')
    await eventually(5000, 'the first response', () => gateway.stats().slow.completed === 1 ? true : undefined)
    const started = performance.now()
    await within(5000, 'close() resolving', gateway.close())
    expect(await everything).toMatch(/^HTTP\/1\.1 200 /)
    // Well under keepAliveTimeout (5 s) and the 1 s grace for connections that are not idle.
    expect(performance.now() - started).toBeLessThan(900)
  })

  it('cold: kills the handler process left at the shutdown timeout and stops the spawn helper', async ({ onTestFinished }) => {
    const config: GatewayConfig = {
      server: { shutdownTimeout: '300ms' },
      apps: { slow: { route: '/slow', entry: handler('cold-signal.ts'), mode: 'cold', env: { DIR } } },
    }
    const { gateway, url, agent, lines } = await open(config, onTestFinished)
    const helpers = (): number[] => allPids().filter(pid => procStat(pid)?.ppid === process.pid && cmdlineOf(pid)?.includes('spawn-helper.py') === true)
    const reqId = 'shutdown-cold'
    const reply = request(`${url}/slow?key=${reqId}&ms=8000`, { dispatcher: agent, headers: { 'x-request-id': reqId } })
      .then(async res => ({ status: res.statusCode, body: await res.body.text() }))
    const pidFile = join(DIR, `${reqId}.pid`)
    const pid = await eventually(10_000, 'the cold handler to write its pid', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '' ? Number(readFileSync(pidFile, 'utf8')) : undefined)
    await within(10_000, 'close() resolving', gateway.close())
    expect((await within(5000, 'the request failed by close', reply)).status).toBe(503)
    expect(codesOf(lines, reqId)).toContain('WG_ERR_RUNTIME_DESTROYED')
    await eventually(5000, `the handler process ${pid} to be gone`, () => procStat(pid) === undefined ? true : undefined)
    await eventually(5000, 'no spawn helper of this process left', () => helpers().length === 0 ? true : undefined)
    expect(gateway.stats().slow.workers).toBe(0)
  })
})
