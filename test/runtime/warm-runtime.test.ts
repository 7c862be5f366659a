import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, type TestContext } from 'vitest'
import { type CaseContext, exampleApp, handler, MODULES, openGateway, runAlone } from './support.ts'

// What only warm mode does: module state lives in long-lived worker threads that imported the handler once.

interface ImportReport { imports: number, threadId: number, loadedAt: number }
interface Counted { count: number, instance: string, threadId: number, mode: string }

function warm ({ onTestFinished }: TestContext): CaseContext {
  return { mode: 'warm', defer: (fn) => onTestFinished(async () => { await fn() }) }
}

describe('warm runtime', () => {
  it('keeps module state between requests: the counter app counts 1, 2, 3 on its one worker', async (t) => {
    const h = await openGateway(warm(t), { apps: { counter: { route: '/counter', entry: exampleApp('counter.ts'), workers: { min: 1, max: 1 } } } })
    const replies: Counted[] = []
    for (let i = 0; i < 3; i++) replies.push((await h.send('/counter')).json<Counted>())
    expect(replies.map(reply => reply.count)).toEqual([1, 2, 3])
    expect(new Set(replies.map(reply => reply.instance)).size).toBe(1)
    expect(replies.every(reply => reply.threadId !== 0 && reply.mode === 'warm')).toBe(true)
  })

  it('imports the handler module once per worker, not once per request', async (t) => {
    const h = await openGateway(warm(t), { apps: { counted: { route: '/counted', entry: handler('import-count.ts'), workers: { min: 2, max: 2 } } } })
    const replies: ImportReport[] = []
    for (let round = 0; round < 3; round++) {
      const batch = await Promise.all(Array.from({ length: 40 }, async () => (await h.send('/counted')).json<ImportReport>()))
      replies.push(...batch)
    }
    for (let i = 0; i < 10; i++) replies.push((await h.send('/counted')).json<ImportReport>())
    const byThread = new Map<number, Set<number>>()
    for (const { threadId, imports } of replies) byThread.set(threadId, (byThread.get(threadId) ?? new Set()).add(imports))
    expect(byThread.size).toBeGreaterThanOrEqual(1)
    expect(byThread.size).toBeLessThanOrEqual(2)
    expect(byThread.has(0)).toBe(false)
    for (const [threadId, counts] of byThread) expect([...counts], `thread ${threadId}`).toEqual([1])
  })

  it('serves the first request after start from a module loaded before it arrived', async (t) => {
    const h = await openGateway(warm(t), { apps: { counted: { route: '/counted', entry: handler('import-count.ts'), workers: { min: 1, max: 1 } } } })
    // A gap after start-up, so that a lazy import at the first request could not share its millisecond.
    await sleep(20)
    const requestStart = Date.now()
    const first = (await h.send('/counted')).json<ImportReport>()
    expect(first.loadedAt).toBeLessThan(requestStart)
    expect(first.imports).toBe(1)
  })

  it('spreads concurrent CPU-bound requests over both of its two workers', async (t) => {
    const h = await openGateway(warm(t), { apps: { busy: { route: '/busy', entry: handler('busy.ts'), workers: { min: 2, max: 2 } } } })
    const replies = await Promise.all(Array.from({ length: 12 }, async () => (await h.send('/busy?ms=25', { ms: 10_000 })).json<{ threadId: number }>()))
    const threads = new Set(replies.map(reply => reply.threadId))
    expect(threads.size).toBe(2)
    expect(threads.has(0)).toBe(false)
  })

  it('sends each CPU-bound response as soon as it is ready, not after the rest of its batch', async (t) => {
    const h = await openGateway(warm(t), { apps: { busy: { route: '/busy', entry: handler('busy-stamped.ts'), workers: { min: 1, max: 1 } } } })
    // Four at once through gateway.fetch reach the one worker in one batch; each holds the thread 100 ms.
    const arrivals: number[] = []
    const replies = await Promise.all([1, 2, 3, 4].map(async () => {
      const res = await h.fetch('/busy?ms=100')
      arrivals.push(Date.now())
      return await res.json() as { startedAt: number }
    }))
    const lastStart = Math.max(...replies.map(reply => reply.startedAt))
    // Had the batch run back to back before anything was sent, the first answer would come after the last start.
    expect(Math.min(...arrivals)).toBeLessThan(lastStart)
  })

  it('closes promptly and logs no errors when closed while the pool is still growing', async () => {
    // In a child process: stopping workers that are still loading can abort the process (Node 24.9).
    const source = `
      import { createGateway } from ${JSON.stringify(MODULES.gateway)}
      import { memoryLogger } from ${JSON.stringify(MODULES.helpers)}
      const { logger, lines } = memoryLogger()
      const config = { apps: { hello: { route: '/hello', entry: ${JSON.stringify(exampleApp('hello.ts'))}, workers: { min: 1, max: 3 } } } }
      const gateway = await createGateway(config, { mode: 'warm', logger })
      // Three at once on one ready worker: the pool starts more, and close() comes before they are ready.
      const replies = await Promise.all([1, 2, 3].map(() => gateway.fetch(new Request('http://local/hello'))))
      const started = performance.now()
      await gateway.close()
      const closeMs = performance.now() - started
      const errors = lines.filter(line => line.level >= 50).map(line => line.msg)
      process.stdout.write(JSON.stringify({ statuses: replies.map(reply => reply.status), closeMs, errors }))
    `
    const { stdout, stderr, code, signal } = await runAlone(source, 15_000)
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' })
    const outcome = JSON.parse(stdout) as { statuses: number[], closeMs: number, errors: string[] }
    expect(outcome.statuses).toEqual([200, 200, 200])
    expect(outcome.closeMs).toBeLessThan(2000)
    expect(outcome.errors).toEqual([])
  })
})
