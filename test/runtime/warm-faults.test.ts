import { describe, expect, it, type TestContext } from 'vitest'
import type { AppConfig } from '../../src/index.ts'
import { codesOf, startGateway, within } from '../helpers/gateway.ts'
import { workerThreadCount } from '../helpers/proc.ts'
import { type CaseContext, eventually, handler, type Harness, openGateway } from './support.ts'

// Faults in handlers, warm mode: each is answered with the right status, the gateway (this process) keeps
// serving, the pool gets back to its size with a fresh thread where one had to go, and nothing is leaked.

interface Ok { threadId: number, instance: string, served: number }

function warm ({ onTestFinished }: TestContext): CaseContext {
  return { mode: 'warm', defer: (fn) => onTestFinished(async () => { await fn() }) }
}

function faultsApp (extra: Partial<AppConfig> = {}): AppConfig {
  return { route: '/f', entry: handler('faults.ts'), timeout: '300ms', workers: { min: 1, max: 1 }, ...extra }
}

async function open (t: TestContext, extra: Partial<AppConfig> = {}): Promise<Harness> {
  return openGateway(warm(t), { apps: { faults: faultsApp(extra) } })
}

const ok = async (h: Harness): Promise<Ok> => {
  const res = await h.send('/f/ok')
  expect(res.status).toBe(200)
  return res.json<Ok>()
}

const workers = (h: Harness): number => h.gateway.stats().faults.workers

/** Waits until a request answers from a thread other than `old`, and the pool is back to `size`. */
async function replaced (h: Harness, old: number, size = 1): Promise<Ok> {
  return eventually(8000, `a thread other than ${old} to answer, with ${size} worker(s)`, async () => {
    const now = await ok(h)
    return now.threadId !== old && workers(h) === size ? now : undefined
  })
}

const retireLines = (h: Harness, reason: string): Array<Record<string, unknown>> =>
  h.lines.filter(line => line.reason === reason && String(line.msg).startsWith('retiring a worker'))

