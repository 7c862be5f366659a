import { expect } from 'vitest'
import type { GatewayConfig } from '../../../src/index.ts'
import type { SlowReport } from '../../fixtures/handlers/slow.ts'
import type { BehaviourCase } from '../behaviour.case.ts'
import { eventually, handler, type Harness, openGateway } from '../support.ts'

const CONFIG: GatewayConfig = {
  apps: {
    // One worker each, so that `report` reaches the module instance that ran `wait`.
    slow: { route: '/slow', entry: handler('slow.ts'), timeout: '200ms', workers: { min: 1, max: 1 } },
    linger: { route: '/linger', entry: handler('slow.ts'), timeout: '10s', workers: { min: 1, max: 1 } },
  },
}

/** Polls the fixture's report for `key` until it is in `state`. */
function reportOf (h: Harness, route: string, key: string, state: SlowReport['state']): Promise<SlowReport> {
  return eventually(3000, `${route} ${key} to be ${state}`, async () => {
    const report = (await h.send(`${route}/report?key=${key}`)).json<SlowReport>()
    return report.state === state ? report : undefined
  })
}

export const timeoutCases: BehaviourCase[] = [
  {
    name: "a handler still busy at the app's timeout gets a prompt 504 and its ctx.signal aborts",
    skip: { cold: 'the fixture keeps state between requests, and a cold process lives for one request (cold-runtime.test.ts covers it with files)' },
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const started = performance.now()
      const res = await h.send('/slow/wait?key=t1&ms=2000')
      const elapsed = performance.now() - started
      expect(res.status).toBe(504)
      expect(elapsed).toBeGreaterThanOrEqual(150)
      expect(elapsed).toBeLessThan(1500)
      expect(h.lines.filter(line => line.reqId === res.requestId && line.code !== undefined).map(line => line.code)).toEqual(['WG_ERR_TIMEOUT'])
      expect(await reportOf(h, '/slow', 't1', 'done')).toEqual({ state: 'done', ctxSignalAborted: true, requestSignalAborted: true })

      const viaFetch = await h.fetch('/slow/wait?key=t2&ms=2000')
      expect(viaFetch.status).toBe(504)
      await viaFetch.arrayBuffer()
      expect(await reportOf(h, '/slow', 't2', 'done')).toEqual({ state: 'done', ctxSignalAborted: true, requestSignalAborted: true })
    },
  },
  {
    name: 'a client that goes away mid-request aborts ctx.signal',
    skip: { cold: 'the fixture keeps state between requests, and a cold process lives for one request (cold-runtime.test.ts covers it with files)' },
    async run (ctx) {
      const h = await openGateway(ctx, CONFIG)
      const started = performance.now()

      // Over HTTP: the client closes its socket while the handler waits.
      const client = new AbortController()
      const pending = h.send('/linger/wait?key=d1&ms=8000', { signal: client.signal, headers: { 'x-request-id': 'disconnect-1' } }).then(
        () => 'answered',
        (error: Error) => error.name,
      )
      await reportOf(h, '/linger', 'd1', 'running')
      client.abort()
      expect(await pending).toBe('AbortError')
      expect(await reportOf(h, '/linger', 'd1', 'done')).toEqual({ state: 'done', ctxSignalAborted: true, requestSignalAborted: true })
      await eventually(2000, 'the client abort to be logged', () =>
        h.lines.some(line => line.reqId === 'disconnect-1' && line.code === 'WG_ERR_CLIENT_ABORTED') ? true : undefined)

      // Socketless: the Request's own signal aborts.
      const caller = new AbortController()
      const answer = h.fetch('/linger/wait?key=d2&ms=8000', { signal: caller.signal })
      await reportOf(h, '/linger', 'd2', 'running')
      caller.abort()
      const aborted = await answer
      expect(aborted.status).toBe(499)
      await aborted.arrayBuffer()
      expect(await reportOf(h, '/linger', 'd2', 'done')).toEqual({ state: 'done', ctxSignalAborted: true, requestSignalAborted: true })

      expect(performance.now() - started).toBeLessThan(5000)
    },
  },
]
