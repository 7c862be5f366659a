import { randomUUID } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { afterAll, describe, expect, it, type TestContext } from 'vitest'
import { RUNNER_BUNDLE } from '../../src/runtime/cold/build-runner.ts'
import type { ColdEnvReport } from '../fixtures/handlers/cold-env.ts'
import type { ColdSignalMark, ColdSignalReply } from '../fixtures/handlers/cold-signal.ts'
import { COMPLETE_TEXT } from '../fixtures/handlers/cold-stream.ts'
import type { Reflection } from '../fixtures/handlers/reflect.ts'
import { codesOf, ROOT, within } from '../helpers/gateway.ts'
import { allPids, cmdlineOf, procStat } from '../helpers/proc.ts'
import { type CaseContext, eventually, exampleApp, handler, openGateway } from './support.ts'

// What only cold mode does: a fresh process per request. Handlers report through files (a process lives
// for one request), and the tests watch the processes themselves in /proc.

interface Counted { count: number, instance: string, threadId: number, mode: string }

const RUNNER = RUNNER_BUNDLE
/** Scratch directory of this file: fixtures write pid and marker files here (the app's `env.DIR`). */
const DIR = mkdtempSync(join(tmpdir(), 'wg-cold-'))
afterAll(() => rmSync(DIR, { recursive: true, force: true }))

// Set before any gateway exists: the secret must never reach a handler's process, the passed name must.
const SECRET = `cold-secret-${randomUUID()}`
process.env.WG_COLD_SECRET = SECRET
process.env.WG_COLD_PASSED = 'passed-through'

function cold ({ onTestFinished }: TestContext): CaseContext {
  return { mode: 'cold', defer: (fn) => onTestFinished(async () => { await fn() }) }
}

const file = (key: string, ext: string): string => join(DIR, `${key}.${ext}`)

/** The pid a fixture wrote to `<key>.pid` once its handler started. */
function pidOf (key: string, ms = 5000): Promise<number> {
  return eventually(ms, `the handler of ${key} to write its pid`, () => {
    if (!existsSync(file(key, 'pid'))) return undefined
    const pid = Number(readFileSync(file(key, 'pid'), 'utf8'))
    return pid > 0 ? pid : undefined
  })
}

function markOf (key: string, ms = 3000): Promise<ColdSignalMark> {
  return eventually(ms, `the handler of ${key} to write its marker`, () => {
    if (!existsSync(file(key, 'mark'))) return undefined
    const text = readFileSync(file(key, 'mark'), 'utf8')
    return text === '' ? undefined : JSON.parse(text) as ColdSignalMark
  })
}

/** `pid`'s state letter (R, S, Z…) from /proc/<pid>/stat, or undefined once it has been reaped. */
function stateOf (pid: number): string | undefined {
  return procStat(pid)?.state
}

/** Resolves with the time at which `/proc/<pid>` disappeared: the process exited and was reaped. */
function goneAt (pid: number, ms: number, label: string): Promise<number> {
  return eventually(ms, `${label} (pid ${pid}) to exit and be reaped`, () => existsSync(`/proc/${pid}`) ? undefined : Date.now())
}

/** Every process in /proc (a zombie's cmdline reads as empty). */
function processes (): Array<{ pid: number, ppid: number, state: string, cmdline: string }> {
  return allPids().flatMap((pid) => {
    const stat = procStat(pid)
    const cmdline = cmdlineOf(pid)
    // Either read fails for a process that exited while we looked.
    return stat === undefined || cmdline === undefined ? [] : [{ pid, ppid: stat.ppid, state: stat.state, cmdline }]
  })
}

