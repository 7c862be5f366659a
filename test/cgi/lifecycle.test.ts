import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client, request } from 'undici'
import { describe, expect, it } from 'vitest'
import { within } from '../helpers/gateway.ts'
import { accessLines } from '../runtime/support.ts'
import {
  available, type CgiHarness, codesOf, legacyApp, marks, openCgi, present, type ProcInfo, recordedPids, taggedProcesses, unreapedChildren, until,
} from './support.ts'

// What happens to CGI processes: timeouts, clients that leave, grandchildren, zombies, slow readers,
// overload. The gateway runs in this process, so its children are this process's children; the
// fixtures record their pids (and their children's) in a file, and every one carries a tag in its
// environment (passEnv), which is how leftovers are found. PID 1 on this machine does not reap
// orphans: a grandchild whose parent died stays a zombie unless the gateway reaps it.

const QUICK = { quick: legacyApp({ route: '/quick', timeout: '1s' }) }

/** Pids recorded by the scripts since `from` (an index into the pid file). */
// The gateway reaps orphaned grandchildren through its python3 spawn helper (a child subreaper).
const REAPS_ORPHANS = available('python3') && process.env.WARMGATE_SPAWNER !== 'direct'
if (!REAPS_ORPHANS) console.warn('[cgi tests] no python3 spawn helper: orphans are checked dead, not reaped (PID 1 may leave them as zombies)')

function pidsSince (from: number): number[] {
  return recordedPids().slice(from)
}

/**
 * Waits (bounded) until none of `pids` exists any more, alive or zombie. On the way it fails on any
 * of them seen as a zombie whose parent is PID 1: an orphan nobody is bound to reap (PID 1 here reaps
 * only now and then), which is what happens when the gateway does not reap its scripts' grandchildren.
 */
async function gone (pids: number[], ms: number, label: string): Promise<number> {
  const orphaned = new Map<number, ProcInfo>()
  const took = await until(ms, `${label}: pids ${pids.join(',')} gone`, () => {
    const left = present(pids)
    for (const info of left) if (info.state === 'Z' && info.ppid === 1) orphaned.set(info.pid, info)
    // Without the python3 spawn helper nothing can reap a script's orphans (README: Spawning); they
    // must still be dead, and that is all this machine can show.
    return REAPS_ORPHANS ? left.length === 0 : left.every(info => info.state === 'Z' && info.ppid === 1)
  }, () => present(pids))
  if (REAPS_ORPHANS) expect([...orphaned.values()], `${label}: zombies left to PID 1`).toEqual([])
  return took
}

/** Waits until the fixtures have recorded at least `count` pids since `from`. */
async function recorded (from: number, count: number, label: string): Promise<number[]> {
  await until(5000, `${label} to record ${count} pids`, () => pidsSince(from).length >= count, () => pidsSince(from))
  return pidsSince(from)
}

function describeLeftovers (pids: number[]): { tagged: ProcInfo[], recorded: ProcInfo[], unreaped: ProcInfo[] } {
  return { tagged: taggedProcesses(), recorded: present(pids), unreaped: unreapedChildren() }
}

/** A request the test abandons: `leave()` aborts it and resolves (bounded) once undici has let go. */
function abandoned (h: CgiHarness, path: string, requestId: string): { leave: () => Promise<unknown> } {
  const controller = new AbortController()
  const settled = request(`${h.url}${path}`, { dispatcher: h.agent, signal: controller.signal, headers: { 'x-request-id': requestId } })
    .then(async (res) => { for await (const _ of res.body) { /* read until aborted */ } })
    .catch((error: unknown) => error)
  return {
    leave: () => {
      controller.abort()
      return within(5000, `${path} to settle after the abort`, settled)
    },
  }
}