describe('warm mode: faults in handlers', () => {
  it('a handler that throws or rejects gets a generic 500, is logged with the request id and stack, and the same worker serves on', async (t) => {
    const h = await open(t)
    const before = await ok(h)
    for (const fault of ['throw', 'reject']) {
      const res = await h.send(`/f/${fault}`)
      expect(res.status).toBe(500)
      expect(res.text()).not.toContain('fault:')
      expect(codesOf(h.lines, res.requestId)).toEqual(['WG_ERR_HANDLER_THREW'])
      const line = h.lines.find(l => l.reqId === res.requestId && l.code === 'WG_ERR_HANDLER_THREW') as { err?: { stack?: string } }
      expect(line.err?.stack).toContain(`fault: ${fault === 'throw' ? 'thrown' : 'rejected'}`)
    }
    const after = await ok(h)
    expect(after.threadId).toBe(before.threadId)
    expect(after.instance).toBe(before.instance)
  })

  it('a synchronous infinite loop gets 504 at the timeout, and its thread is terminated after the grace and replaced', async (t) => {
    const h = await open(t)
    const before = await ok(h)
    const started = performance.now()
    const res = await h.send('/f/busy', { ms: 5000 })
    expect(res.status).toBe(504)
    expect(performance.now() - started).toBeLessThan(1500)
    expect(codesOf(h.lines, res.requestId)).toEqual(['WG_ERR_TIMEOUT'])
    // While the loop still spins, a new request is not sent behind it: another thread answers.
    const meanwhile = await ok(h)
    expect(meanwhile.threadId).not.toBe(before.threadId)
    expect(meanwhile.instance).not.toBe(before.instance)
    // After the grace, the spinning thread is terminated and the pool is back to one.
    await eventually(5000, 'the hung thread to be terminated', () => retireLines(h, 'hung').length === 1 && workers(h) === 1 ? true : undefined)
    expect((await ok(h)).threadId).toBe(meanwhile.threadId)
    const hung = retireLines(h, 'hung')
    expect(hung).toHaveLength(1)
    expect(hung[0].reqId).toBe(res.requestId)
  })

  it('a handler that ignores ctx.signal and never settles gets 504, and its thread is replaced after the grace', async (t) => {
    const h = await open(t)
    const before = await ok(h)
    const res = await h.send('/f/hang')
    expect(res.status).toBe(504)
    await replaced(h, before.threadId)
    expect(retireLines(h, 'hung')).toHaveLength(1)
  })

  it('a handler that honours ctx.signal after a timeout keeps its thread', async (t) => {
    const h = await open(t)
    const before = await ok(h)
    expect((await h.send('/f/wait?ms=3000')).status).toBe(504)
    // Past the grace: the thread must still be the same one.
    await new Promise(resolve => setTimeout(resolve, 1500))
    expect((await ok(h)).threadId).toBe(before.threadId)
    expect(retireLines(h, 'hung')).toHaveLength(0)
  })

  it('a worker that exits fails only its in-flight requests with 502, and a new one answers the next request', async (t) => {
    const h = await open(t, { timeout: '5s' })
    const before = await ok(h)
    const inFlight = h.send('/f/wait?ms=4000')
    const res = await h.send('/f/exit')
    expect(res.status).toBe(502)
    expect(codesOf(h.lines, res.requestId)).toEqual(['WG_ERR_WORKER_DIED'])
    expect((await inFlight).status).toBe(502)
    await replaced(h, before.threadId)
    expect(h.lines.some(line => line.msg === 'worker exited; replacing it')).toBe(true)
  })

  it('a worker that runs out of memory under memoryMb fails its request with 502 and is replaced', async (t) => {
    const h = await open(t, { timeout: '20s', memoryMb: 32 })
    const before = await ok(h)
    const res = await h.send('/f/oom', { ms: 20_000 })
    expect(res.status).toBe(502)
    expect(codesOf(h.lines, res.requestId)).toEqual(['WG_ERR_WORKER_DIED'])
    await replaced(h, before.threadId)
  }, 30_000)

  it('a slow stream drips to the client as produced; one slower than the timeout is cut off and the worker serves on', async (t) => {
    const h = await open(t, { timeout: '1s' })
    const before = await ok(h)
    const dripped = await h.send('/f/slow-stream?ms=50&n=4')
    expect(dripped.status).toBe(200)
    expect(dripped.text()).toBe('drip 3\ndrip 2\ndrip 1\ndrip 0\n')
    // 30 chunks 100 ms apart cannot finish within the 1 s timeout: the body is cut, the connection closed.
    await expect(h.send('/f/slow-stream?ms=100&n=30')).rejects.toThrow()
    expect((await ok(h)).threadId).toBe(before.threadId)
  })

  it('a result that is not a Response (and could not cross the thread boundary) is a 500, not a hang', async (t) => {
    const h = await open(t)
    const res = await h.send('/f/unclonable')
    expect(res.status).toBe(500)
    expect(codesOf(h.lines, res.requestId)).toEqual(['WG_ERR_HANDLER_RESULT'])
    await ok(h)
  })

  it('an exception thrown from a timer after the response is logged, and the worker is replaced without failing a request', async (t) => {
    const h = await open(t, { timeout: '5s' })
    const first = (await h.send('/f/late-throw?ms=50')).json<Ok>()
    // A request in flight on that thread when the exception hits still completes.
    const inFlight = h.send('/f/wait?ms=400')
    await eventually(3000, 'the uncaught exception to be logged', () =>
      h.lines.some(line => String(line.msg).startsWith('uncaught exception in worker')) ? true : undefined)
    const fresh = await replaced(h, first.threadId)
    expect(fresh.instance).not.toBe(first.instance)
    const waited = await inFlight
    expect(waited.status).toBe(200)
    expect(waited.json<Ok>().threadId).toBe(first.threadId)
    expect(retireLines(h, 'drain')).toHaveLength(1)
  })

  it('a rejection left unhandled in a timer is logged and the worker serves on', async (t) => {
    const h = await open(t)
    const first = (await h.send('/f/late-reject?ms=20')).json<Ok>()
    await eventually(3000, 'the unhandled rejection to be logged', () =>
      h.lines.some(line => line.msg === 'unhandled rejection in worker') ? true : undefined)
    expect((await ok(h)).threadId).toBe(first.threadId)
  })
})