describe('cold runtime', () => {
  it('keeps no state between requests: the counter app answers 1 from a new module instance every time', async (t) => {
    const h = await openGateway(cold(t), { apps: { counter: { route: '/counter', entry: exampleApp('counter.ts') } } })
    const replies: Counted[] = []
    for (let i = 0; i < 3; i++) replies.push((await h.send('/counter')).json<Counted>())
    expect(replies.map(reply => reply.count)).toEqual([1, 1, 1])
    expect(new Set(replies.map(reply => reply.instance)).size).toBe(3)
    expect(replies.every(reply => reply.mode === 'cold')).toBe(true)
  })

  it("answers 504 promptly at the app's timeout, aborts ctx.signal and request.signal, and the process ends", async (t) => {
    const h = await openGateway(cold(t), { apps: { slow: { route: '/slow', entry: handler('cold-signal.ts'), timeout: '300ms', env: { DIR } } } })
    const started = performance.now()
    const res = await h.send('/slow?key=timeout&ms=8000')
    const elapsed = performance.now() - started
    expect(res.status).toBe(504)
    expect(elapsed).toBeGreaterThanOrEqual(295)
    expect(elapsed).toBeLessThan(1500)
    expect(codesOf(h.lines, res.requestId)).toEqual(['WG_ERR_TIMEOUT'])
    const pid = await pidOf('timeout')
    expect(await markOf('timeout')).toMatchObject({ ctxSignalAborted: true, requestSignalAborted: true })
    await goneAt(pid, 5000, 'the timed-out handler process')
  })

  it('aborts ctx.signal, ends the process and logs WG_ERR_CLIENT_ABORTED when the client disconnects mid-request', async (t) => {
    const h = await openGateway(cold(t), { apps: { slow: { route: '/slow', entry: handler('cold-signal.ts'), timeout: '10s', env: { DIR } } } })
    const reqId = `cold-disconnect-${randomUUID()}`
    const client = new AbortController()
    const pending = h.send('/slow?key=disconnect&ms=8000', { signal: client.signal, headers: { 'x-request-id': reqId }, ms: 10_000 })
      .then(() => 'answered', (error: Error) => error.name)
    const pid = await pidOf('disconnect')
    client.abort()
    expect(await pending).toBe('AbortError')
    expect(await markOf('disconnect')).toMatchObject({ ctxSignalAborted: true, requestSignalAborted: true })
    await goneAt(pid, 5000, 'the abandoned handler process')
    await eventually(2000, 'the client abort to be logged with the request id', () =>
      codesOf(h.lines, reqId).includes('WG_ERR_CLIENT_ABORTED') ? true : undefined)
  })

  it('takes a client that leaves mid-body as a client gone, not a handler error (EPIPE in the process)', async (t) => {
    const h = await openGateway(cold(t), { apps: { big: { route: '/big', entry: handler('cold-big.ts'), timeout: '10s', env: { DIR } } } })
    const reqId = `cold-epipe-${randomUUID()}`
    const res = await request(`${h.url}/big?key=epipe`, { headers: { 'x-request-id': reqId }, dispatcher: h.agent })
    expect(res.statusCode).toBe(200)
    // Some of the body, then the client goes: the process is still writing the rest of its 16 MiB.
    for await (const chunk of res.body) if ((chunk as Buffer).byteLength > 0) break
    res.body.destroy()
    const pid = await pidOf('epipe')
    await goneAt(pid, 5000, 'the process whose client left')
    const line = await eventually(3000, 'the runner to report the closed pipe', () =>
      h.lines.find(entry => entry.reqId === reqId && String(entry.msg).includes('stopped reading')))
    expect(line.level).toBe(30) // pino's info
    expect(h.lines.filter(entry => entry.reqId === reqId && Number(entry.level) >= 50), 'error lines for a client that left').toEqual([])
  })

  it('SIGKILLs a handler that ignores SIGTERM once the 2 s grace has passed', async (t) => {
    const h = await openGateway(cold(t), { apps: { stubborn: { route: '/stubborn', entry: handler('cold-stubborn.ts'), timeout: '300ms', env: { DIR } } } })
    const started = performance.now()
    const res = await h.send('/stubborn?key=stubborn')
    expect(res.status).toBe(504)
    expect(performance.now() - started).toBeLessThan(1500)
    const answeredAt = Date.now()
    const pid = await pidOf('stubborn')
    const termAt = await eventually(2000, 'the stubborn handler to receive SIGTERM', () =>
      existsSync(file('stubborn', 'term')) ? Number(readFileSync(file('stubborn', 'term'), 'utf8').split('\n')[0]) : undefined)
    // It survived the SIGTERM (its listener ignores it): halfway through the grace it is still there.
    await sleep(Math.max(0, termAt + 1000 - Date.now()))
    expect(stateOf(pid), 'the stubborn process halfway through the grace').toMatch(/^[RSD]$/)
    expect(processes().find(proc => proc.pid === pid)?.cmdline).toBe(`${process.execPath} --expose-internals --disable-warning=ExperimentalWarning ${RUNNER} ${handler('cold-stubborn.ts')}`)
    const gone = await goneAt(pid, Math.max(0, answeredAt + 5000 - Date.now()), 'the stubborn handler process')
    expect(gone - termAt).toBeGreaterThanOrEqual(1800)
  })

  it('sends the response before ctx.waitUntil work ends, and gateway.close() waits for that work', async (t) => {
    const h = await openGateway(cold(t), { apps: { bg: { route: '/bg', entry: handler('cold-background.ts'), timeout: '10s', env: { DIR } } } })

    const first = await h.send('/bg?key=bg-poll&ms=800')
    const answeredAt = Date.now()
    expect(first.status).toBe(200)
    expect(existsSync(file('bg-poll', 'done')), 'background work done before the response arrived').toBe(false)
    expect(answeredAt).toBeLessThan(first.json<{ dueAt: number }>().dueAt)
    const doneAt = await eventually(3000, 'the background work to write its file', () =>
      existsSync(file('bg-poll', 'done')) ? Number(readFileSync(file('bg-poll', 'done'), 'utf8')) : undefined)
    expect(doneAt).toBeGreaterThanOrEqual(answeredAt)

    // A streamed body (no Content-Length) is complete when the runner closes stdout, before the work ends.
    const streamed = await h.send('/bg?key=bg-stream&ms=1500&stream')
    expect(streamed.headers['content-length']).toBeUndefined()
    expect(Date.now()).toBeLessThan(streamed.json<{ dueAt: number }>().dueAt)
    expect(existsSync(file('bg-stream', 'done'))).toBe(false)

    const second = await h.send('/bg?key=bg-close&ms=1500')
    const { dueAt } = second.json<{ dueAt: number }>()
    expect(existsSync(file('bg-close', 'done'))).toBe(false)
    const closeStarted = Date.now()
    await within(8000, 'gateway.close() with pending ctx.waitUntil work', h.gateway.close())
    const closedAt = Date.now()
    expect(existsSync(file('bg-close', 'done')), 'background work done when close() resolved').toBe(true)
    const writtenAt = Number(readFileSync(file('bg-close', 'done'), 'utf8'))
    expect(closedAt).toBeGreaterThanOrEqual(writtenAt)
    // close() took at least the time the work still had to run when it was called.
    expect(closedAt - closeStarted).toBeGreaterThanOrEqual(dueAt - closeStarted - 5)
  })

  it('streams a body that is still being produced: the client reads the first chunk before the second exists', async (t) => {
    const h = await openGateway(cold(t), { apps: { stream: { route: '/stream', entry: handler('cold-stream.ts'), timeout: '10s', env: { DIR } } } })
    const chunks = await within(5000, 'GET /stream/slow, read chunk by chunk', (async () => {
      const res = await request(`${h.url}/stream/slow?key=stream`, { dispatcher: h.agent })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-length']).toBeUndefined()
      expect(res.headers['transfer-encoding']).toBe('chunked')
      const seen: Array<{ text: string, at: number }> = []
      for await (const chunk of res.body as AsyncIterable<Buffer>) seen.push({ text: chunk.toString('utf8'), at: Date.now() })
      return seen
    })())
    const secondProducedAt = Number(readFileSync(file('stream', 'second'), 'utf8'))
    expect(chunks.map(chunk => chunk.text).join('')).toBe('firstsecond')
    let text = ''
    const firstRead = chunks.find(chunk => (text += chunk.text).includes('first'))
    expect(text, 'what the client had when it first saw "first"').toBe('first')
    expect(firstRead?.at).toBeLessThan(secondProducedAt)
  })

  it('gives a body that is complete at once a Content-Length (a string, and a stream closed at once)', async (t) => {
    const h = await openGateway(cold(t), { apps: { stream: { route: '/stream', entry: handler('cold-stream.ts'), env: { DIR } } } })
    for (const path of ['/stream/text', '/stream/now']) {
      const res = await h.send(path)
      expect(res.status, path).toBe(200)
      expect(res.headers['content-length'], path).toBe(String(Buffer.byteLength(COMPLETE_TEXT)))
      expect(res.headers['transfer-encoding'], path).toBeUndefined()
      expect(res.text(), path).toBe(COMPLETE_TEXT)
    }
  })

  it("passes only PATH, passEnv names, CGI meta-variables and NODE_COMPILE_CACHE to the handler's process", async (t) => {
    const h = await openGateway(cold(t), { apps: { env: { route: '/env', entry: handler('cold-env.ts'), passEnv: ['WG_COLD_PASSED'] } } })
    const report = (await h.send('/env/x?y=1', { headers: { 'x-extra': 'header' } })).json<ColdEnvReport>()
    expect(report.mode).toBe('cold')
    expect(report.keys).not.toContain('WG_COLD_SECRET')
    expect(JSON.stringify(report)).not.toContain(SECRET)
    for (const internal of ['WARMGATE_APP_ENV', 'WARMGATE_REQUEST_ID', 'WARMGATE_CHECK']) expect(report.keys).not.toContain(internal)
    expect(report.keys).toEqual(expect.arrayContaining(['PATH', 'WG_COLD_PASSED', 'NODE_COMPILE_CACHE', 'GATEWAY_INTERFACE', 'REQUEST_METHOD', 'HTTP_X_EXTRA']))
    expect(report.path).toBe(process.env.PATH)
    expect(report.passed).toBe('passed-through')
    const allowed = new Set(['PATH', 'WG_COLD_PASSED', 'NODE_COMPILE_CACHE', 'GATEWAY_INTERFACE', 'SERVER_PROTOCOL', 'SERVER_SOFTWARE',
      'SERVER_NAME', 'SERVER_PORT', 'REQUEST_METHOD', 'QUERY_STRING', 'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED', 'SCRIPT_FILENAME',
      'REQUEST_URI', 'REMOTE_ADDR', 'REMOTE_PORT', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'HTTPS'])
    expect(report.keys.filter(key => !allowed.has(key) && !key.startsWith('HTTP_'))).toEqual([])
  })

  it("hands the app's env to the handler as its env argument, not through process.env", async (t) => {
    const h = await openGateway(cold(t), { apps: { env: { route: '/env', entry: handler('cold-env.ts'), env: { GREETING: 'hi', NODE_OPTIONS: '--no-warnings' } } } })
    const report = (await h.send('/env')).json<ColdEnvReport>()
    expect(report.env).toEqual({ GREETING: 'hi', NODE_OPTIONS: '--no-warnings' })
    expect(report.keys).not.toContain('GREETING')
    expect(report.keys).not.toContain('NODE_OPTIONS')
  })

  it('caps live processes at concurrency, queues up to queue, and refuses the rest with 503 and Retry-After', async (t) => {
    const h = await openGateway(cold(t), { apps: { slow: { route: '/slow', entry: handler('cold-signal.ts'), timeout: '10s', concurrency: 1, maxQueue: 1, env: { DIR } } } })
    const replies = await Promise.all(['cap-1', 'cap-2', 'cap-3'].map(async (key) => h.send(`/slow?key=${key}&ms=600`, { ms: 8000 })))
    expect(replies.map(reply => reply.status).sort()).toEqual([200, 200, 503])
    const refused = replies.find(reply => reply.status === 503)
    expect(refused?.headers['retry-after']).toBe('1')
    expect(codesOf(h.lines, refused?.requestId ?? '')).toEqual(['WG_ERR_OVERLOADED'])
    // The two that ran did not overlap: the queued one started after the first had finished.
    const [earlier, later] = replies.filter(reply => reply.status === 200).map(reply => reply.json<ColdSignalReply>()).sort((a, b) => a.startedAt - b.startedAt)
    expect(later.startedAt).toBeGreaterThanOrEqual(earlier.endedAt)
    expect(later.pid).not.toBe(earlier.pid)
  })

  it('leaves no handler process alive or unreaped after answered, timed-out, abandoned and throwing requests', async (t) => {
    // A copy of the fixture at a path of this run only: any process whose cmdline names it is ours.
    const dir = join(DIR, `mix-${randomUUID()}`)
    mkdirSync(dir)
    const entry = join(dir, 'cold-signal-copy.ts')
    copyFileSync(handler('cold-signal.ts'), entry)
    const h = await openGateway(cold(t), {
      apps: {
        mix: { route: '/mix', entry, timeout: '10s', env: { DIR } },
        // Not 300 ms: the start-up check of a module not yet in the compile cache is bounded by it too.
        short: { route: '/short', entry, timeout: '1s', env: { DIR } },
      },
    })
    const keys: string[] = []
    const ok = await Promise.all([1, 2, 3, 4].map(async (i) => {
      keys.push(`mix-ok-${i}`)
      return (await h.send(`/mix?key=mix-ok-${i}&ms=50`)).status
    }))
    expect(ok).toEqual([200, 200, 200, 200])
    keys.push('mix-throw')
    const thrown = await h.send('/mix/throw?key=mix-throw')
    expect(thrown.status).toBe(500)
    expect(codesOf(h.lines, thrown.requestId)).toEqual(['WG_ERR_HANDLER_THREW'])
    keys.push('mix-timeout')
    expect((await h.send('/short?key=mix-timeout&ms=8000')).status).toBe(504)
    keys.push('mix-disconnect')
    const client = new AbortController()
    const pending = h.send('/mix?key=mix-disconnect&ms=8000', { signal: client.signal, ms: 10_000 }).then(() => 'answered', (error: Error) => error.name)
    await pidOf('mix-disconnect')
    client.abort()
    expect(await pending).toBe('AbortError')

    const pids = await Promise.all(keys.map(async (key) => pidOf(key)))
    expect(new Set(pids).size).toBe(keys.length)
    for (const pid of pids) await goneAt(pid, 5000, 'every handler process of the mix')
    expect(processes().filter(proc => proc.cmdline.includes(RUNNER) && proc.cmdline.includes(entry))).toEqual([])
    // A zombie has no cmdline: look for any among the children of this process and of its spawn helper.
    const parents = new Set([process.pid, ...processes().filter(proc => proc.ppid === process.pid && proc.cmdline.includes('spawn-helper.py')).map(proc => proc.pid)])
    expect(processes().filter(proc => proc.state === 'Z' && parents.has(proc.ppid))).toEqual([])
  })

  it('serves gateway.fetch in cold mode: status, reason, headers and body', async (t) => {
    const h = await openGateway(cold(t), {
      apps: {
        responses: { route: '/responses', entry: handler('responses.ts') },
        reflect: { route: '/reflect', entry: handler('reflect.ts'), env: { NAME: 'reflect' } },
      },
    })
    const made = await h.fetch('/responses/status?code=201&text=Made')
    expect({ status: made.status, statusText: made.statusText, body: await made.text() }).toEqual({ status: 201, statusText: 'Made', body: 'status 201' })
    const cookies = await h.fetch('/responses/cookies')
    expect(cookies.headers.getSetCookie()).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Max-Age=60', 'c=3, with comma; Secure'])
    expect(cookies.headers.get('content-type')).toBe('text/plain')
    expect(await cookies.text()).toBe('cookies')

    const posted = await h.fetch('/reflect/x?y=1', { method: 'POST', body: 'hello cold', headers: { 'x-request-id': 'cold-fetch-1', 'x-extra': 'yes' } })
    expect(posted.status).toBe(200)
    expect(posted.headers.get('x-request-id')).toBe('cold-fetch-1')
    const seen = await posted.json() as Reflection
    expect(seen).toMatchObject({ method: 'POST', mode: 'cold', requestId: 'cold-fetch-1', env: { NAME: 'reflect' }, bodyLength: 10 })
    expect(Buffer.from(seen.bodyBase64, 'base64').toString()).toBe('hello cold')
    expect(new URL(seen.url).pathname + new URL(seen.url).search).toBe('/reflect/x?y=1')
    expect(seen.headers).toContainEqual(['x-extra', 'yes'])
  })
})