describe('cgi app: process lifecycle', () => {
  it("answers 504 at the app's timeout and kills the script's process group", async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, QUICK)
    const from = recordedPids().length
    const started = performance.now()
    const res = await h.send('/quick/sleep.sh?30')
    const elapsed = performance.now() - started
    expect(res.status).toBe(504)
    expect(elapsed).toBeGreaterThan(900)
    expect(elapsed).toBeLessThan(3000)
    expect(codesOf(h.lines, res.requestId)).toContain('WG_ERR_TIMEOUT')
    const pids = pidsSince(from)
    expect(pids).toHaveLength(2) // sleep.sh and its sleep
    await gone(pids, 5000, 'sleep.sh after the timeout')
  })

  it('sends SIGTERM, then SIGKILL after the grace period, to a script that traps TERM and sleeps on', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, QUICK)
    const from = recordedPids().length
    const res = await h.send('/quick/trap.sh')
    expect(res.status).toBe(504)
    const answered = performance.now()
    const shell = pidsSince(from)[0]
    const took = await gone(pidsSince(from), 6000, `trap.sh (pid ${shell}) and its sleeps, within ~5 s of the 504`)
    expect(performance.now() - answered).toBeLessThan(6000)
    expect(took).toBeLessThan(5500)
    // It got TERM first (its trap wrote to stderr, which the gateway logs) and only KILL ended it.
    await until(2000, 'the trap line in the log', () => h.lines.some(line => JSON.stringify(line).includes(`trap.sh ${shell} caught TERM`)), () => h.lines.filter(line => line.reqId === res.requestId))
  })

  it('kills the process group when the client disconnects before the headers', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const from = recordedPids().length
    const call = abandoned(h, '/cgi-bin/sleep.sh?30', 'cgi-gone-before-head')
    const pids = await recorded(from, 2, 'sleep.sh')
    await call.leave()
    await gone(pids, 5000, 'sleep.sh after the client left')
    await until(3000, 'WG_ERR_CLIENT_ABORTED in the log', () => codesOf(h.lines, 'cgi-gone-before-head').includes('WG_ERR_CLIENT_ABORTED'), () => h.lines.filter(line => line.reqId === 'cgi-gone-before-head'))
    const access = accessLines(h.lines, 'cgi-gone-before-head')
    expect(access.map(line => line.status)).toEqual([499])
  })

  it('kills the process group when the client disconnects mid-body', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const from = recordedPids().length
    const controller = new AbortController()
    const res = await within(5000, 'the head of stream.sh', request(`${h.url}/cgi-bin/stream.sh`, { dispatcher: h.agent, signal: controller.signal }))
    expect(res.statusCode).toBe(200)
    const iterator = res.body[Symbol.asyncIterator]()
    const first = await within(5000, 'the first line of stream.sh', iterator.next())
    expect(String(first.value)).toContain('tick 0')
    const pids = pidsSince(from)
    expect(present(pids)).toHaveLength(1)
    controller.abort()
    await iterator.return?.().catch(() => undefined)
    await gone(pids, 5000, 'stream.sh after the client left mid-body')
  })

  it.skipIf(!available('perl'))('kills a perl script when the client goes away mid-response (Go TestCopyError)', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const socket = connect(h.port, '127.0.0.1')
    onTestFinished(() => { socket.destroy() })
    let received = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
    socket.write('GET /cgi-bin/test.pl?bigresponse=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await until(5000, '5000 body bytes of the big response', () => received.length > 6000)
    socket.pause()
    const pid = Number(/\r\nx-cgi-pid: (\d+)\r\n/i.exec(received.toString('latin1'))?.[1])
    expect(pid).toBeGreaterThan(0)
    expect(present([pid])).toHaveLength(1)
    socket.destroy()
    await until(5000, `test.pl (pid ${pid}) to be gone after the client left`, () => present([pid]).length === 0, () => present([pid]))
  })

  it('never spawns a request whose client left while it waited for a process slot, and frees the slots', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, { single: legacyApp({ route: '/single', concurrency: 1, maxQueue: 2 }) })
    const from = recordedPids().length
    const busy = abandoned(h, '/single/sleep.sh?30', 'cgi-slot-holder')
    await recorded(from, 2, 'the slot holder')
    const before = marks().length
    const waiting = abandoned(h, '/single/env.sh?queued', 'cgi-queued-gone')
    await sleep(200)
    await waiting.leave()
    await busy.leave()
    await gone(pidsSince(from), 5000, 'the slot holder after its client left')
    // The slot is free again, and the request that left the queue never ran.
    const next = await h.send('/single/respond.sh?created')
    expect(next.status).toBe(201)
    expect(marks().slice(before).map(line => line.split(' ')[0])).toEqual(['respond.sh'])
  })

  it('does not let a background grandchild (sleep 30 &) outlive its request, nor linger as a zombie', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const from = recordedPids().length
    const res = await h.send('/cgi-bin/fork.sh')
    expect([res.status, res.text()]).toEqual([200, 'forked\n'])
    const pids = pidsSince(from)
    expect(pids).toContain(Number(res.headers['x-grandchild']))
    await gone(pids, 5000, 'fork.sh and its grandchild (not even as a zombie)')
  })

  it.skipIf(process.env.WARMGATE_SPAWNER === 'direct')('kills a daemon a script started (a double fork and setsid, out of its group) once the script has exited', async ({ onTestFinished }) => {
    // The spawner without a helper cannot (docs/cgi.md): the gateway is not the daemon's subreaper.
    const h = await openCgi(onTestFinished)
    const res = await h.send('/cgi-bin/daemon.sh')
    expect(res.status).toBe(200)
    const daemon = Number(res.headers['x-daemon'])
    expect(daemon).toBeGreaterThan(0)
    await gone([daemon], 3000, 'the daemon of daemon.sh')
  })

  it('leaves no process and no zombie behind after a run of ok, timeout, disconnect, crash and fork requests', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, QUICK)
    const from = recordedPids().length
    const disconnect = abandoned(h, '/cgi-bin/sleep.sh?30', 'cgi-mixed-gone')
    const midBody = abandoned(h, '/cgi-bin/stream.sh', 'cgi-mixed-mid-body')
    const answers = await Promise.all([
      h.send('/cgi-bin/env.sh'),
      h.send('/quick/sleep.sh?30'),
      h.send('/quick/trap.sh'),
      h.send('/cgi-bin/respond.sh?crash'),
      h.send('/cgi-bin/respond.sh?empty'),
      h.send('/cgi-bin/fork.sh'),
      (async () => { await sleep(500); return Promise.all([disconnect.leave(), midBody.leave()]) })(),
    ].map(p => within(8000, 'a request of the mixed run', p as Promise<unknown>)))
    const statuses = answers.slice(0, 6).map(answer => (answer as { status: number }).status)
    expect(statuses).toEqual([200, 504, 504, 502, 502, 200])
    const pids = pidsSince(from)
    expect(pids.length).toBeGreaterThanOrEqual(8)
    await gone(pids, 8000, 'every process of the mixed run')
    await until(3000, 'no tagged process and no unreaped child left', () => {
      const left = describeLeftovers(pids)
      return left.tagged.length === 0 && left.recorded.length === 0 && left.unreaped.length === 0
    }, () => describeLeftovers(pids))
  })

  it('answers a script that never reads its 10 MB body, and the keep-alive connection stays usable', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    const client = new Client(h.url, { pipelining: 1 })
    onTestFinished(() => within(5000, 'closing the undici client', client.close()))
    const body = Buffer.alloc(10 * 1024 * 1024, 0x61)
    const first = await within(15_000, 'POST 10 MB to noread.sh', client.request({ path: '/cgi-bin/noread.sh', method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body }))
    const firstText = await within(5000, 'the first body', first.body.text())
    expect(first.statusCode).toBe(200)
    const second = await within(5000, 'GET on the same connection', client.request({ path: '/cgi-bin/noread.sh', method: 'GET' }))
    const secondText = await within(5000, 'the second body', second.body.text())
    expect(second.statusCode).toBe(200)
    const port = (text: string): string | undefined => /remote_port=(\d+)/.exec(text)?.[1]
    expect(firstText).toContain(`content_length=${body.length}`)
    expect(secondText).toContain('content_length=unset')
    expect(port(secondText)).toBe(port(firstText)) // one connection, both answers parsed
  })

  it('concurrency 2, queue 2: of 6 simultaneous slow requests 4 are answered and 2 get 503 with Retry-After', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, { limited: legacyApp({ route: '/limited', concurrency: 2, maxQueue: 2 }) })
    const answers = await Promise.all(Array.from({ length: 6 }, async () => h.send('/limited/sleep.sh?1', { ms: 10_000 })))
    const statuses = answers.map(answer => answer.status).sort()
    expect(statuses).toEqual([200, 200, 200, 200, 503, 503])
    for (const answer of answers.filter(answer => answer.status === 503)) {
      expect(answer.headers['retry-after']).toMatch(/^\d+$/)
      expect(codesOf(h.lines, answer.requestId)).toContain('WG_ERR_OVERLOADED')
    }
  })
})