describe('warm mode: nothing leaked', () => {
  it('after hung, crashed, recycled and thrown-out workers, close() leaves no worker thread behind', async () => {
    const before = workerThreadCount()
    const { gateway, url } = await within(15_000, 'starting a warm gateway', startGateway({
      apps: { faults: faultsApp({ timeout: '2s', workers: { min: 2, max: 2, maxRequests: 3 } }) },
    }))
    expect(workerThreadCount()).toBe(before + 2)
    const get = async (path: string): Promise<number> => (await fetch(url + path, { signal: AbortSignal.timeout(8000) })).status
    const statuses: number[] = []
    for (const path of ['/f/busy?ms=0', '/f/exit', '/f/late-throw', '/f/slow-stream?ms=20&n=3', '/f/ok', '/f/ok', '/f/ok']) statuses.push(await get(path))
    expect(statuses).toEqual([504, 502, 200, 200, 200, 200, 200])
    await within(10_000, 'closing the gateway', gateway.close())
    await eventually(3000, 'every worker thread to be gone', () => workerThreadCount() === before ? true : undefined)
  })
})

describe('warm mode: recycling and scaling', () => {
  it('a successor recycled before its predecessor stopped does not wedge the pool (two recycling threads, none routable)', async (t) => {
    // maxRequests 1: the first request recycles A while it runs; B starts and takes the second request, which
    // recycles B too before A is done. Both wait for a routable successor, and piscina (2 threads at most for
    // max 1) has no room to start it until one of them goes: the older one must go.
    const h = await open(t, { timeout: '5s', workers: { min: 1, max: 1, maxRequests: 1 } })
    const first = h.send('/f/wait?ms=1500', { ms: 10_000 })
    await eventually(5000, 'the successor to be ready next to the busy recycled thread', () => workers(h) === 2 ? true : undefined)
    const second = await ok(h)
    const a = (await first).json<Ok>()
    expect(second.threadId).not.toBe(a.threadId)
    // A third thread takes over and the pool is back to one (without the fix it stayed at A and B forever).
    await eventually(8000, 'a third thread to answer, alone in the pool', async () => {
      const now = await ok(h)
      return ![a.threadId, second.threadId].includes(now.threadId) && workers(h) === 1 ? true : undefined
    })
    expect(retireLines(h, 'recycle').length).toBeGreaterThanOrEqual(2)
  })

  it('workers.maxRequests retires a worker after N requests; a steady stream of requests sees no failure', async (t) => {
    const h = await open(t, { workers: { min: 1, max: 1, maxRequests: 5 } })
    const first = await ok(h)
    for (let i = 0; i < 4; i++) expect((await ok(h)).threadId).toBe(first.threadId)
    // The fifth retired it: a successor starts, and the old thread answers only until it is ready.
    const next = await replaced(h, first.threadId)
    expect(next.served).toBeLessThanOrEqual(2)
    expect(retireLines(h, 'recycle').map(line => line.thread)).toEqual([1])
    // Concurrent requests across several recycles: none fails.
    const statuses: number[] = []
    for (let round = 0; round < 6; round++) {
      statuses.push(...await Promise.all(Array.from({ length: 10 }, async () => (await h.send('/f/ok', { ms: 10_000 })).status)))
      await new Promise(resolve => setTimeout(resolve, 60))
    }
    expect(statuses.filter(status => status !== 200)).toEqual([])
    expect(retireLines(h, 'recycle').length).toBeGreaterThanOrEqual(3)
    await eventually(5000, 'the pool to settle at one worker', () => workers(h) === 1 ? true : undefined)
  })

  it('soak: 2000 requests at concurrency 8 across dozens of recycles, with zero failures', async (t) => {
    const h = await open(t, { timeout: '5s', workers: { min: 2, max: 2, maxRequests: 50 } })
    const deadline = performance.now() + 25_000
    const failures: string[] = []
    let sent = 0
    const threads = new Set<number>()
    const client = async (): Promise<void> => {
      while (sent < 2000 && performance.now() < deadline) {
        sent++
        try {
          const res = await h.send('/f/ok', { ms: 5000 })
          if (res.status === 200) threads.add(res.json<Ok>().threadId)
          else failures.push(`status ${res.status}`)
        } catch (error) {
          failures.push((error as Error).message)
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, client))
    expect(sent).toBe(2000)
    expect(failures).toEqual([])
    // Fewer than 2000 / 50: a retiring thread serves on while its successor starts (~50 ms).
    expect(threads.size).toBeGreaterThanOrEqual(8)
    await eventually(5000, 'the pool to settle at two workers', () => workers(h) === 2 ? true : undefined)
  }, 40_000)

  it('workers.maxHeapMb retires a worker whose heap passed the mark after a request, and the next request is served by a fresh one', async (t) => {
    // Filling 60 MB can take longer than the fixture's 300 ms timeout on a loaded 2-core machine.
    const h = await open(t, { timeout: '10s', workers: { min: 1, max: 1, maxHeapMb: 40 } })
    const first = (await h.send('/f/retain?mb=60')).json<{ threadId: number }>()
    await replaced(h, first.threadId)
    expect(retireLines(h, 'recycle')).toHaveLength(1)
    expect(String(retireLines(h, 'recycle')[0].msg)).toContain('maxHeapMb')
  })

  it('workers.idleTimeout with min 0 scales to zero and starts a worker on demand', async (t) => {
    const h = await open(t, { workers: { min: 0, max: 1, idleTimeout: '200ms' } })
    expect(workers(h)).toBe(0)
    const first = await ok(h)
    expect(workers(h)).toBe(1)
    await eventually(3000, 'the idle worker to stop', () => workers(h) === 0 ? true : undefined)
    const second = await ok(h)
    expect(second.threadId).not.toBe(first.threadId)
    expect(second.served).toBe(1)
  })
})

describe('warm mode: limits on waiting', () => {
  it('maxQueue: with every slot busy and the queue full, the next request gets 503 with Retry-After at once', async (t) => {
    const h = await open(t, { timeout: '5s', concurrency: 1, maxQueue: 1 })
    const running = h.send('/f/wait?ms=800')
    await eventually(2000, 'the first request to be running', () => h.gateway.stats().faults.inFlight === 1 ? true : undefined)
    const queued = h.send('/f/wait?ms=10')
    await new Promise(resolve => setTimeout(resolve, 50))
    const started = performance.now()
    const refused = await h.send('/f/ok')
    expect(performance.now() - started).toBeLessThan(300)
    expect(refused.status).toBe(503)
    expect(refused.headers['retry-after']).toBe('1')
    expect(codesOf(h.lines, refused.requestId)).toEqual(['WG_ERR_OVERLOADED'])
    expect((await running).status).toBe(200)
    expect((await queued).status).toBe(200)
  })

  it('queueTimeout bounds the wait for a slot with a 503, and the app timeout counts from dispatch, not from arrival', async (t) => {
    const h = await open(t, { timeout: '400ms', concurrency: 1, queueTimeout: '2s' })
    // Three requests of 300 ms each, one at a time: the third waits ~600 ms but runs only 300 ms.
    const replies = await Promise.all([0, 1, 2].map(async () => h.send('/f/wait?ms=300')))
    expect(replies.map(reply => reply.status)).toEqual([200, 200, 200])

    const slow = await open(t, { timeout: '5s', concurrency: 1, queueTimeout: '150ms' })
    const running = slow.send('/f/wait?ms=700')
    await eventually(2000, 'the first request to be running', () => slow.gateway.stats().faults.inFlight === 1 ? true : undefined)
    const waited = await slow.send('/f/ok')
    expect(waited.status).toBe(503)
    expect(waited.headers['retry-after']).toBe('1')
    expect(codesOf(slow.lines, waited.requestId)).toEqual(['WG_ERR_QUEUE_TIMEOUT'])
    expect((await running).status).toBe(200)
  })
})
