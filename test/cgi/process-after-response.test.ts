import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { handler } from '../runtime/support.ts'
import { legacyApp, openCgi, PASS_ENV, present, recordedPids, SCRATCH, taggedProcesses, until } from './support.ts'

// A process whose response is complete but which does not exit: it must not keep its app's slot, and it
// must not run on past the app's timeout. cgi and cold mode share the engine (process-runtime.ts); each is
// checked with an app of one slot, so that the next request shows whether the slot was given back.

describe('cgi app: a script that runs on after its response', () => {
  it('gives the only slot to the next request a second after a script answered, closed its output and slept on, and kills its group', async ({ onTestFinished }) => {
    const h = await openCgi(onTestFinished, { single: legacyApp({ route: '/single', concurrency: 1, maxQueue: 1 }) })
    const from = recordedPids().length
    const first = await h.send('/single/linger.sh')
    const answered = performance.now()
    expect([first.status, first.text()]).toEqual([200, 'answered\n'])
    // Queued behind linger.sh, which sleeps 30 s: served once its slot is given back, after the grace.
    const next = await h.send('/single/respond.sh?created', { ms: 8000 })
    const waited = performance.now() - answered
    expect(next.status).toBe(201)
    expect(waited).toBeGreaterThan(900)
    expect(waited).toBeLessThan(4000)
    const pids = recordedPids().slice(from)
    expect(pids).toHaveLength(2) // linger.sh and its sleep
    await until(4000, 'linger.sh and its sleep gone after the grace', () => present(pids).length === 0, () => present(pids))
  })
})

describe('cold app: a runner with ctx.waitUntil work past its response', () => {
  it("gives its only slot to the next request a second after the response, and is killed at the app's timeout", async ({ onTestFinished }) => {
    const bg = { route: '/bg', entry: handler('cold-background.ts'), mode: 'cold' as const, timeout: '2s', concurrency: 1, maxQueue: 1, passEnv: PASS_ENV, env: { DIR: SCRATCH } }
    const h = await openCgi(onTestFinished, { bg })
    const first = await h.send('/bg?key=long&ms=30000')
    const answered = performance.now()
    expect(first.status).toBe(200)
    // The runner carries this file's tag (passEnv): the only process of ours alive now.
    const runners = taggedProcesses().map(info => info.pid)
    expect(runners).toHaveLength(1)
    const next = await h.send('/bg?key=short&ms=0', { ms: 8000 })
    const waited = performance.now() - answered
    expect(next.status).toBe(200)
    expect(waited).toBeGreaterThan(900)
    expect(waited).toBeLessThan(4000)
    // The timeout (2 s from dispatch) sends SIGTERM, which the runner takes as ctx.signal; SIGKILL 2 s later.
    await until(7000, 'the runner with 30 s of ctx.waitUntil work gone after the app timeout', () => present(runners).length === 0, () => present(runners))
    expect(existsSync(join(SCRATCH, 'long.done'))).toBe(false)
  })
})