// v8/istanbul coverage instruments this process and distorts its RSS.
const coverage = process.env.NODE_V8_COVERAGE !== undefined || '__coverage__' in globalThis ||
  (globalThis as { __vitest_worker__?: { config?: { coverage?: { enabled?: boolean } } } }).__vitest_worker__?.config?.coverage?.enabled === true

describe.skipIf(coverage)('cgi app: backpressure', () => {
  it('streams 300 MB to a client that stops reading without growing RSS by more than 50 MB', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished)
    await h.send('/cgi-bin/big.sh?1000') // warm the path before the baseline
    const from = recordedPids().length
    const baseline = process.memoryUsage().rss
    const socket = connect(h.port, '127.0.0.1')
    onTestFinished(() => { socket.destroy() })
    let received = 0
    const headed = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length
        socket.pause() // the slow reader: take one chunk, then nothing
        resolve()
      })
    })
    socket.write('GET /cgi-bin/big.sh HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await within(5000, 'the first bytes of big.sh', headed)
    let peak = baseline
    const until3s = performance.now() + 3000
    while (performance.now() < until3s) {
      peak = Math.max(peak, process.memoryUsage().rss)
      await sleep(50)
    }
    const pids = pidsSince(from)
    // Backpressure reached the script: 300 MB from /dev/zero takes well under 3 s when nothing blocks it.
    expect(present(pids).length, 'big.sh still blocked on its full pipe').toBeGreaterThan(0)
    expect((peak - baseline) / 1024 / 1024, 'RSS growth in MB').toBeLessThan(50)
    socket.destroy()
    await gone(pids, 5000, 'big.sh after the slow client left')
  })
})
