import { readdirSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { within } from '../helpers/gateway.ts'
import { awaitGone, codesFor, expectInvariants, fetchText, type HostileGateway, LIMITS, metric, pidsFromFile, poll, spawnHelpers, startHostileGateway, stopHostileGateway } from './support.ts'

// Group 4: the processes and threads behind a request killed at each step, against one real
// `warmgate start`; each case is followed by the invariants (same pid, health, no process left, fds, RSS).

let gw: HostileGateway
beforeAll(async () => { gw = await startHostileGateway() }, 90_000)
afterAll(async () => { await stopHostileGateway(gw) }, 30_000)

const KILL_GRACE_MS = 2000 + 1500

/** A raw request whose head is awaited (its `x-pid` read), then left open for the test to act on. */
async function headThen (path: string): Promise<{ pid: number, ended: Promise<{ tail: string, at: number }> }> {
  const socket = connect({ port: Number(new URL(gw.url).port), host: '127.0.0.1' })
  let text = ''
  socket.on('error', () => undefined)
  const ended = new Promise<{ tail: string, at: number }>(resolve => socket.once('close', () => resolve({ tail: text.slice(-64), at: performance.now() })))
  const head = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      if (text.includes('\r\n\r\n')) resolve(text)
    })
  })
  // Connection: close, so that the socket's close marks the end of the response (not the keep-alive timeout).
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  const got = await within(8000, `the head of ${path}`, head)
  expect(got).toMatch(/^HTTP\/1\.1 200 /)
  const pid = Number(/x-pid: (\d+)/i.exec(got)?.[1])
  expect(pid).toBeGreaterThan(0)
  return { pid, ended: within(LIMITS.cgiTimeoutMs + 8000, `${path} ending`, ended).finally(() => socket.destroy()) }
}

describe('processes and threads killed under a request', () => {
  it('answers 502 WG_ERR_WORKER_DIED when a warm handler crashes its thread (out of memory under memoryMb), and replaces it', async () => {
    // Counted over every reason: under load V8 may report the heap limit as an exit rather than as OOM.
    const before = await metric(gw, 'warmgate_workers_replaced_total', 'app="warm"')
    const res = await fetchText(gw, '/warm/oom', { headers: { 'x-request-id': 'hostile-kill-oom' }, ms: 20_000 })
    expect(res.status).toBe(502)
    expect(await codesFor(gw, 'hostile-kill-oom')).toContain('WG_ERR_WORKER_DIED')
    expect(await poll(5000, async () => await metric(gw, 'warmgate_workers_replaced_total', 'app="warm"') >= before + 1)).toBe(true)
    expect((await fetchText(gw, '/warm/ok')).status).toBe(200)
    await expectInvariants(gw, 'after a warm thread crashed')
  })

  it('fails CGI requests in flight with 502 when the spawn helper is SIGKILLed, leaves none of their scripts, and a new helper serves', async () => {
    const [helper] = spawnHelpers(gw).map(info => info.pid)
    expect(helper).toBeGreaterThan(0)
    for (const name of readdirSync(gw.dir).filter(file => file.startsWith('sleep.'))) rmSync(join(gw.dir, name))
    const inFlight = Array.from({ length: 3 }, async (_, i) => fetchText(gw, '/cgi/sleep.sh?20', { headers: { 'x-request-id': `hostile-kill-helper-${i}` }, ms: 15_000 }))
    let files: string[] = []
    await poll(5000, () => (files = readdirSync(gw.dir).filter(file => file.startsWith('sleep.'))).length === 3)
    expect(files).toHaveLength(3)
    const scripts = (await Promise.all(files.map(async file => pidsFromFile(gw, file)))).flat()
    process.kill(helper, 'SIGKILL')
    expect((await Promise.all(inFlight)).map(res => res.status)).toEqual([502, 502, 502])
    expect(await codesFor(gw, 'hostile-kill-helper-0')).toContain('WG_ERR_SPAWN')
    expect(await awaitGone([helper, ...scripts], KILL_GRACE_MS)).toEqual([])
    expect((await fetchText(gw, '/cgi/ok.sh')).status).toBe(200)
    expect(spawnHelpers(gw).map(info => info.pid)).not.toContain(helper)
    await expectInvariants(gw, 'after the spawn helper was killed')
  })

  it('cuts the response off (no last chunk) when a cold process is SIGKILLed mid-response', async () => {
    const { pid, ended } = await headThen('/cold/drip?ms=1000')
    const killedAt = performance.now()
    process.kill(pid, 'SIGKILL')
    const { tail, at } = await ended
    expect(tail.endsWith('0\r\n\r\n'), `the body ends ${JSON.stringify(tail.slice(-16))}`).toBe(false)
    // Ended by the kill, not by the app's timeout later.
    expect(at - killedAt).toBeLessThan(LIMITS.timeoutMs)
    expect(await awaitGone([pid], KILL_GRACE_MS)).toEqual([])
    await expectInvariants(gw, 'after a cold process was killed')
  })

  it('ends the response when a CGI script is SIGKILLed mid-body, and kills the child it left', async () => {
    const { pid, ended } = await headThen('/cgi/mid-body.sh')
    const killedAt = performance.now()
    process.kill(pid, 'SIGKILL')
    const { at } = await ended
    // The script's `sleep 30` child still holds stdout: the group is killed once the script is gone.
    expect(at - killedAt).toBeLessThan(LIMITS.cgiTimeoutMs)
    await expectInvariants(gw, 'after a cgi script was killed mid-body')
  })

  it('cuts off a CGI script stopped with SIGSTOP at the timeout, and kills it even though stopped', async () => {
    const started = performance.now()
    const { pid, ended } = await headThen('/cgi/mid-body.sh')
    process.kill(pid, 'SIGSTOP')
    const { at } = await ended
    expect(at - started).toBeGreaterThanOrEqual(LIMITS.cgiTimeoutMs - 100)
    // SIGKILL ends a stopped process; SIGCONT it anyway if it is still there, so a failure cannot leave it.
    const left = await awaitGone([pid], KILL_GRACE_MS)
    if (left.length > 0) process.kill(pid, 'SIGCONT')
    expect(left).toEqual([])
    await expectInvariants(gw, 'after a stopped cgi script')
  })
})
