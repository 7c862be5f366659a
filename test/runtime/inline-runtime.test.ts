import { describe, expect, it, type TestContext } from 'vitest'
import { type CaseContext, exampleApp, openGateway } from './support.ts'

// What only inline mode does: the handler runs on the gateway's own thread, its module imported once.

interface Counted { count: number, instance: string, threadId: number, mode: string }

function inline ({ onTestFinished }: TestContext): CaseContext {
  return { mode: 'inline', defer: (fn) => onTestFinished(async () => { await fn() }) }
}

describe('inline runtime', () => {
  it('keeps module state between requests: the counter goes up by one per request', async (t) => {
    const h = await openGateway(inline(t), { apps: { counter: { route: '/counter', entry: exampleApp('counter.ts') } } })
    const replies: Counted[] = []
    for (let i = 0; i < 3; i++) replies.push((await h.send('/counter')).json<Counted>())
    // Relative: the module may already have counted requests of another gateway in this process.
    const first = replies[0].count
    expect(replies.map(reply => reply.count)).toEqual([first, first + 1, first + 2])
    expect(new Set(replies.map(reply => reply.instance)).size).toBe(1)
  })

  it('runs the handler on the main thread (threadId 0)', async (t) => {
    const h = await openGateway(inline(t), { apps: { counter: { route: '/counter', entry: exampleApp('counter.ts') } } })
    const reply = (await h.send('/counter')).json<Counted>()
    expect(reply.threadId).toBe(0)
    expect(reply.mode).toBe('inline')
  })
})
